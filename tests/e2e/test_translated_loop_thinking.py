"""Which translated tool loops reach Claude with thinking on: Responses and Chat clients
(openai SDK) on a Claude model, through the proxy into the fake Claude, which refuses with
Anthropic's 400 exactly the loops Anthropic refuses.

Anthropic's rule (its extended thinking guide, "Toggling thinking modes in conversations"):
a tool loop is one assistant turn, and with manual thinking on (``{"type": "enabled"}``)
that turn must start with thinking; its 400 names the loop's first assistant message. A
later step may lack thinking: without interleaved thinking Claude thinks only at the start
of the turn (its later steps are a tool call alone), and with it Claude may skip a step.
Under adaptive thinking Claude itself may skip thinking, so a turn that starts with a tool
call is taken back.

So the proxy turns thinking off (``{"type": "disabled"}``, as Anthropic's error advises;
CPA sends the body and the client gets the 400) only for manual thinking and a loop whose
first step reaches Claude without thinking. Before, it did so too when only the loop's last
step lacked thinking, or under adaptive thinking: the client silently lost thinking on steps
Anthropic would have answered with it.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_thinking_tool_loop import responses_turn
from tests.e2e.tool_loop import PROMPT, chat_second_turn, chat_turns
from tests.fakes.claude import signature_ok

MANUAL = "manual"  # claude-sonnet-4-5: manual thinking (enabled, a budget)
ADAPTIVE = "adaptive"  # claude-sonnet-4-6: adaptive thinking


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}"]\n'
        + f'claude-api-key:\n  - api-key: "sk-ant-loop"\n    base-url: "{fakes.claude.base_url}"\n'
        + f'    models: [{{name: "claude-sonnet-4-5-20250929", alias: "{MANUAL}"}},'
        + f' {{name: "claude-sonnet-4-6", alias: "{ADAPTIVE}"}}]\n'
    )
    p.fakes = fakes
    return p


def call(n: int) -> dict[str, Any]:
    """A later step's tool call as Claude answers it without interleaved thinking: the call
    alone (the proxy's Responses output for it)."""
    return {
        "type": "function_call",
        "call_id": f"toolu_later{n}",
        "name": "bash",
        "arguments": '{"command": "ls"}',
    }


def output(call_id: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": "FAKE_TOOL_OK"}


async def first_step(client: openai.AsyncOpenAI, model: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Claude's first step of the loop as the client got it: its reasoning (the signed
    thinking in ``encrypted_content``) and its tool call."""
    first = await responses_turn(client, [{"role": "user", "content": PROMPT}], False, model)
    reasoning, fc = (item.model_dump(exclude_none=True) for item in first.output)
    assert reasoning["type"] == "reasoning" and signature_ok(reasoning["encrypted_content"])
    assert fc["type"] == "function_call"
    return reasoning, fc


def assistant_kinds(sent: dict[str, Any]) -> list[list[str]]:
    return [[b["type"] for b in m["content"]] for m in sent["messages"] if m["role"] == "assistant"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_loop_begun_with_thinking_keeps_it_when_a_later_step_has_none(
    proxy: Any, stream: bool
) -> None:
    """The loop's first step carries Claude's signed thinking, its later step is a tool call
    alone: Claude gets the request with manual thinking on (before: thinking off) and
    answers it."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        reasoning, fc = await first_step(client, MANUAL)
        items = [{"role": "user", "content": PROMPT}, reasoning, fc, output(fc["call_id"])]
        items += [call(2), output("toolu_later2")]
        answer = await responses_turn(client, items, stream, MANUAL)
    assert answer.output_text == "Tool result received: FAKE_TOOL_OK"
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "enabled"
    assert assistant_kinds(sent) == [["thinking", "tool_use"], ["tool_use"]]
    assert sent["messages"][1]["content"][0]["signature"] == reasoning["encrypted_content"]


async def test_a_chat_loop_the_replay_cache_began_keeps_thinking_past_a_step_without_it(proxy: Any) -> None:
    """A Chat client cannot carry thinking: the replay cache restores the first step's, and
    the later step (a call Claude answered without thinking) has none to restore. Thinking
    stays on."""
    chat = chat_turns(MANUAL)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await chat(client, [{"role": "user", "content": PROMPT}], False)
        messages = chat_second_turn(first)
        later = {"id": "toolu_later3", "type": "function", "function": {"name": "bash", "arguments": "{}"}}
        messages += [
            {"role": "assistant", "content": None, "tool_calls": [later]},
            {"role": "tool", "tool_call_id": "toolu_later3", "content": "FAKE_TOOL_OK"},
        ]
        answer = await chat(client, messages, False)
    assert answer.choices[0].message.content == "Tool result received: FAKE_TOOL_OK"
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "enabled"
    assert assistant_kinds(sent) == [["thinking", "tool_use"], ["tool_use"]]


@pytest.mark.parametrize("later_led", [False, True], ids=["unled-to-its-end", "later-step-thought"])
async def test_a_loop_whose_first_step_lost_its_thinking_goes_without_thinking(
    proxy: Any, later_led: bool
) -> None:
    """The refused shape: the first step reaches Claude as a tool call alone (the client
    left its reasoning out). Anthropic refuses that with manual thinking on whatever the
    later steps carry (the fake does too, see the control), so that one request goes with
    thinking off and is answered."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        reasoning, fc = await first_step(client, MANUAL)
        items = [{"role": "user", "content": PROMPT}, fc, output(fc["call_id"])]
        items += [reasoning, call(4)] if later_led else [call(4)]
        items.append(output("toolu_later4"))
        answer = await responses_turn(client, items, False, MANUAL)
    assert answer.output_text == "Tool result received: FAKE_TOOL_OK"
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"] == {"type": "disabled"}
    later = ["thinking", "tool_use"] if later_led else ["tool_use"]
    assert assistant_kinds(sent) == [["tool_use"], later]


async def test_control_the_fake_refuses_that_shape_with_thinking_on(proxy: Any, fakes: Any) -> None:
    """The control: the body the proxy sent for that shape, sent to the Claude fake directly
    with manual thinking on, gets Anthropic's 400 naming the loop's first assistant message
    (CPA's answer), so the test above passes only because the proxy turned thinking off."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        reasoning, fc = await first_step(client, MANUAL)
        items = [{"role": "user", "content": PROMPT}, fc, output(fc["call_id"]), reasoning, call(5)]
        await responses_turn(client, [*items, output("toolu_later5")], False, MANUAL)
    sent = fakes.claude.last.json
    async with anthropic.AsyncAnthropic(
        base_url=fakes.claude.base_url, api_key="sk-ant-loop", max_retries=0
    ) as direct:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await direct.messages.create(
                model=sent["model"],
                max_tokens=2048,
                messages=sent["messages"],
                tools=sent["tools"],
                thinking={"type": "enabled", "budget_tokens": 1024},
            )
    assert "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`" in str(refused.value)


async def test_adaptive_thinking_stays_on_for_a_loop_begun_without_it(proxy: Any) -> None:
    """Under adaptive thinking Anthropic takes a turn that starts with a tool call (Claude
    may skip thinking itself): the request goes with adaptive thinking, as the client asked
    (before: thinking off)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        _, fc = await first_step(client, ADAPTIVE)
        items = [{"role": "user", "content": PROMPT}, fc, output(fc["call_id"])]
        answer = await responses_turn(client, items, False, ADAPTIVE)
    assert answer.output_text == "Tool result received: FAKE_TOOL_OK"
    sent = proxy.fakes.claude.last.json
    assert sent["thinking"]["type"] == "adaptive"
    assert assistant_kinds(sent) == [["tool_use"]]
