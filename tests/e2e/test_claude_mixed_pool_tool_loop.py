"""A Claude client's tool loop with manual thinking on, one step of it answered by a
non-Anthropic credential, the next sent as it came (pass-through) to Anthropic.

One client model is served by a mixed pool: an Anthropic key and an OpenAI-compatible
provider. The compatible backend answers the first step with a tool call and no thinking
(it has none to give), the next request of the loop goes to Anthropic with thinking on, and
Anthropic refuses it: 400 ``messages.1.content.0.type: Expected `thinking` or
`redacted_thinking`, but found `tool_use```: with manual thinking on, the first assistant
message of the tool loop the request answers must start with thinking. A client that
switched models mid-loop (a model that did not think, then a Claude model with thinking)
sends the same request. CPA sends it as it came and the client gets that 400 on every such
step (no CPA test covers it).

Deliberate difference from CPA: that one request goes with thinking off (``{"type":
"disabled"}``), as Anthropic's error advises; the messages go as the client sent them, so
Anthropic's signed thinking elsewhere in the history is never touched. A request Anthropic
takes keeps its thinking: a loop Anthropic began with thinking (a later step that skipped
thinking included), and the next question of the conversation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_claude_cloak import last, write_oauth
from tests.fakes.claude import issue_signature

CLAUDE = "claude-sonnet-4-5-20250929"
TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
THINKING = {"type": "enabled", "budget_tokens": 1024}
PROMPT = "FAKE_TOOL=bash run it"


def pool_config(fakes: Any, claude_key: bool = True, alias: str = "writer") -> str:
    """``writer``: an OpenAI-compatible model and Claude (``alias``) behind one name, turn
    by turn; ``quick``: an OpenAI-compatible model alone."""
    yaml = (
        f'api-keys: ["{KEY}"]\nrouting:\n  strategy: round-robin\n'
        + f'openai-compatibility:\n  - name: other\n    base-url: "{fakes.openai.base_url}/v1"\n'
        + '    api-key-entries: [{api-key: "sk-compat"}]\n'
        + '    models: [{name: "gpt-4o", alias: "writer"}, {name: "gpt-4o-mini", alias: "quick"}]\n'
    )
    if claude_key:
        yaml += (
            f'claude-api-key:\n  - api-key: "sk-ant-key"\n    base-url: "{fakes.claude.base_url}"\n'
            + f'    models: [{{name: "{CLAUDE}", alias: "{alias}"}}]\n'
        )
    return yaml


async def ask(client: anthropic.AsyncAnthropic, stream: bool, **kwargs: Any) -> Any:
    if not stream:
        return await client.messages.create(max_tokens=2048, tools=TOOLS, **kwargs)
    async with client.messages.stream(max_tokens=2048, tools=TOOLS, **kwargs) as s:
        return await s.get_final_message()


def turns(body: dict[str, Any]) -> list[Any]:
    """The assistant messages of a body, as they are (the proxy marks the last user message
    for prompt caching, as CPA does)."""
    return [m for m in body["messages"] if m["role"] == "assistant"]


def blocks_of(message: Any) -> list[dict[str, Any]]:
    return [b.model_dump(exclude_none=True) for b in message.content]


def answered(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The loop so far: the prompt, the assistant's turn, the tool's result."""
    call = next(b for b in blocks if b["type"] == "tool_use")
    result = {"type": "tool_result", "tool_use_id": call["id"], "content": "FAKE_TOOL_OK"}
    return [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": [result]},
    ]


