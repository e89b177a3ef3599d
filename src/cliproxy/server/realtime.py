"""The OpenAI Realtime routes, served through Codex sign-ins (CPA
``internal/client/codex/live``): the HTTP and WebSocket side only. What a request means
(the credential pick, the upstream dial and its refusals, a client secret's scope and
minting, the usage of the socket's responses) is ``cliproxy.realtime``; the frames
between the two sockets are ``realtime_relay``.

- ``GET /v1/realtime`` (a WebSocket): relayed to OpenAI's Realtime socket with a Codex
  account's token. A plain GET answers 426 with ``Upgrade: websocket``.
- ``POST /v1/realtime/client_secrets`` and ``POST /v1/realtime/sessions``: mint an ``ek_``
  secret scoped to one session and model; ``Authorization: Bearer ek_...`` then opens the
  WebSocket (and the other routes CPA takes one on) without a client key.
- WebRTC calls are not relayed: ``POST /v1/realtime``, ``/v1/realtime/calls`` and
  ``/v1/live`` answer 503, and since no call is ever made here, joining one (``GET
  /v1/realtime/calls/{id}``, ``/v1/live/{id}``, ``/v1/realtime?call_id=``) answers 404 and
  hanging one up 404. Transcription-only sessions, translations and SIP control answer 501,
  as CPA does: the Codex upstream has no such capability.

Errors are OpenAI's shape with CPA's ``type`` and ``code`` (``param`` null). Access is the
middleware's (client keys; :func:`client_secret_principal` for an ``ek_`` key).

With ``request-log: true`` a socket is one request log (``cliproxy.usage.timeline``): the
upstream's upgrade and every frame both ways on both sides, and how the socket ended; the
records of its responses are usage records only. CPA writes no request log for this GET.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from cliproxy.access import KEY_POLICY, Principal
from cliproxy.formats import Format
from cliproxy.providers.codex_realtime import DEFAULT_MODEL, realtime_model
from cliproxy.realtime import MAX_BODY, Realtime, RealtimeError, ResponseUsage, SecretGrant
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE
from cliproxy.server.realtime_relay import RELAY_BROKEN, RELAY_IDLE, relay
from cliproxy.server.ws import HEARTBEAT, OPEN
from cliproxy.usage.hooks import open_trace, recorder_of
from cliproxy.usage.mask import mask_query
from cliproxy.usage.timeline import API_TIMELINE, SessionLog
from cliproxy.usage.trace import RequestTrace

if TYPE_CHECKING:
    from cliproxy.service import Service

__all__ = ["REALTIME", "client_secret_principal", "install", "realtime_handlers"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

REALTIME: web.AppKey[Realtime] = web.AppKey("realtime", Realtime)
GRANT: web.RequestKey[SecretGrant] = web.RequestKey("realtime_grant", SecretGrant)

_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REALTIME = "/v1/realtime"
_CLOSE_TIMEOUT = 5.0  # seconds for a client's close reply


def install(app: web.Application, service: Service) -> None:
    """The app's Realtime service: its secret store and upstream dialler."""
    app[REALTIME] = Realtime(service)


def realtime_handlers() -> dict[tuple[str, str], Handler]:
    """The Realtime and Live routes of ``cliproxy.server.routes.NOT_BUILT``, served."""
    unsupported = {
        ("POST", "/v1/realtime/transcription_sessions"): "Realtime transcription-only sessions",
        ("GET", "/v1/realtime/translations"): "Realtime translation sessions",
        ("POST", "/v1/realtime/translations"): "Realtime translation sessions",
        ("POST", "/v1/realtime/translations/client_secrets"): "Realtime translation sessions",
    }
    handlers: dict[tuple[str, str], Handler] = {
        ("GET", _REALTIME): realtime_websocket,
        ("POST", "/v1/realtime/client_secrets"): create_client_secret,
        ("POST", "/v1/realtime/sessions"): create_legacy_session,
        ("POST", "/v1/realtime/calls/{call_id}/hangup"): hangup,
        ("POST", "/v1/realtime/calls/{call_id}/{action:accept|reject|refer}"): sip_control,
        ("GET", "/v1/realtime/calls/{call_id}"): sideband,
        ("GET", "/v1/live/{call_id}"): sideband,
    }
    for route in (("POST", _REALTIME), ("POST", "/v1/realtime/calls"), ("POST", "/v1/live")):
        handlers[route] = call_unavailable
    for route, capability in unsupported.items():
        handlers[route] = _not_supported(capability)
    return handlers


# -- access


