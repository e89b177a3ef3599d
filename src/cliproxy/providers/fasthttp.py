"""A protocol-level HTTP/1.1 upstream client: asyncio Protocols and httptools.

``HttpClient`` (``providers.http``) sends direct ``http://`` / ``https://`` requests through
this client and keeps aiohttp for HTTP and SOCKS proxies (and WebSockets). It does what
aiohttp's session does for us, with a fraction of the work per request:

- keep-alive connections per origin (scheme, host, port), at most ``max_idle`` idle ones
  each, closed after ``keepalive`` seconds unused (aiohttp's ``keepalive_timeout``); a
  connection goes back only when its answer was read to the end and both sides allow it,
  never after a timeout or an error;
- DNS answers cached for ``dns_ttl`` seconds (aiohttp's ``ttl_dns_cache``); TLS with
  ``ssl.create_default_context()`` (aiohttp's default trust: the system store, and
  ``SSL_CERT_FILE`` / ``SSL_CERT_DIR``), SNI and ALPN ``http/1.1``;
- the same limits and errors as ``HttpClient``: ``connect`` (DNS + TCP + TLS),
  ``first_byte`` (until the headers are in), ``idle`` (between two body reads); a
  timeout before the headers is an ``UpstreamNetworkError`` 504, any other failure 502;
  reading a body raises ``TimeoutError`` or ``ConnectionError`` (``providers.transport``);
- bodies framed by Content-Length, chunked or the end of the connection; HEAD, 204 and
  304 have none; 1xx answers are skipped; gzip / deflate / zstd (and br when ``brotli``
  is installed) are decoded, as aiohttp's ``auto_decompress`` does;
- backpressure: the socket stops being read while more than ``HIGH_WATER`` bytes wait
  for a slow consumer.

A URL this client does not speak (user info, a non-ASCII host) raises ``Unsupported``
before any I/O; ``HttpClient`` then sends it with aiohttp.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httptools
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from cliproxy.providers.decoding import Decoder, decoder_for
from cliproxy.providers.transport import UpstreamNetworkError

__all__ = ["DNS_TTL", "HIGH_WATER", "KEEPALIVE", "MAX_IDLE", "FastHttpClient", "FastResponse", "Unsupported"]

HIGH_WATER = 1 << 20  # pause reading the socket above this many unread body bytes
_LOW_WATER = HIGH_WATER // 4
KEEPALIVE = 60.0
DNS_TTL = 300.0
MAX_IDLE = 64
_WRITE_APART = 1 << 16  # bodies this large are written after the head, not copied onto it
_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})

Origin = tuple[bool, str, int]  # (tls, host, port)


class Unsupported(Exception):
    """A URL this client does not send (the caller falls back to aiohttp)."""


class _Target:
    __slots__ = ("host", "origin", "path", "text")

    def __init__(self, origin: Origin, host: str, path: str, text: str) -> None:
        self.origin, self.host, self.path, self.text = origin, host, path, text


def _parse(url: str) -> _Target:
    try:
        u = URL(url)
        host, port, scheme = u.raw_host, u.port, u.scheme
    except (ValueError, TypeError) as exc:
        raise UpstreamNetworkError(
            "invalid upstream or proxy URL", detail=f"invalid upstream URL: {type(exc).__name__}"
        ) from exc
    if scheme not in ("http", "https") or not host or port is None or u.raw_user is not None:
        raise Unsupported(url)
    if not host.isascii():
        raise Unsupported(url)
    tls = scheme == "https"
    name = f"[{host}]" if ":" in host else host
    netloc = name if port == (443 if tls else 80) else f"{name}:{port}"
    return _Target((tls, host, port), netloc, u.raw_path_qs or "/", f"{scheme}://{netloc}")


class _Conn(asyncio.Protocol):
    """One upstream connection and the answer being read on it."""

    def __init__(self, client: FastHttpClient, origin: Origin) -> None:
        self.client, self.origin = client, origin
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.parked: list[_Conn] | None = None
        self.expiry: asyncio.TimerHandle | None = None
        self.parser: Any = None
        self.waiter: asyncio.Future[None] | None = None
        self._begin(False)

    def _begin(self, head: bool) -> None:
        self.head = head
        self.status = 0
        self.raw: list[tuple[bytes, bytes]] = []
        self.headers_done = self.complete = self.keep_alive = self.received = False
        self.interim = self.paused = self.to_eof = False
        self.error: ConnectionError | None = None
        self.body: deque[bytes] = deque()
        self.buffered = 0

    def send(self, head: bytes, body: bytes | None, is_head: bool) -> None:
        self._begin(is_head)
        self.parser = httptools.HttpResponseParser(self)
        transport = self.transport
        assert transport is not None
        if body and len(body) < _WRITE_APART:
            transport.write(head + body)
        else:
            transport.write(head)
            if body:
                transport.write(body)

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.client._live.add(self)

    def data_received(self, data: bytes) -> None:
        self.received = True
        if self.parser is None or self.complete:
            self.fail(ConnectionError("unexpected bytes from upstream"))
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.fail(ConnectionError(f"malformed upstream response: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport (connection_lost follows)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.client._live.discard(self)
        self.unpark()
        if self.parser is None or self.complete:
            return
        if self.headers_done and self.to_eof and exc is None:
            self.complete, self.keep_alive = True, False  # a body that ends with the connection
            self._wake()
            return
        reason = f": {exc}" if exc is not None else ""
        self.fail(ConnectionError(f"upstream closed the connection{reason}"))

    # -- httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        self.raw.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self.raw, self.interim = [], True  # 1xx: wait for the real answer
            return
        self.status, self.headers_done = status, True
        if self.head:
            self.complete, self.keep_alive = True, self.parser.should_keep_alive()
        elif status not in (204, 304):
            framed = (b"content-length", b"transfer-encoding")
            self.to_eof = not any(name.lower() in framed for name, _ in self.raw)
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            return  # a HEAD answer's announced body: not ours
        self.body.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            return
        if not self.complete:
            self.complete, self.keep_alive = True, self.parser.should_keep_alive()
            self._wake()

    # -- the reader's side

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, deadline: float | None) -> None:
        """Until the protocol has news; ``TimeoutError`` at ``deadline`` (loop time)."""
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = loop.call_at(deadline, _expire, waiter) if deadline is not None else None
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()

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

    def usable(self) -> bool:
        return not self.closed and self.transport is not None and not self.transport.is_closing()

    # -- the idle pool

    def park(self, idle: list[_Conn], keepalive: float) -> None:
        self.parser = None
        self.parked = idle
        self.expiry = asyncio.get_running_loop().call_later(keepalive, self.expire)
        idle.append(self)

    def unpark(self) -> None:
        if self.expiry is not None:
            self.expiry.cancel()
            self.expiry = None
        if self.parked is not None:
            if self in self.parked:
                self.parked.remove(self)
            self.parked = None

    def expire(self) -> None:
        self.expiry = None
        self.unpark()
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class FastResponse:
    """An upstream answer whose headers are in (``providers.transport.UpstreamResponse``)."""

    __slots__ = ("_client", "_conn", "_decoder", "headers", "status")

    def __init__(self, client: FastHttpClient, conn: _Conn, decoder: Decoder | None) -> None:
        self._client, self._decoder = client, decoder
        self._conn: _Conn | None = conn
        self.status = conn.status
        headers: CIMultiDict[str] = CIMultiDict()
        for name, value in conn.raw:
            headers.add(name.decode("utf-8", "surrogateescape"), value.decode("utf-8", "surrogateescape"))
        self.headers = CIMultiDictProxy(headers)

    async def read(self) -> bytes:
        conn = self._conn
        if conn is not None and conn.complete and self._decoder is None and conn.error is None:
            data = conn.take() if conn.body else b""
            self.release()
            return data
        return b"".join([chunk async for chunk in self.chunks()])

    async def chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        decoder, idle = self._decoder, self._client.idle_timeout
        loop = asyncio.get_running_loop()
        while True:
            if conn.body:
                data = conn.take()
                if decoder is not None:
                    data = self._decode(decoder.decompress, data)
                if data:
                    yield data
                continue
            if conn.complete:  # (an error after the end only keeps the connection out of the pool)
                tail = self._decode(decoder.flush, b"") if decoder is not None else b""
                self.release()
                if tail:
                    yield tail
                return
            if conn.error is not None:
                self.release()
                raise conn.error
            try:
                await conn.wait(loop.time() + idle if idle else None)
            except TimeoutError:
                conn.abort()
                self.release()
                raise

    def _decode(self, step: Any, data: bytes) -> bytes:
        try:
            return step(data) if data else step()
        except Exception as exc:  # zlib.error, zstd / brotli errors
            self.release(broken=True)
            raise ConnectionError(f"cannot decode the upstream body: {type(exc).__name__}") from exc

    def release(self, broken: bool = False) -> None:
        """Back to the pool when the answer is in whole and keep-alive holds, else closed."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if not broken and conn.complete and conn.keep_alive and conn.error is None and conn.usable():
            self._client._put(conn)
        else:
            conn.abort()

    def close(self) -> None:
        self.release(broken=True)


