"""An upstream that streams one endless SSE line (a malicious or broken
openai-compatibility server): the proxy must not buffer it without bound. Past
``formats.sse.MAX_EVENT_BYTES`` (64 MiB; CPA's scanners stop at 50 MB a line) held for one
unfinished event, the stream fails as an upstream error: a 502 in the client's format
before the first byte, an in-format error event after it; an answer read whole stops at
``providers.transport.MAX_ANSWER_BYTES`` (256 MiB). The tests patch the bounds down to
256 KiB and 1 MiB rather than send that much.

Before, the proxy read and kept everything the upstream sent (here, the fake's whole
32 MiB, and in production until memory ran out)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from aiohttp import web

import cliproxy.formats.sse as sse
import cliproxy.providers.transport as transport
from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer

BOUND = 256 << 10
PIECE = b"x" * (64 << 10)
LIMIT = 32 << 20  # what the fake sends at most (then it ends its body)
MESSAGES: Any = [{"role": "user", "content": "hi"}]


def _chat(delta: dict[str, Any]) -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "up-model"}
    return b"data: " + orjson.dumps({**chunk, "choices": [{"index": 0, "delta": delta}]}) + b"\n\n"


class Endless(LocalServer):
    """Chat Completions upstream: ``head`` (whole frames), then ``data: {"`` and a line of
    ``x`` with no end, until :data:`LIMIT` bytes or the proxy goes away. ``sent``: the
    bytes written of the last answer."""

    def __init__(self) -> None:
        self.head = b""
        self.sent = 0
        self.done = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._stream)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        streamed = (await request.json()).get("stream") is True
        self.sent, self.done = 0, asyncio.Event()
        kind = "text/event-stream" if streamed else "application/json"
        resp = web.StreamResponse(headers={"Content-Type": kind})
        await resp.prepare(request)
        try:
            if streamed:
                await resp.write(self.head + b'data: {"choices":[{"delta":{"content":"')
            else:  # a whole answer that never ends
                await resp.write(b'{"id":"c1","object":"chat.completion","choices":[{"message":{"content":"')
            while self.sent < LIMIT:
                await resp.write(PIECE)
                self.sent += len(PIECE)
            await resp.write_eof()
        except (ConnectionError, RuntimeError):  # the proxy stopped reading and closed
            pass
        finally:
            self.done.set()
        return resp


@pytest.fixture
async def upstream() -> AsyncIterator[Endless]:
    async with Endless() as server:
        yield server


@pytest.fixture(params=["fast", "aiohttp"])
async def proxy(start_proxy: Any, upstream: Endless, monkeypatch: pytest.MonkeyPatch, request: Any) -> Any:
    """The proxy with either upstream HTTP client (``upstream-http``: its own, or aiohttp's,
    which also serves requests through a proxy)."""
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", BOUND)
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 4 * BOUND)
    return await start_proxy(
        f"upstream-http: {request.param}\n"
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n    base-url: "{upstream.url}/v1"\n'
        '    api-key-entries: [{api-key: "k-chat"}]\n    models: [{name: "up-model", alias: "chat-model"}]\n'
    )


async def _stopped(upstream: Endless) -> int:
    """What the fake wrote before the proxy stopped reading (or it sent all)."""
    await asyncio.wait_for(upstream.done.wait(), 20)
    return upstream.sent


async def test_an_endless_line_before_any_content_is_a_502(proxy, upstream) -> None:
    """A Chat client of its own format's upstream (the pass-through decodes the stream
    until its first content): the openai SDK gets a 502 in OpenAI's error shape."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=20) as oai:
        with pytest.raises(openai.APIStatusError) as err:
            await oai.chat.completions.create(model="chat-model", messages=MESSAGES, stream=True)
    assert err.value.status_code == 502
    assert "without its end" in str(err.value)
    assert await _stopped(upstream) < LIMIT // 2  # before: all 32 MiB read and held


async def test_an_endless_line_after_content_is_an_error_event(proxy, upstream) -> None:
    """A Claude client of the compat upstream (translated): the text so far, then the
    stream ends with Anthropic's error event, which the anthropic SDK raises."""
    upstream.head = _chat({"role": "assistant", "content": ""}) + _chat({"content": "Hello"})
    text = ""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=20) as ant:
        with pytest.raises(anthropic.APIStatusError) as err:
            async with ant.messages.stream(model="chat-model", max_tokens=16, messages=MESSAGES) as s:
                async for piece in s.text_stream:
                    text += piece
    assert text == "Hello"
    assert "without its end" in str(err.value)
    assert await _stopped(upstream) < LIMIT // 2


async def test_a_chat_pass_through_ends_with_an_error_chunk(proxy, upstream) -> None:
    """A Chat client of its own format's upstream, once the answer began: the proxy holds
    a line until its end to take out the usage chunk the client did not ask for, so an
    endless line fails the stream there (the openai SDK raises with the proxy's error
    after the text)."""
    upstream.head = _chat({"role": "assistant", "content": ""}) + _chat({"content": "Hello"})
    text = ""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=20) as oai:
        with pytest.raises(openai.APIError) as err:
            stream = await oai.chat.completions.create(model="chat-model", messages=MESSAGES, stream=True)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
    assert text == "Hello"
    assert "without its end" in str(err.value)
    assert await _stopped(upstream) < LIMIT // 2


async def test_a_responses_client_gets_its_failed_event(proxy, upstream) -> None:
    """The same through the Responses translation, read as raw SSE: ``response.failed``
    (or an ``error`` event) naming the cause, after the text."""
    upstream.head = _chat({"role": "assistant", "content": ""}) + _chat({"content": "Hello"})
    body = {"model": "chat-model", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as s,
        s.post(proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        data = await r.read()
    assert r.status == 200
    assert b"Hello" in data and b"without its end" in data, data[-400:]
    assert await _stopped(upstream) < LIMIT // 2


async def test_a_whole_answer_without_end_is_a_502(proxy, upstream) -> None:
    """Not streamed: an answer read whole is bounded too (``MAX_ANSWER_BYTES``, 256 MiB;
    1 MiB here), a broken read past it (502 in the client's format)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=20) as oai:
        with pytest.raises(openai.APIStatusError) as err:
            await oai.chat.completions.create(model="chat-model", messages=MESSAGES)
    assert err.value.status_code == 502
    assert await _stopped(upstream) < LIMIT // 2  # before: all 32 MiB read and held


def test_the_decoder_bound_counts_only_an_unfinished_event(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whole events of any total size pass; one unfinished event past the bound raises
    (also one made of many ``data:`` lines with no blank line), and a later decoder starts
    from nothing."""
    monkeypatch.setattr(sse, "MAX_EVENT_BYTES", 1000)
    decoder = sse.SSEDecoder()
    for _ in range(50):
        assert len(decoder.decode(b"data: " + b"y" * 600 + b"\n\n")) == 1
    decoder.decode(b"data: " + b"y" * 600)
    decoder.decode(b"y" * 300)
    with pytest.raises(sse.EventTooLarge) as err:
        decoder.decode(b"y" * 200)
    assert err.value.status == 502
    lines = sse.SSEDecoder()
    with pytest.raises(sse.EventTooLarge):
        for _ in range(200):
            lines.decode(b"data: zz\n")
