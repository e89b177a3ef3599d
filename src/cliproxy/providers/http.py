"""The shared upstream HTTP client, and the one boundary where aiohttp's exceptions
become ours.

One ``aiohttp.ClientSession`` per proxy setting (direct, an HTTP(S) proxy, a SOCKS
proxy), each with a connection pool reused across requests, so no request pays for
TCP or TLS set-up that an earlier one already did. ``proxy-url`` values follow CPA:
``http://``, ``https://``, ``socks5://`` (``socks5h``, ``socks4``), and ``direct`` / ``none``
to bypass a global proxy.

Every wait has a limit (``timeouts:`` in the config, ``None`` = off):

- ``connect``: TCP + TLS + proxy handshake (default 30 s);
- ``first_byte``: from sending the request until the response headers are in (10 min:
  slow reasoning models answer whole only at the end);
- ``idle``: the longest gap between two reads of a body or stream (10 min).

A timeout is an ``UpstreamNetworkError`` with status 504, any other network failure one
with 502. Its ``message`` is short and safe for a client; ``detail`` (the upstream's
origin and the cause) is for the log only.
This is the default ``UpstreamClient`` of ``cliproxy.providers.transport``. Direct
``http(s)://`` requests go through the protocol-level client of ``providers.fasthttp``
(``upstream-http: fast``, the default; its answers are ``FastResponse``); requests through
a proxy, and every request with ``upstream-http: aiohttp``, through aiohttp, whose answers
are ``AiohttpResponse`` objects (aiohttp's own response class, given the ``chunks`` the
protocol asks for), so no wrapper is made per request.

aiohttp's ``ws_connect`` closes the answer to a refused WebSocket upgrade unread, and
its error carries only the status and headers; a dial inside :func:`refused_upgrade_body`
gets that answer's body too (read by ``AiohttpResponse`` as the headers arrive, at most
:data:`REFUSAL_BODY_LIMIT` bytes, within the dial's own time limit), so a refusal that
names its reason in the body (xAI's free-usage 429) is read as it is over HTTP.

aiohttp decodes one ``Content-Encoding`` only (the first of a repeated header, nothing
when the header lists several), so its sessions leave bodies as they come and
``AiohttpResponse`` decodes them with the fast client's decoders
(:mod:`.decoding`): a stacked ``deflate, zstd`` is undone in reverse there too. An answer
that names no coding (nearly all) pays one header test.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import weakref
from collections.abc import AsyncIterator, Coroutine, Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp_socks import ProxyConnectionError, ProxyError, ProxyTimeoutError

from cliproxy.providers.decoding import Decoder, decode, decoder_for
from cliproxy.providers.fasthttp import KEEPALIVE, MAX_IDLE, FastHttpClient
from cliproxy.providers.gowire import gunzipped, gunzips, ordered
from cliproxy.providers.transport import (
    ConnectionEnded,
    UndecodableBody,
    UpstreamNetworkError,
    UpstreamResponse,
    bounded,
    header_line_break,
    line_break_in,
    network_error,
    read_body,
)

__all__ = [
    "DEFAULT_CONNECT",
    "DEFAULT_FIRST_BYTE",
    "DEFAULT_IDLE",
    "RETIRE_WAIT",
    "SESSIONS_MAX",
    "AiohttpResponse",
    "HttpClient",
    "UpstreamNetworkError",
    "network_error",
    "proxy_key",
    "read_body",
    "redact_proxy",
    "refused_upgrade_body",
]

log = logging.getLogger(__name__)

_DIRECT = ("", "direct", "none")
_PROXY_SCHEMES = ("http://", "https://", "socks5://", "socks5h://", "socks4://", "socks4a://")


def redact_proxy(proxy: str) -> str:
    """A proxy URL fit for a log line (CPA's ``proxyutil.Redact``): the scheme and host,
    ``redacted@`` for any user or password, no path or query."""
    try:
        parts = urlsplit(proxy.strip())
        host, port = parts.hostname, parts.port
    except ValueError:
        return "<invalid proxy URL>"
    if not parts.scheme or not host:
        return "<invalid proxy URL>"
    where = f"[{host}]" if ":" in host else host
    if port is not None:
        where += f":{port}"
    user = "redacted@" if parts.username is not None or parts.password is not None else ""
    return f"{parts.scheme}://{user}{where}"


DEFAULT_CONNECT = 30.0
DEFAULT_FIRST_BYTE = 600.0
DEFAULT_IDLE = 600.0
REFUSAL_BODY_LIMIT = 64 * 1024
_CODING = "Content-Encoding"

# the list a WebSocket dial of this task collects a refused upgrade's body into
_refusal: ContextVar[list[bytes] | None] = ContextVar("refused_upgrade_body", default=None)


@contextlib.contextmanager
def refused_upgrade_body() -> Iterator[list[bytes]]:
    """A list that receives the body of an answer of status 400 or more to the requests
    made inside the block by this task (one WebSocket upgrade: aiohttp drops that body)."""
    sink: list[bytes] = []
    token = _refusal.set(sink)
    try:
        yield sink
    finally:
        _refusal.reset(token)


class AiohttpResponse(aiohttp.ClientResponse):
    """aiohttp's response as an ``UpstreamResponse``: reading raises ``TimeoutError`` or
    ``ConnectionError`` (the transport contract), never aiohttp's own error types. A body
    whose ``Content-Encoding`` names codings comes out decoded (:data:`_decoder`)."""

    _decoder: Decoder | None = None  # the answer's codings, undone in reverse

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        await super().start(connection)
        if _CODING in self.headers:
            self._decoder = self._codings()
        if self.status >= 400:  # the only cost to other answers: this test
            sink = _refusal.get()
            if sink is not None:
                sink.append(await self._head_of_body())
        return self

    async def _head_of_body(self) -> bytes:
        """Up to :data:`REFUSAL_BODY_LIMIT` bytes of the body (what arrived, on a failure)."""
        parts: list[bytes] = []
        size = 0
        with contextlib.suppress(aiohttp.ClientError, ConnectionError):
            while size < REFUSAL_BODY_LIMIT:
                chunk = await self.content.read(REFUSAL_BODY_LIMIT - size)
                if not chunk:
                    break
                parts.append(chunk)
                size += len(chunk)
        body = b"".join(parts)
        decoder = self._decoder
        if decoder is not None and body:
            with contextlib.suppress(UndecodableBody):  # what arrived, as it came
                return decode(decoder.decompress, body)
        return body

    def _codings(self) -> Decoder | None:
        """The decoder of every coding the answer names (one header listing them, or the
        header repeated); an error, the connection closed, when none is installed."""
        codings = self.headers.getall(_CODING)
        try:
            return decoder_for(",".join(codings).lower())
        except UpstreamNetworkError:
            self.close()
            raise

    async def read(self) -> bytes:
        try:
            if self._body is None:  # read here, bounded (aiohttp's own read has no bound)
                parts: list[bytes] = []
                total = 0
                try:
                    while chunk := await self.content.readany():
                        total = bounded(total, chunk)
                        parts.append(chunk)
                except BaseException:
                    self.close()  # (as aiohttp's read does)
                    raise
                self._body = b"".join(parts)
            body = await super().read()  # (then aiohttp waits for the connection's release)
        except TimeoutError:
            raise  # aiohttp's read timeouts are TimeoutErrors already (and ClientErrors too)
        except aiohttp.ClientError as exc:
            raise _broken(exc) from exc
        decoder = self._decoder
        if decoder is None or not body:
            return body
        return decode(decoder.decompress, body) + decode(decoder.flush)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._decoder is not None:
            async for chunk in self._decoded():
                yield chunk
            return
        content = self.content
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    return
                yield chunk
        except TimeoutError:
            raise
        except aiohttp.ClientError as exc:
            raise _broken(exc) from exc

    async def _decoded(self) -> AsyncIterator[bytes]:
        """:meth:`chunks` of an answer with a ``Content-Encoding``: each piece decoded as it
        comes (an empty decoded piece is not yielded), the decoder's tail at the end."""
        decoder, content = self._decoder, self.content
        assert decoder is not None
        try:
            while True:
                chunk = await content.readany()
                if not chunk:
                    break
                if out := decode(decoder.decompress, chunk):
                    yield out
        except TimeoutError:
            raise
        except aiohttp.ClientError as exc:
            raise _broken(exc) from exc
        if tail := decode(decoder.flush):
            yield tail


class GoResponse(AiohttpResponse):
    """:class:`AiohttpResponse` of a client with Go's heads (``go_wire``): a gzip answer's
    headers as Go's transport leaves them once it gunzips (:func:`.gowire.gunzipped`)."""

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        await super().start(connection)
        if self._decoder is not None and gunzips(self._headers):
            self._headers = gunzipped(self._headers)
            self._cache.pop("headers", None)  # (``headers`` is a cached property, read by ``start``)
        return self


def _broken(exc: aiohttp.ClientError) -> ConnectionError:
    """aiohttp's failure as the transport contract's: the upstream closing the connection
    (before the headers, or inside a body it then leaves short) is a ``ConnectionEnded``,
    a body that does not decode under its Content-Encoding an ``UndecodableBody``."""
    kind: type[ConnectionError] = ConnectionError
    if isinstance(exc.__cause__, ContentEncodingError):
        kind = UndecodableBody
    elif isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):
        kind = ConnectionEnded
    broke = kind(f"{type(exc).__name__}: {exc}")
    broke.__cause__ = exc
    return broke


