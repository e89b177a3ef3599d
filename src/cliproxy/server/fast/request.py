"""The fast server's :class:`~cliproxy.server.fast.exchange.Exchange`: a parsed request
head, its body as it arrives, and an HTTP/1.1 response writer over the connection's
transport (``Content-Length`` for whole answers, chunked for streams; HTTP/1.0 streams
end with the connection)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from time import time as _time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from aiohttp import web
from multidict import CIMultiDictProxy, MultiDict, MultiDictProxy

from cliproxy.server.context import format_for_path

if TYPE_CHECKING:
    from cliproxy.access import Principal
    from cliproxy.formats import Format
    from cliproxy.server.fast.protocol import FastProtocol
    from cliproxy.service import Service

__all__ = ["FastExchange", "http_date"]

_NO_CORS: dict[str, str] = {}
_NO_QUERY: MultiDictProxy[str] = MultiDictProxy(MultiDict())
# hop-by-hop framing headers the writer sets itself
_FRAMING = frozenset({"content-length", "transfer-encoding", "connection"})
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s\r\n" % (code, reason) for code, reason in _REASONS.items()}
_TYPED = b"Content-Type: application/octet-stream\r\n"
_CHUNKED = b"Transfer-Encoding: chunked\r\n"
# the blank line that ends a head, alone (HTTP/1.1 keeps the connection without saying so)
# or after the Connection header
_END = b"\r\n"
_CLOSE_END = b"Connection: close\r\n\r\n"
_KEEP_END = b"Connection: keep-alive\r\n\r\n"
_date_cache: tuple[int, bytes] = (0, b"")
# (name, value) -> (the encoded header line, whether it is Content-Type); b"" for framing
# headers. Answers repeat a handful of headers; a full cache starts over (unique values)
_LINES: dict[tuple[str, str], tuple[bytes, bool]] = {}
_LINES_MAX = 512
# headers whose value is new on every answer: never cached (each would push a repeated
# line out, and a full cache would start over every _LINES_MAX answers)
_UNCACHED = frozenset({"x-cpa-trace-id"})


def http_date() -> bytes:
    """``Date: ...\\r\\n``, made once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        text = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
        _date_cache = (now, b"Date: " + text.encode() + b"\r\n")
    return _date_cache[1]


def _line(item: tuple[str, str]) -> tuple[bytes, bool]:
    """A header line of an answer, checked (as aiohttp: no header injection) and cached."""
    name, value = item
    lower = name.lower()
    if lower in _FRAMING:
        entry = (b"", False)
    else:
        line = f"{name}: {value}"
        if "\r" in line or "\n" in line:
            raise ValueError(f"newline in the header {name!r} of an answer")
        entry = (line.encode("utf-8") + b"\r\n", lower == "content-type")
        if lower in _UNCACHED:
            return entry
    if len(_LINES) >= _LINES_MAX:
        _LINES.clear()
    _LINES[item] = entry
    return entry


