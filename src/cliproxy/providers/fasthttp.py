"""A protocol-level HTTP/1.1 upstream client: asyncio Protocols and httptools.

``HttpClient`` (``providers.http``) sends direct ``http://`` / ``https://`` requests through
this client and keeps aiohttp for HTTP and SOCKS proxies (and WebSockets). It does what
aiohttp's session does for us, with a fraction of the work per request:

- keep-alive connections per origin (scheme, host, port), at most ``max_idle`` idle ones
  each, closed after ``keepalive`` seconds unused (aiohttp's ``keepalive_timeout``); a
  connection goes back only when its answer was read to the end and both sides allow it,
  never after a timeout or an error; an answer its reader let go at its logical end
  (:meth:`FastResponse.expect_end`: a stream past ``[DONE]``) goes back once the rest of
  its body comes, within ``drain_wait`` seconds (else it is closed);
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
  for a slow consumer;
- push mode (:meth:`FastResponse.relay`): a stream's body pieces handed, as each read is
  parsed, to a consumer that handles them at once (translate, write to the client), with
  no coroutine resumed per piece; the consumer pauses the reading while its client
  drains.

A URL this client does not speak (user info, a non-ASCII host) raises ``Unsupported``
before any I/O; ``HttpClient`` then sends it with aiohttp.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from typing import Any

from yarl import URL

from cliproxy.providers.decoding import Decoder, decode, decoder_for, decoding
from cliproxy.providers.fastconn import GO, HIGH_WATER, NEVER, PAUSE, Conn, Origin, Push
from cliproxy.providers.fastwire import Headers, head_bytes, head_template
from cliproxy.providers.gowire import gunzipped_block, gunzips
from cliproxy.providers.transport import UndecodableBody, UpstreamNetworkError, UpstreamResponse, bounded

__all__ = [
    "DNS_TTL",
    "DRAIN_WAIT",
    "HIGH_WATER",
    "KEEPALIVE",
    "MAX_IDLE",
    "FastHttpClient",
    "FastResponse",
    "Unsupported",
]

KEEPALIVE = 60.0
DRAIN_WAIT = 1.0  # seconds the end of a body let go at its logical end may take (then: closed)
DNS_TTL = 300.0
MAX_IDLE = 64
_WRITE_APART = 1 << 16  # bodies this large are written after the head, not copied onto it
_CACHED = 512  # request heads kept per client (emptied when more header sets come)
_CACHED_HEAD = 16 << 10  # bytes: a larger head (a client's value in a header) is never kept
_ENCODING = b"\r\ncontent-encoding:"


class Unsupported(Exception):
    """A URL this client does not send (the caller falls back to aiohttp)."""


# another client's ``request`` (aiohttp's, in ``HttpClient``), for what this one does not send
Fallback = Callable[..., Coroutine[Any, Any, UpstreamResponse]]


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


class FastResponse:
    """An upstream answer whose headers are in (``providers.transport.UpstreamResponse``);
    ``headers`` are decoded from the head block when first read (:class:`.fastwire.Headers`)."""

    __slots__ = ("_client", "_conn", "_decoder", "_ending", "_pull", "headers", "status")

    def __init__(self, client: FastHttpClient, conn: Conn, decoder: Decoder | None) -> None:
        self._client, self._decoder = client, decoder
        self._conn: Conn | None = conn
        self._pull: AsyncGenerator[bytes, None] | None = None  # what chunks() handed out
        self._ending = False  # the reader has all it wants (``expect_end``)
        self.status = conn.status
        self.headers = Headers(conn.block)

    async def read(self) -> bytes:
        conn = self._conn
        if conn is not None and conn.complete and self._decoder is None and conn.error is None:
            body = conn.body
            if conn.paused or len(body) > 1:
                data = conn.take()
            elif body:
                data = body.popleft()
                conn.buffered = 0
            else:
                data = b""
            self._conn = None  # in whole: back to the pool (as ``release``)
            transport = conn.transport
            if conn.keep_alive and not conn.closed and transport is not None and not transport.is_closing():
                client = self._client
                idle = client._idle.get(conn.origin)
                until = conn.loop.time() + client.keepalive
                if idle is not None and len(idle) < client.max_idle and until >= conn.idle_timer_at:
                    # ``Conn.park`` inline: the idle timer of an earlier parking still runs
                    # (it fires no sooner than this one would) and reads ``idle_until`` then
                    conn.parked, conn.idle_until = idle, until
                    idle.append(conn)
                else:
                    conn.park(client._idle, client.max_idle, client.keepalive)
            else:
                conn.abort()
            return data
        parts: list[bytes] = []  # (bounded: an upstream that sends without end is a broken read)
        total = 0
        async for chunk in self.chunks():
            total = bounded(total, chunk)
            parts.append(chunk)
        return b"".join(parts)

    def chunks(self) -> AsyncIterator[bytes]:
        pull = self._pull = self._chunks()
        return pull

    async def _chunks(self) -> AsyncGenerator[bytes, None]:
        conn = self._conn
        if conn is None:
            return
        decoder, idle = self._decoder, self._client.idle_timeout
        loop = conn.loop
        while True:
            body = conn.body
            if body:
                if conn.paused or len(body) > 1:
                    data = conn.take()
                else:
                    data = body.popleft()
                    conn.buffered = 0
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
                try:
                    raise conn.error
                finally:  # its traceback holds this frame: the frame must not hold it (a cycle)
                    conn = None
            deadline = loop.time() + idle if idle else NEVER  # (``conn.expect``, inline)
            waiter = conn.waiter = loop.create_future()
            conn.deadline = deadline
            if deadline < conn.timer_at:
                conn.arm(deadline)
            try:
                await waiter
            except TimeoutError:
                conn.abort()
                self.release()
                raise
            except BaseException:
                conn.waiter = None
                raise

    def relay(
        self, source: AsyncIterator[bytes], push: Push, drain: Callable[[], Awaitable[None]]
    ) -> Coroutine[Any, Any, None] | None:
        """Push mode, taking over from ``source``: the iterator :meth:`chunks` handed out
        (a consumer may have read some of it; it is closed, unread). From then on each
        piece of the body goes to ``push`` as its read is parsed (from the connection's
        ``data_received``: no coroutine is resumed per piece). ``push`` answers ``GO``,
        ``PAUSE`` (``True`` too: the reading stops until ``drain()`` returns) or ``STOP``
        (no more is read; the connection is closed, as after an answer released unread).

        Returns the coroutine to await for the rest of the body: it ends at its end (the
        connection back to the pool), and raises what ``chunks`` would (``TimeoutError``
        after ``idle_timeout`` without a byte, ``ConnectionError``) or what ``push`` raised.
        An encoded body is decoded on the way (each piece as it is read, the decoder's rest
        and its end checked at the body's end: :class:`UndecodableBody` when it is cut).
        ``None`` when this answer cannot push (``source`` not ours or wrapped, nothing left
        to read): the caller reads ``source`` instead."""
        conn, pull = self._conn, self._pull
        if pull is None or source is not pull or conn is None or conn.error is not None:
            return None
        decoder = self._decoder
        if decoder is not None:
            return self._relay(conn, pull, decoding(push, decoder), drain, push, decoder)
        return self._relay(conn, pull, push, drain)

    async def _relay(
        self,
        conn: Conn,
        pull: AsyncGenerator[bytes, None],
        push: Push,
        drain: Callable[[], Awaitable[None]],
        plain: Push | None = None,
        decoder: Decoder | None = None,
    ) -> None:
        await pull.aclose()  # (suspended at a yield, or never started: it holds nothing)
        waiter: asyncio.Future[None] | None = None
        loop = conn.loop
        idle = self._client.idle_timeout or 0.0
        conn.push, conn.push_idle, conn.push_state, conn.push_error = push, idle, GO, None
        try:
            if conn.body:  # read before the switch
                conn.deliver(conn.take())
            while True:
                state = conn.push_state
                if state == PAUSE:
                    conn.push_state = GO
                    await drain()
                    if conn.paused and conn.transport is not None and not conn.closed:
                        conn.paused = False
                        conn.transport.resume_reading()
                elif state:  # STOP
                    break
                if conn.complete:
                    if decoder is not None and plain is not None:  # the decoder's rest, its end
                        tail = decode(decoder.flush)
                        if tail and plain(tail) == PAUSE:
                            await drain()
                    break
                if conn.error is not None:
                    raise conn.error
                waiter = conn.expect(loop.time() + idle if idle else NEVER)
                try:
                    await waiter
                except TimeoutError:
                    conn.abort()
                    raise
                except BaseException:
                    conn.waiter = None
                    raise
        finally:
            conn.push = None
            failed: BaseException | None = conn.push_error
            conn.push_error = None
            self.release()
            # what is raised holds this frame in its traceback: the frame must not hold it
            # (the connection holds its error, the waiter its timeout): no cycle
            conn = waiter = None  # type: ignore[assignment]
        if failed is not None:
            try:
                raise failed
            finally:
                failed = None

    def _decode(self, step: Any, data: bytes) -> bytes:
        try:
            return step(data) if data else step()
        except Exception as exc:  # zlib.error, zstd / brotli errors
            self.release(broken=True)
            raise UndecodableBody(f"cannot decode the upstream body: {exc}") from exc

    def expect_end(self) -> None:
        """The reader stops here: it has read the answer to its logical end (a stream's
        ``[DONE]``) and the body's own end is due at once. :meth:`release` then lets the
        connection finish that body (read and dropped) and go back to the pool, instead of
        closing it: the upstream's terminal chunk often comes in a read of its own."""
        self._ending = True

    def release(self, broken: bool = False) -> None:
        """Back to the pool when the answer is in whole and keep-alive holds, else closed;
        after :meth:`expect_end`, once the rest of the body came (``Conn.drain``)."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        transport = conn.transport
        if (
            broken
            or conn.error is not None
            or conn.closed
            or transport is None
            or transport.is_closing()
            or not (conn.keep_alive if conn.complete else self._ending)
        ):
            conn.abort()
        elif conn.complete:
            client = self._client
            conn.park(client._idle, client.max_idle, client.keepalive)
        else:
            client = self._client
            conn.drain(client.repool, client.drain_wait)

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
        fallback: Fallback | None = None,
        alpn: bool = True,
        go_wire: bool = False,
    ) -> None:
        self.connect_timeout = connect_timeout
        self.alpn = alpn  # offer ALPN http/1.1 in the hello of the context made on first use
        self.go_wire = go_wire  # heads as Go's net/http writes them (.gowire), read when one is built
        self.first_byte_timeout = first_byte_timeout
        self.idle_timeout = idle_timeout
        self.max_idle, self.keepalive, self.dns_ttl = max_idle, keepalive, dns_ttl
        self.drain_wait = DRAIN_WAIT
        self._ssl = ssl_context
        self._idle: dict[Origin, list[Conn]] = {}
        self._live: set[Conn] = set()
        self._dns: dict[tuple[str, int], tuple[float, list[tuple[int, str]]]] = {}
        self._targets: dict[str, _Target] = {}
        # (method, url, body is None, not body, header items) -> (target, head or the bytes
        # before its Content-Length digits, the bytes after them); (target, None, None): built
        # per request (a head that makes no template)
        self._heads: dict[tuple[Any, ...], tuple[_Target, bytes | None, bytes | None]] = {}
        self.connections_made = 0  # TCP connections opened, for tests and metrics
        # sends what this client does not (a proxy, a URL it cannot speak); None: ``Unsupported``
        self.fallback = fallback

    @property
    def ssl_context(self) -> ssl.SSLContext:
        ctx = self._ssl
        if ctx is None:
            ctx = self._ssl = ssl.create_default_context()
            if self.alpn:
                ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    def repool(self, conn: Conn) -> None:
        """``conn``, whose answer ended after its reader let it go, back to the pool."""
        conn.park(self._idle, self.max_idle, self.keepalive)

    def idle_count(self, url: str) -> int:
        """Idle pooled connections to ``url``'s origin."""
        return len(self._idle.get(_parse(url).origin, ()))

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        """Send a request (await the result); the caller reads and releases the response.

        What refuses it runs now, before any I/O: a line break in a header raises at once,
        and a request through a proxy or to a URL this client does not speak goes to
        ``fallback`` (``Unsupported`` without one). The exchange is the one coroutine
        returned, with no layer around it; network failures are ``UpstreamNetworkError``
        (502, or 504 on a timeout)."""
        if proxy:
            return self._fallback(method, url, headers, body, proxy)
        try:
            key: tuple[Any, ...] | None = (method, url, body is None, not body, tuple(headers.items()))
            cached = self._heads.get(key)  # type: ignore[arg-type]
        except TypeError:  # an unhashable header value: this head is built for this request only
            key, cached = None, None
        if cached is None:
            try:
                cached = self._template(key, method, url, headers, body)
            except Unsupported:
                return self._fallback(method, url, headers, body, proxy)
        target, before, after = cached
        size = len(body) if body else 0
        if before is None:
            head = head_bytes(method, target.path, target.host, headers, body, self.go_wire)
        elif after is None:
            head = before
        else:
            head = b"%b%d%b" % (before, size, after)
        if body and size < _WRITE_APART:
            return self._exchange(target, head + body, None, method == "HEAD")
        return self._exchange(target, head, body, method == "HEAD")

    def _fallback(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes | None, proxy: str
    ) -> Coroutine[Any, Any, UpstreamResponse]:
        if self.fallback is None:
            raise Unsupported(url)
        return self.fallback(method, url, headers=headers, body=body, proxy=proxy)

    def _template(
        self,
        key: tuple[Any, ...] | None,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[_Target, bytes | None, bytes | None]:
        target = self._targets.get(url)
        if target is None:
            target = _parse(url)
            if len(self._targets) > 4096:
                self._targets.clear()
            self._targets[url] = target
        template = head_template(method, target.path, target.host, headers, body, self.go_wire)
        entry = (target, *template) if template is not None else (target, None, None)
        if (
            key is not None
            and template is not None
            and len(template[0]) + len(template[1] or b"") <= _CACHED_HEAD
        ):
            if len(self._heads) >= _CACHED:
                self._heads.clear()
            self._heads[key] = entry
        return entry

    async def _exchange(
        self, target: _Target, data: bytes, rest: bytes | None, is_head: bool
    ) -> FastResponse:
        conn: Conn | None = None
        idle = self._idle.get(target.origin)
        while idle:
            found = idle.pop()  # the most recently used: the least likely to be timed out by the upstream
            found.parked = None
            transport = found.transport
            # one made on another (finished) event loop is unusable here; a running one is this
            # one (a client serves one loop at a time): no ``get_running_loop`` (a getpid) per request
            if (
                found.loop.is_running()
                and not found.closed
                and transport is not None
                and not transport.is_closing()
            ):
                conn = found
                break
        limit = self.first_byte_timeout
        for _ in range(2):
            reused = conn is not None
            if conn is None:
                conn = await self._connect(target)
            deadline = conn.loop.time() + limit if limit else NEVER
            waiter = conn.send(data, rest, is_head, deadline)
            try:
                await waiter
                while not conn.headers_done and conn.error is None:
                    await conn.expect(deadline)
            except TimeoutError as exc:
                conn.abort()
                raise UpstreamNetworkError(
                    "upstream sent no response in time",
                    status=504,
                    detail=f"no response headers from {target.text} within {limit}s",
                ) from exc
            except BaseException:
                conn.waiter = None
                conn.abort()  # cancelled: the answer will never be read
                raise
            if conn.headers_done:
                return FastResponse(self, conn, None) if conn.coding is None else self._encoded(conn)
            if not (reused and not conn.received):
                break
            conn = None  # a kept-alive connection the upstream had closed: once more, on a new one
        assert conn is not None
        raise UpstreamNetworkError(
            "upstream request failed",
            detail=f"request to {target.text} failed: {conn.error or 'no answer'}",
        ) from conn.error

    def _encoded(self, conn: Conn) -> FastResponse:
        """An answer that names a Content-Encoding, with its decoder; with ``go_wire``, a gzip
        one's headers as Go's transport leaves them (:func:`.gowire.gunzipped_block`)."""
        resp = FastResponse(self, conn, self._decoder(conn))
        if self.go_wire and gunzips(resp.headers):
            resp.headers = Headers(gunzipped_block(conn.block))
        return resp

    @staticmethod
    def _decoder(conn: Conn) -> Decoder | None:
        """The decoder of the answer's Content-Encoding (a header repeated names codings
        applied in turn, as one header listing them does)."""
        low = conn.coding
        assert low is not None
        codings: list[str] = []
        at = low.find(_ENCODING)
        while at >= 0:
            end = low.find(b"\r\n", at + len(_ENCODING))
            codings.append(low[at + len(_ENCODING) : end].decode("latin-1").strip())
            at = low.find(_ENCODING, end)
        try:
            return decoder_for(codings[0] if len(codings) == 1 else ",".join(codings))
        except UpstreamNetworkError:
            conn.abort()  # the body cannot be read: the connection cannot be reused
            raise

    # -- connections

    async def _connect(self, target: _Target) -> Conn:
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
                            lambda: Conn(self._live, target.origin),
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

    def close_idle(self) -> None:
        """Close the idle connections now and keep none from here on (a pool that is let
        go): answers still being read finish on their connections, which close after."""
        self.max_idle = 0
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in list(conns):
                conn.expire()

    async def close(self) -> None:
        idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in list(conns):
                conn.expire()
        for conn in list(self._live):
            conn.abort()
        self._live.clear()
