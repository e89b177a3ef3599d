"""Client-side faults at the server edge: slow or idle sockets, connection caps, oversized
requests, clients that go away, and a SIGTERM while a stream is in flight.

Every test drives the real listener (``cliproxy.server.app.listen``, what ``cliproxy serve``
runs) with raw sockets, so the timeouts and caps are those of production.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

TIMEOUTS = """
timeouts:
  client-header: 300ms
  client-keepalive: 400ms
  client-body: 300ms
"""

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
GEMINI = "/v1beta/models/gemini-2.5-flash:generateContent"


async def _connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def _closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after ``seconds``."""
    data = b""
    async with asyncio.timeout(seconds):
        while chunk := await reader.read(65536):
            data += chunk
    return data


async def _response(reader: asyncio.StreamReader, seconds: float = 5) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length body."""
    async with asyncio.timeout(seconds):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def _get(path: str = "/healthz") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def _healthy(url: str) -> None:
    async with aiohttp.ClientSession() as s, s.get(url + "/healthz") as r:
        assert r.status == 200


# -- timeouts


async def test_slowloris_head_is_cut_after_client_header_timeout(start_edge):
    edge = await start_edge(TIMEOUTS.replace("client-keepalive: 400ms", "client-keepalive: 30s"))
    reader, writer = await _connect(edge.port)
    writer.write(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    started = time.monotonic()
    closing = asyncio.create_task(_closed_within(reader, 3))
    for i in range(40):  # one header line every 50 ms: never a whole head
        if closing.done():
            break
        try:
            writer.write(b"X-%d: y\r\n" % i)
            await writer.drain()
        except ConnectionError:
            break
        await asyncio.sleep(0.05)
    try:
        data = await closing
    except ConnectionError:
        data = b""
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, f"slow head held {elapsed:.1f}s"
    assert not data or data.startswith(b"HTTP/1.1 408")
    writer.close()
    await _healthy(edge.url)


async def test_silent_connection_is_closed_after_keepalive_timeout(start_edge):
    edge = await start_edge(TIMEOUTS)
    reader, writer = await _connect(edge.port)
    started = time.monotonic()
    assert await _closed_within(reader, 2) == b""
    assert time.monotonic() - started >= 0.3
    writer.close()


async def test_idle_keepalive_connection_is_closed(start_edge):
    edge = await start_edge(TIMEOUTS)
    reader, writer = await _connect(edge.port)
    writer.write(_get())
    status, headers, _ = await _response(reader)
    assert status == 200 and headers.get("connection", "").lower() != "close"
    assert await _closed_within(reader, 2) == b""
    writer.close()


@pytest.mark.parametrize(
    "path,check",
    [
        (
            CHAT,
            lambda b: (
                b["error"]["type"] == "invalid_request_error" and "client-body" in b["error"]["message"]
            ),
        ),
        (MESSAGES, lambda b: b["type"] == "error" and "client-body" in b["error"]["message"]),
        (GEMINI, lambda b: b["error"]["code"] == 408 and "client-body" in b["error"]["message"]),
    ],
)
async def test_slow_body_gets_408_in_client_format(start_edge, path, check):
    edge = await start_edge(TIMEOUTS)
    reader, writer = await _connect(edge.port)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        'Content-Length: 100\r\n\r\n{"model":'.encode()
    )
    status, headers, body = await _response(reader, 3)
    assert status == 408
    assert headers["content-type"].startswith("application/json")
    assert check(orjson.loads(body))
    writer.close()


# -- connection caps


async def test_idle_sockets_over_the_cap_evict_the_oldest_and_requests_are_served(start_edge):
    edge = await start_edge("limits:\n  max-connections: 6\n")
    idle = []
    for _ in range(6):
        idle.append(await _connect(edge.port))
        await asyncio.sleep(0.01)  # keep the order of arrival
    # a seventh client is served: the oldest idle socket makes room
    for _ in range(3):
        await _healthy(edge.url)
    oldest_reader, _ = idle[0]
    assert await _closed_within(oldest_reader, 2) == b""
    newest_reader, newest_writer = idle[-1]
    newest_writer.write(_get())
    status, _, _ = await _response(newest_reader)
    assert status == 200
    for _, w in idle:
        w.close()


async def _busy(port: int, path: str = CHAT) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection in the middle of a request: head sent, body still to come."""
    reader, writer = await _connect(port)
    writer.write(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 50\r\n\r\n{{".encode())
    await writer.drain()
    return reader, writer


async def test_no_idle_connection_to_evict_answers_503(start_edge):
    edge = await start_edge("limits:\n  max-connections: 3\n")
    busy = [await _busy(edge.port) for _ in range(3)]
    await asyncio.sleep(0.1)
    reader, writer = await _connect(edge.port)
    data = await _closed_within(reader, 2)
    assert data.startswith(b"HTTP/1.1 503"), data
    writer.close()
    for _, w in busy:
        w.close()
    await asyncio.sleep(0.1)
    await _healthy(edge.url)  # room again once they are gone


async def test_per_ip_cap(start_edge):
    edge = await start_edge("limits:\n  max-connections-per-ip: 2\n")
    busy = [await _busy(edge.port) for _ in range(2)]
    await asyncio.sleep(0.1)
    reader, writer = await _connect(edge.port)
    assert (await _closed_within(reader, 2)).startswith(b"HTTP/1.1 503")
    writer.close()
    busy[0][1].close()
    await asyncio.sleep(0.1)
    # one busy, one idle: a third connection evicts the idle one and is served
    idle_reader, idle_writer = await _connect(edge.port)
    await asyncio.sleep(0.05)
    await _healthy(edge.url)
    assert await _closed_within(idle_reader, 2) == b""
    idle_writer.close()
    busy[1][1].close()


# -- oversized requests


@pytest.mark.parametrize(
    "path,check",
    [
        (CHAT, lambda b: b["error"]["type"] == "invalid_request_error"),
        (MESSAGES, lambda b: b["type"] == "error" and b["error"]["type"] == "invalid_request_error"),
        (GEMINI, lambda b: b["error"]["status"] == "INVALID_ARGUMENT"),
    ],
)
async def test_oversized_header_is_400_in_client_format_without_traceback(start_edge, caplog, path, check):
    edge = await start_edge()
    reader, writer = await _connect(edge.port)
    with caplog.at_level(logging.DEBUG):
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: {'a' * 10000}\r\n"
            "Content-Length: 2\r\n\r\n{}".encode()
        )
        status, headers, body = await _response(reader)
        writer.close()
        await asyncio.sleep(0.05)
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    parsed = orjson.loads(body)
    assert check(parsed)
    assert "header" in body.decode().lower()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    await _healthy(edge.url)


@pytest.mark.parametrize(
    "path,check",
    [
        (CHAT, lambda b: b["error"]["type"] == "invalid_request_error"),
        (MESSAGES, lambda b: b["type"] == "error" and b["error"]["type"] == "request_too_large"),
        (GEMINI, lambda b: b["error"]["code"] == 413),
    ],
)
@pytest.mark.parametrize("chunked", [False, True])
async def test_body_over_max_body_mb_is_413_in_client_format(start_edge, path, check, chunked):
    edge = await start_edge("limits:\n  max-body-mb: 1\n")
    big = b'{"model":"m","pad":"' + b"a" * (1024 * 1024 + 10) + b'"}'

    async def gen():
        for i in range(0, len(big), 65536):
            yield big[i : i + 65536]

    if chunked:  # no length up front: the limit is found while reading
        async with (
            aiohttp.ClientSession() as s,
            s.post(edge.url + path, data=gen(), headers={"Content-Type": "application/json"}) as r,
        ):
            assert r.status == 413
            body = await r.json()
    else:  # Content-Length over the limit: refused before the body is read
        reader, writer = await _connect(edge.port)
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(big)}\r\n\r\n".encode()
            + big[:1000]
        )
        status, _, raw = await _response(reader)
        writer.close()
        assert status == 413
        body = orjson.loads(raw)
    assert check(body)
    assert "max-body-mb" in orjson.dumps(body).decode()
    await _healthy(edge.url)


