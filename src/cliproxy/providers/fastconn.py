"""One connection of the protocol-level upstream client (:mod:`.fasthttp`): an asyncio
Protocol fed by httptools, the answer being read on it, its limits and its idle parking.

The answer's head is kept as one block of bytes (decoded only when someone reads the
headers, :class:`.fastwire.Headers`). Each limit (a wait's deadline, the keep-alive of a
parked connection) has one timer per connection that moves only when a deadline comes
sooner; a later deadline is checked when the timer fires. A request thus arms and cancels
no timer of its own, and makes no parser: one reads all the answers of a connection (see
:meth:`Conn.send`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

import httptools

from cliproxy.providers.transport import ConnectionEnded

__all__ = ["GO", "HIGH_WATER", "NEVER", "PAUSE", "STOP", "Conn", "Origin", "Push"]

HIGH_WATER = 1 << 20  # pause reading the socket above this many unread body bytes
NEVER = float("inf")  # no deadline
_ENCODING = b"\r\ncontent-encoding:"
_LINE_ENDS = (13, 10)  # CR, LF

Origin = tuple[bool, str, int]  # (tls, host, port)

# what a push consumer (:meth:`Conn.deliver`) answers for each piece of a body
GO, PAUSE, STOP = 0, 1, 2  # read on; stop reading until it drained (``True`` too); read no more
Push = Callable[[bytes], int]


class _Callbacks:
    """What httptools calls while an answer to anything but HEAD is parsed: the body bytes
    go straight into the connection's deque (a C call per chunk, no Python frame); the
    reader is woken in ``Conn.data_received`` once the bytes of a read are parsed."""

    __slots__ = ("on_body", "on_headers_complete", "on_message_complete")

    def __init__(self, conn: Conn) -> None:
        self.on_body = conn.body.append
        self.on_headers_complete = conn.on_headers_complete
        self.on_message_complete = conn.on_message_complete


class Conn(asyncio.Protocol):
    """One upstream connection and the answer being read on it."""

    __slots__ = (
        "block",
        "body",
        "buffered",
        "callbacks",
        "closed",
        "coding",
        "complete",
        "deadline",
        "drain_timer",
        "drained",
        "error",
        "head",
        "head_at",
        "headers_done",
        "idle_timer",
        "idle_timer_at",
        "idle_until",
        "interim",
        "keep_alive",
        "live",
        "loop",
        "origin",
        "parked",
        "parser",
        "paused",
        "pre",
        "push",
        "push_error",
        "push_idle",
        "push_state",
        "received",
        "status",
        "timer",
        "timer_at",
        "transport",
        "waiter",
    )

    def __init__(self, live: set[Conn], origin: Origin) -> None:
        self.live, self.origin = live, origin
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parked: list[Conn] | None = None
        self.parser: Any = None
        self.waiter: asyncio.Future[None] | None = None
        self.deadline = NEVER  # of the current wait
        self.timer: asyncio.TimerHandle | None = None
        self.timer_at = NEVER
        self.idle_until = 0.0  # while parked: closed then
        self.idle_timer: asyncio.TimerHandle | None = None
        self.idle_timer_at = NEVER
        self.head = False
        self.status = 0
        self.pre = b""  # the bytes of the answer until its head is in
        self.head_at = 0  # where in ``pre`` the head starts (after 1xx answers)
        self.block = b"\r\n"  # the head: b"HTTP/1.1 200 OK\r\nName: value\r\n...\r\n"
        self.coding: bytes | None = None  # the block, lower case, when it names a Content-Encoding
        self.headers_done = self.complete = self.keep_alive = self.received = False
        self.interim = self.paused = False
        self.error: ConnectionError | None = None
        self.body: deque[bytes] = deque()
        self.buffered = 0
        self.callbacks: _Callbacks | None = _Callbacks(self)  # (a cycle, broken when the connection is lost)
        # push mode (``FastResponse.relay``): the consumer each piece of the body goes to
        self.push: Push | None = None
        self.push_idle = 0.0  # seconds a body may be silent (0: no limit)
        self.push_state = GO  # what the consumer last answered other than GO
        self.push_error: BaseException | None = None  # what the consumer raised
        # draining (``drain``): what takes the connection once the answer ends, and the bound
        self.drained: Callable[[Conn], None] | None = None
        self.drain_timer: asyncio.TimerHandle | None = None

    def send(self, data: bytes, rest: bytes | None, head: bool, deadline: float) -> asyncio.Future[None]:
        """Write one request: ``data`` (the head, and a small body), then ``rest`` (a large
        body); the future of its first news, as :meth:`expect` (made here: one call less).

        The parser of the last answer reads this one too (llhttp starts the next message of
        a kept-alive connection, and a connection is reused only after a whole answer); a
        new one is made on a new connection and around a HEAD request: a HEAD answer
        announces a body that never comes (``on_body`` drops it when one does), so its
        parser cannot read on."""
        if head or self.head or self.parser is None:
            callbacks = self.callbacks
            self.parser = httptools.HttpResponseParser(self if head or callbacks is None else callbacks)
        self.head = head
        self.status = 0
        self.pre = b""
        self.head_at = 0
        self.coding = None
        self.headers_done = self.complete = self.keep_alive = self.received = False
        self.interim = False
        self.error = None
        if self.body:
            self.body.clear()  # an answer released unread
        self.buffered = 0
        transport = self.transport
        assert transport is not None
        if self.paused:
            self.paused = False
            transport.resume_reading()
        transport.write(data)
        if rest:
            transport.write(rest)
        waiter = self.waiter = self.loop.create_future()
        self.deadline = deadline
        if deadline < self.timer_at:
            self.arm(deadline)
        return waiter

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.live.add(self)

    def data_received(self, data: bytes) -> None:
        push = self.push
        if push is not None and not self.complete:  # push mode: each read to the consumer at once
            try:
                self.parser.feed_data(data)
            except httptools.HttpParserError as exc:
                self.fail(ConnectionError(f"malformed upstream response: {exc}"))
                return
            body = self.body
            if body:
                data = body.popleft() if len(body) == 1 else b"".join(body)
                body.clear()
                if self.push_idle:
                    self.deadline = self.loop.time() + self.push_idle  # the timer reads it when it fires
                try:  # ``deliver``, inline: one call less per read of a stream
                    state = push(data)
                except BaseException as exc:  # (it must not reach the transport: uvloop would close it)
                    self.push_error, state = exc, STOP
                if state:
                    self._held(state)
            return
        self.received = True
        parser = self.parser
        if parser is None or self.complete:
            self.fail(ConnectionError("unexpected bytes from upstream"))
            return
        if not self.headers_done:
            pre = self.pre
            self.pre = pre + data if pre else data
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(ConnectionError(f"malformed upstream response: {exc}"))
            return
        if self.body:  # unread body bytes (counted with their framing: once a read, not a chunk)
            self.buffered += len(data)
            if self.buffered > HIGH_WATER and not self.paused and not self.closed:
                if self.drained is not None:  # more than a drain drops: not worth the connection
                    self.abort()
                    return
                self.paused = True
                self.transport.pause_reading()  # type: ignore[union-attr]
            waiter = self.waiter
            if waiter is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(None)

    def eof_received(self) -> bool | None:
        return None  # close the transport (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        parser, self.parser, self.callbacks = self.parser, None, None  # (their cycle, broken)
        self.live.discard(self)
        self.unpark()
        if self.drained is not None:
            self._drain_stop()
        if self.timer is not None:
            self.timer.cancel()
            self.timer, self.timer_at = None, NEVER
        if parser is None or self.complete:
            return
        if self.headers_done and exc is None and self._ends_with_connection():
            self.complete, self.keep_alive = True, False
            self._wake()
            return
        if exc is None:  # an EOF: the upstream ended the connection
            self.fail(ConnectionEnded("upstream closed the connection"))
        else:  # a reset, a broken pipe
            self.fail(ConnectionError(f"upstream connection broke: {exc}"))

    def _ends_with_connection(self) -> bool:
        """The answer's body is framed by the end of the connection: it may have one, and
        its head names neither a Content-Length nor a Transfer-Encoding."""
        if self.head or self.status in (204, 304):
            return False
        low = self.block.lower()
        return low.find(b"\r\ncontent-length:") < 0 and low.find(b"\r\ntransfer-encoding:") < 0

    # -- httptools callbacks (no on_header: the head is cut out of ``pre`` whole; the body
    # goes to ``body.append`` through ``_Callbacks``, except for a HEAD request's answer)

    def on_headers_complete(self) -> None:
        if self.headers_done:  # a second answer in the same read: raised, llhttp stops there
            raise ConnectionError("unexpected bytes from upstream")  # (``data_received`` fails it)
        parser = self.parser
        status = parser.get_status_code()
        pre = self.pre
        start = self.head_at
        while pre[start] in _LINE_ENDS:  # (llhttp skips them before a status line)
            start += 1
        end = pre.find(b"\r\n\r\n", start)  # llhttp has checked the head: CRLF line ends
        if 100 <= status < 200 and status != 101:
            self.head_at, self.interim = end + 4, True  # 1xx: wait for the real answer
            return
        self.pre = b""
        block = self.block = pre[start : end + 2] if end >= 0 else b"\r\n"
        self.status, self.headers_done = status, True
        if self.head:
            self.complete, self.keep_alive = True, parser.should_keep_alive()
        elif status not in (204, 304):
            # (its framing is read only if the connection ends first; ``find``, not ``in``:
            # ``bytes in bytes`` first tries the needle as an int, a TypeError raised and cleared)
            low = block.lower()
            if low.find(_ENCODING) >= 0:
                self.coding = low
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return  # a HEAD answer's announced body: not ours
        self.body.append(body)  # (counted, and the reader woken, in ``data_received``)

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if not self.complete:
            self.complete, self.keep_alive = True, self.parser.should_keep_alive()
            if self.drained is not None:
                self._drain_end()
                return
            waiter = self.waiter
            if waiter is not None:
                self.waiter = None
                if not waiter.done():
                    waiter.set_result(None)

    # -- the reader's side

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def expect(self, deadline: float) -> asyncio.Future[None]:
        """A future done at the protocol's next news; ``TimeoutError`` at ``deadline`` (loop
        time, ``NEVER``: none). The timer moves only when this deadline is the sooner."""
        waiter = self.waiter = self.loop.create_future()
        self.deadline = deadline
        if deadline < self.timer_at:
            self.arm(deadline)
        return waiter

    def arm(self, deadline: float) -> None:
        """The wait timer at ``deadline``, sooner than the one set (callers check that)."""
        if self.timer is not None:
            self.timer.cancel()
        self.timer, self.timer_at = self.loop.call_at(deadline, self._timed_out), deadline

    def _timed_out(self) -> None:
        at, self.timer, self.timer_at = self.timer_at, None, NEVER
        waiter = self.waiter
        if waiter is None or waiter.done():
            return  # nobody waits: the next wait arms the timer again
        deadline = self.deadline
        if deadline <= at:
            self.waiter = None
            waiter.set_exception(TimeoutError())
        elif deadline != NEVER:  # a later wait than the one it was set for
            self.timer, self.timer_at = self.loop.call_at(deadline, self._timed_out), deadline

    def deliver(self, data: bytes) -> None:
        """Push mode: ``data`` to the consumer (``data_received`` does the same, inline).
        Anything but ``GO`` (or an exception, kept for the relay to raise) wakes the relay:
        to wait for the consumer to drain (reading paused meanwhile), or to stop."""
        push = self.push
        assert push is not None
        try:
            state = push(data)
        except BaseException as exc:  # (it must not reach the transport: uvloop would close it)
            self.push_error, state = exc, STOP
        if state:
            self._held(state)

    def _held(self, state: int) -> None:
        """The push consumer asked to pause (``PAUSE``) or to ``STOP``: the relay wakes."""
        self.push_state = state
        if state == PAUSE:
            if not self.paused and not self.closed and self.transport is not None:
                self.paused = True
                self.transport.pause_reading()
        else:
            self.push = None
        self._wake()

    def take(self) -> bytes:
        body = self.body
        data = body.popleft() if len(body) == 1 else b"".join(body)
        body.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return data

    def fail(self, exc: ConnectionError) -> None:
        if self.error is None:
            self.error = exc
        self.abort()
        self._wake()

    def abort(self) -> None:
        self.keep_alive = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.abort()

    # -- the end of an answer let go early

    def drain(self, then: Callable[[Conn], None], wait: float) -> None:
        """The reader let go of an answer whose body's end is due at once (a stream read to
        its last event, ``[DONE]``, whose terminal chunk has not come yet): the rest of the
        body is read and dropped, then ``then(self)`` (back to the pool) at its end when
        keep-alive holds. Closed if that end does not come within ``wait`` seconds, or after
        more than ``HIGH_WATER`` bytes: an upstream that goes on is not worth waiting for."""
        self.drained = then
        self.push = None
        self.waiter = None
        self.body.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        self.drain_timer = self.loop.call_later(wait, self._drain_over)

    def _drain_stop(self) -> None:
        self.drained = None
        if self.drain_timer is not None:
            self.drain_timer.cancel()
            self.drain_timer = None

    def _drain_end(self) -> None:
        """The drained answer ended (from the parser, inside ``data_received``)."""
        then = self.drained
        assert then is not None
        self._drain_stop()
        self.body.clear()
        self.buffered = 0
        if self.keep_alive and not self.closed:
            then(self)
        else:
            self.abort()

    def _drain_over(self) -> None:
        self.drain_timer = None
        if self.drained is not None:
            self.drained = None
            self.abort()

    # -- the idle pool

    def park(self, pool: dict[Origin, list[Conn]], most: int, keepalive: float) -> None:
        """Into ``pool``'s idle list of its origin for ``keepalive`` seconds; closed when
        that list already holds ``most`` (at once when ``most`` is 0: a retired pool)."""
        idle = pool.get(self.origin)
        if idle is None and most > 0:
            idle = pool[self.origin] = []
        elif idle is None or len(idle) >= most:
            self.expire()
            return
        self.parked = idle
        until = self.idle_until = self.loop.time() + keepalive
        if until < self.idle_timer_at:  # no timer yet (or a later one)
            if self.idle_timer is not None:
                self.idle_timer.cancel()
            self.idle_timer, self.idle_timer_at = self.loop.call_at(until, self._idle_over), until
        idle.append(self)

    def _idle_over(self) -> None:
        at, self.idle_timer, self.idle_timer_at = self.idle_timer_at, None, NEVER
        if self.parked is None:
            return  # in use (or closed): parking it again arms the timer again
        until = self.idle_until
        if until <= at:
            self.expire()
        else:  # parked again since the timer was set
            self.idle_timer, self.idle_timer_at = self.loop.call_at(until, self._idle_over), until

    def unpark(self) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer, self.idle_timer_at = None, NEVER
        if self.parked is not None:
            if self in self.parked:
                self.parked.remove(self)
            self.parked = None

    def expire(self) -> None:
        self.unpark()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()
