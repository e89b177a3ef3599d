"""The protocol-level server: the hot generation routes over ``asyncio.Protocol`` and
httptools (llhttp) parsing; every other connection goes to aiohttp on the same socket.

A connection starts here. Its first request head is parsed by httptools; a request on
the fast list (``cliproxy.server.handlers.fast_routes``: POST/GET, no ``Upgrade``, no
``Content-Encoding``, a plain path, HTTP/1.0 or 1.1) is served here, through the same
decisions as the aiohttp middleware (``cliproxy.server.middleware.screen`` /
``authorize``) and the same handlers. Anything else (management, the panel, WebSocket
upgrades, multipart image edits, a RESP client, a head httptools refuses or finds too
large) is handed over: aiohttp's own protocol (``GuardedHandler``) gets the transport and
every byte received so far, and owns the connection from then on. A keep-alive
connection is handed over the same way at a later request whose head starts a read
(nothing in flight).

Timers and caps are the guard's (``cliproxy.server.guard``): ``timeouts.client-header``
for a request head, ``timeouts.client-keepalive`` between requests, the connection caps;
``timeouts.client-body`` and ``limits.max-body-mb`` for bodies, as in the middleware.
Pipelining is refused cleanly: a request sent before the previous answer is finished is
not read; the previous answer is the connection's last (the client retries the rest on
a new connection, RFC 9112 9.3.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser
from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.errors import CliproxyError
from cliproxy.requestid import begin_request
from cliproxy.server.errors import error_response, exception_response
from cliproxy.server.fast.request import FastExchange
from cliproxy.server.guard import HEAD_TIMEOUT, REFUSED
from cliproxy.server.handlers import Core, fast_routes
from cliproxy.server.middleware import authorize, body_timeout_message, screen, too_large_message
from cliproxy.usage.resp import RESP_PREFIXES

if TYPE_CHECKING:
    from cliproxy.server.guard import ConnectionGuard
    from cliproxy.service import Service

__all__ = ["FastProtocol", "FastServer"]

log = logging.getLogger(__name__)

_IDLE, _HEAD, _BUSY = 0, 1, 2
MAX_LINE = 8190  # aiohttp's limits: a longer head goes to aiohttp, which answers 400
MAX_FIELD = 8190
MAX_HEADERS = 128
MAX_HEAD = 64 * 1024
LINGER = 1.0  # seconds a closing connection still drops what its client sends
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_VERSIONS = {(1, 1): b"1.1", (1, 0): b"1.0"}


class _Stop(Exception):
    """Raised in a parser callback to stop parsing (hand-over, pipelining)."""


class _BadBody(Exception):
    """The body of a fast request could not be parsed (broken chunks...)."""


class FastServer:
    """What the connections of one listener share: the routes, the service, the guard,
    aiohttp's protocol factory (for hand-overs) and the open connections."""

    def __init__(
        self, service: Service, guard: ConnectionGuard, aiohttp_protocol: Callable[[], asyncio.Protocol]
    ) -> None:
        self.service = service
        self.guard = guard
        self.aiohttp_protocol = aiohttp_protocol
        self.max_body = service.config.limits.max_body_bytes  # as aiohttp's: read at start
        self.max_wire = 2 * self.max_body + MAX_HEAD  # a body with its chunk framing
        self.closing = False
        self.connections: dict[FastProtocol, None] = {}
        self._exact: dict[tuple[str, str], tuple[Core, str]] = {}
        self._prefixed: list[tuple[str, str, Core, str]] = []
        for (method, pattern), core in fast_routes().items():
            if pattern.endswith("{name:.+}"):
                prefix = pattern.removesuffix("{name:.+}")
                self._prefixed.append((method, prefix, core, prefix + "{name}"))
            else:
                self._exact[(method, pattern)] = (core, pattern)

    def __call__(self) -> FastProtocol:
        return FastProtocol(self)

    def match(self, method: str, path: str) -> tuple[Core, str, dict[str, str]] | None:
        found = self._exact.get((method, path))
        if found is not None:
            return found[0], found[1], {}
        for want, prefix, core, route in self._prefixed:
            if method == want and path.startswith(prefix) and len(path) > len(prefix):
                return core, route, {"name": path[len(prefix) :]}
        return None

    async def shutdown(self, timeout: float) -> None:
        """Stop keeping connections alive, close the idle ones, wait for answers in flight
        (up to ``timeout``), then close the rest."""
        self.closing = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            for conn in list(self.connections):
                if conn.idle:
                    conn.force_close()
            if not self.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            conn.abort()  # as aiohttp after its shutdown timeout: the request is cancelled

    async def serve(self, conn: FastProtocol, ex: FastExchange, core: Core) -> None:
        """One request, as the aiohttp middleware and handler would run it."""
        begin_request()  # the id on this request's log lines (this task's context)
        service = self.service
        try:
            answer, cors, proxy = screen(
                service, ex.method, ex.path, ex.headers, lambda: ex.remote or None, lambda: ex.format
            )
            if answer is not None:
                ex.answer(answer)
                return
            ex.cors = cors
            if proxy:
                ex.principal = await authorize(service, ex.path, ex.headers, ex.query)
                if not await self._read_body(ex):
                    return
                if service.frontend:  # frontend-auth plugins take part (or, exclusive, decide alone)
                    ex.principal = await service.authenticate(
                        ex.method, ex.path, ex.headers, ex.query, await ex.read()
                    )
            await core(ex)
        except CliproxyError as exc:
            if not ex.started:
                ex.answer(exception_response(ex.format, exc))
        except ConnectionError as exc:
            if conn.transport is not None and not conn.transport.is_closing():
                log.exception("unhandled error on %s %s", ex.method, ex.path)
                self._fail(ex)
            else:
                log.info("%s %s: the client went away (%s)", ex.method, ex.path, type(exc).__name__)
        except Exception:
            # our bug, not the client's: log it whole, tell the client little
            log.exception("unhandled error on %s %s", ex.method, ex.path)
            self._fail(ex)
        finally:
            if not ex.finished:  # a broken stream: the connection cannot carry another request
                conn.force_close()

    def _fail(self, ex: FastExchange) -> None:
        if not ex.started:
            ex.answer(error_response(ex.format, 500, "internal error in cliproxy; see the server log"))

    async def _read_body(self, ex: FastExchange) -> bool:
        """Wait for the whole body within ``timeouts.client-body`` and ``limits.max-body-mb``;
        ``False`` when that failed (and was answered)."""
        length = ex.headers.get("Content-Length")
        if ex.too_large or (length is not None and length.isdigit() and int(length) > self.max_body):
            self._body_error(ex, 413, too_large_message(self.max_body))
            return False
        if ex.body_complete:
            return True
        timeout = self.service.config.timeouts.seconds("client_body")
        try:
            async with asyncio.timeout(timeout):
                await ex.wait_body()
        except TimeoutError:
            log.info(
                "%s %s: request body not received within %gs (timeouts.client-body)",
                ex.method,
                ex.path,
                timeout,
            )
            self._body_error(ex, 408, body_timeout_message(timeout))
            return False
        except _BadBody as exc:
            log.info("%s %s: unreadable request body: %s", ex.method, ex.path, exc)
            self._body_error(ex, 400, f"request body could not be read: {exc}")
            return False
        except ConnectionResetError:
            log.info("%s %s: the client went away while sending the body", ex.method, ex.path)
            self._body_error(ex, 400, "the connection closed before the whole body arrived")
            return False
        if ex.too_large:
            self._body_error(ex, 413, too_large_message(self.max_body))
            return False
        return True

    def _body_error(self, ex: FastExchange, status: int, message: str) -> None:
        ex.keep_alive = False  # the rest of the body is not worth reading
        ex.answer(error_response(ex.format, status, message))