class FastExchange:
    """One request on a :class:`~cliproxy.server.fast.protocol.FastProtocol` connection."""

    __slots__ = (
        "_conn",
        "_format",
        "body_complete",
        "body_error",
        "body_parts",
        "body_size",
        "body_waiter",
        "chunked",
        "cors",
        "finished",
        "head_line",
        "headers",
        "keep_alive",
        "method",
        "params",
        "path",
        "principal",
        "query",
        "query_string",
        "remote",
        "route",
        "service",
        "started",
        "too_large",
        "version",
        "wire",
    )

    def __init__(
        self,
        conn: FastProtocol,
        service: Service,
        method: str,
        path: str,
        query_string: str,
        headers: CIMultiDictProxy[str],
        route: str,
        params: dict[str, str],
        keep_alive: bool,
        version: bytes,
        fmt: Format | None = None,
    ) -> None:
        self._conn = conn
        self.service = service
        self.method = method
        self.path = path
        self.query_string = query_string
        self.headers = headers
        self.route = route
        self.params = params
        self.keep_alive = keep_alive
        self.version = version  # b"1.1" or b"1.0"
        self.remote = conn.peer_ip
        self.principal: Principal | None = None
        self.cors = _NO_CORS
        self._format = fmt  # the route's, when its path alone tells it
        self.query: Mapping[str, str] = (
            MultiDictProxy(MultiDict(parse_qsl(query_string, keep_blank_values=True)))
            if query_string
            else _NO_QUERY
        )
        self.body_parts: list[bytes] = []
        self.body_size = 0
        self.body_complete = False
        self.body_error: BaseException | None = None  # why the body will never be whole
        self.body_waiter: asyncio.Future[None] | None = None
        self.too_large = False
        self.wire = 0  # body bytes on the wire (chunk framing included)
        self.started = False  # the head of the answer went out
        self.finished = False  # the whole answer went out
        self.chunked = False
        # a ready header line the next head carries after ``headers`` (X-CPA-TRACE-ID: see
        # cliproxy.server.trace_id.trace_line), b"" for none
        self.head_line = b""

    # -- the request

    @property
    def format(self) -> Format:
        fmt = self._format
        if fmt is None:
            fmt = self._format = format_for_path(self.path, self.headers)
        return fmt

    def param(self, name: str) -> str:
        return self.params[name]

    async def read(self) -> bytes:
        if not self.body_complete:
            await self.wait_body()
        return self.body

    @property
    def body(self) -> bytes:
        """The body received so far (all of it once ``body_complete``)."""
        parts = self.body_parts
        if len(parts) == 1:
            return parts[0]
        body = b"".join(parts)
        self.body_parts = [body]
        return body

    async def wait_body(self) -> None:
        """Until the whole body is in (``ConnectionResetError`` when the client goes first)."""
        if self.body_complete:
            return
        if self.body_error is not None:
            raise self.body_error
        waiter = self.body_waiter
        if waiter is None:
            waiter = self.body_waiter = asyncio.get_running_loop().create_future()
        await asyncio.shield(waiter)

    def body_done(self, exc: BaseException | None = None) -> None:
        if exc is None:
            self.body_complete = True
        elif self.body_error is None:
            self.body_error = exc
        waiter = self.body_waiter
        if waiter is not None and not waiter.done():
            if exc is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(exc)

    # -- the answer

    def _head(self, status: int, headers: Mapping[str, str], length: int) -> list[bytes]:
        """The head of the answer, as parts: the status line, ``headers`` and the CORS
        headers, Content-Type when none said it, Date, the framing (``length``: the body's,
        -1 for a stream) and Connection. Decides whether the connection may carry another
        request after this answer (the checks ``FastProtocol.answered`` makes once it is
        sent): ``keep_alive`` is cleared when not."""
        out = [_STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status]
        typed = False
        lines = _LINES
        for item in headers.items():
            entry = lines.get(item) or _line(item)
            out.append(entry[0])
            if entry[1]:
                typed = True
        if self.head_line:
            out.append(self.head_line)
        if self.cors:
            for item in self.cors.items():
                entry = lines.get(item) or _line(item)
                out.append(entry[0])
                if entry[1]:
                    typed = True
        if not typed and length:
            out.append(_TYPED)
        now = int(_time())  # http_date(), inline
        date = _date_cache[1] if _date_cache[0] == now else http_date()
        if length >= 0:
            framing = b"Content-Length: %d\r\n" % length
        elif self.version == b"1.1":
            self.chunked = True
            framing = _CHUNKED
        else:  # an HTTP/1.0 stream ends with the connection
            self.keep_alive = False
            framing = b""
        conn = self._conn
        ex = conn._ex
        if not (
            self.keep_alive
            and not conn._pipelined
            and not conn._server.closing
            and ex is not None
            and ex.body_complete
        ):
            self.keep_alive = False
            end = _CLOSE_END
        else:
            end = _END if self.version == b"1.1" else _KEEP_END
        out += (date, framing, end)  # (one extend, not three appends)
        return out

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        if self.started:
            if self._conn.transport is None:  # a 499 for a client that left mid-head: nobody to tell
                return
            raise RuntimeError("an answer was already started")
        self.started = True
        out = self._head(status, headers, len(body))  # the head, then the body: one write
        out.append(body)
        conn = self._conn
        transport = conn.transport
        if transport is not None and not transport.is_closing():  # else nobody to answer
            transport.write(b"".join(out))
        self.finished = True
        conn.answered(self)

    def answer(self, resp: web.Response) -> None:
        body = resp.body if isinstance(resp.body, bytes) else b""
        self.reply(resp.status, body, resp.headers)

    async def start(self, status: int, headers: Mapping[str, str], first: bytes = b"") -> None:
        if self.started:
            raise RuntimeError("an answer was already started")
        self.started = True
        head = self._head(status, headers, -1)
        conn = self._conn
        if first:
            head.append(b"%x\r\n%b\r\n" % (len(first), first) if self.chunked else first)
        conn.send(b"".join(head))
        if conn.paused:
            await conn.drain()

    async def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        conn = self._conn
        conn.send(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self.chunked else chunk)
        if conn.paused:
            await conn.drain()

    def sink(self) -> tuple[Callable[[bytes], bool], Callable[[], Awaitable[None]]]:
        return self.emit, self._conn.drain

    def emit(self, chunk: bytes) -> bool:
        """:meth:`write` without waiting: whether the client's buffer is full (then drain)."""
        conn = self._conn
        if chunk:
            transport = conn.transport  # ``conn.send``, inline: one call less per chunk
            if transport is None or transport.is_closing():
                raise ConnectionResetError("the client went away")
            transport.write(b"%x\r\n%b\r\n" % (len(chunk), chunk) if self.chunked else chunk)
        return conn.paused

    async def end(self) -> None:
        if self.finished:
            return
        conn = self._conn
        if self.chunked:
            conn.send(b"0\r\n\r\n")
        self.finished = True
        conn.answered(self)
