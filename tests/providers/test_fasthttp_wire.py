"""What the protocol-level client precomputes or defers, proven against raw local servers:
request heads reused per header set, response heads decoded only when read, and the
per-connection timers that move only when a deadline comes sooner."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Mapping

import aiohttp
import pytest
from multidict import CIMultiDict

from cliproxy.config import load_or_default
from cliproxy.errors import RequestError
from cliproxy.providers.fasthttp import HIGH_WATER, FastHttpClient
from cliproxy.providers.fastwire import Headers, head_bytes, head_template
from cliproxy.providers.transport import UpstreamNetworkError, read_body
from tests.fakes.fixtures import Fakes
from tests.providers.test_fasthttp import Raw, answer, get, read_request


@pytest.fixture
async def client() -> FastHttpClient:
    c = FastHttpClient(connect_timeout=2, first_byte_timeout=2, idle_timeout=2)
    yield c  # type: ignore[misc]
    await c.close()


def recording(heads: list[bytes], reply: bytes) -> Raw:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await read_request(reader)
            heads.append(head)
            writer.write(reply)
            await writer.drain()

    return Raw(handler)


# ---- request heads: one template per header set


async def test_a_reused_head_carries_each_bodys_own_length(client: FastHttpClient) -> None:
    heads: list[bytes] = []
    async with recording(heads, answer(b"{}")) as raw:
        headers = {"Content-Type": "application/json", "Authorization": "Bearer k"}
        for body in (b"{}", b'{"a": 1}', b"", b"x" * 70_000):  # the last written apart from its head
            await read_body(await client.request("POST", raw.url + "/v1?q=1", headers=headers, body=body))
        lengths = [h.split(b"Content-Length: ")[1].split(b"\r\n")[0] for h in heads]
        assert lengths == [b"2", b"8", b"0", b"70000"]
        assert all(
            h == heads[0].replace(b"Content-Length: 2", b"Content-Length: " + n)
            for h, n in zip(heads, lengths, strict=True)
        )
        headers["Authorization"] = "Bearer other"  # the same dict, changed: another head
        await read_body(await client.request("POST", raw.url + "/v1?q=1", headers=headers, body=b"{}"))
        assert b"Authorization: Bearer other\r\n" in heads[-1] and b"Bearer k" not in heads[-1]
        assert raw.connections == 1


async def test_a_template_matches_the_head_built_whole() -> None:
    cases: list[tuple[str, dict[str, str], bytes | None]] = [
        ("POST", {"Content-Type": "application/json", "X-B": "2", "Content-Length": "999"}, b"{}"),
        ("POST", {"Host": "elsewhere", "Accept": "text/event-stream"}, b"abc"),
        ("POST", {}, None),  # no body: Content-Length 0, as aiohttp
        ("GET", {"Transfer-Encoding": "chunked"}, None),  # no Content-Length at all
        ("PUT", {"X": "y"}, b""),
    ]
    for method, headers, body in cases:
        whole = head_bytes(method, "/p", "h:1", headers, body)
        template = head_template(method, "/p", "h:1", headers, body)
        assert template is not None
        before, after = template
        size = b"%d" % (len(body) if body else 0)
        assert (before if after is None else before + size + after) == whole
    # a value holding the placeholder byte: refused (a NUL, as Go's net/http and aiohttp);
    # two Content-Length lines (a multidict's same name twice): built whole each time; the
    # name again in another case is one line
    with pytest.raises(RequestError, match="control character"):
        head_template("POST", "/", "h", {"X": "a\x00b"}, b"1")
    assert (
        head_template("POST", "/", "h", CIMultiDict([("Content-Length", "1"), ("Content-Length", "2")]), b"1")
        is None
    )
    assert head_template(
        "POST", "/", "h", CIMultiDict([("Content-Length", "1"), ("content-length", "2")]), b"1"
    )


async def test_refused_heads_stay_refused_and_odd_values_still_go(client: FastHttpClient) -> None:
    heads: list[bytes] = []
    async with recording(heads, answer(b"ok")) as raw:
        for _ in range(2):  # a refusal is never cached as a head
            with pytest.raises(RequestError, match="holds a line break"):  # the client's 400
                await client.request("GET", raw.url, headers={"X-Evil": "a\r\nX-Injected: 1"}, body=None)
            with pytest.raises(RequestError, match="control character"):  # as Go's net/http and aiohttp
                await client.request("POST", raw.url, headers={"X-Nul": "a\x00b"}, body=b"1")
        odd = {"X-Odd": "a\tb caf\u00e9", "Content-Length": "5"}
        for body in (b"123", b"1234"):  # the caller's Content-Length: the real one, right each time
            await read_body(await client.request("POST", raw.url, headers=odd, body=body))
        assert [h.count(b"Content-Length: %d\r\n" % n) for h, n in zip(heads, (3, 4), strict=True)] == [1, 1]
        assert b"X-Odd: a\tb caf\xc3\xa9\r\n" in heads[0]


# ---- response heads: one block, decoded when read


async def test_headers_are_a_case_insensitive_multidict_when_read(client: FastHttpClient) -> None:
    reply = (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Multi: a\r\nx-multi:   b\r\n"
        b"Retry-After:\t7\r\nX-Bytes: caf\xc3\xa9 \xff\r\nX-Empty:\r\n\r\nok"
    )
    async with Raw(_replying(reply)) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        headers = resp.headers
        assert isinstance(headers, Mapping) and isinstance(headers, Headers)
        assert headers["retry-after"] == "7" and headers.get("RETRY-AFTER") == "7" and "x-MULTI" in headers
        assert headers.getall("X-Multi") == ["a", "b"] and headers.getone("x-multi") == "a"
        assert headers.get("nope") is None and headers.getall("nope", []) == []
        assert list(headers.items()) == [
            ("Content-Length", "2"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
            ("Retry-After", "7"),
            ("X-Bytes", "caf\u00e9 \udcff"),  # as aiohttp: UTF-8, the rest surrogate-escaped
            ("X-Empty", ""),
        ]
        assert len(headers) == 6 and dict(headers)["X-Multi"] == "a"
        assert CIMultiDict(headers) == CIMultiDict(headers.items()) and headers == CIMultiDict(
            headers.items()
        )
        assert resp.headers is headers
        assert await read_body(resp) == b"ok"


async def test_heads_split_interleaved_with_1xx_or_after_empty_lines(client: FastHttpClient) -> None:
    whole = (
        b"\r\nHTTP/1.1 100 Continue\r\nX-Early: 1\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nCONTENT-ENCODING: GZIP\r\nContent-Length: %d\r\nX-Late: 2\r\n\r\n"
    )
    body = gzip.compress(b"hello there")
    reply = whole % len(body) + body

    async def bytewise(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            for i in range(0, len(reply), 7):  # the head in many pieces
                writer.write(reply[i : i + 7])
                await writer.drain()
                await asyncio.sleep(0)

    async with Raw(bytewise) as raw:
        for _ in range(2):
            resp = await client.request("GET", raw.url, headers={}, body=None)
            assert resp.status == 200
            assert dict(resp.headers.items()) == {
                "CONTENT-ENCODING": "GZIP",
                "Content-Length": str(len(body)),
                "X-Late": "2",
            }
            assert await read_body(resp) == b"hello there"
        assert raw.connections == 1


async def test_any_line_ends_before_a_status_line_are_skipped(client: FastHttpClient) -> None:
    reply = (
        b"\n\r\r\nHTTP/1.1 200 OK\r\nX-A: 1\r\nContent-Length: 2\r\n\r\nok"  # llhttp skips CR and LF alike
    )
    async with Raw(_replying(reply)) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        assert resp.status == 200 and dict(resp.headers.items()) == {"X-A": "1", "Content-Length": "2"}
        assert await read_body(resp) == b"ok"


async def test_an_answer_nobody_asked_for_in_the_same_read_is_not_glued_on(client: FastHttpClient) -> None:
    async with Raw(_replying(answer(b"ok") + answer(b"extra"))) as raw:
        assert await get(client, raw.url) == (200, b"ok")
        assert client.idle_count(raw.url) == 0  # its parser stopped inside the stray answer
        assert await get(client, raw.url) == (200, b"ok")
        assert raw.connections == 2


async def test_unframed_answer_without_headers_ends_with_the_connection(client: FastHttpClient) -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\n\r\nall of it")
        await writer.drain()
        writer.close()

    async with Raw(handler) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        assert len(resp.headers) == 0
        assert await read_body(resp) == b"all of it"
        assert client.idle_count(raw.url) == 0


async def test_one_parser_reads_a_connections_answers_and_a_head_gets_its_own(client: FastHttpClient) -> None:
    replies = [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n",
        answer(b"two"),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",  # HEAD: the announced body never comes
        b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"four"),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        answer(b"six"),
    ]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for reply in replies:
            await read_request(reader)
            writer.write(reply)
            await writer.drain()
        await reader.read()

    parsers = []
    async with Raw(handler) as raw:
        for method, want in (
            ("GET", b"one"),
            ("GET", b"two"),
            ("HEAD", b""),
            ("GET", b"four"),
            ("GET", b""),
            ("GET", b"six"),
        ):
            resp = await client.request(method, raw.url, headers={}, body=None)
            assert resp._conn is not None
            parsers.append(resp._conn.parser)
            assert await read_body(resp) == want
        assert raw.connections == 1
    # kept from one answer to the next; a new one for the HEAD answer, and after it
    assert parsers[0] is parsers[1] and parsers[3] is parsers[4] is parsers[5]
    assert len({id(parsers[1]), id(parsers[2]), id(parsers[3])}) == 3


# ---- timers: one per connection, moved only when a deadline comes sooner


async def test_first_byte_limit_on_a_reused_connection() -> None:
    delays = [0.0, 0.25, 0.0, 5.0]

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(delays.pop(0))
            writer.write(answer(b"ok"))
            await writer.drain()

    client = FastHttpClient(first_byte_timeout=0.4)
    try:
        async with Raw(handler) as raw:
            loop = asyncio.get_running_loop()
            assert await read_body(await client.request("GET", raw.url, headers={}, body=None)) == b"ok"
            await asyncio.sleep(0.2)  # the timer set for the first request fires while the second waits
            assert await read_body(await client.request("GET", raw.url, headers={}, body=None)) == b"ok"
            assert await read_body(await client.request("GET", raw.url, headers={}, body=None)) == b"ok"
            client.first_byte_timeout = 0.1  # a reload: a sooner deadline moves the timer
            started = loop.time()
            with pytest.raises(UpstreamNetworkError) as err:
                await client.request("GET", raw.url, headers={}, body=None)
            assert err.value.status == 504 and loop.time() - started < 0.35
            assert raw.connections == 1
    finally:
        await client.close()


async def test_keepalive_counts_from_the_last_use() -> None:
    async with Raw(_replying(answer(b"ok"))) as raw:
        client = FastHttpClient(keepalive=0.3)
        try:
            await read_body(await client.request("GET", raw.url, headers={}, body=None))
            await asyncio.sleep(0.2)
            await read_body(await client.request("GET", raw.url, headers={}, body=None))
            await asyncio.sleep(0.2)  # 0.4 after the first use, 0.2 after the last: still pooled
            assert client.idle_count(raw.url) == 1
            await asyncio.sleep(0.25)
            assert client.idle_count(raw.url) == 0 and not client._live
            assert raw.connections == 1
        finally:
            await client.close()


async def test_an_answer_released_whole_while_paused_leaves_a_reading_connection(
    client: FastHttpClient,
) -> None:
    big = answer(b"x" * (HIGH_WATER + 1))
    async with Raw(_replying(big)) as raw:
        resp = await client.request("GET", raw.url, headers={}, body=None)
        conn = resp._conn
        for _ in range(100):
            await asyncio.sleep(0.01)
            if conn is not None and conn.complete:
                break
        assert conn is not None and conn.complete and conn.paused
        resp.release()  # in whole, unread: pooled
        assert client.idle_count(raw.url) == 1
        async with asyncio.timeout(1.5):
            assert (
                len(await read_body(await client.request("GET", raw.url, headers={}, body=None))) > HIGH_WATER
            )
        assert raw.connections == 1


# ---- through the proxy: a reload changes what the precomputed parts say


async def test_reload_changes_the_compat_key_base_and_headers(start_proxy, fakes: Fakes) -> None:
    def config(base: str, key: str, team: str) -> str:
        return f"""
