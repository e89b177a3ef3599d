"""A pass-through Claude tool loop that Anthropic refuses as it came (manual thinking on,
the loop's first assistant message without thinking: another backend or a model without
thinking answered it) goes with thinking off (``translate.loop_thinking.unled_turn``)
also when an earlier turn of the history holds another backend's thinking, which the
proxy's sanitizer drops (a Gemini or Antigravity answer: its signature is not Anthropic's).

Before, the sanitizer's change made the proxy compare the loop with the client's only
(did the sanitizer cut the loop's thinking?), found nothing cut in this loop and sent
thinking on: the client got Anthropic's 400 "messages.3.content.0.type: Expected
`thinking`..." on each step of the loop, where the same loop without that earlier turn was
answered. CPA sends both as they came (the 400)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.test_claude_cloak import last
from tests.translate.cpa.signature_fixtures import gemini3_signature

CLAUDE = "claude-sonnet-4-5-20250929"
TOOLS = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
THINKING = {"type": "enabled", "budget_tokens": 1024}
FOREIGN = {"type": "thinking", "thinking": "", "signature": gemini3_signature(b"\x01payload")}
LOOP = [
    {"role": "user", "content": "FAKE_TOOL=bash run it"},
    {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {}}]},
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "FAKE_TOOL_OK"}],
    },
]
EARLIER = [
    {"role": "user", "content": "hello"},
    {"role": "assistant", "content": [FOREIGN, {"type": "text", "text": "hi"}]},
]


def config(fakes: Any) -> str:
    return (
        f'api-keys: ["{KEY}"]\n'
        + f'claude-api-key:\n  - api-key: "sk-ant-key"\n    base-url: "{fakes.claude.base_url}"\n'
    )


@pytest.mark.parametrize("earlier", [EARLIER, []], ids=["foreign-earlier-turn", "loop-alone"])
async def test_an_unled_loop_is_answered_whatever_the_history(
    start_proxy: Any, fakes: Any, earlier: list[dict[str, Any]]
) -> None:
    proxy = await start_proxy(config(fakes))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        answer = await client.messages.create(
            model=CLAUDE, max_tokens=2048, tools=TOOLS, thinking=THINKING, messages=[*earlier, *LOOP]
        )
    assert [b.type for b in answer.content] == ["text"]
    assert answer.content[0].text == "Tool result received: FAKE_TOOL_OK"
    sent = last(fakes.claude).json
    assert sent["thinking"] == {"type": "disabled"}
    assert FOREIGN not in [
        b for m in sent["messages"] if isinstance(m["content"], list) for b in m["content"]
    ]
