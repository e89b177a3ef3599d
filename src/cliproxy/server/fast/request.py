"""The fast server's :class:`~cliproxy.server.fast.exchange.Exchange`: a parsed request
head, its body as it arrives, and an HTTP/1.1 response writer over the connection's
transport (``Content-Length`` for whole answers, chunked for streams; HTTP/1.0 streams
end with the connection)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from http import HTTPStatus
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
_date_cache: tuple[int, bytes] = (0, b"")


def http_date() -> bytes:
    """``Date: ...\\r\\n``, made once a second."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        text = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now))
        _date_cache = (now, b"Date: " + text.encode() + b"\r\n")
    return _date_cache[1]


class FastExchange:
    """One request on a :class:`~cliproxy.server.fast.protocol.FastProtocol` connection."""

    __slots__ = (
        "_conn",
        "_format",
        "_query",
        "body_complete",
        "body_error",
        "body_parts",
        "body_size",
        "body_waiter",
        "chunked",
        "cors",
        "finished",
        "headers",
        "keep_alive",
        "method",
        "params",
        "path",
        "principal",
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
        *,
        keep_alive: bool,
        version: bytes,
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
        self._format: Format | None = None
        self._query: MultiDictProxy[str] | None = None
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

    # -- the request

    @property
    def query(self) -> Mapping[str, str]:
        query = self._query
        if query is None:
            if self.query_string:
                pairs = parse_qsl(self.query_string, keep_blank_values=True)
                query = MultiDictProxy(MultiDict(pairs))
            else:
                query = _NO_QUERY
            self._query = query
        return query

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

    def _head(self, status: int, headers: Mapping[str, str], length: int | None) -> bytearray:
        out = bytearray(b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"Unknown")))
        typed = False
        for group in (headers, self.cors):
            for name, value in group.items():
                lower = name.lower()
                if lower in _FRAMING:
                    continue
                if lower == "content-type":
                    typed = True
                line = f"{name}: {value}"
                if "\r" in line or "\n" in line:  # as aiohttp: no header injection
                    raise ValueError(f"newline in the header {name!r} of an answer")
                out += line.encode("utf-8")
                out += b"\r\n"
        if not typed and length != 0:
            out += b"Content-Type: application/octet-stream\r\n"
        out += http_date()
        keep_alive = self.keep_alive and self._conn.keeps_alive()
        if length is not None:
            out += b"Content-Length: %d\r\n" % length
        elif self.version == b"1.1":
            self.chunked = True
            out += b"Transfer-Encoding: chunked\r\n"
        else:
            keep_alive = False  # an HTTP/1.0 stream ends with the connection
        if not keep_alive:
            self.keep_alive = False
            out += b"Connection: close\r\n"
        elif self.version != b"1.1":
            out += b"Connection: keep-alive\r\n"
        out += b"\r\n"
        return out

    def reply(self, status: int, body: bytes, headers: Mapping[str, str]) -> None:
        if self.started:
            if self._conn.transport is None:  # a 499 for a client that left mid-head: nobody to tell
                return
            raise RuntimeError("an answer was already started")
        self.started = True
        head = self._head(status, headers, len(body))
        head += body
        with contextlib.suppress(ConnectionResetError):  # the client went away: nothing to answer
            self._conn.send(bytes(head))
        self._finish()

    def answer(self, resp: web.Response) -> None:
        body = resp.body if isinstance(resp.body, bytes) else b""
        self.reply(resp.status, body, resp.headers)

    async def start(self, status: int, headers: Mapping[str, str]) -> None:
        if self.started:
            raise RuntimeError("an answer was already started")
        self.started = True
        self._conn.send(bytes(self._head(status, headers, None)))
        await self._conn.drain()

    async def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        if self.chunked:
            self._conn.send(b"%x\r\n%b\r\n" % (len(chunk), chunk))
        else:
            self._conn.send(chunk)
        await self._conn.drain()

    async def end(self) -> None:
        if self.finished:
            return
        if self.chunked:
            self._conn.send(b"0\r\n\r\n")
        self._finish()

    def _finish(self) -> None:
        self.finished = True
        self._conn.answered(self)