api-keys: ["sk-client"]
openai-compatibility:
  - name: up
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "{key}"}}]
    headers: {{X-Team: "{team}"}}
    models: [{{name: gpt-4o-mini, alias: m}}]
"""

    proxy = await start_proxy(config(fakes.openai.base_url, "sk-one", "a"))

    async def ask() -> None:
        async with (
            aiohttp.ClientSession() as s,
            s.post(
                proxy.url + "/v1/chat/completions",
                json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                headers={"Authorization": "Bearer sk-client"},
            ) as r,
        ):
            assert r.status == 200, await r.text()

    await ask()
    first = fakes.openai.last
    assert first.headers["Authorization"] == "Bearer sk-one" and first.headers["X-Team"] == "a"
    text = proxy.config_path.read_text()
    proxy.config_path.write_text(
        text.replace(
            config(fakes.openai.base_url, "sk-one", "a"), config(fakes.responses.base_url, "sk-two", "b")
        )
    )
    proxy.service.apply(load_or_default(proxy.config_path)[0])
    await ask()
    moved = fakes.responses.last
    assert moved.headers["Authorization"] == "Bearer sk-two" and moved.headers["X-Team"] == "b"
    assert len(fakes.openai.requests) == 1


def _replying(reply: bytes):  # type: ignore[no-untyped-def]
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(reply)
            await writer.drain()

    return handler


def test_a_name_again_in_another_case_is_one_header() -> None:
    """A header named again in another case (a credential's ``headers:`` over a provider's
    own) takes the first one's place with its value, as aiohttp sends such a dict; the same
    name twice in a multidict stays twice, and a second Content-Length is not sent."""
    headers = {"Accept": "text/event-stream", "X-A": "1", "accept": "application/json", "content-length": "9"}
    head = head_bytes("POST", "/v1/responses", "h", {**headers, "Content-Length": "1"}, b"abc").decode()
    assert head.split("\r\n")[1:5] == ["Host: h", "accept: application/json", "X-A: 1", "content-length: 3"]
    assert head.lower().count("accept:") == 1 and head.lower().count("content-length:") == 1
    twice = CIMultiDict([("X-B", "1"), ("X-B", "2")])
    assert head_bytes("GET", "/", "h", twice, None).decode().count("X-B: ") == 2
