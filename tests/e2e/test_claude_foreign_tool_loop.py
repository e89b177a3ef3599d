"""A Claude client's tool loop with thinking on, begun by another backend and ended by Claude.

The client asked a Gemini model (thinking on, a tool), got a thinking block carrying the
proxy's Gemini carrier and a ``tool_use``, then switched to a Claude model to send the tool's
result, thinking still on. The sanitizer drops the Gemini thinking (Anthropic would refuse
its signature), so the assistant turn the result answers now starts with ``tool_use``, and
Anthropic refuses that too while thinking is on: 400 ``Expected `thinking` or
`redacted_thinking`, but found `tool_use``` (the fake does as well). CPA sends that body and
the client gets the 400.

Deliberate difference from CPA: the proxy sends that one request with thinking off
(``thinking: {"type": "disabled"}``, and without the ``clear_thinking_20251015`` edit
Anthropic only takes with thinking on), as Anthropic's own error advises ("To avoid this
requirement, disable `thinking`"): the loop goes on and nothing the client sent is lost. A
later turn (a user message that is not a tool result) thinks again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.fakes.claude import issue_signature

CLAUDE = "claude-sonnet-4-6"
TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
THINKING = {"type": "enabled", "budget_tokens": 1024}
PROMPT = "FAKE_TOOL=bash run it"


def config(fakes: Any) -> str:
    return (
        f'api-keys: ["{KEY}"]\n'
        + f'gemini-api-key:\n  - api-key: "gem-key"\n    base-url: "{fakes.gemini.base_url}"\n'
        + '    models: [{name: "gemini-2.5-pro", alias: "painter"}]\n'
        + f'claude-api-key:\n  - api-key: "sk-ant-key"\n    base-url: "{fakes.claude.base_url}"\n'
        + f'    models: [{{name: "{CLAUDE}", alias: "writer"}}]\n'
    )


async def ask(client: anthropic.AsyncAnthropic, stream: bool, **kwargs: Any) -> Any:
    if not stream:
        return await client.messages.create(max_tokens=2048, tools=TOOLS, **kwargs)
    async with client.messages.stream(max_tokens=2048, tools=TOOLS, **kwargs) as s:
        return await s.get_final_message()


async def gemini_loop(client: anthropic.AsyncAnthropic) -> list[dict[str, Any]]:
    """The prompt, the Gemini model's thinking (the proxy's carrier) and tool call as the
    client got them, and the tool's result."""
    ask_gemini = [{"role": "user", "content": PROMPT}]
    first = await ask(client, False, model="painter", messages=ask_gemini, thinking=THINKING)
    blocks = [b.model_dump(exclude_none=True) for b in first.content]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use"]
    assert blocks[0]["signature"].startswith("cpa-gemini-carrier-v1:")
    result = {"type": "tool_result", "tool_use_id": blocks[1]["id"], "content": "FAKE_TOOL_OK"}
    return [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": [result]},
    ]


def tool_uses(sent: dict[str, Any]) -> list[list[Any]]:
    """The blocks of each assistant turn Anthropic got, a tool call as its id and input
    (under OAuth its name is Claude Code's alias)."""
    return [
        [(b["type"], b.get("id"), b.get("input")) for b in m["content"]]
        for m in sent["messages"]
        if m["role"] == "assistant"
    ]


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
@pytest.mark.parametrize(
    ("auth", "stream"),
    [("api-key", False), ("api-key", True), ("oauth", False), ("oauth", True)],
    ids=["api-key-whole", "api-key-stream", "oauth-whole", "oauth-stream"],
)
async def test_a_switch_to_claude_mid_loop_sends_that_request_without_thinking(
    start_proxy: Any, fakes: Any, tmp_path: Path, auth: str, stream: bool
) -> None:
    """The Claude model answers the tool's result (CPA: Anthropic's 400, which the fake
    answers before the fix; no CPA test covers it): Anthropic gets the history without the
    Gemini thinking and thinking off, for this request (and its count) only. The client's
    next question, a new turn, goes with thinking on."""
    yaml = config(fakes)
    model = "writer"
    if auth == "oauth":
        write_oauth(tmp_path, "a", fakes.claude.base_url)
        yaml += f'auth-dir: "{tmp_path / "auths"}"\n'
        model = CLAUDE
    proxy = await start_proxy(yaml)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = await gemini_loop(client)
        call = messages[1]["content"][1]
        answer = await ask(client, stream, model=model, messages=messages, thinking=THINKING)
        assert [b.type for b in answer.content] == ["text"]
        assert answer.content[0].text == "Tool result received: FAKE_TOOL_OK"
        sent = last(fakes.claude).json
        assert sent["thinking"] == {"type": "disabled"}
        assert tool_uses(sent) == [[("tool_use", call["id"], call["input"])]]
        if not stream:
            await client.messages.count_tokens(model=model, messages=messages, thinking=THINKING, tools=TOOLS)
            assert last(fakes.claude, "/v1/messages/count_tokens").json["thinking"] == {"type": "disabled"}
        messages += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in answer.content]},
            {"role": "user", "content": "thanks, and now?"},
        ]
        later = await ask(client, stream, model=model, messages=messages, thinking=THINKING)
    assert [b.type for b in later.content] == ["thinking", "text"]
    assert last(fakes.claude).json["thinking"] == THINKING


