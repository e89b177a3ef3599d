"""A token count no int64 holds ("100000000000000000000000", or 1e30 as a JSON number,
which orjson reads as a float) from a Claude or Gemini upstream: before, 8f43c14's
``count_of`` turned it into a Python int the answer's JSON writer refuses (orjson:
"Integer exceeds 64-bit range"), so the client got a 500 'internal error' (or a stream
cut) in place of its answer. A count past any real one spells no count: 0, as a garbage
string does, and the answer goes out."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.chaos_upstream import proxy_config
from tests.e2e.clients import KEY
from tests.e2e.test_lead_usage_strings import _chat, upstream  # noqa: F401  (the fixture)

_HUGE: list[Any] = ["100000000000000000000000", 1e30]


@pytest.mark.parametrize("huge", _HUGE)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_claude_count_past_int64_is_no_count(start_proxy, upstream, stream, huge) -> None:  # noqa: F811
    upstream.claude_usage = {"input_tokens": huge, "cache_read_input_tokens": "3"}
    upstream.claude_out = "7"
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    text, usage = await _chat(proxy, "claude-model", stream)
    assert text == "hello"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (3, 7)


@pytest.mark.parametrize("huge", _HUGE)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_gemini_count_past_int64_is_no_count(start_proxy, upstream, stream, huge) -> None:  # noqa: F811
    upstream.gemini_meta = {"promptTokenCount": "11", "candidatesTokenCount": huge, "totalTokenCount": "11"}
    proxy = await start_proxy(proxy_config(upstream.url, KEY))
    text, usage = await _chat(proxy, "gemini-model", stream)
    assert text == "hello"
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (11, 0)
