"""A Chat client's Claude tool loop with thinking, its turns on two cliproxy services that
share one real Redis (translate/replay_shared.py), through the OpenAI SDK:

* a loop going A, B, A gets back on A the signed thinking of the step B recorded;
* a restore the upstream refused (400) on A is not restored on B either.

Before, a worker that held the session never read Redis again: A sent its own stale copy
(the first step's thinking only), and B kept restoring what Claude had refused."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_shared_state import shared
from tests.e2e.test_thinking_tool_loop import PROMPT, chat_turn, config, second_turn
from tests.fakes.claude import issue_signature, signature_ok
from tests.fakes.server import Behavior


def _thinking(proxy: Any) -> Any:
    return proxy.service.pipeline.thinking_replay


async def _until(check: Any, seconds: float = 2.0) -> None:
    """Until ``check()`` holds or ``seconds`` went by (a change reaches Redis and the other
    workers off the request path, as a client's next turn comes after its tool ran)."""
    for _ in range(int(seconds / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)


async def _copied(proxy: Any) -> None:
    """Until the session is in Redis (A copies each turn there off the request path)."""
    redis = proxy.service.state.client
    for _ in range(200):
        if [k async for k in redis.scan_iter(match="e2e:rp|*")]:
            return
        await asyncio.sleep(0.01)


def _step_two() -> dict[str, Any]:
    """Claude's answer to turn 2: more signed thinking and another tool call."""
    return {
        "id": "msg_step_two",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [
            {
                "type": "thinking",
                "thinking": "now list it",
                "signature": issue_signature("claude-sonnet-4-6"),
            },
            {"type": "tool_use", "id": "toolu_step_two", "name": "bash", "input": {"command": "ls"}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _then(messages: list[Any], answer: Any) -> list[Any]:
    """``messages`` followed by ``answer``'s tool calls and their result."""
    msg = answer.choices[0].message
    assert answer.choices[0].finish_reason == "tool_calls" and msg.tool_calls
    calls = [
        {
            "id": c.id,
            "type": "function",
            "function": {"name": c.function.name, "arguments": c.function.arguments},
        }
        for c in msg.tool_calls
    ]
    return [
        *messages,
        {"role": "assistant", "content": msg.content, "tool_calls": calls},
        {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "FAKE_TOOL_OK"},
    ]


@pytest.fixture
async def pair(start_proxy: Any, fakes: Any, redis_server: Any) -> tuple[Any, Any]:
    text = config(fakes) + shared(redis_server)
    return await start_proxy(text), await start_proxy(text)


async def test_a_third_turn_back_on_a_gets_the_thinking_b_recorded(pair: Any, fakes: Any) -> None:
    a, b = pair
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], False)
        await _copied(b)
        answer = _step_two()
        fakes.claude.script(Behavior(status=200, body=answer))
        loop = second_turn(first)
        second = await chat_turn(on_b, loop, False)  # B restores A's step and records its own
        sent = fakes.claude.last.json["messages"]
        assert sent[1]["content"][0]["type"] == "thinking"
        await _until(lambda: len(_thinking(a)) == 0)  # B's change told to A
        await chat_turn(on_a, _then(loop, second), False)
    sent = fakes.claude.last.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
    assert sent[1]["content"][0]["type"] == "thinking" and signature_ok(sent[1]["content"][0]["signature"])
    step_two = sent[3]["content"]
    assert step_two[0] == answer["content"][0], "A sent its stale copy without B's step"
    assert step_two[1]["id"] == "toolu_step_two"


async def test_a_refusal_on_a_is_not_restored_on_b(pair: Any, fakes: Any) -> None:
    """CPA forgets a session's turns when the upstream refuses a request they were
    restored into (400/422); B, which fetched them for its own turn, must forget them too."""
    a, b = pair
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], False)
        loop = second_turn(first)
        await _copied(b)
        await chat_turn(on_b, loop, False)  # B fetched and holds the turn
        assert fakes.claude.last.json["messages"][1]["content"][0]["type"] == "thinking"
        assert len(_thinking(b)) == 1
        fakes.claude.fail_next(400, message="refused the restored thinking")
        with pytest.raises(openai.BadRequestError):
            await chat_turn(on_a, loop, False)
        assert fakes.claude.last.json["messages"][1]["content"][0]["type"] == "thinking"  # restored on A
        await _until(lambda: len(_thinking(b)) == 0)
        await chat_turn(on_b, loop, False)
    sent = fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive"
    assert [blk["type"] for blk in sent["messages"][1]["content"]] == ["tool_use"], "B restored it again"
