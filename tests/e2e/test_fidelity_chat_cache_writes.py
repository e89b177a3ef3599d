"""Cache writes reach a Chat Completions client where the openai SDK reads them.

OpenAI's Chat Completions usage names prompt tokens written to the cache
``prompt_tokens_details.cache_write_tokens`` (the openai SDK's ``PromptTokensDetails``
field). A Claude upstream reports them as ``cache_creation_input_tokens``; a Chat client
now reads them in OpenAI's field, whole and streamed (``stream_options.include_usage``).
CPA's name, ``cached_creation_tokens`` (claude_openai_response.go), is still written next to
it for readers of CPA's output. Before, only CPA's name was written: the SDK's field was
``None`` and the count reachable only as an unknown extra.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.fid_upstream import Scene, ScriptedUpstream, Use, config


@pytest.fixture
async def up():
    async with ScriptedUpstream() as u:
        u.scene = Scene(text="ok", use=Use(input=100, cached=20, cache_write=50, output=10, reasoning=0))
        yield u


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_reads_claude_cache_writes(
    start_proxy: Any, up: ScriptedUpstream, stream: bool
) -> None:
    proxy = await start_proxy(config(up.url, KEY))
    kwargs: Any = {"model": "up-claude", "messages": [{"role": "user", "content": "hi"}]}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as c:
        if stream:
            async with c.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
                done = await s.get_final_completion()
        else:
            done = await c.chat.completions.create(**kwargs)
    u = done.usage
    assert u is not None and u.prompt_tokens_details is not None
    assert u.prompt_tokens == 100  # 30 fresh + 20 read + 50 written
    assert u.prompt_tokens_details.cached_tokens == 20
    assert u.prompt_tokens_details.cache_write_tokens == 50
    assert (u.prompt_tokens_details.model_extra or {}).get("cached_creation_tokens") == 50  # CPA's name


async def test_no_cache_writes_no_field(start_proxy: Any, up: ScriptedUpstream) -> None:
    up.scene = Scene(text="ok", use=Use(input=100, cached=20, cache_write=0, output=10, reasoning=0))
    proxy = await start_proxy(config(up.url, KEY))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as c:
        done = await c.chat.completions.create(
            model="up-claude", messages=[{"role": "user", "content": "hi"}]
        )
    assert done.usage is not None and done.usage.prompt_tokens_details is not None
    assert done.usage.prompt_tokens_details.cache_write_tokens is None