@pytest.mark.parametrize(
    "head",
    [
        "Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\nnot gzip at ",  # a body that does not decode
        "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",  # broken chunk framing
        "X-Bad: a\x01b\r\nContent-Length: 2\r\n\r\n{}",  # a control character in a header
        "".join(f"X-H{i}: v\r\n" for i in range(150)) + "Content-Length: 2\r\n\r\n{}",  # too many headers
        # found by tests/fuzz --fuzz-long: a multipart body skips the early read, and the
        # handler's own read of an undecodable body was a 500
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Encoding: gzip\r\n"
        "Content-Length: 12\r\n\r\nnot gzip at ",
    ],
)
async def test_malformed_requests_are_400_json_without_traceback(start_edge, caplog, head):
    edge = await start_edge()
    with caplog.at_level(logging.DEBUG):
        reader, writer = await _connect(edge.port)
        ctype = "" if head.startswith("Content-Type:") else "Content-Type: application/json\r\n"
        writer.write(f"POST {MESSAGES} HTTP/1.1\r\nHost: 127.0.0.1\r\n{ctype}{head}".encode())
        status, _, body = await _response(reader)
        writer.close()
        await asyncio.sleep(0.05)
    assert status == 400
    assert orjson.loads(body)["type"] == "error"
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


# -- clients that go away


