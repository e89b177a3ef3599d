"""The protocol-level upstream client (``providers.fasthttp``) against real local servers:
the fakes, and raw asyncio servers that write exactly the bytes an edge case needs."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import socket
import ssl
import threading
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import openai
import orjson
import pytest
from backports import zstd

from cliproxy.errors import RequestError
from cliproxy.providers.fasthttp import HIGH_WATER, FastHttpClient
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import UpstreamNetworkError, network_error, read_body
from tests.fakes.openai import OpenAIFake
from tests.fakes.tls import make_cert, serve_tls

CHAT = b'{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
JSON = {"Authorization": "Bearer k", "Content-Type": "application/json"}

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Raw:
    """A raw HTTP/1.1 server: ``handler`` gets each connection; accepted connections are counted."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self.handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Raw:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request head (and its Content-Length body); ``b""`` when the client closed."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":", 1)[1]))
    return head


def answer(body: bytes, *extra: str, status: str = "200 OK") -> bytes:
    head = "".join(f"{h}\r\n" for h in extra)
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body


def keep_answering(reply: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(reply)
            await writer.drain()

    return handler


@pytest.fixture
async def client() -> AsyncIterator[FastHttpClient]:
    c = FastHttpClient(connect_timeout=2, first_byte_timeout=2, idle_timeout=2)
    yield c
    await c.close()


async def get(client: FastHttpClient, url: str, method: str = "GET") -> tuple[int, bytes]:
    resp = await client.request(method, url, headers={}, body=None)
    return resp.status, await read_body(resp)


# ---- keep-alive and framing


async def test_sequential_requests_share_one_connection(fake_openai: OpenAIFake) -> None:
    http = HttpClient(connect_timeout=2, first_byte_timeout=5, idle_timeout=5)
    try:
        for _ in range(5):
            resp = await http.request(
                "POST", fake_openai.base_url + "/v1/chat/completions", headers=JSON, body=CHAT
            )
            assert resp.status == 200
            assert orjson.loads(await read_body(resp))["object"] == "chat.completion"
        assert http.fast is not None and http.fast.connections_made == 1
        assert not http._sessions  # aiohttp never opened a session for a direct call
        assert len(fake_openai.requests) == 5
    finally:
        await http.close()


async def test_one_tcp_connection_seen_by_the_server(client: FastHttpClient) -> None:
    async with Raw(keep_answering(answer(b"ok"))) as raw:
        for _ in range(4):
            assert await get(client, raw.url + "/x") == (200, b"ok")
        assert raw.connections == 1 and client.idle_count(raw.url) == 1


async def test_chunked_length_and_close_delimited_bodies(client: FastHttpClient) -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
            await writer.drain()
            await asyncio.sleep(0.01)
            writer.write(b"6\r\n world\r\n0\r\n\r\n")
            await writer.drain()

    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ")
        await writer.drain()
        writer.write(b"the end")
        await writer.drain()
        writer.close()

    async with Raw(chunked) as raw:
        for _ in range(2):
            assert await get(client, raw.url) == (200, b"hello world")
        assert raw.connections == 1 and client.idle_count(raw.url) == 1
    async with Raw(until_close) as raw:
        assert await get(client, raw.url) == (200, b"until the end")
        assert client.idle_count(raw.url) == 0  # its end was the connection's


async def test_sse_events_arrive_before_the_upstream_finishes(client: FastHttpClient) -> None:
    first_seen = asyncio.Event()

    async def sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for n in range(3):
            frame = f"data: {n}\n\n".encode()
            writer.write(b"%x\r\n%s\r\n" % (len(frame), frame))
            await writer.drain()
            if n == 0:
                await first_seen.wait()  # the rest only once the client has the first event
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async with Raw(sse) as raw:
        resp = await client.request("POST", raw.url + "/stream", headers=JSON, body=b"{}")
        got: list[bytes] = []
        async with asyncio.timeout(3):
            async for chunk in resp.chunks():
                got.append(chunk)
                first_seen.set()
        assert got[0] == b"data: 0\n\n" and b"".join(got) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
        assert client.idle_count(raw.url) == 1


async def test_sse_through_the_proxy_with_the_openai_sdk(start_proxy, fake_openai: OpenAIFake) -> None:
    proxy = await start_proxy(
        f"""
api-keys: ["sk-client"]
openai-compatibility:
  - name: fakeopenai
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-up"}}]
    models: [{{name: gpt-4o-mini, alias: compat-model}}]
"""
    )
    fast = proxy.service.http.fast
    assert fast is not None
    loop = asyncio.get_running_loop()
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0) as sdk:
        for _ in range(2):
            stream = await sdk.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            assert text
            # the client's stream ends at [DONE]; the fake (in its own thread) may send the
            # body's terminal chunk a few ms later: the connection is pooled then, not dropped
            end = loop.time() + 2
            while fast.idle_count(fake_openai.base_url) != 1 and loop.time() < end:
                await asyncio.sleep(0.005)
    assert fast.connections_made == 1 and not proxy.service.http._sessions


