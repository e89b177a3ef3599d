"""HTTP/1.1 conformance and request smuggling on the fast server (``server-engine: fast``),
over raw sockets: what a hostile or odd client sends, and what it must get back.

Every answer checked here is the fast server's own unless the test says aiohttp got the
connection (a head the fast server hands over); answers the fast server writes carry no
``Server: ... aiohttp`` header, which is how a test tells the two apart.
"""

from __future__ import annotations

import asyncio
import re

import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

pytestmark = [pytest.mark.asyncio, pytest.mark.engine_pinned]

CHAT = b"/v1/chat/completions"
BODY = orjson.dumps({"model": "compat-model", "messages": [{"role": "user", "content": "hi"}]})
AUTH = f"Authorization: Bearer {KEY}\r\n".encode()


@pytest.fixture
async def fast(start_proxy, fakes):
    # timeouts of 1 s, not 300 ms: the 100-continue test pauses 0.1 s between head and body,
    # and a loaded CI run has stalled the loop for 300 ms (test_fast_engine's keep-alive test)
    proxy = await start_proxy(
        matrix_config(
            fakes, 'timeouts:\n  client-header: "1s"\n  client-body: "1s"\nlimits:\n  max-body-mb: 1\n'
        ),
        engine="fast",
    )
    proxy.fakes = fakes
    return proxy


async def talk(
    port: int, *parts: bytes, pause: float = 0.0, wait: float = 5.0, whole: bool = False
) -> tuple[bytes, bool]:
    """Send ``parts`` (``pause`` between them), read until the server closes or goes quiet
    for ``wait``; (every byte read, whether the server closed the connection). ``whole``:
    once a whole final answer is in, quiet for 0.1 s is enough (for a test that asserts
    nothing about a close, which would otherwise sit out ``wait`` after every answer)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for i, part in enumerate(parts):
            if i and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        data = b""
        while True:
            quiet = 0.1 if whole and answered(data) else wait
            try:
                chunk = await asyncio.wait_for(reader.read(65536), quiet)
            except TimeoutError:
                return data, False
            if not chunk:
                return data, True
            data += chunk
    finally:
        writer.close()


def answered(data: bytes) -> bool:
    """Whether ``data`` holds a whole final (not 1xx) answer, framed by its Content-Length
    or its chunked encoding's last chunk."""
    while True:
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return False
        if head.startswith(b"HTTP/1.1 1"):  # an interim answer: the final one follows
            data = rest
            continue
        fields = head.lower()
        if b"\r\ntransfer-encoding: chunked" in fields:
            return rest.endswith(b"0\r\n\r\n")
        length = re.search(rb"\r\ncontent-length: *(\d+)", fields)
        return length is not None and len(rest) >= int(length[1])


def statuses(data: bytes) -> list[int]:
    return [int(line.split(b" ")[1]) for line in data.split(b"\r\n") if line.startswith(b"HTTP/1.")]


def served_fast(data: bytes) -> bool:
    return b"aiohttp" not in data.split(b"\r\n\r\n", 1)[0]


def post(body: bytes = BODY, *, extra: bytes = b"", path: bytes = CHAT, version: bytes = b"1.1") -> bytes:
    head = b"POST %s HTTP/%s\r\nHost: 127.0.0.1\r\n%sContent-Type: application/json\r\n" % (
        path,
        version,
        AUTH,
    )
    return head + b"Content-Length: %d\r\n%s\r\n" % (len(body), extra) + body


def chunked(*chunks: bytes, extra: bytes = b"") -> bytes:
    head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sTransfer-Encoding: chunked\r\n%s\r\n" % (
        CHAT,
        AUTH,
        extra,
    )
    return head + b"".join(chunks)


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def test_content_length_body_is_served_and_kept_alive(fast):
    data, closed = await talk(fast.port, post(), wait=1.0)
    assert statuses(data) == [200] and served_fast(data)
    assert not closed  # HTTP/1.1 keeps the connection
    assert fast.fakes.openai.requests


async def test_chunked_body_is_served(fast):
    half = len(BODY) // 2
    data, _ = await talk(fast.port, chunked(chunk(BODY[:half]), chunk(BODY[half:]), b"0\r\n\r\n"), whole=True)
    assert statuses(data) == [200] and served_fast(data)
    assert orjson.loads(fast.fakes.openai.requests[-1].body)["messages"][0]["content"] == "hi"


