"""The protocol-level server's connections: the hot generation routes over
``asyncio.Protocol`` and httptools (llhttp) parsing; every other connection goes to
aiohttp on the same socket. What the connections share (routes, the request's way
through access checks to its handler) is ``cliproxy.server.fast.server``.

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
from typing import TYPE_CHECKING, cast

from httptools import HttpParserError, HttpParserUpgrade, HttpRequestParser
from multidict import CIMultiDict, CIMultiDictProxy, istr

from cliproxy.presence import watch
from cliproxy.server.fast.request import FastExchange
from cliproxy.server.guard import HEAD_TIMEOUT, REFUSED
from cliproxy.usage.resp import RESP_PREFIXES

if TYPE_CHECKING:
    from cliproxy.server.fast.server import FastServer

__all__ = ["BadBody", "FastProtocol"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_SEQUENCES = (tuple, list)

log = logging.getLogger(__name__)

_IDLE, _HEAD, _BUSY = 0, 1, 2
MAX_LINE = 8190  # aiohttp's limits: a longer head goes to aiohttp, which answers 400
MAX_FIELD = 8190
MAX_HEADERS = 128
MAX_HEAD = 64 * 1024
LINGER = 1.0  # seconds a closing connection still drops what its client sends
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_VERSIONS = {"1.1": b"1.1", "1.0": b"1.0"}  # httptools' get_http_version() -> ours
_TASK_NAME = "cliproxy-request"
_NO_PARAMS: dict[str, str] = {}
# header names looked up in every head: as istr, a CIMultiDict folds them once, here
_EXPECT, _CONTENT_ENCODING, _UPGRADE = istr("Expect"), istr("Content-Encoding"), istr("Upgrade")
_CONTENT_LENGTH = istr("Content-Length")


class _Stop(Exception):
    """Raised in a parser callback to stop parsing (hand-over, pipelining)."""


class BadBody(Exception):
    """The body of a fast request could not be parsed (broken chunks...)."""


class FastProtocol(asyncio.Protocol):
    """One client connection, until it is handed over to aiohttp (if ever)."""

    __slots__ = (
        "_admitted",
        "_deadline",
        "_drain",
        "_eof",
        "_ex",
        "_guard",
        "_handoff",
        "_headers",
        "_idle",
        "_lingering",
        "_long",
        "_loop",
        "_parser",
        "_phase",
        "_pipelined",
        "_raw",
        "_raw_size",
        "_server",
        "_task",
        "_timer",
        "_url",
        "paused",
        "peer_ip",
        "transport",
    )

    def __init__(self, server: FastServer) -> None:
        self._server = server
        self._guard = guard = server.guard
        self._idle = guard.idle  # the guard's idle connections (went_idle / went_busy, inline)
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        # (it holds this protocol's callbacks: dropped when the connection is lost, so the
        # two are freed at once, not by the garbage collector)
        self._parser: HttpRequestParser | None = HttpRequestParser(self)
        self._phase = _IDLE
        self._timer: asyncio.TimerHandle | None = None
        self._deadline: float | None = None
        self._raw: list[bytes] | None = None  # the request so far, while aiohttp may still get it
        self._raw_size = 0
        self._long = False  # a field may be longer than aiohttp takes, or be a trailer: on_header checks
        self._handoff = False
        self._url = b""
        self._headers: list[tuple[str, str]] = []  # as they came, decoded
        self._ex: FastExchange | None = None  # the request being read or answered
        self._pipelined = False
        self.paused = False  # the transport's buffer is full: writers wait (drain)
        self._drain: asyncio.Future[None] | None = None
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
        self.peer_ip = str(peer[0]) if isinstance(peer, _SEQUENCES) and peer else str(peer or "")
        if not self._server.guard.admit(self):
            transport.write(REFUSED)
            transport.close()
            return
        self._admitted = True
        self.transport = transport
        self._server.connections[self] = None
        self._go_idle()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._parser = None
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
        task = self._task
        if task is None or task.done():  # else its handler's end calls release()
            self.release(ex)
        elif ex is not None and not ex.finished:
            # the client left while its request ran: nobody reads the answer, so the work
            # stops (its upstream call is closed, as CPA's request context is cancelled)
            task.cancel()

    def release(self, ex: FastExchange | None) -> None:
        """Let go of ``ex`` once the connection is gone and its handler is done: the
        exchange points back here, and the two are freed at once, not by the garbage
        collector (which then walks every object the requests in flight hold)."""
        if ex is self._ex:
            self._ex = None

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
        # guarded aiohttp handler does); one whose request is not whole is gone. One that
        # closed its socket looks the same until written to: presence.watch() finds out
        self._eof = True
        ex = self._ex
        if not self._lingering and ex is not None and ex.body_complete and not ex.finished:
            transport = self.transport
            if transport is not None and ex.started:
                # its end of stream in the middle of an answer it reads: gone, as Go's server
                # (CPA's) cancels the request there; the next write would find out only when
                # a silent upstream sends more, its call held for nobody till then
                transport.abort()  # (the connection's loss cancels the request's task)
                return None
            self._pipelined = True  # nothing more can be read: this answer is the last
            if transport is not None and not ex.started and ex.version == b"1.1":
                watch(transport, lambda: not ex.finished)
            return True
        return None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)
        self._drain = None

    # -- reading

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return
        began = False
        if self._phase == _IDLE:
            if not data:
                return
            if self._ex is not None:  # the next request before the answer to this one
                self._refuse_pipelining()
                return
            self._raw = [data]
            self._raw_size = len(data)
            self._long = len(data) > MAX_FIELD  # (only a head that long can have a field that long)
            # a RESP client's first bytes (no task yet: no request was served on this connection)
            if data[0] in RESP_PREFIXES and self._task is None and self._server.guard.resp is not None:
                self._hand_over()
                return
            self._phase = _HEAD
            began = True  # the head timer starts below, unless the whole head is here
        elif self._phase == _HEAD and self._raw is not None:
            self._raw.append(data)
            self._raw_size += len(data)
            if self._raw_size > MAX_FIELD:
                self._long = True
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
        parser = self._parser
        if parser is None:  # the connection is gone
            return
        try:
            parser.feed_data(data)
        except HttpParserUpgrade:
            pass  # only after a head that is handed over (Upgrade is never served here)
        except HttpParserError as exc:
            self._parse_failed(exc)
            return
        if self._handoff:
            self._hand_over()
        elif began and self._phase == _HEAD:
            self._arm(self._server.guard.header_timeout)

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
            ex.body_done(BadBody(reason[:200]))
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
        if self._long and len(self._url) > MAX_LINE:
            self._handoff = True
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        if self._long and self._long_field(name, value):  # (one test for a usual head's fields)
            return
        try:  # names are tokens (ASCII: llhttp refuses others), most values ASCII too
            self._headers.append((name.decode(), value.decode()))
        except UnicodeDecodeError:  # a value that is not UTF-8: its bytes kept as surrogates
            self._headers.append((name.decode("latin-1"), value.decode("utf-8", "surrogateescape")))

    def _long_field(self, name: bytes, value: bytes) -> bool:
        """Whether a field is a trailer (after a chunked body: not kept); hands over a
        field longer than aiohttp takes (aiohttp answers it)."""
        if len(name) + len(value) > MAX_FIELD:
            self._handoff = True
            raise _Stop
        return self._ex is not None

    def on_headers_complete(self) -> None:
        server = self._server
        parser = self._parser
        assert parser is not None  # (called by it)
        url = self._url
        raw_path, _, query = url.partition(b"?")
        version = _VERSIONS.get(parser.get_http_version())
        fields = self._headers
        if len(fields) > MAX_HEADERS or self._raw is None or version is None or server.closing:
            self._handoff = True
            raise _Stop
        method = parser.get_method()
        route = server.exact.get((method, raw_path))
        if route is not None:  # a route's own path (server.match(), its first step inline)
            path = route.pattern
            params = _NO_PARAMS
            fragment = query.find(b"#") >= 0 if query else False  # (a route's own path has no "#")
        else:
            found = server.match(method, raw_path)
            if found is None:
                self._handoff = True
                raise _Stop
            route, path, params = found
            fragment = url.find(b"#") >= 0
        headers = CIMultiDictProxy(CIMultiDict(fields))
        if fragment or _EXPECT in headers or _CONTENT_ENCODING in headers or _UPGRADE in headers:
            expect = self._unusual(url, headers)
        else:
            expect = None
        self._raw = None  # served here from now on
        self._phase = _BUSY
        self._long = True  # what on_header sees from now on is a trailer
        self._deadline = None
        self._idle.pop(self, None)  # guard.went_busy(), inline
        ex = FastExchange(
            self,
            server.service,
            route.method,
            path,
            query.decode("utf-8", "surrogateescape") if query else "",
            headers,
            route.pattern,
            params,
            parser.should_keep_alive(),
            version,
            route.fmt,
        )
        self._ex = ex
        if expect is not None and self.transport is not None:
            length = headers.get(_CONTENT_LENGTH, "")
            if length.isdigit() and int(length) > server.max_body:
                ex.too_large = True  # answered 413 without reading the body
            else:
                self.transport.write(_CONTINUE)
        # a Task named here: an unnamed one formats a "Task-N" name of its own per request
        self._task = asyncio.Task(server.serve(self, ex, route), loop=self._loop, name=_TASK_NAME)

    def _unusual(self, url: bytes, headers: CIMultiDictProxy[str]) -> str | None:
        """A head with ``Expect``, ``Content-Encoding``, ``Upgrade`` or a fragment: its
        ``Expect`` value when it is served here (``100-continue``, identity encoding),
        else handed over (aiohttp answers or serves it)."""
        expect = headers.get(_EXPECT)
        encoding = headers.get(_CONTENT_ENCODING)
        if (
            url.find(b"#") >= 0
            or _UPGRADE in headers
            or (encoding is not None and encoding.lower() != "identity")
            or (expect is not None and expect.lower() != "100-continue")
        ):
            self._handoff = True
            raise _Stop
        return expect

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
            if ex.body_waiter is None:  # nobody waits yet (most bodies come with the head)
                ex.body_complete = True
            else:
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
        if not self.paused:
            return
        if self.transport is None:
            raise ConnectionResetError("the client went away")
        drain = self._drain
        if drain is None:
            drain = self._drain = self._loop.create_future()
        await asyncio.shield(drain)

    def answered(self, ex: FastExchange) -> None:
        if ex is not self._ex:
            return
        if (
            not ex.keep_alive
            or self._pipelined
            or self._server.closing
            or not ex.body_complete
            or self.transport is None
        ):  # this connection carries no other request
            self._linger()
            return
        self._ex = None
        self._phase = _IDLE  # _go_idle(), inline: _arm() and guard.went_idle()
        guard = self._guard
        seconds = guard.keepalive_timeout
        if seconds is None:
            self._deadline = None
        else:
            deadline = self._deadline = self._loop.time() + seconds
            timer = self._timer
            if timer is None or timer.when() > deadline:
                if timer is not None:
                    timer.cancel()
                self._timer = self._loop.call_at(deadline, self._expire)
        if self in guard.admitted:  # (on_headers_complete took it out of the idle ones)
            self._idle[self] = None

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