async def test_head_204_304_and_informational_answers(client: FastHttpClient) -> None:
    replies = {
        b"HEAD": b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        b"/204": b"HTTP/1.1 204 No Content\r\n\r\n",
        b"/304": b"HTTP/1.1 304 Not Modified\r\nETag: x\r\n\r\n",
        b"/100": b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"after 100"),
    }

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            key = b"HEAD" if head.startswith(b"HEAD") else head.split(b" ")[1]
            writer.write(replies[key])
            await writer.drain()

    async with Raw(handler) as raw:
        assert await get(client, raw.url + "/h", "HEAD") == (200, b"")
        assert await get(client, raw.url + "/204") == (204, b"")
        assert await get(client, raw.url + "/304") == (304, b"")
        assert await get(client, raw.url + "/100") == (200, b"after 100")
        assert raw.connections == 1


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, no zlib wrapper
        ("zstd", zstd.compress),
    ],
)
async def test_encoded_bodies_are_decoded(client: FastHttpClient, encoding: str, encode) -> None:
    text = b'{"text": "' + b"squeeze me " * 2000 + b'"}'
    async with Raw(keep_answering(answer(encode(text), f"Content-Encoding: {encoding}"))) as raw:
        resp = await client.request("GET", raw.url, headers={"Accept-Encoding": encoding}, body=None)
        assert resp.headers["content-encoding"] == encoding  # as aiohttp: the header stays
        assert await read_body(resp) == text
        assert client.idle_count(raw.url) == 1


async def test_request_head_keeps_caller_order_and_rejects_line_breaks(client: FastHttpClient) -> None:
    heads: list[bytes] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            heads.append(await read_request(reader))
            writer.write(answer(b"{}", "X-Multi: a", "x-multi: b"))
            await writer.drain()

    async with Raw(handler) as raw:
        headers = {"Content-Type": "application/json", "X-B": "2", "Content-Length": "999", "X-A": "1"}
        resp = await client.request("POST", raw.url + "/p?q=1", headers=headers, body=b"{}")
        assert resp.headers.getall("X-MULTI") == ["a", "b"]
        await read_body(resp)
        lines = heads[0].decode().split("\r\n")
        assert lines[0] == "POST /p?q=1 HTTP/1.1" and lines[1].startswith("Host: 127.0.0.1:")
        assert lines[2:7] == [
            "Content-Type: application/json",
            "X-B: 2",
            "Content-Length: 2",
            "X-A: 1",
            "Accept: */*",
        ]
        # the client's 400 (tests/security/test_header_line_breaks.py)
        with pytest.raises(RequestError) as refused:
            await client.request("GET", raw.url, headers={"X-Evil": "a\r\nX-Injected: 1"}, body=None)
        assert refused.value.status == 400 and "line break" in refused.value.message
        assert len(heads) == 1


# ---- limits and failures


async def test_connect_timeout_is_504() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):  # fill the accept backlog: the next SYN is dropped, the connect hangs
        s = socket.socket()
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            s.connect(("127.0.0.1", port))
        fillers.append(s)
    client = FastHttpClient(connect_timeout=0.3)
    try:
        with pytest.raises(UpstreamNetworkError) as err:
            await get(client, f"http://127.0.0.1:{port}/")
        assert (err.value.status, err.value.message) == (504, "upstream connect timed out")
        assert err.value.detail == f"connect to http://127.0.0.1:{port} timed out"
    finally:
        await client.close()
        for s in [*fillers, listener]:
            s.close()