async def client_secret_principal(request: web.Request) -> Principal | None:
    """The caller of a route that takes a Realtime client secret, when it came with one
    (CPA ``realtimeAuthMiddleware``): on behalf of the key that minted it, under that
    key's policy. ``None`` when the request carries no ``ek_`` key or the route takes
    none; ``RealtimeError`` (401) for a secret that is unknown or expired, or whose key is
    no longer valid."""
    if not _takes_secret(request.method, request.path):
        return None
    realtime = request.config_dict.get(REALTIME)
    if realtime is None:
        return None
    grant = await realtime.grant(_bearer(request.headers))
    if grant is None:
        return None
    caller = await realtime.caller(grant)
    request[GRANT] = grant
    if caller.policy is not None:
        KEY_POLICY.set(caller.policy)
    return caller


def _takes_secret(method: str, path: str) -> bool:
    if path in (_REALTIME, "/v1/realtime/translations"):
        return method in ("GET", "POST")
    if path == "/v1/realtime/calls":
        return method == "POST"
    rest = path.removeprefix("/v1/realtime/calls/")
    return method == "GET" and rest != path and "/" not in rest


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("Authorization", "").strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else ""


def _issuer(request: web.Request) -> str | None:
    """The client key a request came with (``None`` on an open proxy)."""
    caller = request.get(PRINCIPAL_KEY)
    return caller.key if caller is not None else None


# -- the WebSocket


async def realtime_websocket(request: web.Request) -> web.StreamResponse:
    """``GET /v1/realtime``: a call's sideband with ``?call_id=``, else the direct relay
    (CPA ``HandleRealtimeWebsocket`` / ``HandleDirectWebsocket``)."""
    if request.query.get("call_id", "").strip():
        return await sideband(request)
    if not web.WebSocketResponse().can_prepare(request).ok:
        resp = _error(
            426, "WebSocket upgrade required", "invalid_request_error", "websocket_upgrade_required"
        )
        resp.headers["Upgrade"] = "websocket"
        return resp
    query = mask_query(request.query_string)
    url = f"{request.path}?{query}" if query else request.path
    wslog = recorder_of(request.app[SERVICE]).session_log(url, request.headers)
    ended = "the connection was lost without a close frame"  # (the handler was cancelled)
    try:
        return await _direct(request, wslog)
    except RealtimeError as exc:
        ended = f"the upstream socket was not opened: {exc.status} {exc.message}"
        answer = _error_of(exc)
        trace = _trace(request, exc.credential, wslog)
        if trace is not None:  # a refused socket is a failed request in the usage records
            body = answer.body
            trace.failed(exc.status, exc.message, answer.headers, body if isinstance(body, bytes) else b"")
        return answer
    finally:
        if wslog is not None:
            wslog.end(ended)


def _trace(
    request: web.Request, credential: Any = None, wslog: SessionLog | None = None
) -> RequestTrace | None:
    """A request trace for the socket's request (one per response: ``ResponseUsage``),
    ``None`` while nothing records; with the socket's log, its upstream calls go there."""
    caller = request.get(PRINCIPAL_KEY)
    alias = request.query.get("model", "").strip() or DEFAULT_MODEL
    trace = open_trace(
        request.app[SERVICE],
        "GET",
        request.path,
        request.query_string,
        _REALTIME,
        request.headers,
        b"",
        Format.RESPONSES,
        alias,
        (caller.key or "") if caller is not None else "",
        request.remote or "",
    )
    if trace is not None:
        trace.credential = credential
        trace.model = realtime_model(alias)
        if wslog is not None:  # its record names the socket's log (request-log-by-id)
            trace.session, trace.id = wslog, wslog.id
    return trace


async def _direct(request: web.Request, wslog: SessionLog | None) -> web.StreamResponse:
    service = request.app[SERVICE]
    offered = request.headers.getall("Sec-WebSocket-Protocol", ())
    if wslog is not None:  # the upgrade to the upstream goes on the socket's log
        API_TIMELINE.set(wslog.api)
    upstream = await request.app[REALTIME].open(
        request.query.get("model", ""),
        request.headers,
        (p.strip() for value in offered for p in value.split(",")),
        request.get(GRANT),
        KEY_POLICY.get(),
    )
    socket = upstream.socket
    usage = ResponseUsage(
        lambda: _trace(request, None, wslog), upstream.credential, upstream.codex_model, upstream.ticket
    )
    by_client = False
    try:
        try:
            client = web.WebSocketResponse(
                heartbeat=HEARTBEAT,
                timeout=_CLOSE_TIMEOUT,
                autoclose=False,  # the relay answers a close with the other side's code
                compress=False,
                max_msg_size=service.config.limits.max_body_bytes,
                protocols=(socket.protocol,) if socket.protocol else (),  # the upstream's choice
                decode_text=False,
            )
            await client.prepare(request)
        except BaseException:
            await socket.close()
            raise
        sockets = request.app.get(OPEN)
        if sockets is not None:  # closed with 1001 on shutdown (cliproxy.server.ws)
            sockets.add(client)
        log.info("realtime websocket: %s relayed through %s", upstream.model, upstream.through)
        idle = service.config.timeouts.seconds("client_websocket_idle")
        code, reason, by_client = await relay(client, socket, idle, usage.see, wslog)
        if wslog is not None:
            _log_end(wslog, code, reason, by_client)
    finally:
        await usage.close(by_client)
    log.info("realtime websocket through %s closed: %s %s", upstream.through, code, reason)
    return client


