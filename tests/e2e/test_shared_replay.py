"""The thinking replay cache shared by two cliproxy services on one real Redis: a Chat
client's tool loop whose first turn went through A and whose second lands on B still gets
its signed thinking restored. Without the shared backend the same split reaches Claude
without its thinking: the control."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_shared_state import shared
from tests.e2e.test_thinking_tool_loop import (
    PROMPT,
    assert_signed_before_tool_use,
    chat_turn,
    config,
    second_turn,
    upstream_turn,
)
from tests.fakes.claude import signature_ok


async def _split_loop(a: Any, b: Any, stream: bool) -> Any:
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], stream)
        redis = b.service.state.client
        for _ in range(100):  # A copies the turn to Redis off the request path (a task)
            if [k async for k in redis.scan_iter(match="e2e:rp|*")]:
                break
            await asyncio.sleep(0.02)
        return await chat_turn(on_b, second_turn(first), stream)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_turn_two_on_another_worker_is_restored(start_proxy, fakes, redis_server, stream) -> None:
    text = config(fakes) + shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    second = await _split_loop(a, b, stream)
    assert second.choices[0].message.content == "Tool result received: FAKE_TOOL_OK"
    blocks = upstream_turn(fakes)
    assert_signed_before_tool_use(blocks)
    assert signature_ok(blocks[0]["signature"])
    keys = [k async for k in b.service.state.client.scan_iter(match="e2e:rp|*")]
    assert len(keys) == 1  # one session, hashed (no session id or caller key in the name)


async def test_without_the_shared_backend_the_split_turn_goes_without_thinking(start_proxy, fakes) -> None:
    """Control: two memory-backed processes; B holds nothing to restore, so its turn reaches
    Claude starting with ``tool_use`` (under this model's adaptive thinking Anthropic takes
    that; with manual thinking the request would go with thinking off, see
    tests/e2e/test_translated_loop_thinking.py)."""
    a, b = await start_proxy(config(fakes)), await start_proxy(config(fakes))
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], False)
        await chat_turn(on_b, second_turn(first), False)
    sent = fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive"
    assert [b["type"] for b in sent["messages"][1]["content"]] == ["tool_use"]


async def test_a_refused_restore_is_forgotten_everywhere(start_proxy, fakes, redis_server) -> None:
    """CPA drops a session's turns when the upstream refuses a request they were restored
    into (400/422); the copy in Redis goes with it, and so does the copy B fetched for its
    own turn, so no worker restores it again (the whole loop with a real refusal:
    tests/e2e/test_replayfix_loop.py)."""
    text = config(fakes) + shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    await _split_loop(a, b, False)
    client = b.service.state.client
    assert [k async for k in client.scan_iter(match="e2e:rp|*")]
    held = b.service.pipeline.thinking_replay
    assert len(held) == 1  # B fetched the session for its turn
    cache = a.service.pipeline.thinking_replay
    family_session = next(iter(cache._entries._data))
    _, family, session = family_session.split("\x00")
    cache.delete(family, session)
    for _ in range(50):
        if not [k async for k in client.scan_iter(match="e2e:rp|*")] and not len(held):
            break
        await asyncio.sleep(0.02)
    assert not [k async for k in client.scan_iter(match="e2e:rp|*")]
    assert not held.get(family, session)  # B's copy went too