async def test_refused_connection_is_502_unreachable(client: FastHttpClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: refused
        with pytest.raises(UpstreamNetworkError) as err:
            await get(client, f"http://127.0.0.1:{port}/v1?key=secret")
    assert (err.value.status, err.value.message) == (502, "upstream unreachable")
    assert "secret" not in err.value.detail and "/v1" not in err.value.detail


async def test_first_byte_timeout_is_504_and_the_connection_is_not_reused() -> None:
    calls = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        while True:
            await read_request(reader)
            calls += 1
            if calls == 1:
                await asyncio.sleep(30)  # no answer
            writer.write(answer(b"late"))
            await writer.drain()

    client = FastHttpClient(first_byte_timeout=0.2)
    try:
        async with Raw(handler) as raw:
            with pytest.raises(UpstreamNetworkError) as err:
                await get(client, raw.url)
            assert (err.value.status, err.value.message) == (504, "upstream sent no response in time")
            assert await get(client, raw.url) == (200, b"late")
            assert raw.connections == 2
    finally:
        await client.close()


async def test_idle_timeout_mid_stream_then_a_fresh_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\ndata: 1\n\n")
        await writer.drain()
        await asyncio.sleep(30)

    client = FastHttpClient(first_byte_timeout=5, idle_timeout=0.2)
    try:
        async with Raw(handler) as raw:
            resp = await client.request("GET", raw.url, headers={}, body=None)
            got = []
            with pytest.raises(TimeoutError) as err:
                async for chunk in resp.chunks():
                    got.append(chunk)
            assert got == [b"data: 1\n\n"]
            assert network_error(err.value, "mid-stream").status == 504
            resp.release()
            assert client.idle_count(raw.url) == 0
            with contextlib.suppress(TimeoutError):
                await (await client.request("GET", raw.url, headers={}, body=None)).read()
            assert raw.connections == 2
    finally:
        await client.close()


@pytest.mark.parametrize(
    "partial",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
    ],
)
async def test_upstream_closing_mid_body_is_connection_error(client: FastHttpClient, partial: bytes) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(partial)
        await writer.drain()
        writer.close()

    async with Raw(handler) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        with pytest.raises(ConnectionError):
            await resp.read()
        resp.release()
        with pytest.raises(UpstreamNetworkError) as err:
            await read_body(await client.request("GET", raw.url, headers={}, body=None))
        assert err.value.status == 502 and "broke" in err.value.message
        assert client.idle_count(raw.url) == 0 and raw.connections == 2


async def test_malformed_answer_is_502(client: FastHttpClient) -> None:
    async with Raw(keep_answering(b"SSH-2.0-OpenSSH\r\n\r\n")) as raw:
        with pytest.raises(UpstreamNetworkError) as err:
            await get(client, raw.url)
        assert (err.value.status, err.value.message) == (502, "upstream request failed")


async def test_a_kept_alive_connection_closed_by_the_upstream_is_replaced(client: FastHttpClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"one"))
        await writer.drain()
        await read_request(reader)  # the race: the next request came as the upstream closed
        writer.transport.abort()

    async with Raw(handler) as raw:
        assert await get(client, raw.url) == (200, b"one")
        assert await get(client, raw.url) == (200, b"one")  # sent once more on a new connection
        assert raw.connections == 2