class FastHttpClient:
    """Pooled HTTP/1.1 to upstreams reached directly (no proxy); see the module docstring."""

    def __init__(
        self,
        *,
        connect_timeout: float | None = 30.0,
        first_byte_timeout: float | None = 600.0,
        idle_timeout: float | None = 600.0,
        ssl_context: ssl.SSLContext | None = None,
        max_idle: int = MAX_IDLE,
        keepalive: float = KEEPALIVE,
        dns_ttl: float = DNS_TTL,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.first_byte_timeout = first_byte_timeout
        self.idle_timeout = idle_timeout
        self.max_idle, self.keepalive, self.dns_ttl = max_idle, keepalive, dns_ttl
        self._ssl = ssl_context
        self._idle: dict[Origin, list[_Conn]] = {}
        self._live: set[_Conn] = set()
        self._dns: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
        self._targets: dict[str, _Target] = {}
        self.connections_made = 0  # TCP connections opened, for tests and metrics

    @property
    def ssl_context(self) -> ssl.SSLContext:
        ctx = self._ssl
        if ctx is None:
            ctx = self._ssl = ssl.create_default_context()
            ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def idle_count(self, url: str) -> int:
        """Idle pooled connections to ``url``'s origin."""
        return len(self._idle.get(_parse(url).origin, ()))

    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> FastResponse:
        """Send a request; the caller reads and releases the response.

        ``Unsupported`` (before any I/O) for a URL aiohttp must send; network failures are
        ``UpstreamNetworkError`` (502, or 504 on a timeout)."""
        if proxy:
            raise Unsupported(url)
        target = self._targets.get(url)
        if target is None:
            target = _parse(url)
            if len(self._targets) > 4096:
                self._targets.clear()
            self._targets[url] = target
        head = _head(method, target, headers, body)
        conn = self._take(target.origin)
        for _ in range(2):
            reused = conn is not None
            if conn is None:
                conn = await self._connect(target)
            conn.send(head, body, method == "HEAD")
            await self._headers(conn, target)
            if conn.headers_done:
                return self._response(conn)
            if not (reused and not conn.received):
                break
            conn = None  # a kept-alive connection the upstream had closed: once more, on a new one
        assert conn is not None
        raise UpstreamNetworkError(
            "upstream request failed",
            detail=f"request to {target.text} failed: {conn.error or 'no answer'}",
        )

    async def _headers(self, conn: _Conn, target: _Target) -> None:
        loop = asyncio.get_running_loop()
        limit = self.first_byte_timeout
        deadline = loop.time() + limit if limit else None
        try:
            while not conn.headers_done and conn.error is None:
                await conn.wait(deadline)
        except TimeoutError as exc:
            conn.abort()
            raise UpstreamNetworkError(
                "upstream sent no response in time",
                status=504,
                detail=f"no response headers from {target.text} within {limit}s",
            ) from exc
        except BaseException:
            conn.abort()  # cancelled: the answer will never be read
            raise

    def _response(self, conn: _Conn) -> FastResponse:
        decoder: Decoder | None = None
        if not conn.head and conn.status not in (204, 304):
            for name, value in conn.raw:
                if name.lower() == b"content-encoding":
                    try:
                        decoder = decoder_for(value.decode("latin-1").strip().lower())
                    except UpstreamNetworkError:
                        conn.abort()  # the body cannot be read: the connection cannot be reused
                        raise
        return FastResponse(self, conn, decoder)

    # -- connections

    def _take(self, origin: Origin) -> _Conn | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        loop = asyncio.get_running_loop()
        while idle:
            conn = idle.pop()  # the most recently used: the least likely to be timed out by the upstream
            conn.parked = None
            if conn.loop is not loop:
                continue  # made on another (finished) event loop: unusable here
            conn.unpark()
            if conn.usable():
                return conn
        return None

    def _put(self, conn: _Conn) -> None:
        idle = self._idle.get(conn.origin)
        if idle is None:
            idle = self._idle[conn.origin] = []
        if len(idle) >= self.max_idle:
            conn.expire()
            return
        conn.park(idle, self.keepalive)

    async def _connect(self, target: _Target) -> _Conn:
        tls, host, port = target.origin
        loop = asyncio.get_running_loop()
        ctx = self.ssl_context if tls else None
        try:
            async with asyncio.timeout(self.connect_timeout):
                addresses = await self._resolve(host, port)
                error: OSError | None = None
                for family, address in addresses:
                    try:
                        _, conn = await loop.create_connection(
                            lambda: _Conn(self, target.origin),
                            address,
                            port,
                            family=family,
                            ssl=ctx,
                            server_hostname=host if tls else None,
                        )
                    except OSError as exc:
                        error = exc
                        continue
                    self.connections_made += 1
                    return conn
                raise error or OSError(f"no address for {host}")
        except TimeoutError as exc:
            raise UpstreamNetworkError(
                "upstream connect timed out", status=504, detail=f"connect to {target.text} timed out"
            ) from exc
        except OSError as exc:
            raise UpstreamNetworkError(
                "upstream unreachable", detail=f"cannot reach {target.text}: {exc}"
            ) from exc

    async def _resolve(self, host: str, port: int) -> list[tuple[int, str]]:
        key = (host, port)
        now = time.monotonic()
        cached = self._dns.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_ADDRCONFIG
        )
        addresses: list[tuple[int, str]] = []
        for family, _, _, _, sockaddr in infos:
            entry = (int(family), str(sockaddr[0]))
            if entry not in addresses:
                addresses.append(entry)
        self._dns[key] = (now + self.dns_ttl, addresses)
        return addresses

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in list(conns):
                conn.expire()
        for conn in list(self._live):
            conn.abort()
        self._live.clear()


