"""The Responses WebSocket upstream (Codex, xAI): an ``UpstreamClient`` over aiohttp's
WebSocket client, so the pipeline sends to it exactly as it sends over HTTP/SSE.

CPA's "auto" executors speak WebSocket to the upstream only when the *client* came in
over the Responses WebSocket and the credential allows it (``codex-api-key[].websockets``,
``xai-api-key[].websockets``, or ``"websockets": true`` in an OAuth file); every other
request goes over HTTP/SSE. Here the provider decides that in ``build``: it turns the
URL into ``ws://`` / ``wss://`` and keeps the internal :data:`SESSION_HEADER` (the
downstream socket's id) on the request. :class:`WebSocketRouter`, the provider's
``transport``, sends such URLs here and every other URL to the transport it wraps.

Connection reuse (CPA's execution sessions): one upstream socket per downstream socket
and upstream (URL + credential token), kept open between turns and closed when the
downstream socket closes (:meth:`WebSocketUpstream.close_session`), when a turn is cut
off before its terminal event or ends in ``response.failed`` / ``error``, when the
session's next turn dials another upstream (a session keeps one idle socket, as CPA), or on
any read/write failure; a kept socket that answers a turn with Codex's connection limit
(``websocket_connection_limit_reached``: the backend serves a socket for 60 minutes) is
replaced by a new one for that turn. A kept socket is read while it waits for its next
turn, so the upstream's pings are answered (the Codex backend drops a socket that does
not: "keepalive ping timeout") and a close is seen before a turn is sent on it. A request
whose session id is unknown (never opened, or already closed) gets a one-turn socket.

Each turn sends one ``response.create`` message (the HTTP body plus ``"type"``) and reads
events until a terminal one (``response.completed`` / ``done`` / ``failed`` /
``incomplete``, ``error``). The events come out of ``chunks()`` framed as SSE, so the
pipeline's stream handling (translation, usage, failover before the first byte) is the
HTTP path's. Before handing the answer over, the first event is read: an ``error`` event
carrying an HTTP status (CPA ``parseCodexWebsocketError``) becomes an error answer with
that status, so a 429 or 401 fails over as on HTTP. A refused upgrade answers with the
handshake's status and body (read although aiohttp drops it: ``providers.http``), so it
is classified as over HTTP; ``426 Upgrade Required`` falls back to HTTP/SSE (the same
body, the ``http(s)`` URL) instead. ``response.done`` is renamed ``response.completed`` (CPA).

Follow-ups (:data:`CONTINUES_HEADER`): a Codex turn that names the previous response goes
only on the kept socket that completed it; anywhere else (a new socket, the upstream
closed the kept one) it is answered at once with Codex's own ``previous_response_not_found``
400, which the pipeline turns into the whole conversation on the same credential.

Events already read off the upstream socket when one arrives are handed on together, as
one chunk (one write to the client); no timer is armed for them.

Limits: the shared client's connect timeout for the handshake, its idle timeout for
each event (``timeouts.upstream-idle``; CPA: 5 minutes).

In a client session whose request log is on (``cliproxy.usage.timeline.API_TIMELINE``),
each message sent, handshake, event read and failure is an event of the log's API
WEBSOCKET TIMELINE; elsewhere a turn pays one context-variable read.

The wire shapes (upgrade headers, the ``response.create`` message, events as SSE frames,
error events, the answers made without the upstream) live in ``providers.codex_ws_wire``;
a turn's answer read off its socket in ``providers.codex_ws_turn``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

import aiohttp

from cliproxy.providers.codex_ws_turn import Socket, WsResponse, close_socket
from cliproxy.providers.codex_ws_wire import (
    BETA_HEADER,
    CONTINUES_HEADER,
    SESSION_HEADER,
    continuation_lost,
    create_message,
    error_body,
    error_headers,
    refused,
    streamed,
    to_http_url,
    websocket_request,
    websocket_url,
    websockets_enabled,
)
from cliproxy.providers.http import refused_upgrade_body
from cliproxy.providers.impersonate import OriginRouter
from cliproxy.providers.transport import (
    UpstreamClient,
    UpstreamNetworkError,
    UpstreamResponse,
    header_line_break,
    line_break_in,
    network_error,
)
from cliproxy.usage.timeline import API_TIMELINE, Timeline

if TYPE_CHECKING:
    from cliproxy.providers.http import HttpClient
    from cliproxy.providers.registry import Providers

# the wire shapes live in providers.codex_ws_wire; their public names are importable here too
__all__ = [
    "BETA_HEADER",
    "CONTINUES_HEADER",
    "SESSION_HEADER",
    "WebSocketRouter",
    "WebSocketUpstream",
    "create_message",
    "error_body",
    "error_headers",
    "install",
    "websocket_request",
    "websocket_url",
    "websockets_enabled",
]

log = logging.getLogger(__name__)

_SESSION_LOWER = SESSION_HEADER.lower()
_CONTINUES_LOWER = CONTINUES_HEADER.lower()
_HOP_HEADERS = frozenset(
    {"content-type", "accept", "content-length", "connection", "upgrade", "host", "accept-encoding"}
)


class WebSocketUpstream:
    """Opens, reuses and closes upstream Responses sockets, per downstream session."""

    def __init__(self, http: HttpClient) -> None:
        self.http = http
        self._sessions: dict[str, dict[tuple[str, str], Socket]] = {}
        self.opened = 0  # sockets dialled (tests and the benchmark read it)

    # -- sessions

    def open_session(self) -> str:
        """A new downstream session id (unguessable: it rides in a request header)."""
        sid = secrets.token_hex(16)
        self._sessions[sid] = {}
        return sid

    async def close_session(self, sid: str) -> None:
        """Close every upstream socket of downstream session ``sid``."""
        for sock in (self._sessions.pop(sid, None) or {}).values():
            await close_socket(sock.ws)

    def continues(self, sid: str, response_id: str) -> bool:
        """Whether a kept socket of session ``sid`` completed ``response_id`` last and can
        take a follow-up that names it (``previous_response_id`` and the new items only)."""
        if not response_id:
            return False
        for sock in (self._sessions.get(sid) or {}).values():
            if sock.continuable and sock.last_response == response_id and not sock.ws.closed:
                return True
        return False

    def has_session(self, sid: str) -> bool:
        """Whether downstream session ``sid`` is open (its sockets are kept between turns)."""
        return sid in self._sessions

    @property
    def open_sockets(self) -> int:
        return sum(len(s) for s in self._sessions.values())

    async def close(self) -> None:
        for sid in list(self._sessions):
            await self.close_session(sid)

    # -- one turn

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str],
        body: bytes | None,
        proxy: str = "",
        bare_errors: bool = False,
    ) -> UpstreamResponse:
        """One turn; ``bare_errors``: a message with ``error`` and no ``type`` is an
        ``error`` event (xAI's socket sends such)."""
        sid = continues = ""
        out: dict[str, str] = {}
        for name, value in headers.items():
            lower = name.lower()
            if lower == _SESSION_LOWER:
                sid = value
            elif lower == _CONTINUES_LOWER:
                continues = value
            elif lower not in _HOP_HEADERS:
                out[name] = value
        token = out.get("Authorization") or out.get("authorization") or ""
        key = (url, token)
        session = self._sessions.get(sid) if sid else None
        sock = session.get(key) if session is not None else None
        if sock is not None:
            await sock.wake()  # (read between turns: its pings answered, a close seen)
        if sock is not None and sock.ws.closed:  # the upstream closed it between turns
            self.forget(sid, sock)
            sock = None
        follow_up = continues not in ("", "-")
        if follow_up and (sock is None or sock.last_response != continues):
            return continuation_lost()  # only the socket that answered it holds it
        timeline = API_TIMELINE.get()
        if timeline is not None:
            timeline.upstream_request(url, out, create_message(body))
        fresh = sock is None
        if sock is None:
            opened = await self._dial(url, out, proxy, body, timeline)
            if not isinstance(opened, Socket):
                return opened  # the upgrade was refused: its status, or the HTTP fallback
            sock = opened
            if session is not None and key not in session:
                await _replaced(session)
                session[key] = sock
        await sock.lock.acquire()
        sock.continuable = bool(continues)
        sock.last_response = ""
        message = create_message(body)
        try:
            await sock.ws.send_str(message.decode())  # Codex reads text frames only
        except (ConnectionError, aiohttp.ClientError, RuntimeError) as exc:
            if timeline is not None:
                timeline.error("send", repr(exc))
            self.forget(sid, sock)
            await close_socket(sock.ws)
            sock.lock.release()
            if fresh:
                raise UpstreamNetworkError("upstream WebSocket send failed", detail=repr(exc)) from exc
            if follow_up:
                return continuation_lost()
            # a kept socket the upstream closed between turns: dial once more (CPA)
            return await self.request(
                method, url, headers=headers, body=body, proxy=proxy, bare_errors=bare_errors
            )
        resp = WsResponse(self, sid, sock, bare_errors, timeline)
        try:
            await resp.start()
        except (TimeoutError, ConnectionError) as exc:
            resp.release()
            if isinstance(exc, ConnectionError) and not fresh:
                if follow_up:
                    return continuation_lost()
                # a kept socket whose close from the upstream we read only now: dial once more
                return await self.request(
                    method, url, headers=headers, body=body, proxy=proxy, bare_errors=bare_errors
                )
            raise network_error(exc, "while waiting for the first WebSocket event") from exc
        except BaseException:
            resp.release()
            raise
        if resp.status >= 400:
            resp.release()
            if resp.limited and not fresh:  # the kept socket's own age limit (Codex: 60 minutes)
                if follow_up:  # the new socket holds no conversation: it goes whole
                    return continuation_lost()
                return await self.request(
                    method, url, headers=headers, body=body, proxy=proxy, bare_errors=bare_errors
                )
        return resp

    async def _dial(
        self,
        url: str,
        headers: dict[str, str],
        proxy: str,
        body: bytes | None,
        timeline: Timeline | None = None,
    ) -> Socket | UpstreamResponse:
        session, http_proxy = self.http._session(proxy)  # the shared pool and its proxy
        timeout = aiohttp.ClientWSTimeout(ws_receive=None, ws_close=2.0)
        try:
            # aiohttp drops a refused upgrade's body: it is read here (xAI's free-usage 429
            # says so only there), within the handshake's time limit
            with refused_upgrade_body() as refusal:
                async with asyncio.timeout(self.http.connect_timeout):
                    ws = await session.ws_connect(
                        url,
                        headers=headers,
                        proxy=http_proxy,
                        timeout=timeout,
                        max_msg_size=0,
                        autoping=True,
                        decode_text=False,  # the events go on as bytes: no str round trip
                    )
        except aiohttp.WSServerHandshakeError as exc:
            if timeline is not None:
                timeline.handshake(exc.status, exc.headers or {})
            if exc.status == 426:  # the upstream wants HTTP: same body over SSE
                hdrs = {**headers, "Content-Type": "application/json", "Accept": "text/event-stream"}
                body = streamed(body)  # (xAI's socket message leaves ``stream`` out)
                return await self.http.request("POST", to_http_url(url), headers=hdrs, body=body, proxy=proxy)
            return refused(exc.status, exc.headers, refusal[0] if refusal else b"")
        except TimeoutError as exc:
            if timeline is not None:
                timeline.error("dial", "the WebSocket upgrade timed out")
            raise UpstreamNetworkError(
                "upstream connect timed out",
                status=504,
                detail=f"WebSocket upgrade to {_origin(url)} timed out",
            ) from exc
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            if timeline is not None:
                timeline.error("dial", type(exc).__name__)
            if isinstance(exc, ValueError) and line_break_in(headers):
                raise header_line_break() from exc
            raise UpstreamNetworkError(
                "upstream unreachable", detail=f"WebSocket to {_origin(url)}: {type(exc).__name__}"
            ) from exc
        self.opened += 1
        if timeline is not None:
            timeline.handshake(ws._response.status, ws._response.headers)
        return Socket((url, headers.get("Authorization", "")), ws, ws._response.headers)

    def forget(self, sid: str, sock: Socket) -> None:
        """Drop ``sock`` from session ``sid``: no later turn is sent on it."""
        session = self._sessions.get(sid)
        if session is not None and session.get(sock.key) is sock:
            del session[sock.key]


class WebSocketRouter:
    """A provider's transport: ``ws://`` / ``wss://`` URLs over :class:`WebSocketUpstream`,
    every other URL through ``inner`` (the transport it had, or the shared client)."""

    def __init__(self, ws: WebSocketUpstream, inner: UpstreamClient, *, bare_errors: bool = False) -> None:
        self.ws = ws
        self.inner = inner
        self.bare_errors = bare_errors  # see ``WebSocketUpstream.request``

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> UpstreamResponse:
        if url.startswith(("wss://", "ws://")):
            return await self.ws.request(
                method, url, headers=headers, body=body, proxy=proxy, bare_errors=self.bare_errors
            )
        return await self.inner.request(method, url, headers=headers, body=body, proxy=proxy)


def install(providers: Providers, http: HttpClient) -> WebSocketUpstream:
    """Give the Codex and xAI providers a :class:`WebSocketRouter` around their transport
    (around the fallback of an impersonating ``OriginRouter``: ``ws(s)://`` URLs never
    match its ``https://`` prefixes)."""
    upstream = WebSocketUpstream(http)
    for key in ("codex", "xai"):
        provider = providers.get(key)
        if provider is None:
            continue
        bare = key == "xai"  # xAI's socket also sends errors without a type (CPA)
        transport = provider.transport
        if isinstance(transport, OriginRouter):  # chatgpt.com's TLS hello stays where it is
            transport.fallback = WebSocketRouter(upstream, transport.fallback, bare_errors=bare)
        else:
            provider.transport = WebSocketRouter(upstream, transport or http, bare_errors=bare)
    return upstream


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0].rsplit('@', 1)[-1]}"


async def _replaced(session: dict[tuple[str, str], Socket]) -> None:
    """A session's turn goes to a new upstream (another credential or URL): its idle sockets
    to the old ones close, so an account keeps no socket for a client that moved on (CPA
    keeps one upstream socket per session and replaces it)."""
    for key, sock in list(session.items()):
        if not sock.lock.locked():
            del session[key]
            await close_socket(sock.ws)