def _stream_config(fake) -> str:
    return f"""
openai-compatibility:
  - name: fake
    base-url: "{fake.base_url}/v1"
    api-key-entries:
      - api-key: "sk-up"
    models:
      - name: "gpt-4o-mini"
        alias: "m"
"""


async def test_client_disconnects_mid_stream_log_no_traceback(start_edge, fake_openai, caplog):
    from tests.fakes.server import Behavior

    fake_openai.stream_delay = 0.02
    edge = await start_edge(_stream_config(fake_openai))
    body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
    with caplog.at_level(logging.DEBUG):
        for _ in range(5):
            fake_openai.script(Behavior(text=" ".join(["word"] * 200)))
            reader, writer = await _connect(edge.port)
            writer.write(
                f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            async with asyncio.timeout(5):
                assert (await reader.readuntil(b"data: ")).startswith(b"HTTP/1.1 200")
            writer.transport.abort()  # RST: the client is gone mid-stream
            await asyncio.sleep(0.15)
        await asyncio.sleep(0.2)
    # the proxy's records only (the fake upstream serves from its own thread and logs its side)
    bad = [
        r
        for r in caplog.records
        if r.thread == threading.get_ident() and (r.levelno >= logging.ERROR or r.exc_info)
    ]
    assert not bad, [(r.name, r.getMessage()) for r in bad]
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            edge.url + CHAT,
            data=body.replace(b"true", b"false"),
            headers={"Content-Type": "application/json"},
        ) as r,
    ):
        assert r.status == 200


async def test_client_disconnects_mid_body_log_no_traceback(start_edge, caplog):
    edge = await start_edge()
    with caplog.at_level(logging.DEBUG):
        for path in (CHAT, MESSAGES, "/v0/management/config"):
            _, writer = await _connect(edge.port)
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                'Content-Length: 1000\r\n\r\n{"model":'.encode()
            )
            await writer.drain()
            await asyncio.sleep(0.1)
            writer.transport.abort()
            await asyncio.sleep(0.1)
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [(r.name, r.getMessage()) for r in bad]
    await _healthy(edge.url)


async def test_a_client_that_half_closes_after_its_request_still_gets_the_answer(start_edge):
    # ``nc -N`` and clients with a lying Content-Length shut their sending side after the
    # request: the answer must still come back (it was lost before), then the server closes
    edge = await start_edge()
    for raw in (
        _get(),
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b'Content-Type: application/json\r\nConnection: close\r\nContent-Length: 5\r\n\r\n{"a": 1}',
        # a body that cannot be decoded: the 400 must still reach a client that half-closed
        b"POST /v1/messages/count_tokens HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b'Content-Encoding: gzip\r\nContent-Length: 12\r\n\r\n{"model": 1}',
    ):
        reader, writer = await _connect(edge.port)
        writer.write(raw)
        writer.write_eof()
        data = await _closed_within(reader, 5)
        writer.close()
        data = data.removeprefix(b"HTTP/1.1 100 Continue\r\n\r\n")  # the probe (cliproxy.presence.watch)
        assert data.startswith(b"HTTP/1.") and data.split(b" ")[1] in (b"200", b"400"), data[:200]
        assert data.endswith(b"}"), data[-200:]


# -- graceful stop


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigterm_drains_a_stream_in_flight(tmp_path: Path, fake_openai):
    from tests.fakes.server import Behavior

    port = _free_port()
    fake_openai.script(Behavior(text=" ".join(["word"] * 40), stream_delay=0.03))
    (tmp_path / "config.yaml").write_text(
        f"host: 127.0.0.1\nport: {port}\nauth-dir: {tmp_path / 'auths'}\n" + _stream_config(fake_openai)
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "cliproxy"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, "cliproxy did not start"
                time.sleep(0.05)
        body = orjson.dumps({"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        conn.settimeout(10)
        conn.sendall(
            f"POST {CHAT} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        got = conn.recv(65536)
        assert got.startswith(b"HTTP/1.1 200")
        proc.send_signal(signal.SIGTERM)
        while b"data: [DONE]" not in got:
            chunk = conn.recv(65536)
            assert chunk, f"stream cut at SIGTERM: {got[-200:]!r}"
            got += chunk
        conn.close()
        assert got.count(b"word") == 40
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "shutting down" in err
    assert "Traceback" not in err