# proxy sessions kept at once (CPA's transport cache bound): every distinct proxy-url (one
# rotated through the management API, say) would otherwise keep its session and connector
# until shutdown; the least recently used closes, in the background
SESSIONS_MAX = 64
RETIRE_WAIT = 3600.0  # the longest a retired session waits for its last answer


def proxy_key(credential_proxy: str | None, global_proxy: str | None) -> str:
    """The proxy a request uses: the credential's, else the global one; ``""`` = direct."""
    if not credential_proxy and not global_proxy:
        return ""  # the common case: no proxy anywhere
    chosen = (credential_proxy or "").strip()
    if not chosen:
        chosen = (global_proxy or "").strip()
    return "" if chosen.lower() in _DIRECT else chosen


class _Request(Protocol):
    def __call__(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Coroutine[Any, Any, UpstreamResponse]: ...


class HttpClient:
    """Upstream HTTP with pooled connections per proxy and a limit on every wait.

    ``request(method, url, *, headers, body, proxy="")`` sends one request (await the
    result; the caller reads and releases the answer). Network failures become
    ``UpstreamNetworkError`` (502, or 504 on a timeout); a refused header or URL raises at
    once, before anything is awaited. It is the fast client's own ``request`` while
    ``upstream-http`` is ``fast`` (that client hands what it does not send, a proxy or an odd
    URL, to aiohttp), else aiohttp's: no layer of this class per request.

    ``keepalive`` is how long an idle connection is kept (default 60 s; aiohttp's own for a
    SOCKS proxy), ``max_idle`` how many idle ones per origin the fast client keeps.
    ``alpn=False``: TLS hellos offer no ALPN (Antigravity's native client; else ``http/1.1``).
    ``go_wire=True``: request heads as Go's ``net/http`` writes them, on both paths
    (:mod:`.gowire`: Antigravity's native client; no ``Accept: */*``, ``Accept-Encoding: gzip``).
    :meth:`spawn` makes a client with connections of its own that follows this one's
    settings and closes with it (one Antigravity account's, ``providers.account_pools``)."""

    request: _Request

    def __init__(
        self,
        *,
        connect_timeout: float | None = DEFAULT_CONNECT,
        first_byte_timeout: float | None = DEFAULT_FIRST_BYTE,
        idle_timeout: float | None = DEFAULT_IDLE,
        limit_per_host: int = 0,
        upstream_http: str = "fast",
        keepalive: float | None = None,
        max_idle: int = MAX_IDLE,
        alpn: bool = True,
        go_wire: bool = False,
    ) -> None:
        self._limit_per_host = limit_per_host
        self._alpn = alpn
        self._go = go_wire
        self._tls: ssl.SSLContext | None = None  # aiohttp's, made on first use when alpn is off
        self._keepalive, self._max_idle = keepalive, max_idle
        self._sessions: dict[str, aiohttp.ClientSession] = {}
        # clients made by ``spawn``: they follow this one's settings and close with it
        self._children: weakref.WeakSet[HttpClient] = weakref.WeakSet()
        self._closing: set[asyncio.Task[None]] = set()
        # direct requests: the protocol-level client (``None`` = aiohttp for every request)
        self.fast: FastHttpClient | None = None
        self._retired: list[FastHttpClient] = []
        self.set_timeouts(connect=connect_timeout, first_byte=first_byte_timeout, idle=idle_timeout)
        self.set_upstream_http(upstream_http)

    def set_upstream_http(self, kind: str) -> None:
        """``upstream-http``: ``fast`` sends direct requests with ``FastHttpClient``,
        ``aiohttp`` every request with aiohttp (a reload switches new requests)."""
        self._kind = kind
        for child in self._children:
            child.set_upstream_http(kind)
        if kind == "aiohttp" or self._limit_per_host > 0:  # a per-host cap is aiohttp's
            if self.fast is not None:  # its pooled connections close at ``close`` (or idle out)
                self._retired.append(self.fast)
            self.fast = None
            self.request = self._aiohttp_request
        elif self.fast is None:
            self.fast = FastHttpClient(
                connect_timeout=self.connect_timeout,
                first_byte_timeout=self.first_byte_timeout,
                idle_timeout=self.idle_timeout,
                max_idle=self._max_idle,
                keepalive=self._keepalive or KEEPALIVE,
                fallback=self._aiohttp_request,
                alpn=self._alpn,
                go_wire=self._go,
            )
            self.request = self.fast.request

    def set_timeouts(self, *, connect: float | None, first_byte: float | None, idle: float | None) -> None:
        """Apply new limits (a config reload); requests already sent keep theirs."""
        self.connect_timeout = connect
        self.first_byte_timeout = first_byte
        self.idle_timeout = idle
        for child in self._children:
            child.set_timeouts(connect=connect, first_byte=first_byte, idle=idle)
        if (fast := getattr(self, "fast", None)) is not None:
            fast.connect_timeout, fast.first_byte_timeout, fast.idle_timeout = connect, first_byte, idle
        # aiohttp's socket read timer bounds the wait for the headers (``first_byte``: one
        # timer the connection keeps anyway, no asyncio.timeout per request); it is switched
        # to ``idle`` once they are in (see ``_arm_idle``)
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=connect, sock_connect=connect, sock_read=first_byte
        )

    def _session(self, proxy: str) -> tuple[aiohttp.ClientSession, str | None]:
        if proxy and not proxy.islower():  # a scheme in capitals (SOCKS5://) is the same scheme
            scheme, sep, rest = proxy.partition("://")
            proxy = f"{scheme.lower()}{sep}{rest}"
        # (taken out and put back: the dict's order is the order of last use)
        session = self._sessions.pop(proxy, None)
        http_proxy = proxy if proxy.startswith(("http://", "https://")) else None
        if session is None or session.closed:
            if proxy and not proxy.lower().startswith(_PROXY_SCHEMES):
                # CPA logs it and goes on without the proxy; so do we, once per value
                log.error(
                    "proxy-url %s is not an http, https or socks5 proxy URL: requests go direct",
                    redact_proxy(proxy),
                )
            tls: ssl.SSLContext | bool = True  # aiohttp's own context (ALPN http/1.1)
            if not self._alpn:
                tls = self._tls = self._tls or ssl.create_default_context()
            if proxy.startswith("socks"):
                from aiohttp_socks import ProxyConnector

                kept = {} if self._keepalive is None else {"keepalive_timeout": self._keepalive}
                # socks5h / socks4a: the proxy resolves the target's name (aiohttp-socks'
                # rdns; its URL parser knows only the plain schemes)
                scheme, sep, rest = proxy.partition("://")
                remote = scheme.lower() in ("socks5h", "socks4a")
                url = f"{scheme.lower()[:6]}{sep}{rest}" if remote else proxy
                connector: aiohttp.BaseConnector = ProxyConnector.from_url(
                    url,
                    rdns=True if remote else None,
                    limit=0,
                    limit_per_host=self._limit_per_host,
                    ssl=tls,
                    **kept,
                )
            else:
                connector = aiohttp.TCPConnector(
                    limit=0,
                    limit_per_host=self._limit_per_host,
                    ttl_dns_cache=300,
                    keepalive_timeout=self._keepalive or KEEPALIVE,
                    ssl=tls,
                )
            # no Accept-Encoding of our own: LLM answers are small or streamed, and skipping
            # compression saves a decompressor per response (a client's own header still passes);
            # Go's heads (``go_wire``) carry no Accept either (``_go_headers`` writes the rest)
            session = aiohttp.ClientSession(
                connector=connector,
                timeout=self._timeout,
                auto_decompress=False,  # AiohttpResponse decodes (stacked codings too)
                skip_auto_headers=_GO_SKIPS if self._go else _SKIPS,
                response_class=GoResponse if self._go else AiohttpResponse,
            )
            if len(self._sessions) >= SESSIONS_MAX:  # the least recently used goes
                self._close_later(self._sessions.pop(next(iter(self._sessions))))
        self._sessions[proxy] = session
        return session, http_proxy

    def _close_later(self, session: aiohttp.ClientSession) -> None:
        """Close ``session`` in the background once no answer is read through it (CPA
        closes only an evicted transport's idle connections; aiohttp cannot, so the
        session waits for its last answer, at most :data:`RETIRE_WAIT`); ``close`` ends
        the wait."""
        task = asyncio.ensure_future(_close_when_idle(session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _aiohttp_request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> UpstreamResponse:
        """``request`` through aiohttp (every request with ``upstream-http: aiohttp``, else
        the fast client's fallback)."""
        if self._go:
            headers = _go_headers(method, headers, body)
        try:
            session, http_proxy = self._session(proxy)  # a malformed proxy URL: ValueError
            resp = await session.request(
                method,
                url,
                headers=headers,
                data=body,
                proxy=http_proxy,
                allow_redirects=False,
                timeout=self._timeout,
            )
        except aiohttp.ConnectionTimeoutError as exc:
            raise UpstreamNetworkError(
                "upstream connect timed out", status=504, detail=f"connect to {_origin(url)} timed out"
            ) from exc
        except TimeoutError as exc:
            raise UpstreamNetworkError(
                "upstream sent no response in time",
                status=504,
                detail=f"no response headers from {_origin(url)} within {self.first_byte_timeout}s",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamNetworkError(
                "upstream unreachable", detail=f"cannot reach {_origin(url)}: {exc.os_error}"
            ) from exc
        except ProxyTimeoutError as exc:  # the SOCKS proxy (aiohttp-socks' own errors)
            raise UpstreamNetworkError(
                "upstream connect timed out",
                status=504,
                detail=f"SOCKS proxy {redact_proxy(proxy)} timed out for {_origin(url)}",
            ) from exc
        except (ProxyError, ProxyConnectionError) as exc:
            raise UpstreamNetworkError(
                "upstream unreachable",
                detail=f"SOCKS proxy {redact_proxy(proxy)} failed for {_origin(url)}: {type(exc).__name__}",
            ) from exc
        except aiohttp.ClientError as exc:
            # the type only: some aiohttp errors quote the whole URL, whose query may hold a key
            raise UpstreamNetworkError(
                "upstream request failed", detail=f"request to {_origin(url)} failed: {type(exc).__name__}"
            ) from _broken(exc)
        except ValueError as exc:  # a bad proxy URL or upstream URL from config
            if line_break_in(headers):
                raise header_line_break() from exc
            raise UpstreamNetworkError(
                "invalid upstream or proxy URL",
                detail=f"invalid upstream or proxy URL for {_origin(url)}: {exc}",
            ) from exc
        self._arm_idle(resp)
        return cast(AiohttpResponse, resp)

    def _arm_idle(self, resp: aiohttp.ClientResponse) -> None:
        """From now on a read may wait at most ``idle`` seconds for the next bytes."""
        idle = self.idle_timeout
        conn = resp.connection
        if idle == self.first_byte_timeout or conn is None or conn.protocol is None:
            return  # the same limit, or the body is already in whole
        conn.protocol.read_timeout = idle or None
        conn.protocol.start_timeout()

    def spawn(
        self,
        *,
        keepalive: float | None = None,
        max_idle: int = MAX_IDLE,
        alpn: bool = True,
        go_wire: bool = False,
    ) -> HttpClient:
        """A client with connections of its own and this one's limits and ``upstream-http``
        (kept in step when they change); closed when this one is."""
        child = HttpClient(
            connect_timeout=self.connect_timeout,
            first_byte_timeout=self.first_byte_timeout,
            idle_timeout=self.idle_timeout,
            limit_per_host=self._limit_per_host,
            upstream_http=self._kind,
            keepalive=keepalive,
            max_idle=max_idle,
            alpn=alpn,
            go_wire=go_wire,
        )
        self._children.add(child)
        return child

    def retire(self) -> None:
        """Let this client go: its idle connections close now and no answer's connection is
        kept after; answers still being read finish first (its proxy sessions close once
        their last answer is read: :meth:`_close_later`)."""
        for fast in (*self._retired, *([self.fast] if self.fast is not None else [])):
            fast.close_idle()
        sessions, self._sessions = self._sessions, {}
        for session in sessions.values():
            self._close_later(session)

    async def close(self) -> None:
        for child in list(self._children):
            await child.close()
        if self._closing:
            for task in self._closing:
                task.cancel()  # (each still closes its session)
            await asyncio.gather(*self._closing, return_exceptions=True)
        for fast in (*self._retired, *([self.fast] if self.fast is not None else [])):
            await fast.close()
        self._retired.clear()
        sessions, self._sessions = self._sessions, {}
        for s in sessions.values():
            await s.close()


async def _close_when_idle(session: aiohttp.ClientSession) -> None:
    """Close ``session`` when its connector lends no connection (checked every second), at
    the latest after :data:`RETIRE_WAIT`, or at once when cancelled."""
    try:
        loop = asyncio.get_running_loop()
        until = loop.time() + RETIRE_WAIT
        while getattr(session.connector, "_acquired", None) and loop.time() < until:
            await asyncio.sleep(1.0)
    finally:
        await session.close()


_SKIPS = ("User-Agent", "Accept-Encoding")
_GO_SKIPS = ("User-Agent", "Accept-Encoding", "Accept")


def _go_headers(method: str, headers: Mapping[str, str], body: bytes | None) -> dict[str, str]:
    """``headers`` as Go writes them (:func:`.gowire.ordered`), for aiohttp, which writes a
    dict in its order after its own ``Host`` (a ``Host`` given goes first, as Go's) and keeps
    the Content-Length it is given."""
    lines = ordered(method, headers, str(len(body) if body else 0), bool(body))
    host = lines[0][1]
    return dict(lines if host else lines[1:])


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL: never the path or query, which may hold a key."""
    try:
        u = aiohttp.client.URL(url)
        return f"{u.scheme}://{u.host}" + (f":{u.port}" if u.port and not u.is_default_port() else "")
    except (ValueError, TypeError):
        return "<invalid url>"