class FastProtocol(asyncio.Protocol):
    """One client connection, until it is handed over to aiohttp (if ever)."""

    __slots__ = (
        "_admitted",
        "_deadline",
        "_drain",
        "_eof",
        "_ex",
        "_handoff",
        "_headers",
        "_lingering",
        "_loop",
        "_parser",
        "_paused",
        "_phase",
        "_pipelined",
        "_raw",
        "_raw_size",
        "_requests",
        "_server",
        "_task",
        "_timer",
        "_url",
        "peer_ip",
        "transport",
    )

    def __init__(self, server: FastServer) -> None:
        self._server = server
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self._parser = HttpRequestParser(self)
        self._phase = _IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._raw: list[bytes] | None = None  # the request so far, while aiohttp may still get it
        self._raw_size = 0
        self._handoff = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []
        self._ex: FastExchange | None = None  # the request being read or answered
        self._pipelined = False
        self._paused = False
        self._drain: asyncio.Future[None] | None = None
        self._requests = 0
        self._admitted = False
        self._lingering = False
        self._eof = False
        self._task: asyncio.Task[None] | None = None

    # -- the connection

    @property
    def idle(self) -> bool:
        """No request is being answered (a head may be on its way: aiohttp closes those too)."""
        return self._ex is None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast("asyncio.Transport", transport)  # uvloop's are not asyncio.Transport subclasses
        peer = transport.get_extra_info("peername")
        self.peer_ip = str(peer[0]) if isinstance(peer, tuple | list) and peer else str(peer or "")
        if not self._server.guard.admit(self):
            transport.write(REFUSED)
            transport.close()
            return
        self._admitted = True
        self.transport = transport
        self._server.connections[self] = None
        self._go_idle()

    def connection_lost(self, exc: BaseException | None) -> None:
        if not self._admitted:
            return
        self._leave()
        self.transport = None
        gone = ConnectionResetError("the client went away")
        ex = self._ex
        if ex is not None and not ex.body_complete:
            ex.body_done(gone)
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(gone)
            drain.exception()  # retrieved: nobody may be waiting

    def _leave(self) -> None:
        self._admitted = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._server.guard.forget(self)
        self._server.connections.pop(self, None)

    def force_close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
        self.force_close()

    def eof_received(self) -> bool | None:
        # a client that half-closes after a whole request still gets its answer (as the
        # guarded aiohttp handler does); one whose request is not whole is gone
        self._eof = True
        ex = self._ex
        if not self._lingering and ex is not None and ex.body_complete and not ex.finished:
            self._pipelined = True  # nothing more can be read: this answer is the last
            return True
        return None

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        self._drain = None

    # -- reading

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        if self._phase == _IDLE:
            if not data:
                return
            if self._ex is not None:  # the next request before the answer to this one
                self._refuse_pipelining()
                return
            self._raw = [data]
            self._raw_size = len(data)
            if data[0] in RESP_PREFIXES and self._requests == 0 and self._server.guard.resp is not None:
                self._hand_over()
                return
            self._phase = _HEAD
            self._arm(self._server.guard.header_timeout)
        elif self._phase == _HEAD and self._raw is not None:
            self._raw.append(data)
            self._raw_size += len(data)
            if self._raw_size > MAX_HEAD:  # aiohttp answers a head this large
                self._hand_over()
                return
        elif self._pipelined:
            return
        elif (ex := self._ex) is not None and not ex.body_complete:
            ex.wire += len(data)  # chunk framing and extensions count here, not in the body
            if ex.wire > self._server.max_wire:
                self._too_large(ex)
                return
        try:
            self._parser.feed_data(data)
        except HttpParserUpgrade:
            pass  # only after a head that is handed over (Upgrade is never served here)
        except HttpParserError as exc:
            self._parse_failed(exc)
            return
        if self._handoff:
            self._hand_over()

    def _parse_failed(self, exc: HttpParserError) -> None:
        if self._handoff or self._raw is not None:
            # a head aiohttp should see (or answer: its 400 in the client's shape)
            self._hand_over()
            return
        if self._pipelined:
            return
        ex = self._ex
        if ex is None:
            self.force_close()
            return
        if not ex.body_complete:
            reason = str(exc.__context__ or exc) or type(exc).__name__
            ex.body_done(_BadBody(reason[:200]))
        self._refuse_pipelining()  # nothing more is read on this connection

    def _refuse_pipelining(self) -> None:
        self._pipelined = True
        self._pause_reading()

    def _pause_reading(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()

    def on_message_begin(self) -> None:
        if self._ex is not None:
            self._refuse_pipelining()
            raise _Stop
        self._url = b""
        self._headers = []

    def on_url(self, url: bytes) -> None:
        self._url += url
        if len(self._url) > MAX_LINE:
            self._handoff = True
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        headers = self._headers
        if len(headers) >= MAX_HEADERS or len(name) + len(value) > MAX_FIELD:
            self._handoff = True
            raise _Stop
        headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))

    def on_headers_complete(self) -> None:
        server = self._server
        parser = self._parser
        method = parser.get_method().decode("ascii", "replace")
        raw_path, _, query = self._url.partition(b"?")
        version = _VERSIONS.get(_version(parser))
        headers = CIMultiDictProxy(CIMultiDict(self._headers))
        found = None
        if (
            version is not None
            and not server.closing
            and raw_path[:1] == b"/"
            and b"%" not in raw_path
            and b"//" not in raw_path
            and b"/." not in raw_path
            and b"#" not in self._url
            and "Upgrade" not in headers
            and headers.get("Content-Encoding", "identity").lower() == "identity"
            and headers.get("Expect", "100-continue").lower() == "100-continue"
        ):
            found = server.match(method, raw_path.decode("ascii", "replace"))
        if found is None or self._raw is None or version is None:
            self._handoff = True
            raise _Stop
        core, route, params = found
        self._raw = None  # served here from now on
        self._requests += 1
        self._phase = _BUSY
        self._deadline = None
        server.guard.went_busy(self)
        ex = FastExchange(
            self,
            server.service,
            method,
            raw_path.decode("ascii"),
            query.decode("utf-8", "surrogateescape"),
            headers,
            route,
            params,
            keep_alive=parser.should_keep_alive(),
            version=version,
        )
        self._ex = ex
        if "Expect" in headers and self.transport is not None:
            length = headers.get("Content-Length", "")
            if length.isdigit() and int(length) > server.max_body:
                ex.too_large = True  # answered 413 without reading the body
            else:
                self.transport.write(_CONTINUE)
        self._task = self._loop.create_task(server.serve(self, ex, core))

    def on_body(self, body: bytes) -> None:
        ex = self._ex
        if ex is None or ex.too_large:
            return
        ex.body_size += len(body)
        if ex.body_size > self._server.max_body:
            self._too_large(ex)
            return
        ex.body_parts.append(body)

    def _too_large(self, ex: FastExchange) -> None:
        ex.too_large = True
        ex.body_parts = []
        self._refuse_pipelining()  # the rest is not read: the answer (413) closes
        ex.body_done()

    def on_message_complete(self) -> None:
        ex = self._ex
        if ex is not None and not ex.too_large:
            ex.body_done()

    # -- handing over

    def _hand_over(self) -> None:
        """aiohttp takes this connection and every byte it sent so far."""
        transport, raw = self.transport, self._raw
        if transport is None or raw is None:
            self.force_close()
            return
        self._leave()
        self.transport = None
        self._raw = None
        handler = self._server.aiohttp_protocol()
        transport.set_protocol(handler)
        handler.connection_made(transport)
        if not transport.is_closing():
            handler.data_received(b"".join(raw))

    # -- writing (FastExchange)

    def send(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("the client went away")
        transport.write(data)

    async def drain(self) -> None:
        if not self._paused:
            return
        if self.transport is None:
            raise ConnectionResetError("the client went away")
        drain = self._drain
        if drain is None:
            drain = self._drain = self._loop.create_future()
        await asyncio.shield(drain)

    def keeps_alive(self) -> bool:
        ex = self._ex
        return not (self._pipelined or self._server.closing or ex is None or not ex.body_complete)

    def answered(self, ex: FastExchange) -> None:
        if ex is not self._ex:
            return
        if not (ex.keep_alive and self.keeps_alive()) or self.transport is None:
            self._linger()
            return
        self._ex = None
        self._go_idle()

    def _linger(self) -> None:
        """Close after an answer: when the client may still be sending (a body not read,
        pipelined requests), send a FIN and read and drop its bytes for up to
        :data:`LINGER` seconds first, so that closing with unread data (a TCP reset) does
        not destroy the answer before the client reads it."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        ex = self._ex
        if (
            self._eof
            or not (self._pipelined or ex is None or not ex.body_complete)
            or not transport.can_write_eof()
        ):
            transport.close()
            return
        self._lingering = True
        transport.write_eof()
        transport.resume_reading()
        if self._timer is not None:
            self._timer.cancel()
        self._deadline = None
        self._timer = self._loop.call_later(LINGER, self.force_close)

    # -- timers (as the guard's)

    def _go_idle(self) -> None:
        self._phase = _IDLE
        self._arm(self._server.guard.keepalive_timeout)
        self._server.guard.went_idle(self)

    def _arm(self, seconds: float | None) -> None:
        if seconds is None:
            self._deadline = None
            return
        deadline = self._loop.time() + seconds
        self._deadline = deadline
        timer = self._timer
        if timer is None or timer.when() > deadline:
            if timer is not None:
                timer.cancel()
            self._timer = self._loop.call_at(deadline, self._expire)

    def _expire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self.transport is None or self._phase == _BUSY:
            return
        if self._loop.time() < deadline:
            self._timer = self._loop.call_at(deadline, self._expire)
            return
        if self._phase == _HEAD:
            log.info(
                "closing a connection from %s: no whole request head within %gs (timeouts.client-header)",
                self.peer_ip,
                self._server.guard.header_timeout,
            )
            with contextlib.suppress(RuntimeError):
                self.transport.write(HEAD_TIMEOUT)
        self._server.guard.forget(self)
        self.force_close()


def _version(parser: HttpRequestParser) -> tuple[int, int]:
    major, _, minor = parser.get_http_version().partition(".")
    return (int(major), int(minor)) if major.isdigit() and minor.isdigit() else (0, 0)
