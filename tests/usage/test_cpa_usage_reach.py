"""Usage an upstream spells the way CPA reads but few do reaches the client and the counters,
whole and streamed, through the proxy with the official SDKs.

Two upstreams CPA's usage readers handle (``usage_helpers_test.go``): an
OpenAI-compatible Chat endpoint that writes its usage with the Responses API's names
(``TestParseOpenAIUsageResponses``, ``TestParseOpenAIStreamUsageResponsesFields``) and a
Gemini answer with a tool's prompt counted apart (``toolUsePromptTokenCount``,
``TestParseGeminiUsageIncludesToolUsePromptTokens``). Before, the first was accounted as
zero input and output and the second lost the tool's prompt from the input.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anthropic
import openai
import orjson
import pytest
from aiohttp import web
from google import genai
from google.genai import types as gtypes

from cliproxy.usage import recorder_of
from tests.fakes.local import LocalServer

KEY = "sk-usage-reach-client"
# input 10 of which 7 cached, output 20 of which 9 reasoning
CHAT_USAGE = {
    "input_tokens": 10,
    "output_tokens": 20,
    "total_tokens": 30,
    "input_tokens_details": {"cached_tokens": 7},
    "output_tokens_details": {"reasoning_tokens": 9},
}
# input 10 + a tool's prompt 5, output 2 + thoughts 3
GEMINI_USAGE = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 2,
    "thoughtsTokenCount": 3,
    "toolUsePromptTokenCount": 5,
    "totalTokenCount": 20,
}
Tokens = tuple[int, int, int, int]  # input, output, cache read, reasoning


class OddUsageUpstream(LocalServer):
    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)
        router.add_post("/v1beta/models/{target}", self._gemini)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        base = {"id": "chatcmpl-odd", "created": 1, "model": body.get("model")}
        if not body.get("stream"):
            message = {"role": "assistant", "content": "hello"}
            choice = {"index": 0, "message": message, "finish_reason": "stop"}
            return web.json_response(
                {**base, "object": "chat.completion", "choices": [choice], "usage": CHAT_USAGE}
            )
        chunk = {**base, "object": "chat.completion.chunk"}
        frames = [
            {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hello"}}]},
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {**chunk, "choices": [], "usage": CHAT_USAGE},
        ]
        return await _sse(
            request, [b"data: " + orjson.dumps(f) + b"\n\n" for f in frames] + [b"data: [DONE]\n\n"]
        )

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        content = {"role": "model", "parts": [{"text": "hello"}]}
        final = {
            "candidates": [{"content": content, "finishReason": "STOP", "index": 0}],
            "usageMetadata": GEMINI_USAGE,
            "modelVersion": "gemini-2.5-flash",
        }
        if request.match_info["target"].endswith(":generateContent"):
            return web.json_response(final)
        zero = {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0}
        head = {"candidates": [{"content": content, "index": 0}], "usageMetadata": zero}
        tail = {
            **final,
            "candidates": [{"content": {"role": "model", "parts": [{"text": "!"}]}, "finishReason": "STOP"}],
        }
        return await _sse(request, [b"data: " + orjson.dumps(f) + b"\r\n\r\n" for f in (head, tail)])


async def _sse(request: web.Request, frames: list[bytes]) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for frame in frames:
        await resp.write(frame)
    await resp.write_eof()
    return resp


@pytest.fixture
async def proxy(start_proxy: Any) -> AsyncIterator[Any]:
    async with OddUsageUpstream() as up:
        base = f"http://127.0.0.1:{up.port}"
        yield await start_proxy(
            f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: odd
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: sk-odd}}]
    models: [{{name: odd-model, alias: odd}}]
gemini-api-key:
  - api-key: "g-key"
    base-url: "{base}"
    models: [{{name: gemini-2.5-flash, alias: gem}}]
"""
        )


