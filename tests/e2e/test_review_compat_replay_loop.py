"""Claude-compatible thinking replay over a tool loop of several steps, as CPA keeps it
(claude_thinking_replay_cache.go: every signed turn of the session, up to 64, until an
answer without a tool call clears them; TestClaudeExecutorCompatThinkingReplayRestoresMultipleOmittedBlocks).

Claude Code leaves every third-party-signed thinking out, so the third request of a loop
(question, call 1, result 1, call 2, result 2) lacks the thinking of both calls; the upstream
wants the loop's first assistant message to start with its thinking. Keeping only the last
answer put back call 2's thinking alone, and the upstream refused the request with 400."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.test_review_compat_replay_agents import _post
from tests.e2e.test_thinking_kimi_replay import FIRST, content_of
from tests.fakes.server import Behavior


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any) -> Any:
    from tests.e2e.clients import KEY

    p = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-claude-replay"\n'
        f'    base-url: "{fake_claude.base_url}"\n    models:\n'
        '      - {name: "claude-sonnet-4-6", alias: "synthetic-compat", is-compat: true}\n'
    )
    p.fake = fake_claude
    return p


def _bare(content: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in content if b["type"] != "thinking"]


def _result(content: list[dict[str, Any]], text: str) -> dict[str, Any]:
    call = next(b for b in content if b["type"] == "tool_use")
    return {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": text}]}


async def test_every_omitted_step_of_a_tool_loop_is_put_back(proxy: Any) -> None:
    session = {"x-claude-code-session-id": "loop-session"}
    status, raw = await _post(proxy, FIRST, False, session)
    assert status == 200, raw
    first = content_of(raw, False)
    step2 = [
        {"type": "thinking", "thinking": "a second step", "signature": first[0]["signature"]},
        {"type": "tool_use", "id": "toolu_second_step", "name": "bash", "input": {"command": "echo 2"}},
    ]
    proxy.fake.script(
        Behavior(
            status=200,
            body={
                "id": "msg_second",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-6",
                "content": step2,
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        )
    )
    loop = [*FIRST, {"role": "assistant", "content": _bare(first)}, _result(first, "one")]
    status, raw = await _post(proxy, loop, False, session)
    assert status == 200, raw
    second = content_of(raw, False)
    assert second[0]["thinking"] == "a second step"
    loop += [{"role": "assistant", "content": _bare(second)}, _result(second, "two")]
    status, raw = await _post(proxy, loop, False, session)
    sent = proxy.fake.last.json["messages"]
    assert sent[1]["content"][0] == first[0] and sent[3]["content"][0] == second[0], sent
    assert status == 200, raw