@pytest.mark.parametrize(
    "smuggle",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",  # CL.TE
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",  # TE.CL
        b"Content-Length: 5\r\nContent-Length: 6\r\n",  # differing lengths
        b"Content-Length: 5\r\nContent-Length: 5\r\n",  # duplicate lengths
        b"Content-Length: +5\r\n",
        b"Transfer-Encoding: chunked, identity\r\n",
        b"Transfer-Encoding: xchunked\r\n",
        b"X-Folded: a\r\n b\r\n",  # obs-fold
        b"X-Bare-CR: a\rb\r\n",
        b"X-Bare-LF: a\nX-Other: b\r\n",
        b"X-Space : a\r\n",  # whitespace before the colon
        b"X-Nul: a\x00b\r\n",
    ],
)
async def test_ambiguous_or_malformed_heads_are_400_and_closed(fast, smuggle):
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        + AUTH
        + smuggle
        + b"\r\n0\r\n\r\nGET /v1/models HTTP/1.1\r\n\r\n"
    )
    data, closed = await talk(fast.port, request)
    assert statuses(data) == [400], data[:300]
    assert closed
    assert not fast.fakes.openai.requests


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nabc\r\n0\r\n\r\n",  # not hex
        b"-1\r\nabc\r\n0\r\n\r\n",
        b"3\r\nabcdef\r\n0\r\n\r\n",  # longer than its size
        b"3;\x01ext\r\nabc\r\n0\r\n\r\n",  # a control byte in an extension
        b"ffffffffffffffffff\r\n",  # an overflowing size
    ],
)
async def test_broken_chunks_are_400_and_closed(fast, body):
    data, closed = await talk(fast.port, chunked(body))
    assert statuses(data) == [400], data[:300]
    assert served_fast(data)
    assert b"request body could not be read" in data
    assert closed
    assert not fast.fakes.openai.requests


async def test_chunk_extension_flood_is_413(fast):
    # extensions are not body bytes: the wire count stops a body of (almost) only framing
    flood = b"".join(b"1;" + b"e" * 60000 + b"\r\nx\r\n" for _ in range(50))
    data, closed = await talk(fast.port, chunked(flood))
    assert statuses(data) == [413] and closed


async def test_oversize_request_line_and_headers_are_refused(fast):
    long_url = b"GET /v1/models?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    data, closed = await talk(fast.port, long_url)
    assert statuses(data)[0] in (400, 414, 431) and closed
    big_header = b"GET /v1/models HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
    data, closed = await talk(fast.port, big_header)
    assert statuses(data)[0] in (400, 431) and closed
    many = b"GET /v1/models HTTP/1.1\r\n" + b"".join(b"X-H%d: v\r\n" % i for i in range(200)) + b"\r\n"
    data, closed = await talk(fast.port, many)
    assert statuses(data)[0] in (400, 431) and closed


async def test_slowloris_head_is_closed_at_the_header_timeout(fast):
    loop = asyncio.get_running_loop()
    started = loop.time()
    data, closed = await talk(fast.port, b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n", wait=3.0)
    assert closed and loop.time() - started < 2.5
    assert statuses(data) == [408]


async def test_slow_body_is_408_at_the_body_timeout(fast):
    data, closed = await talk(fast.port, post()[:-5], wait=3.0)
    assert statuses(data) == [408] and closed and served_fast(data)
    assert b"timeouts.client-body" in data


async def test_pipelined_requests_get_the_first_answer_then_a_close(fast):
    models = b"GET /v1/models HTTP/1.1\r\nHost: x\r\n" + AUTH + b"\r\n"
    data, closed = await talk(fast.port, models + models + post())
    assert statuses(data) == [200] and closed
    assert b"Connection: close" in data
    assert not fast.fakes.openai.requests  # the pipelined POST was never read


async def test_expect_100_continue_gets_100_then_the_answer(fast):
    head = post(extra=b"Expect: 100-continue\r\n")
    head, body = head[: -len(BODY)], BODY
    data, _ = await talk(fast.port, head, body, pause=0.1, whole=True)
    assert statuses(data) == [100, 200]


async def test_expect_100_continue_over_the_limit_is_413_without_100(fast):
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
        + AUTH
        + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (2 * 1024 * 1024)
    )
    data, closed = await talk(fast.port, head)
    assert statuses(data) == [413] and closed and served_fast(data)


async def test_body_over_the_limit_is_413_and_closed(fast):
    big = b'{"model": "compat-model", "x": "' + b"a" * (1024 * 1024 + 10) + b'"}'
    data, closed = await talk(fast.port, post(big))
    assert statuses(data) == [413] and closed and served_fast(data)
    assert b"limits.max-body-mb" in data
    data, closed = await talk(fast.port, chunked(chunk(big[:600000]), chunk(big[600000:]), b"0\r\n\r\n"))
    assert statuses(data) == [413] and closed
    assert not fast.fakes.openai.requests


async def test_http_10_without_keep_alive_closes(fast):
    data, closed = await talk(fast.port, post(version=b"1.0"))
    assert statuses(data) == [200] and closed and served_fast(data)


async def test_http_10_keep_alive_is_kept(fast):
    data, closed = await talk(fast.port, post(version=b"1.0", extra=b"Connection: keep-alive\r\n"), wait=1.0)
    assert statuses(data) == [200] and not closed
    assert b"Connection: keep-alive" in data


async def test_connection_close_is_honoured(fast):
    data, closed = await talk(fast.port, post(extra=b"Connection: close\r\n"))
    assert statuses(data) == [200] and closed
    assert b"Connection: close" in data


