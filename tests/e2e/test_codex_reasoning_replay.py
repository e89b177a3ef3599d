"""Codex reasoning replay through a running proxy: clients that cannot carry Codex's
encrypted reasoning get it back on their next turn (CPA ``applyCodexReasoningReplayCache``).

Clients are the official SDKs; the upstream is the fake Codex backend, which issues
Fernet-shaped ``encrypted_content`` (``ENCRYPTED``). Turn 2 of a tool loop must reach
Codex with turn 1's reasoning item in front of the function call:

* a Chat Completions client has no place for it (the proxy keeps it per API key);
* a Claude client that dropped the thinking block (the proxy keeps it per Claude Code
  session and agent);
* a caller with another proxy API key never gets it, even naming the same session.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import openai
import orjson
import pytest

from cliproxy.translate.claude.ids import sanitize_tool_id
from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.conftest import matrix_config
from tests.e2e.test_shared_state import shared
from tests.e2e.tool_loop import PROMPT, chat_second_turn, chat_turns, kinds
from tests.fakes.openai_responses import ENCRYPTED
from tests.fakes.server import sse

OTHER_KEY = "sk-proxy-other-caller"
CLAUDE_TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
REASONING: dict[str, Any] = {
    "type": "reasoning",
    "summary": [],
    "content": None,
    "encrypted_content": ENCRYPTED,
}


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    text = matrix_config(fakes).replace(f'api-keys: ["{KEY}"]', f'api-keys: ["{KEY}", "{OTHER_KEY}"]')
    p = await start_proxy(text)
    p.fakes = fakes
    return p


def sent_input(fakes: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = fakes.responses.last.json["input"]
    return items


# ---------------------------------------------------------------------- Chat Completions

chat_turn = chat_turns("codex-model")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_chat_client_tool_loop_gets_its_reasoning_back(proxy: Any, stream: bool) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await chat_turn(client, [{"role": "user", "content": PROMPT}], stream)
        assert kinds(sent_input(proxy.fakes)) == ["message"]  # nothing cached yet
        second = await chat_turn(client, chat_second_turn(first), stream)
    assert second.choices[0].message.content == "Tool result received: FAKE_TOOL_OK"
    sent = sent_input(proxy.fakes)
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == REASONING
    call_id = first.choices[0].message.tool_calls[0].id
    assert sent[2]["call_id"] == sent[3]["call_id"] == call_id


async def test_chat_client_third_turn_gets_both_turns_back(proxy: Any) -> None:
    """Cumulative: each earlier tool turn's reasoning goes back in front of its own call."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        first = await chat_turn(client, [{"role": "user", "content": PROMPT}], False)
        history = chat_second_turn(first)
        second = await chat_turn(client, history, False)
        history += [
            {"role": "assistant", "content": second.choices[0].message.content},
            {"role": "user", "content": PROMPT + " again"},
        ]
        await chat_turn(client, history, False)
    assert kinds(sent_input(proxy.fakes)) == [
        "message",
        "reasoning",
        "function_call",
        "function_call_output",
        "reasoning",
        "message",
        "message",
    ]


async def test_responses_client_is_never_touched(proxy: Any) -> None:
    """A Responses client carries its reasoning items itself: nothing is recorded from its
    answers and nothing is put into its requests (CPA: native Responses requests)."""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        kwargs: dict[str, Any] = {
            "model": "codex-model",
            "tools": [{"type": "function", "name": "bash", "parameters": TOOL_SCHEMA}],
            "reasoning": {"effort": "high"},
            "include": ["reasoning.encrypted_content"],
            "store": False,
            "prompt_cache_key": "native-session",
        }
        first = await client.responses.create(input=PROMPT, **kwargs)
        call = next(i for i in first.output if i.type == "function_call")
        output = {"type": "function_call_output", "call_id": call.call_id, "output": "FAKE_TOOL_OK"}
        history = [{"role": "user", "content": PROMPT}, call.model_dump(exclude_none=True), output]
        await client.responses.create(input=history, **kwargs)  # its reasoning left out, on purpose
    assert kinds(sent_input(proxy.fakes)) == ["message", "function_call", "function_call_output"]
    assert len(proxy.service.providers.get("codex").replay) == 0


