"""A translated stream is accounted with the usage its upstream reported, whether or not the
client's format carries it: a Chat Completions client gets a usage chunk only when it asks
``stream_options.include_usage`` (old Codex never does), yet the counters, the ledger and a
key's budget must see the tokens the upstream said were used."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY

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
