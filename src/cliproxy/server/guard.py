"""The connection guard: client-side timeouts and connection caps, at the socket.

aiohttp's server watches a connection only while it waits for a request, with one
keep-alive timeout; a client that trickles a request head a byte at a time, or a crowd
of idle sockets, holds file descriptors until the process runs out. The guard wraps
aiohttp's protocol (``RequestHandler``) with a small state machine per connection:

    idle   connected, or a response finished:   closed after ``client-keepalive``
    head   the first byte of a request arrived: the head must be whole in ``client-header``
    busy   a request is being served:           no timer here (the body read has its own
                                                timeout in the middleware; streams may be long)

One ``TimerHandle`` per connection, re-armed lazily: moving between states only moves
a deadline, and the timer re-arms itself when it fires early. The guard also counts
connections, in total and per peer address. Past a cap, the connection that has been
idle longest is closed to make room; when none is idle, the new connection gets a
minimal 503 and is closed, before aiohttp sees it.

A connection whose first byte is a RESP type prefix (``* $ + - :``) is not HTTP: it is
handed, with that first chunk, to the guard's ``resp`` protocol factory (CPA serves its
usage queue over the Redis protocol on the main port; ``cliproxy.usage.resp``). It
leaves the guard's timers (the RESP session has its own) but stays in its count: a RESP
connection holds a socket like any other, and is never idle.

Malformed request heads (a header over 8 KB, say) get a 400 in the client's own error
shape, the format guessed from the path in the first bytes, with one log line and no
traceback.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import BadHttpMethod, HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from cliproxy.presence import watch
from cliproxy.server.context import format_for_path
from cliproxy.server.errors import error_response
from cliproxy.usage.resp import RESP_PREFIXES

if TYPE_CHECKING:
    from collections.abc import Callable

    from aiohttp.web_request import BaseRequest
    from aiohttp.web_response import StreamResponse
    from aiohttp.web_server import Server

    from cliproxy.config import Config

__all__ = [
    "ConnectionGuard",
    "FrontServer",
    "Guarded",
    "GuardedHandler",
    "GuardedSite",
    "auto_max_connections",
]

log = logging.getLogger(__name__)

_IDLE, _HEAD, _BUSY = 0, 1, 2
_HEAD_SAMPLE = 256  # bytes of a request head kept to name its path in a 400
_NEVER = 10.0**9  # aiohttp's keep-alive when ours is off
_WARN_EVERY = 10.0

_REFUSED_BODY = orjson.dumps(
    {
        "error": {
            "message": "too many open connections to cliproxy; retry shortly (limits.max-connections)",
            "type": "server_error",
            "code": "too_many_connections",
        }
    }
)
REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(_REFUSED_BODY)
) + _REFUSED_BODY
HEAD_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"


def auto_max_connections() -> int:
    """Half the open-file limit less a reserve (each proxied request also needs an
    upstream socket), and at least 64."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, OSError, ValueError):  # pragma: no cover - Windows
        return 1024
    if soft == resource.RLIM_INFINITY or soft <= 0:
        soft = 65536
    return max(64, (soft - 128) // 2)


class Guarded(Protocol):
    """A connection the guard counts: aiohttp's (``GuardedHandler``) or the fast server's."""

    peer_ip: str

    def force_close(self) -> None: ...


class FrontServer(Protocol):
    """A protocol factory in front of aiohttp's (``cliproxy.server.fast.server.FastServer``)."""

    def __call__(self) -> asyncio.Protocol: ...

    async def shutdown(self, timeout: float) -> None:
        """Close idle connections, let answers in flight finish within ``timeout``."""


class ConnectionGuard:
    """Every open client connection, the idle ones in the order they went idle."""

    __slots__ = (
        "_last_warning",
        "_per_ip",
        "admitted",
        "header_timeout",
        "idle",
        "keepalive_timeout",
        "max_connections",
        "max_per_ip",
        "resp",
    )

    def __init__(
        self,
        *,
        header_timeout: float | None,
        keepalive_timeout: float | None,
        max_connections: int = 0,
        max_per_ip: int = 0,
    ) -> None:
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout
        self.max_connections = max_connections or auto_max_connections()
        self.max_per_ip = max_per_ip
        # every admitted connection; the idle ones, oldest first (the fast server's
        # connections move themselves in and out of ``idle`` inline: went_idle / went_busy)
        self.admitted: dict[Guarded, None] = {}
        self.idle: dict[Guarded, None] = {}
        self._per_ip: dict[str, int] = {}
        self._last_warning = 0.0
        # peer address -> the protocol that serves a RESP connection (None: HTTP only)
        self.resp: Callable[[str], asyncio.Protocol] | None = None

    @classmethod
    def from_config(cls, config: Config) -> ConnectionGuard:
        t, lim = config.timeouts, config.limits
        return cls(
            header_timeout=t.seconds("client_header"),
            keepalive_timeout=t.seconds("client_keepalive"),
            max_connections=lim.max_connections,
            max_per_ip=lim.max_connections_per_ip,
        )

    def __len__(self) -> int:
        return len(self.admitted)

    def admit(self, conn: Guarded) -> bool:
        """Count ``conn`` in, closing the longest-idle connection when a cap is reached;
        ``False`` when nothing can make room."""
        ip = conn.peer_ip
        if self.max_per_ip and self._per_ip.get(ip, 0) >= self.max_per_ip:
            victim = next((c for c in self.idle if c.peer_ip == ip), None)
            if victim is None:
                self._warn(
                    f"{ip} has {self.max_per_ip} connections open, none idle "
                    "(limits.max-connections-per-ip): new ones get 503"
                )
                return False
            self.evict(victim)
        if len(self.admitted) >= self.max_connections:
            victim = next(iter(self.idle), None)
            if victim is None:
                self._warn(
                    f"{len(self.admitted)} connections open, none idle (limits.max-connections): new ones get 503"
                )
                return False
            self.evict(victim)
        self.admitted[conn] = None
        if self.max_per_ip:
            self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        return True

    def evict(self, conn: Guarded) -> None:
        log.debug("closing an idle connection from %s to make room", conn.peer_ip)
        self.forget(conn)
        conn.force_close()

    def forget(self, conn: Guarded) -> None:
        self.idle.pop(conn, None)
        if self.admitted.pop(conn, 0) is None and self.max_per_ip:
            left = self._per_ip[conn.peer_ip] - 1
            if left:
                self._per_ip[conn.peer_ip] = left
            else:
                del self._per_ip[conn.peer_ip]

    def transfer(self, old: Guarded, new: Any) -> bool:
        """Count ``new`` (another protocol on the same socket, with the same ``peer_ip``)
        in place of ``old``, not idle; ``False`` when ``old`` was not counted."""
        self.idle.pop(old, None)
        if old not in self.admitted:
            return False
        del self.admitted[old]
        self.admitted[new] = None
        return True

    def went_idle(self, conn: Guarded) -> None:
        self.idle.pop(conn, None)
        if conn in self.admitted:
            self.idle[conn] = None

    def went_busy(self, conn: Guarded) -> None:
        self.idle.pop(conn, None)

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARN_EVERY:
            self._last_warning = now
            log.warning("connection limit: %s", message)


class GuardedHandler(RequestHandler):
    """aiohttp's HTTP/1.1 protocol with the guard's timers, caps and 400 shapes."""

    __slots__ = ("_admitted", "_deadline", "_guard", "_head", "_payload", "_phase", "_timer", "peer_ip")

    def __init__(self, manager: Server, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._phase = _IDLE
        self._payload: Any = None  # the body of the request being answered (its reader)
        self._deadline: float | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head = b""
        self._admitted = False
        self.peer_ip = ""

    # -- connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple | list) and peer else str(peer or "")
        if not self._guard.admit(self):
            transport.write(REFUSED)  # type: ignore[attr-defined]
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._go_idle()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._admitted = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._guard.forget(self)
        # the client left while its request ran: its handler is cancelled (its upstream call
        # is closed, as CPA's request context is); a WebSocket's handler ends on its own
        task = self._task_handler if self._phase == _BUSY and not self._upgraded else None
        super().connection_lost(exc)
        if task is not None and not task.done():
            task.cancel()

    # asyncio.Protocol.eof_received may return True (keep the transport open for writing);
    # aiohttp annotates its override as returning None only, hence the ignore
    def eof_received(self) -> bool | None:  # type: ignore[override]
        # a client that half-closes after sending its request (``nc -N``, a lying
        # Content-Length) still gets its answer: keep the socket open for writing while a
        # request is whole (its body read to the end, or found unreadable: that is answered
        # with a 400), and close once answered; a request whose body is still missing is
        # abandoned: close at once. A WebSocket whose peer half-closes is gone (no close
        # frame will come): close, so its handler sees the end now, not at the next ping.
        # A client that closed its socket looks the same until written to: presence.watch()
        if self._upgraded:
            return None
        payload = self._payload
        if (
            self._phase != _BUSY
            or payload is None
            or not (payload.is_eof() or payload.exception() is not None)
        ):
            return None
        request, transport = self._current_request, self.transport
        if request is not None and transport is not None and request.writer.output_size:
            # its end of stream in the middle of an answer it reads: gone, as Go's server
            # (CPA's) cancels the request there, not at a write after a silent upstream's next event
            transport.abort()  # (the connection's loss cancels the handler)
            return None
        self.close()
        if (
            request is not None
            and transport is not None
            and request.version == HttpVersion11
            and not request.writer.output_size
        ):
            watch(transport, lambda: self._phase == _BUSY)
        return True

    def data_received(self, data: bytes) -> None:
        if self._phase == _BUSY:
            super().data_received(data)
            return
        if self._phase == _IDLE:
            if not data:
                return
            if data[0] in RESP_PREFIXES and self._request_count == 0 and self._guard.resp is not None:
                self._hand_over(data)
                return
            self._phase = _HEAD
            self._head = data[:_HEAD_SAMPLE]
            self._arm(self._guard.header_timeout)
        elif len(self._head) < _HEAD_SAMPLE:
            self._head += data[: _HEAD_SAMPLE - len(self._head)]
        count = self._request_count
        super().data_received(data)
        if self._request_count != count:  # a whole head (or a malformed one) was parsed
            self._payload = self._messages[-1][1] if self._messages else None
            self._phase = _BUSY
            self._deadline = None
            self._guard.went_busy(self)

    def _hand_over(self, data: bytes) -> None:
        """Give this connection (and its first bytes) to a RESP session: aiohttp lets go of
        it without closing the socket, and the guard stops counting it."""
        factory, transport = self._guard.resp, self.transport
        assert factory is not None and transport is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._admitted = False
        self.transport = None  # so that aiohttp's connection_lost does not close the socket
        task = self._task_handler
        RequestHandler.connection_lost(self, None)
        if task is not None:
            # aiohttp's request loop: when the RESP bytes came with the connection (the fast
            # engine hands both over at once) it has not started, and would find no manager
            task.cancel()
        session: Any = factory(self.peer_ip)  # (a RespSession: peer_ip, force_close, released)
        guard = self._guard
        if guard.transfer(self, session):  # still one of the capped connections, never idle
            session.released = lambda: guard.forget(session)
        transport.set_protocol(session)
        session.connection_made(transport)
        session.data_received(data)

    def log_access(self, request: BaseRequest, response: StreamResponse, time: float | None) -> None:
        # aiohttp calls this once a response is finished: the connection is idle again,
        # unless it is gone (a WebSocket's handler returns after its connection was lost:
        # a timer armed then would hold the dead connection for the keep-alive time)
        super().log_access(request, response, time)
        if not self._messages and self._admitted:  # else a pipelined request is already waiting
            self._go_idle()

    # -- timers

    def _go_idle(self) -> None:
        self._phase = _IDLE
        self._head = b""
        self._arm(self._guard.keepalive_timeout)
        self._guard.went_idle(self)

    def _arm(self, seconds: float | None) -> None:
        if seconds is None:
            self._deadline = None
            return
        loop = self._loop
        deadline = loop.time() + seconds
        self._deadline = deadline
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport is None:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expire)
            return
        if self._phase == _HEAD:
            log.info(
                "closing a connection from %s: no whole request head within %gs (timeouts.client-header)",
                self.peer_ip,
                self._guard.header_timeout,
            )
            self.transport.write(HEAD_TIMEOUT)
        self._guard.forget(self)
        self.force_close()

    # -- malformed requests

    def log_exception(self, *args: Any, **kw: Any) -> None:
        # a client's broken body or vanished socket (seen by aiohttp while it discards an
        # unread body, say) is the client's problem: one line, no traceback
        exc = kw.get("exc_info")
        if isinstance(exc, HttpProcessingError | RequestPayloadError | ConnectionError):
            log.info("connection from %s: %s", self.peer_ip, exc)
            return
        super().log_exception(*args, **kw)

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> StreamResponse:
        if isinstance(exc, ConnectionError) and (self.transport is None or self.transport.is_closing()):
            # a client that went away is routine: one line, no traceback
            log.info("%s %s: the client went away", request.method, request.path)
            resp: StreamResponse = web.Response(status=499)
            resp.force_close()
            return resp
        if status != 400 or not isinstance(exc, HttpProcessingError):
            return super().handle_error(request, status, exc, message)
        if request.writer.output_size > 0:  # as aiohttp: a response is under way
            raise ConnectionError("Response is sent already, cannot send another response")
        detail = _describe(exc, self.max_field_size)
        if self._request_count == 1 and isinstance(exc, BadHttpMethod):
            log.debug("not HTTP from %s (TLS to a plain port?): %s", self.peer_ip, detail)
        else:
            log.warning("bad request from %s: %s", self.peer_ip, detail)
        resp = error_response(format_for_path(_path_of(self._head)), 400, detail)
        resp.force_close()
        return resp


def _describe(exc: HttpProcessingError, limit: int) -> str:
    if isinstance(exc, LineTooLong):
        return (
            f"request header or request line too large: each is limited to {limit} bytes "
            f"({exc.args[0]!s} is longer)"
        )
    return f"malformed HTTP request: {exc.message}"


def _path_of(head: bytes) -> str:
    parts = head.split(b" ", 2)
    if len(parts) < 2:
        return "/"
    return parts[1].split(b"?", 1)[0].decode("latin-1")


class GuardedSite(web.BaseSite):
    """A TCP site whose connections are ``GuardedHandler``s counted by one ``ConnectionGuard``;
    HTTPS when given an ``ssl_context``."""

    __slots__ = (
        "_bound_port",
        "_fast",
        "_front",
        "_guard",
        "_host",
        "_port",
        "_reuse_port",
        "_ssl_context",
    )

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str | None,
        port: int,
        guard: ConnectionGuard,
        *,
        backlog: int = 4096,
        ssl_context: ssl.SSLContext | None = None,
        reuse_port: bool = False,
        front: Callable[[ConnectionGuard, Callable[[], asyncio.Protocol]], FrontServer] | None = None,
    ) -> None:
        """``front``: makes the server that takes every connection first and hands what it
        does not serve to aiohttp's protocol (``cliproxy.server.fast``); none: aiohttp only."""
        super().__init__(runner, backlog=backlog)
        self._front = front
        self._fast: FrontServer | None = None
        self._host = host or None
        self._port = port
        self._guard = guard
        self._bound_port = port
        self._ssl_context = ssl_context
        self._reuse_port = reuse_port  # one of several worker processes on this port

    @property
    def guard(self) -> ConnectionGuard:
        return self._guard

    @property
    def port(self) -> int:
        return self._bound_port

    @property
    def scheme(self) -> str:
        return "https" if self._ssl_context is not None else "http"

    @property
    def name(self) -> str:
        return f"{self.scheme}://{self._host or '0.0.0.0'}:{self.port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        guard = self._guard
        keepalive = guard.keepalive_timeout or _NEVER

        def aiohttp_protocol() -> GuardedHandler:
            return GuardedHandler(server, guard, loop=loop, keepalive_timeout=keepalive, access_log=None)

        protocol: Callable[[], asyncio.Protocol] = aiohttp_protocol
        if self._front is not None:  # e.g. the hot routes at the protocol level, the rest to aiohttp
            self._fast = self._front(guard, aiohttp_protocol)
            protocol = self._fast

        # the TLS handshake is part of the request head: it gets the same time limit
        handshake = guard.header_timeout if self._ssl_context is not None else None
        self._server = await loop.create_server(
            protocol,
            self._host,
            self._port,
            backlog=self._backlog,
            reuse_address=True,
            reuse_port=self._reuse_port or None,
            ssl=self._ssl_context,
            ssl_handshake_timeout=handshake,
        )
        sockets = self._server.sockets
        if sockets:
            self._bound_port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        await super().stop()
        if self._fast is not None:  # aiohttp's own connections are drained by its runner
            await self._fast.shutdown(getattr(self._runner, "_shutdown_timeout", 60.0))