# ---------------------------------------------------------------------- Claude client


def claude_code_user(session: str) -> str:
    return orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session}).decode()


async def claude_turn(
    client: anthropic.AsyncAnthropic, messages: list[Any], stream: bool, session: str = "claude-session-1"
) -> Any:
    kwargs: dict[str, Any] = {
        "model": "codex-model",
        "max_tokens": 2048,
        "tools": CLAUDE_TOOLS,
        "messages": messages,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "metadata": {"user_id": claude_code_user(session)},
    }
    if not stream:
        return await client.messages.create(**kwargs)
    async with client.messages.stream(**kwargs) as s:
        return await s.get_final_message()


def claude_second_turn(first: Any, *, keep_thinking: bool) -> list[Any]:
    blocks = [b.model_dump(exclude_none=True) for b in first.content]
    if not keep_thinking:  # a client that drops thinking blocks from its history
        blocks = [b for b in blocks if b["type"] != "thinking"]
    call = next(b for b in first.content if b.type == "tool_use")
    return [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": blocks},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "FAKE_TOOL_OK"}],
        },
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_client_that_dropped_thinking_gets_it_back(proxy: Any, stream: bool) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        first = await claude_turn(client, [{"role": "user", "content": PROMPT}], stream)
        second = await claude_turn(client, claude_second_turn(first, keep_thinking=False), stream)
    assert second.content[-1].text == "Tool result received: FAKE_TOOL_OK"
    sent = sent_input(proxy.fakes)
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == REASONING


async def test_claude_client_that_carried_thinking_is_not_given_it_twice(proxy: Any) -> None:
    """CPA ...DoesNotDuplicateClaudeClientReasoning, as it happens: the client carried the
    reasoning in its thinking block's signature; the cached copy stays out."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        first = await claude_turn(client, [{"role": "user", "content": PROMPT}], False)
        await claude_turn(client, claude_second_turn(first, keep_thinking=True), False)
    sent = sent_input(proxy.fakes)
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1]["encrypted_content"] == ENCRYPTED


async def test_claude_session_per_agent(proxy: Any) -> None:
    """A sub-agent (``X-Claude-Code-Agent-Id``) of the same session has its own turns."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        first = await claude_turn(client, [{"role": "user", "content": PROMPT}], False)
        agent = client.with_options(default_headers={"X-Claude-Code-Agent-Id": "agent-a"})
        await claude_turn(agent, claude_second_turn(first, keep_thinking=False), False)
    assert kinds(sent_input(proxy.fakes)) == ["message", "function_call", "function_call_output"]


# ---------------------------------------------------------------------- two callers


async def test_two_callers_never_share_reasoning(proxy: Any) -> None:
    """Deliberately unlike CPA (which shares a session across client keys: its
    ...SharesSameSessionAcrossClientKeys): a caller with another proxy API key naming the
    same session (the same Claude Code session id, the same ``prompt_cache_key``) gets
    none of the first caller's encrypted reasoning; the first caller still gets it."""
    url = proxy.url
    async with (
        anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as owner,
        anthropic.AsyncAnthropic(base_url=url, api_key=OTHER_KEY, max_retries=0) as other,
    ):
        first = await claude_turn(owner, [{"role": "user", "content": PROMPT}], False, session="shared")
        history = claude_second_turn(first, keep_thinking=False)
        await claude_turn(other, history, False, session="shared")
        assert "reasoning" not in kinds(sent_input(proxy.fakes))
        await claude_turn(owner, history, False, session="shared")
        assert "reasoning" in kinds(sent_input(proxy.fakes))
    async with (
        openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as owner_chat,
        openai.AsyncOpenAI(base_url=url + "/v1", api_key=OTHER_KEY, max_retries=0) as other_chat,
    ):
        pck = {"prompt_cache_key": "shared-chat"}
        first = await chat_turn(owner_chat, [{"role": "user", "content": PROMPT}], False, extra_body=pck)
        await chat_turn(other_chat, chat_second_turn(first), False, extra_body=pck)
        assert "reasoning" not in kinds(sent_input(proxy.fakes))
        await chat_turn(owner_chat, chat_second_turn(first), False, extra_body=pck)
        assert "reasoning" in kinds(sent_input(proxy.fakes))


