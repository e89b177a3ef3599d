"""Parallel calls answered out of order, through a Gemini upstream.

Gemini's own API names a call by function name only (no id on ``functionCall`` /
``functionResponse``), so two calls of one function are told apart by position: the
``functionResponse`` parts must come in the order of the ``functionCall`` parts. Chat,
Responses and Claude clients pair results by id and may send them in any order (an agent
that runs calls concurrently sends them as they finish). The proxy puts them back in the
calls' order, as CPA's Chat-to-Gemini translator does (it writes one response per call id,
in the calls' order); before, the results went in the client's order and Gemini read
the result of one call as the other's.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import Call, Scene, ScriptedUpstream, config

MODEL = "up-gemini"
# two calls of one function, with no ids (as Gemini 2.5 sends them)
TWO_CALLS = Scene(
    calls=[Call("", "bash", ['{"command": "A"}']), Call("", "bash", ['{"command": "B"}'])],
    stop="tool",
    ids_kept=False,
)


@pytest.fixture
async def up():
    async with ScriptedUpstream() as u:
        yield u


async def _chat(url: str, reverse: bool) -> None:
    tools = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as c:
        msgs: list[Any] = [{"role": "user", "content": "run A and B"}]
        first = (await c.chat.completions.create(model=MODEL, messages=msgs, tools=tools)).choices[0].message
        calls = first.tool_calls or []
        msgs.append(first.model_dump(exclude_none=True))
        for t in calls[::-1] if reverse else calls:
            command = _command(t.function.arguments)
            msgs.append({"role": "tool", "tool_call_id": t.id, "content": f"RESULT-{command}"})
        await c.chat.completions.create(model=MODEL, messages=msgs, tools=tools)


async def _responses(url: str, reverse: bool) -> None:
    tools: Any = [{"type": "function", "name": "bash", "parameters": TOOL_SCHEMA, "strict": False}]
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as c:
        items: list[Any] = [{"role": "user", "content": "run A and B"}]
        first = await c.responses.create(model=MODEL, input=items, tools=tools)
        calls = [o for o in first.output if o.type == "function_call"]
        items += [o.model_dump(exclude_none=True) for o in calls]
        for o in calls[::-1] if reverse else calls:
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": o.call_id,
                    "output": f"RESULT-{_command(o.arguments)}",
                }
            )
        await c.responses.create(model=MODEL, input=items, tools=tools)


async def _claude(url: str, reverse: bool) -> None:
    tools: Any = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as c:
        msgs: list[Any] = [{"role": "user", "content": "run A and B"}]
        first = await c.messages.create(model=MODEL, max_tokens=256, messages=msgs, tools=tools)
        calls = [b for b in first.content if b.type == "tool_use"]
        msgs.append(
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]}
        )
        results = [
            {"type": "tool_result", "tool_use_id": b.id, "content": f"RESULT-{b.input['command']}"}  # type: ignore[index]
            for b in (calls[::-1] if reverse else calls)
        ]
        msgs.append({"role": "user", "content": results})
        await c.messages.create(model=MODEL, max_tokens=256, messages=msgs, tools=tools)


def _command(arguments: str) -> str:
    return str(json.loads(arguments)["command"])


LOOPS = {"chat": _chat, "responses": _responses, "claude": _claude}


@pytest.mark.parametrize("reverse", [False, True], ids=["in-order", "reversed"])
@pytest.mark.parametrize("client", list(LOOPS))
async def test_results_reach_gemini_in_the_calls_order(start_proxy, up, client, reverse):
    up.scene = TWO_CALLS
    proxy = await start_proxy(config(up.url, KEY))
    await LOOPS[client](proxy.url, reverse)
    contents = up.requests[-1]["contents"]
    model_turn, answers = contents[-2], contents[-1]
    assert [p["functionCall"]["args"]["command"] for p in model_turn["parts"] if "functionCall" in p] == [
        "A",
        "B",
    ]
    assert [p["functionResponse"]["response"]["result"] for p in answers["parts"]] == ["RESULT-A", "RESULT-B"]
