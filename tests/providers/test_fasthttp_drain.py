"""A stream the proxy ends at ``[DONE]`` before its upstream's body ended (the terminal
chunk in a read of its own, often a few milliseconds later): the upstream connection
finishes that body and goes back to the pool (``FastResponse.expect_end``), within a bound.

Not a CPA case: CPA's scanner also stops at ``[DONE]`` and closes the body, and Go's
transport then drops the connection unless the terminal chunk was already buffered. We
keep it: a new TCP (and TLS) handshake per stream is a cost every streaming user pays."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest

from cliproxy.providers.fasthttp import FastHttpClient
from tests.providers.test_fasthttp import Raw, read_request

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


def _event(delta: dict[str, str], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    obj = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o-mini",
        "choices": [choice],
    }
    return b"data: " + orjson.dumps(obj) + b"\n\n"


# the whole answer up to [DONE]; the terminal chunk is the test's to send
FIRST = HEAD + _chunk(_event({"role": "assistant", "content": "hello"}))
REST = _chunk(_event({}, "stop")) + _chunk(b"data: [DONE]\n\n")


def _config(url: str) -> str:
    return f"""
api-keys: ["sk-client"]
openai-compatibility:
  - name: raw
    base-url: "{url}/v1"
    api-key-entries: [{{api-key: "sk-up"}}]
    models: [{{name: gpt-4o-mini, alias: compat-model}}]
"""


async def _stream(sdk: openai.AsyncOpenAI, first: asyncio.Event | None = None) -> str:
    """The text of a stream; ``first`` set once its first content came."""
    stream = await sdk.chat.completions.create(
        model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    text = ""
    async for c in stream:
        text += (c.choices[0].delta.content or "") if c.choices else ""
        if first is not None and text:
            first.set()
    return text


async def _until(check: object, seconds: float = 2.0) -> bool:
    """``check()`` turned true within ``seconds`` (polled)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not check():  # type: ignore[operator]
        if loop.time() >= end:
            return False
        await asyncio.sleep(0.005)
    return True


@pytest.mark.parametrize("split", [False, True], ids=["done-in-first-read", "done-in-later-read"])
async def test_a_stream_ended_at_done_pools_its_connection_once_the_body_ends(
    start_proxy, split: bool
) -> None:
    """The client's stream ends at ``[DONE]`` at once, while the upstream's terminal chunk
    is held back; once it comes, the connection is back in the pool and the next stream
    reuses it. Before, the proxy closed the connection at ``[DONE]``: one new upstream
    connection per stream whenever the terminal chunk came in a read of its own. ``split``:
    ``[DONE]`` comes after the client got its first content (the stream pushed from the
    connection's reads), else with the head (read before the stream is handed on)."""
    terminal, more = asyncio.Event(), asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await read_request(reader):
            if split:
                writer.write(FIRST)
                await asyncio.wait_for(more.wait(), 5)
                more.clear()
                writer.write(REST)
            else:
                writer.write(FIRST + REST)
            await asyncio.wait_for(terminal.wait(), 5)
            terminal.clear()
            writer.write(b"0\r\n\r\n")

    async with Raw(handler) as raw:
        proxy = await start_proxy(_config(raw.url))
        fast = proxy.service.http.fast
        assert isinstance(fast, FastHttpClient)
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0) as sdk:
            for _ in range(2):
                assert await asyncio.wait_for(_stream(sdk, more), 5) == "hello"  # before the body's end
                assert fast.idle_count(raw.url) == 0  # still reading that end
                terminal.set()
                assert await _until(lambda: fast.idle_count(raw.url) == 1)
        assert raw.connections == 1


async def test_a_body_that_goes_on_after_done_closes_its_connection(start_proxy) -> None:
    """The bound: an upstream that does not end its body after ``[DONE]`` within
    ``drain_wait`` has its connection closed (not pooled, not left open); the next stream
    opens a new one."""
    closed = asyncio.Event()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(FIRST + REST)
        await reader.read()  # (b"" once the proxy closed it)
        closed.set()
        await asyncio.sleep(5)  # the Raw server cancels it

    async with Raw(handler) as raw:
        proxy = await start_proxy(_config(raw.url))
        fast = proxy.service.http.fast
        assert isinstance(fast, FastHttpClient)
        fast.drain_wait = 0.05
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="sk-client", max_retries=0) as sdk:
            assert await asyncio.wait_for(_stream(sdk), 5) == "hello"
            await asyncio.wait_for(closed.wait(), 2)
            assert fast.idle_count(raw.url) == 0
            assert await asyncio.wait_for(_stream(sdk), 5) == "hello"
        assert raw.connections == 2