# ---------------------------------------------------------------------- ids Claude cannot take


def long_call_stream(call_id: str) -> bytes:
    """Codex's answer as CPA's test streams it: the reasoning and a call with an id longer
    than Claude allows, each in its done event, and a completed event with no output."""
    item = {"id": "fc_long", "type": "function_call", "status": "completed", "call_id": call_id}
    call = {**item, "name": "bash", "arguments": '{"command":"echo FAKE_TOOL_OK"}'}
    events: list[dict[str, Any]] = [
        {"type": "response.output_item.done", "output_index": 0, "item": {"id": "rs_1", **REASONING}},
        {"type": "response.output_item.done", "output_index": 1, "item": call},
        {"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "output": []}},
    ]
    return b"".join(sse(e, e["type"]) for e in events)


async def test_claude_tool_result_naming_a_shortened_call_id(proxy: Any) -> None:
    """CPA ...MatchesShortenedClaudeToolResultCallID and ...ReplaysFunctionCallFor
    ClaudeToolResult, through the proxy: the Claude client saw the call under the short id
    our Claude encoder made, and sends back only the tool result (no assistant turn); the
    reasoning and the call go back in front of it, under the id the result names."""
    long_id = "call_" + "a" * 62
    proxy.fakes.responses.raw_streams = [long_call_stream(long_id)]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        first = await claude_turn(client, [{"role": "user", "content": PROMPT}], False)
        short = next(b for b in first.content if b.type == "tool_use").id
        assert short == sanitize_tool_id(long_id) != long_id
        result = {"type": "tool_result", "tool_use_id": short, "content": "FAKE_TOOL_OK"}
        await claude_turn(
            client, [{"role": "user", "content": PROMPT}, {"role": "user", "content": [result]}], False
        )
    sent = sent_input(proxy.fakes)
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == REASONING
    assert sent[2]["call_id"] == sent[3]["call_id"] == short


# ---------------------------------------------------------------------- several workers


async def test_turn_two_on_another_worker_gets_the_reasoning(
    start_proxy: Any, fakes: Any, redis_server: Any
) -> None:
    """Two services on one Redis: turn 1 through A, turn 2 through B; B fetches the turn A
    copied there (off A's request path: waited for here) before it builds the request."""
    text = matrix_config(fakes) + shared(redis_server)
    a, b = await start_proxy(text), await start_proxy(text)
    async with (
        openai.AsyncOpenAI(base_url=a.url + "/v1", api_key=KEY, max_retries=0) as on_a,
        openai.AsyncOpenAI(base_url=b.url + "/v1", api_key=KEY, max_retries=0) as on_b,
    ):
        first = await chat_turn(on_a, [{"role": "user", "content": PROMPT}], False)
        client = b.service.state.client
        for _ in range(100):
            if [k async for k in client.scan_iter(match="e2e:rp|*")]:
                break
            await asyncio.sleep(0.02)
        assert len(b.service.providers.get("codex").replay) == 0  # B holds nothing of its own
        await chat_turn(on_b, chat_second_turn(first), False)
    sent = fakes.responses.last.json["input"]
    assert kinds(sent) == ["message", "reasoning", "function_call", "function_call_output"]
    assert sent[1] == REASONING