def test_a_connection_of_a_stopped_event_loop_is_not_reused() -> None:
    """A pooled connection whose event loop no longer runs is skipped: the request on
    another loop opens its own (the client asks the connection's loop, no get_running_loop
    per request)."""
    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                sock, _ = server.accept()
                accepted.append(sock)
                threading.Thread(target=answer_each, args=(sock,), daemon=True).start()

    def answer_each(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
                while b"\r\n\r\n" in data:
                    _, data = data.split(b"\r\n\r\n", 1)
                    sock.sendall(answer(b"ok"))

    threading.Thread(target=serve, daemon=True).start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/"
    client = FastHttpClient(connect_timeout=2, first_byte_timeout=2, idle_timeout=2)
    first, second = asyncio.new_event_loop(), asyncio.new_event_loop()
    try:
        assert first.run_until_complete(get(client, url)) == (200, b"ok")
        assert client.idle_count(url) == 1  # parked; ``first`` has stopped running
        assert second.run_until_complete(get(client, url)) == (200, b"ok")
        assert second.run_until_complete(get(client, url)) == (200, b"ok")
        assert client.connections_made == 2 and len(accepted) == 2
    finally:
        second.run_until_complete(client.close())
        first.run_until_complete(asyncio.sleep(0))  # the first loop's transport finishes closing
        first.close()
        second.close()
        server.close()
        for sock in accepted:
            sock.close()


async def test_idle_pool_is_bounded_and_expires() -> None:
    release = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await release.wait()
            writer.write(answer(b"ok"))
            await writer.drain()

    client = FastHttpClient(max_idle=2, keepalive=0.2)
    try:
        async with Raw(handler) as raw:
            calls = [asyncio.create_task(get(client, raw.url)) for _ in range(4)]
            await asyncio.sleep(0.05)
            release.set()
            assert await asyncio.gather(*calls) == [(200, b"ok")] * 4
            assert raw.connections == 4 and client.idle_count(raw.url) == 2
            await asyncio.sleep(0.4)
            assert client.idle_count(raw.url) == 0 and not client._live
    finally:
        await client.close()


async def test_slow_reader_pauses_the_socket(client: FastHttpClient) -> None:
    size = 8 * HIGH_WATER
    async with Raw(keep_answering(answer(b"x" * size))) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        await asyncio.sleep(0.3)  # the upstream could send it all; the client must stop reading
        conn = resp._conn
        assert conn is not None and conn.paused and conn.buffered < 2 * HIGH_WATER
        assert len(await read_body(resp)) == size
        assert client.idle_count(raw.url) == 1


# ---- TLS


async def test_tls_upstream_trusted_through_a_custom_ca(tmp_path: Path, monkeypatch) -> None:
    cert = make_cert(tmp_path)
    fake = await serve_tls(OpenAIFake(), cert)
    trusted = ssl.create_default_context(cafile=str(cert.cert))
    clients = [FastHttpClient(ssl_context=trusted), FastHttpClient()]
    try:
        for host in ("localhost", "127.0.0.1"):
            resp = await clients[0].request(
                "POST", f"https://{host}:{fake.port}/v1/chat/completions", headers=JSON, body=CHAT
            )
            assert orjson.loads(await read_body(resp))["object"] == "chat.completion"
        with pytest.raises(UpstreamNetworkError) as err:  # the system store does not know it
            await clients[1].request("GET", f"https://localhost:{fake.port}/", headers={}, body=None)
        assert (err.value.status, err.value.message) == (502, "upstream unreachable")
        assert "CERTIFICATE_VERIFY_FAILED" in err.value.detail
        # the default context honours SSL_CERT_FILE, as aiohttp's does
        monkeypatch.setenv("SSL_CERT_FILE", str(cert.cert))
        clients.append(FastHttpClient())
        resp = await clients[2].request(
            "GET", f"https://localhost:{fake.port}/v1/models", headers=JSON, body=None
        )
        assert resp.status == 200
        await read_body(resp)
        assert clients[2].idle_count(f"https://localhost:{fake.port}") == 1
    finally:
        for c in clients:
            await c.close()
        await fake.stop()


# ---- the seam and its switch


async def test_upstream_http_switch_selects_the_client(start_proxy, fake_openai: OpenAIFake) -> None:
    cfg = f"""
api-keys: ["sk-client"]
openai-compatibility:
  - name: fakeopenai
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-up"}}]
    models: [{{name: gpt-4o-mini, alias: compat-model}}]
"""
    for kind in ("fast", "aiohttp"):
        proxy = await start_proxy(f"upstream-http: {kind}\n" + cfg)
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0) as sdk:
            reply = await sdk.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "hi"}]
            )
        assert reply.choices[0].message.content
        http = proxy.service.http
        if kind == "fast":
            assert http.fast is not None and http.fast.connections_made == 1 and not http._sessions
        else:
            assert http.fast is None and "" in http._sessions
        await proxy.close()


async def test_proxied_and_userinfo_urls_go_through_aiohttp(fake_openai: OpenAIFake) -> None:
    http = HttpClient()
    try:
        host = fake_openai.base_url.split("://", 1)[1]
        resp = await http.request("GET", f"http://user:pw@{host}/v1/models", headers={}, body=None)
        assert resp.status == 200
        await read_body(resp)
        assert http.fast is not None and http.fast.connections_made == 0 and "" in http._sessions
    finally:
        await http.close()