async def compat_step(client: anthropic.AsyncAnthropic, fakes: Any) -> list[dict[str, Any]]:
    """The first step of the loop, answered by the OpenAI-compatible credential of the pool
    (round-robin: one more request when Anthropic's answered it): a tool call, no thinking."""
    for _ in range(2):
        seen = len(fakes.openai.requests)
        first = await ask(client, False, model="writer", messages=[{"role": "user", "content": PROMPT}])
        if len(fakes.openai.requests) > seen:
            blocks = blocks_of(first)
            assert "tool_use" in [b["type"] for b in blocks]
            assert "thinking" not in [b["type"] for b in blocks]
            return answered(blocks)
    raise AssertionError("the pool never chose the OpenAI-compatible credential")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_mixed_pool_step_on_anthropic_is_answered(start_proxy: Any, fakes: Any, stream: bool) -> None:
    """The step after the compatible backend's goes to Anthropic (the pool's next
    credential) with thinking off and the messages as the client sent them; the client gets
    Anthropic's answer instead of the 400 (the fake refuses the body as it came, as
    Anthropic does: CPA's answer)."""
    proxy = await start_proxy(pool_config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = await compat_step(client, fakes)
        before = len(fakes.claude.requests)
        answer = await ask(client, stream, model="writer", messages=messages, thinking=THINKING)
    assert len(fakes.claude.requests) == before + 1  # one try: nothing refused, nothing retried
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "Tool result received: FAKE_TOOL_OK"
    sent = last(fakes.claude).json
    assert sent["thinking"] == {"type": "disabled"}
    assert turns(sent) == turns({"messages": messages})


async def test_anthropic_refuses_that_step_as_it_came(start_proxy: Any, fakes: Any) -> None:
    """The control: the step as the client sent it, sent to the Claude fake directly, gets
    Anthropic's 400 (CPA's answer), so the test above passes only because the proxy sent it
    without thinking."""
    proxy = await start_proxy(pool_config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        messages = await compat_step(client, fakes)
    async with anthropic.AsyncAnthropic(
        base_url=fakes.claude.base_url, api_key="sk-ant-key", max_retries=0
    ) as direct:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await ask(direct, False, model=CLAUDE, messages=messages, thinking=THINKING)
    assert refused.value.status_code == 400
    expected = "messages.1.content.0.type: Expected `thinking` or `redacted_thinking`, but found `tool_use`"
    assert expected in str(refused.value)


@pytest.mark.usefixtures("anthropic_api")  # Anthropic's API counts upstream; a gateway, locally
@pytest.mark.parametrize("auth", ["api-key", "oauth"])
async def test_a_switch_to_claude_mid_loop_without_thinking_before(
    start_proxy: Any, fakes: Any, tmp_path: Path, auth: str
) -> None:
    """A client that asked a model without thinking (``quick``, OpenAI-compatible), then
    sends the tool's result to Claude with thinking on: that request (and its count) goes
    with thinking off. Claude's answer to it did not think either, so the loop's next step
    goes without thinking again; the next question of the conversation thinks."""
    yaml = pool_config(fakes, claude_key=auth == "api-key", alias="thinker")
    model = "thinker"
    if auth == "oauth":
        write_oauth(tmp_path, "a", fakes.claude.base_url)
        yaml += f'auth-dir: "{tmp_path / "auths"}"\n'
        model = CLAUDE
    proxy = await start_proxy(yaml)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        first = await ask(client, False, model="quick", messages=[{"role": "user", "content": PROMPT}])
        messages = answered(blocks_of(first))
        answer = await ask(client, False, model=model, messages=messages, thinking=THINKING)
        assert [b.type for b in answer.content] == ["text"]
        assert answer.content[0].text == "Tool result received: FAKE_TOOL_OK"
        assert last(fakes.claude).json["thinking"] == {"type": "disabled"}
        await client.messages.count_tokens(model=model, messages=messages, thinking=THINKING, tools=TOOLS)
        assert last(fakes.claude, "/v1/messages/count_tokens").json["thinking"] == {"type": "disabled"}
        call = {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"command": "pwd"}}
        step = [
            {"role": "assistant", "content": [*blocks_of(answer), call]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "b"}]},
        ]
        await ask(client, False, model=model, messages=messages + step, thinking=THINKING)
        assert last(fakes.claude).json["thinking"] == {"type": "disabled"}
        messages += [
            {"role": "assistant", "content": blocks_of(answer)},
            {"role": "user", "content": "thanks, and now?"},
        ]
        later = await ask(client, False, model=model, messages=messages, thinking=THINKING)
    assert [b.type for b in later.content] == ["thinking", "text"]
    assert last(fakes.claude).json["thinking"] == THINKING


async def test_a_loop_anthropic_began_with_thinking_keeps_it(start_proxy: Any, fakes: Any) -> None:
    """Fidelity: a loop whose first step Anthropic answered with signed thinking, and whose
    later step skipped thinking (interleaved thinking may), goes with thinking on and every
    block byte for byte as the client sent it, the signed thinking included."""
    proxy = await start_proxy(pool_config(fakes))
    signed = {"type": "thinking", "thinking": "plan", "signature": issue_signature(CLAUDE)}
    call = {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}}
    again = {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"command": "pwd"}}
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": PROMPT},
        {"role": "assistant", "content": [signed, call]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "and now"}, again]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_2", "content": "b"}]},
    ]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for _ in range(2):  # (round-robin: one of the two reaches Anthropic)
            answer = await ask(client, False, model="writer", messages=messages, thinking=THINKING)
            assert answer.content[-1].text == "Tool result received: b"
    sent = last(fakes.claude).json
    assert sent["thinking"] == THINKING
    assert turns(sent) == turns({"messages": messages})