async def test_keep_alive_serves_sequential_requests_then_hands_over(fast):
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    try:
        for request in (post(), post(), b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", post()):
            writer.write(request)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200"), head
            length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            await reader.readexactly(length)
    finally:
        writer.close()
    assert len(fast.fakes.openai.requests) == 3


async def test_a_target_with_a_fragment_is_handed_to_aiohttp(fast):
    # a client never sends a fragment (RFC 9112 3.2): aiohttp decides what such a target is,
    # wherever the "#" is (in a route's own path, after a query, in a pattern route's path)
    for path in (CHAT + b"#frag", CHAT + b"?a=1#frag", b"/v1beta/models/gemini#x:generateContent"):
        data, _ = await talk(fast.port, post(path=path), whole=True)
        assert statuses(data) and not served_fast(data), path
    data, _ = await talk(fast.port, post(path=CHAT + b"?a=1"), whole=True)
    assert statuses(data) == [200] and served_fast(data)


async def test_half_closed_client_still_gets_its_answer(fast):
    # after an interim 100 Continue: the probe that tells it from a client that closed its
    # socket (cliproxy.presence.watch), when the answer had not started at its end of stream
    reader, writer = await asyncio.open_connection("127.0.0.1", fast.port)
    writer.write(post())
    writer.write_eof()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert statuses(data) in ([200], [100, 200])


async def test_a_header_value_that_is_not_utf8_is_served_here(fast):
    data, _ = await talk(fast.port, post(extra=b"X-Note: caf\xe9\r\n"), whole=True)
    assert statuses(data) == [200] and served_fast(data)


async def test_a_body_longer_than_a_header_field_is_served_here(fast):
    # field and request-line limits are checked only on a head that long: not on its body
    big = orjson.dumps({"model": "compat-model", "messages": [{"role": "user", "content": "x" * 20000}]})
    data, _ = await talk(fast.port, post(big), whole=True)
    assert statuses(data) == [200] and served_fast(data)
    data, closed = await talk(fast.port, post(big, extra=b"X-Big: " + b"a" * 9000 + b"\r\n"))
    assert statuses(data)[0] in (400, 431) and closed and not served_fast(data)
    data, closed = await talk(fast.port, post(big, path=CHAT + b"?" + b"a" * 9000))
    assert statuses(data)[0] in (400, 414) and closed and not served_fast(data)
    assert len(fast.fakes.openai.requests) == 1


async def test_trailers_are_dropped_and_a_long_one_closes(fast):
    data, _ = await talk(fast.port, chunked(chunk(BODY), b"0\r\nX-Checksum: abc\r\n\r\n"), whole=True)
    assert statuses(data) == [200] and served_fast(data)
    data, closed = await talk(fast.port, chunked(chunk(BODY), b"0\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"))
    assert closed and not statuses(data)  # as a head field that long: not served here
    assert len(fast.fakes.openai.requests) == 1


async def test_streams_are_chunked_on_http_11_and_end_with_the_connection_on_http_10(fast):
    body = orjson.dumps(
        {"model": "compat-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    )
    data, closed = await talk(fast.port, post(body), wait=1.0)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert statuses(data) == [200] and not closed and served_fast(data)
    assert b"Transfer-Encoding: chunked" in head and b"Connection:" not in head
    assert data.endswith(b"0\r\n\r\n")
    data, closed = await talk(fast.port, post(body, version=b"1.0", extra=b"Connection: keep-alive\r\n"))
    head = data.split(b"\r\n\r\n", 1)[0]
    assert statuses(data) == [200] and closed
    assert b"Connection: close" in head and b"Transfer-Encoding" not in head
    assert b"data: " in data


async def test_header_fields_reach_the_route_as_sent(fast):
    """Each field of a head reaches the route as llhttp parsed it: a value that is not
    UTF-8 keeps its bytes (as surrogates, and goes upstream as those bytes), a UTF-8 one
    reads as text, repeated lines stay apart and in order. Not a CPA port: it pins what
    the fast server's one-decode head reading gives, through a Claude upstream that
    forwards them (CPA forwards a header's bytes as they came)."""
    body = orjson.dumps(
        {"model": "claude-model", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    )
    extra = (
        b"X-Stainless-Note: caf\xe9\r\n"
        b"X-Stainless-City: Z\xc3\xbcrich\r\n"
        b"Anthropic-Beta: one-2025\r\n"
        b"Anthropic-Beta: two-2025\r\n"
    )
    data, _ = await talk(fast.port, post(body, extra=extra, path=b"/v1/messages"), whole=True)
    assert statuses(data) == [200] and served_fast(data)
    seen = fast.fakes.claude.requests[-1].headers
    assert seen["x-stainless-note"].encode("utf-8", "surrogateescape") == b"caf\xe9"
    assert seen["x-stainless-city"] == "Zürich"
    assert seen["anthropic-beta"] == "one-2025,two-2025"
