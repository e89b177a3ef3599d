"""An answer is accounted with the usage its upstream reported, whether or not the client's
format carries it: a Chat Completions client gets a usage chunk only when it asks
``stream_options.include_usage`` (old Codex never does), and Anthropic's usage has no
reasoning tokens, yet the counters, the ledger and a key's budget must see the tokens the
upstream said were used."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

PROMPT = [{"role": "user", "content": "tell me a story about a lighthouse"}]


def _tokens(proxy: Any) -> tuple[int, int]:
    counters = recorder_of(proxy.service).stats.counters.by_key.values()
    return sum(c.input_tokens for c in counters), sum(c.output_tokens for c in counters)


async def _accounted(proxy: Any, before: tuple[int, int]) -> tuple[int, int]:
    for _ in range(100):  # accounted once the stream has ended, right after its last write
        now = _tokens(proxy)
        if now != before:
            return now[0] - before[0], now[1] - before[1]
        await asyncio.sleep(0.01)
    return 0, 0


@pytest.mark.parametrize("model", ["compat-model", "claude-model", "codex-model", "gemini-model"])
async def test_a_chat_stream_is_accounted_with_or_without_a_usage_chunk(matrix, model):
    """Translated, the usage is the one the decoder read; passed through (an
    OpenAI-compatible upstream), the upstream is asked for the usage chunk all the same
    (as CPA asks it) and the chunk is taken out of the stream of a client that did not."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        before = _tokens(matrix)
        stream = await client.chat.completions.create(
            model=model, messages=PROMPT, stream=True, stream_options={"include_usage": True}
        )
        seen = [c.usage async for c in stream if c.usage is not None]
        assert len(seen) == 1 and seen[0].prompt_tokens > 0 and seen[0].completion_tokens > 0
        told = (seen[0].prompt_tokens, seen[0].completion_tokens)
        assert await _accounted(matrix, before) == told  # what the client was told

        before = _tokens(matrix)
        stream = await client.chat.completions.create(model=model, messages=PROMPT, stream=True)
        chunks = [c async for c in stream]
        assert all(c.usage is None and c.choices for c in chunks)  # no usage chunk for this client
        assert "".join(c.choices[0].delta.content or "" for c in chunks)
        assert chunks[-1].choices[0].finish_reason == "stop"
        assert await _accounted(matrix, before) == told  # and the same tokens accounted
    if model == "compat-model":
        sent = matrix.fakes.openai.last.json
        assert sent["stream_options"] == {"include_usage": True}


async def test_a_translated_whole_answer_is_accounted_with_what_the_client_format_cannot_say(matrix):
    """A Claude upstream reports cache writes; a Gemini client's ``usageMetadata`` has no
    place for them, but the accounting has: it reads the upstream's answer, not the
    client's."""
    answer = {
        "id": "msg_cache",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {
            "input_tokens": 12,
            "cache_creation_input_tokens": 20,
            "cache_read_input_tokens": 8,
            "output_tokens": 30,
        },
    }
    matrix.fakes.claude.script(Behavior(status=200, body=answer))
    client = genai.Client(api_key=KEY, http_options=gtypes.HttpOptions(base_url=matrix.url))
    got = await client.aio.models.generate_content(model="claude-model", contents="hi")
    meta = got.usage_metadata
    assert meta is not None and meta.prompt_token_count == 40 and meta.cached_content_token_count == 8
    for _ in range(100):
        counters = list(recorder_of(matrix.service).stats.counters.by_key.values())
        if counters and sum(c.success for c in counters):
            break
        await asyncio.sleep(0.01)
    assert sum(c.input_tokens for c in counters) == 40
    assert sum(c.cached_tokens for c in counters) == 8
    assert sum(c.cache_creation_tokens for c in counters) == 20  # not in the client's answer
    assert sum(c.output_tokens for c in counters) == 30
