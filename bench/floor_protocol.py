"""The protocol-level floor: the least a Python proxy can do at all, in its own process.

    python bench/floor_protocol.py --upstream http[s]://127.0.0.1:PORT [--cafile CA.pem] [--port 0]

Same shape as bench/floor.py (every POST goes to the same path and query on the upstream,
the same few headers are copied, no auth, no routing, no JSON work), but with no framework:
an ``asyncio.Protocol`` server whose requests ``httptools.HttpRequestParser`` parses, a
keep-alive pool of raw upstream connections (TLS when the upstream is https, verified with
``--cafile``) whose responses ``httptools.HttpResponseParser`` parses, on uvloop. A JSON
answer is returned whole with a Content-Length; an SSE answer is relayed chunk by chunk as
it arrives (chunked transfer encoding to the client), with back-pressure: a slow client
pauses reading from the upstream. Prints ``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
from collections import deque
from urllib.parse import urlsplit

import httptools
from ready import until_signal

FORWARD = frozenset((b"content-type", b"x-bench-chunks", b"x-bench-delay-ms", b"authorization", b"x-api-key"))
BAD_GATEWAY = b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"


class Upstream:
    """Where requests go, and the idle keep-alive connections to it."""

    def __init__(self, url: str, cafile: str | None) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = None
        if parts.scheme == "https":
            self.ssl = ssl.create_default_context(cafile=cafile)
        host = self.host if parts.port is None else f"{self.host}:{self.port}"
        self.host_line = b"Host: " + host.encode() + b"\r\n"
        self.idle: list[UpstreamConn] = []

    def send(self, client: ClientConn, head: bytes, body: bytes) -> None:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                conn.start(client, head, body)
                return
        asyncio.get_running_loop().create_task(self._dial(client, head, body))

    async def _dial(self, client: ClientConn, head: bytes, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, conn = await loop.create_connection(
                lambda: UpstreamConn(self), self.host, self.port, ssl=self.ssl
            )
        except OSError:
            client.fail()
            return
        conn.start(client, head, body)


class UpstreamConn(asyncio.Protocol):
    """One keep-alive connection to the upstream; one request at a time."""

    def __init__(self, pool: Upstream) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.client: ClientConn | None = None
        self.closed = False
        self.stream = False
        self.ctype = b"application/json"
        self.body: list[bytes] = []
        self._name = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.client is not None:
            client, self.client = self.client, None
            client.fail()

    def start(self, client: ClientConn, head: bytes, body: bytes) -> None:
        self.client = client
        client.upstream = self
        self.stream = False
        self.ctype = b"application/json"
        self.body = []
        self.parser = httptools.HttpResponseParser(self)
        assert self.transport is not None
        self.transport.write(
            head + self.pool.host_line + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    # httptools callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self.ctype = value

    def on_headers_complete(self) -> None:
        self.stream = self.ctype.startswith(b"text/event-stream")
        if self.stream and self.client is not None:
            status = self.parser.get_status_code()
            self.client.write(
                b"HTTP/1.1 %d OK\r\nContent-Type: %s\r\nCache-Control: no-cache\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n" % (status, self.ctype)
            )

    def on_body(self, data: bytes) -> None:
        if not self.stream:
            self.body.append(data)
        elif self.client is not None:
            self.client.write(b"%x\r\n%s\r\n" % (len(data), data))

    def on_message_complete(self) -> None:
        client, self.client = self.client, None
        keep = self.parser.should_keep_alive()
        if client is not None:
            client.upstream = None
            if self.stream:
                client.write(b"0\r\n\r\n")
            else:
                body = b"".join(self.body)
                status = self.parser.get_status_code()
                client.write(
                    b"HTTP/1.1 %d OK\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                    % (status, self.ctype, len(body), body)
                )
            client.done()
        self.body = []
        assert self.transport is not None
        if keep and not self.closed:
            self.transport.resume_reading()
            self.pool.idle.append(self)
        else:
            self.transport.close()


class ClientConn(asyncio.Protocol):
    """One client connection: parse requests, forward each, one in flight at a time."""

    def __init__(self, pool: Upstream) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.upstream: UpstreamConn | None = None
        self.pending: deque[tuple[bytes, bytes]] = deque()
        self.busy = False
        self.closed = False
        self._url = b""
        self._headers: list[bytes] = []
        self._body: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        up, self.upstream = self.upstream, None
        if up is not None and up.transport is not None:
            up.client = None
            up.transport.close()  # its answer has nowhere to go

    def pause_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.upstream is not None and self.upstream.transport is not None:
            self.upstream.transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            self.transport.close()

    # httptools callbacks

    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = []
        self._body = []

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() in FORWARD:
            self._headers.append(name + b": " + value + b"\r\n")

    def on_body(self, data: bytes) -> None:
        self._body.append(data)

    def on_message_complete(self) -> None:
        head = b"POST " + self._url + b" HTTP/1.1\r\n" + b"".join(self._headers)
        self.pending.append((head, b"".join(self._body)))
        if not self.busy:
            self._next()

    # forwarding

    def _next(self) -> None:
        if self.pending and not self.closed:
            self.busy = True
            head, body = self.pending.popleft()
            self.pool.send(self, head, body)
        else:
            self.busy = False

    def write(self, data: bytes) -> None:
        if not self.closed and self.transport is not None:
            self.transport.write(data)

    def done(self) -> None:
        self._next()

    def fail(self) -> None:
        self.upstream = None
        if not self.closed and self.transport is not None:
            self.transport.write(BAD_GATEWAY)
            self.transport.close()


async def serve(upstream: str, cafile: str | None, host: str, port: int) -> None:
    loop = asyncio.get_running_loop()
    pool = Upstream(upstream, cafile)
    server = await loop.create_server(lambda: ClientConn(pool), host, port, backlog=4096, reuse_address=True)
    try:
        await until_signal(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        for conn in pool.idle:
            if conn.transport is not None:
                conn.transport.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True)
    p.add_argument("--cafile", default=None, help="CA (PEM) that an https upstream's certificate chains to")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    args = p.parse_args(argv)
    import uvloop

    uvloop.run(serve(args.upstream, args.cafile, args.host, args.port))


if __name__ == "__main__":
    main()