async def test_what_needs_thinking_goes_with_it(start_proxy: Any, fakes: Any) -> None:
    """Manual thinking and Claude Code's ``clear_thinking_20251015`` edit beside another: the
    request goes with thinking ``disabled`` (not left out: Anthropic's newer models think by
    default) and without that edit (Anthropic refuses it without thinking, as CPA's
    TestClaudeCodeContextManagementNeverOutlivesEligibleThinking says). Adaptive thinking
    shown summarized, with an effort, goes as the client sent it, edits and all: Anthropic
    takes a turn that starts with a tool call there (Claude itself may skip thinking), and
    the models that take only adaptive thinking refuse ``disabled``."""
    proxy = await start_proxy(config(fakes))
    clear = {"type": "clear_thinking_20251015", "keep": "all"}
    other = {"type": "clear_tool_uses_20250919"}
    extra = {"context_management": {"edits": [clear, other]}, "output_config": {"effort": "high"}}
    adaptive = {"type": "adaptive", "display": "summarized"}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = await gemini_loop(client)
        await ask(client, False, model="writer", messages=messages, thinking=THINKING, extra_body=extra)
        sent = last(fakes.claude).json
        assert sent["thinking"] == {"type": "disabled"}
        assert sent["context_management"] == {"edits": [other]}
        answer = await ask(
            client, False, model="writer", messages=messages, thinking=adaptive, extra_body=extra
        )
        assert answer.content[-1].text == "Tool result received: FAKE_TOOL_OK"
        sent = last(fakes.claude).json
        assert sent["thinking"] == adaptive
        assert sent["context_management"] == {"edits": [clear, other]}
        assert sent["output_config"] == {"effort": "high"}
        assert [[b["type"] for b in m["content"]] for m in sent["messages"] if m["role"] == "assistant"] == [
            ["tool_use"]
        ]
        extra["context_management"] = {"edits": [clear]}
        await ask(client, False, model="writer", messages=messages, thinking=THINKING, extra_body=extra)
    assert "context_management" not in last(fakes.claude).json


async def test_claude_signed_thinking_keeps_thinking_on(start_proxy: Any, fakes: Any) -> None:
    """A loop Claude led with ``redacted_thinking`` (and one with signed thinking behind a
    Gemini carrier), in a history whose earlier Gemini turn loses its thinking: the loop
    still starts with thinking Anthropic takes, so the request goes with thinking on and the
    blocks as the client sent them."""
    proxy = await start_proxy(config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        earlier = await gemini_loop(client)
        call = {"type": "tool_use", "id": "toolu_9", "name": "bash", "input": {"command": "ls"}}
        result = {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "a"}],
        }
        redacted = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"}
        signed = {"type": "thinking", "thinking": "plan", "signature": issue_signature(CLAUDE)}
        carried = earlier[1]["content"][0]
        for lead in ([redacted], [carried, signed]):
            turn = {"role": "assistant", "content": [*lead, call]}
            messages = [*earlier, {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]
            messages += [{"role": "user", "content": "FAKE_TOOL=bash again"}, turn, result]
            await ask(client, False, model="writer", messages=messages, thinking=THINKING)
            sent = last(fakes.claude).json
            assert sent["thinking"] == THINKING
            assert sent["messages"][5]["content"] == [lead[-1], call]
            gemini = sent["messages"][1]["content"]
            assert gemini == [earlier[1]["content"][1]]  # its thinking dropped