def _log_end(wslog: SessionLog, code: int, reason: str, by_client: bool) -> None:
    """How the relay ended, on the socket's log (CPA ``RecordAPIWebsocketError`` "relay"
    for a broken socket)."""
    if (code, reason) == RELAY_BROKEN:
        wslog.api.error("relay", f"the {'client' if by_client else 'upstream'} socket broke")
    if (code, reason) == RELAY_IDLE and not by_client:
        wslog.disconnect(f"closed by the proxy: {code} {reason}")
        return
    side = "the client" if by_client else "the upstream"
    wslog.disconnect(f"{side} ended the socket: {code} {reason}".rstrip())


# -- client secrets


async def create_client_secret(request: web.Request) -> web.Response:
    """``POST /v1/realtime/client_secrets`` (CPA ``CreateClientSecret``)."""
    try:
        answer = await request.app[REALTIME].client_secret(
            await _mint_body(request), _issuer(request), KEY_POLICY.get()
        )
    except RealtimeError as exc:
        return _error_of(exc)
    return _json(answer)


async def create_legacy_session(request: web.Request) -> web.Response:
    """``POST /v1/realtime/sessions``: the body is the session (CPA ``CreateLegacySession``)."""
    try:
        answer = await request.app[REALTIME].legacy_session(
            await _mint_body(request), _issuer(request), KEY_POLICY.get()
        )
    except RealtimeError as exc:
        return _error_of(exc)
    return _json(answer)


async def _mint_body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_BODY:
        raise RealtimeError(
            413, "Codex live request body too large", "invalid_request_error", "invalid_request"
        )
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise RealtimeError(
            413, "Codex live request body too large", "invalid_request_error", "invalid_request"
        )
    return raw


# -- what is not served


async def call_unavailable(request: web.Request) -> web.Response:
    """A WebRTC call: no media relay here (``codex.live-media-relay`` is not effective)."""
    return _error(
        503,
        "Realtime WebRTC calls are not available in cliproxy (no media relay); "
        "use the Realtime WebSocket, GET /v1/realtime",
        "api_error",
        "realtime_request_failed",
    )


async def sideband(request: web.Request) -> web.StreamResponse:
    """Joining a call's sideband (CPA ``HandleSideband``): no call is ever made here."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        resp = _error(426, "WebSocket upgrade required", "invalid_request_error", "realtime_request_failed")
        resp.headers["Upgrade"] = "websocket"
        return resp
    call_id = request.match_info.get("call_id", "").strip() or request.query.get("call_id", "").strip()
    if not _CALL_ID.fullmatch(call_id):
        return _error(400, "Invalid Codex live call ID", "invalid_request_error", "realtime_request_failed")
    return _error(404, "Codex live session not found", "invalid_request_error", "realtime_request_failed")


async def hangup(request: web.Request) -> web.Response:
    """CPA ``HandleHangup``: only a call made here may be hung up, and none is."""
    if not _CALL_ID.fullmatch(request.match_info.get("call_id", "").strip()):
        return _error(400, "Invalid Realtime call ID", "invalid_request_error", "invalid_call_id")
    return _error(404, "Realtime call not found", "invalid_request_error", "realtime_call_not_found")


async def sip_control(request: web.Request) -> web.Response:
    return _unsupported(f"Realtime SIP {request.match_info.get('action', 'control')}")


def _not_supported(capability: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _unsupported(capability)

    return handler


def _unsupported(capability: str) -> web.Response:
    return _error(
        501,
        f"{capability} are not supported by the ChatGPT/Codex OAuth upstream",
        "not_supported_error",
        "realtime_capability_not_supported",
    )


# -- answers


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _error(
    status: int, message: str, kind: str, code: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=dict(headers or {})
    )


def _error_of(exc: RealtimeError) -> web.Response:
    return _error(
        exc.status, exc.message, exc.error_type or "api_error", exc.code or "", exc.response_headers
    )