def _counted(proxy: Any) -> Tokens:
    counters = recorder_of(proxy.service).stats.counters.by_key.values()
    return (
        sum(c.input_tokens for c in counters),
        sum(c.output_tokens for c in counters),
        sum(c.cached_tokens for c in counters),
        sum(c.reasoning_tokens for c in counters),
    )


async def _accounted(proxy: Any, before: Tokens) -> Tokens:
    for _ in range(200):  # accounted right after the answer's last write
        now = _counted(proxy)
        if now != before:
            return tuple(a - b for a, b in zip(now, before, strict=True))  # type: ignore[return-value]
        await asyncio.sleep(0.01)
    return (0, 0, 0, 0)


CHAT = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_usage_with_responses_names_is_accounted(proxy: Any, stream: bool) -> None:
    """A Chat client passed through to the upstream gets the upstream's usage as it was
    written (CPA does not rewrite a same-format answer either); the counters read it."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        before = _counted(proxy)
        if stream:
            chunks = await client.chat.completions.create(
                model="odd", messages=CHAT, stream=True, stream_options={"include_usage": True}
            )
            assert [c async for c in chunks]
        else:
            await client.chat.completions.create(model="odd", messages=CHAT)
        assert await _accounted(proxy, before) == (10, 20, 7, 9)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_usage_with_responses_names_reaches_a_claude_client(proxy: Any, stream: bool) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        before = _counted(proxy)
        if stream:
            async with client.messages.stream(model="odd", max_tokens=50, messages=CHAT) as s:
                message = await s.get_final_message()
        else:
            message = await client.messages.create(model="odd", max_tokens=50, messages=CHAT)
        u = message.usage
        assert (u.input_tokens, u.cache_read_input_tokens, u.output_tokens) == (3, 7, 20)
        assert await _accounted(proxy, before) == (10, 20, 7, 9)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_usage_with_responses_names_reaches_a_responses_client(proxy: Any, stream: bool) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        before = _counted(proxy)
        if stream:
            events = await client.responses.create(model="odd", input="hi", stream=True)
            done = [e async for e in events if e.type == "response.completed"]
            assert len(done) == 1
            u = done[0].response.usage
        else:
            u = (await client.responses.create(model="odd", input="hi")).usage
        assert u is not None
        assert (u.input_tokens, u.input_tokens_details.cached_tokens) == (10, 7)
        assert (u.output_tokens, u.output_tokens_details.reasoning_tokens, u.total_tokens) == (20, 9, 30)
        assert await _accounted(proxy, before) == (10, 20, 7, 9)


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_tool_prompt_is_input_for_a_gemini_client(proxy: Any, stream: bool) -> None:
    """Passed through, the Gemini client reads Google's own fields; the counters count the
    tool's prompt as input (15), and the stream's zero placeholder does not hide the
    final usage."""
    client = genai.Client(
        api_key=KEY, http_options=gtypes.HttpOptions(base_url=proxy.url, api_version="v1beta")
    )
    before = _counted(proxy)
    if stream:
        chunks = [
            c async for c in await client.aio.models.generate_content_stream(model="gem", contents="hi")
        ]
        meta = chunks[-1].usage_metadata
    else:
        meta = (await client.aio.models.generate_content(model="gem", contents="hi")).usage_metadata
    assert meta is not None and (meta.prompt_token_count, meta.tool_use_prompt_token_count) == (10, 5)
    assert await _accounted(proxy, before) == (15, 5, 0, 3)


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_tool_prompt_is_input_for_a_chat_client(proxy: Any, stream: bool) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        before = _counted(proxy)
        if stream:
            chunks = await client.chat.completions.create(
                model="gem", messages=CHAT, stream=True, stream_options={"include_usage": True}
            )
            usages = [c.usage async for c in chunks if c.usage is not None]
            u = usages[-1]
        else:
            u = (await client.chat.completions.create(model="gem", messages=CHAT)).usage
        assert u is not None and (u.prompt_tokens, u.completion_tokens, u.total_tokens) == (15, 5, 20)
        assert await _accounted(proxy, before) == (15, 5, 0, 3)
