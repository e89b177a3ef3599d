"""An upstream that writes its token counts as JSON strings ("input_tokens": "12": some
gateways and proxies in front of Anthropic and Google re-encode numbers so) is read as
the numbers they spell, as CPA reads them (gjson's ``Int`` parses a string). Before, a
Claude or Gemini upstream's string counts made a translated client's answer a 500
"internal error" (``TypeError`` adding a str to an int while reading the usage), whole or
streamed; a count that spells no number counts 0 and the answer still goes out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import openai
import orjson
import pytest

from tests.e2e.chaos_upstream import RawRequest, RawUpstream, head, proxy_config
from tests.e2e.clients import KEY


def _claude_whole(usage: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [{"type": "text", "text": "hello"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
    )


def _claude_stream(usage: dict[str, Any], out: Any) -> bytes:
    start = {
        "type": "message_start",
        "message": {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "up-model",
            "content": [],
            "stop_reason": None,
            "usage": usage,
        },
    }
    events = [
        ("message_start", start),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hello"}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "message_delta",
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": out}},
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    return b"".join(b"event: " + e.encode() + b"\ndata: " + orjson.dumps(d) + b"\n\n" for e, d in events)


def _gemini(meta: dict[str, Any], stream: bool) -> bytes:
    chunk = {
        "candidates": [
            {"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP", "index": 0}
        ],
        "usageMetadata": meta,
        "modelVersion": "up-model",
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n" if stream else orjson.dumps(chunk)


class Upstream(RawUpstream):
    def __init__(self) -> None:
        super().__init__(self._script)
        self.claude_usage: dict[str, Any] = {}
        self.claude_out: Any = "0"
        self.gemini_meta: dict[str, Any] = {}

    async def _script(self, req: RawRequest, writer: Any) -> bool:
        stream = req.stream
        if "generateContent" in req.path or "GenerateContent" in req.path:
            body = _gemini(self.gemini_meta, stream)
        elif stream:
            body = _claude_stream(self.claude_usage, self.claude_out)
        else:
            body = _claude_whole({**self.claude_usage, "output_tokens": self.claude_out})
        kind = "text/event-stream" if stream else "application/json"
        writer.write(head(200, {"Content-Type": kind, "Content-Length": str(len(body))}) + body)
        await writer.drain()
        return True


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    async with Upstream() as up:
        yield up


async def _chat(proxy: Any, model: str, stream: bool) -> tuple[str, Any]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        messages: Any = [{"role": "user", "content": "hi"}]
        if not stream:
            done = await sdk.chat.completions.create(model=model, messages=messages, max_tokens=20)
            return done.choices[0].message.content or "", done.usage
        text, usage = "", None
        chunks = await sdk.chat.completions.create(
            model=model, messages=messages, max_tokens=20, stream=True, stream_options={"include_usage": True}
        )
        async for chunk in chunks:
            if chunk.choices and chunk.choices[0].delta.content:
                text += chunk.choices[0].delta.content
            if chunk.usage is not None:
                usage = chunk.usage
        return text, usage


@pytest.mark.parametrize("stream", [False, True])
async def test_claude_counts_as_strings_are_read_as_numbers(start_proxy, upstream, stream) -> None:
    upstream.claude_usage = {
        "input_tokens": "12",
        "cache_read_input_tokens": "3",
        "cache_creation_input_tokens": "2",
    }
    upstream.claude_out = "7"
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    text, usage = await _chat(proxy, "claude-model", stream)
    assert text == "hello"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (17, 7)
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_gemini_counts_as_strings_are_read_as_numbers(start_proxy, upstream, stream) -> None:
    upstream.gemini_meta = {
        "promptTokenCount": "11",
        "candidatesTokenCount": "5",
        "thoughtsTokenCount": "2",
        "cachedContentTokenCount": "4",
        "totalTokenCount": "18",
    }
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    text, usage = await _chat(proxy, "gemini-model", stream)
    assert text == "hello"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (11, 7, 18)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_count_that_spells_no_number_counts_zero(start_proxy, upstream, stream) -> None:
    upstream.claude_usage = {"input_tokens": "many", "cache_read_input_tokens": None}
    upstream.claude_out = [1]
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    text, usage = await _chat(proxy, "claude-model", stream)
    assert text == "hello"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (0, 0)