def _head(method: str, target: _Target, headers: Mapping[str, str], body: bytes | None) -> bytes:
    """The request line and headers: ``Host`` first, the caller's headers in their order,
    then what aiohttp would add (``Accept: */*``, Content-Length, a body's Content-Type)."""
    lines = [f"{method} {target.path} HTTP/1.1", ""]
    host = f"Host: {target.host}"
    accept = typed = sized = False
    for name, value in headers.items():
        low = name.lower()
        if low == "host":
            host = f"{name}: {value}"
            continue
        if low == "content-length":
            value, sized = str(len(body) if body else 0), True  # the real length, in the caller's place
        elif low == "transfer-encoding":
            continue  # the body goes with a Content-Length
        elif low == "accept":
            accept = True
        elif low == "content-type":
            typed = True
        lines.append(f"{name}: {value}")
    lines[1] = host
    if not accept:
        lines.append("Accept: */*")
    if not sized and (body is not None or method in _WITH_BODY):
        lines.append(f"Content-Length: {len(body) if body else 0}")
    if body and not typed:
        lines.append("Content-Type: application/octet-stream")
    lines += ("", "")
    text = "\r\n".join(lines)
    if text.count("\n") != len(lines) - 1 or text.count("\r") != len(lines) - 1:
        raise UpstreamNetworkError(
            "invalid upstream request header", detail="a header name or value holds a line break"
        )
    return text.encode("utf-8")
