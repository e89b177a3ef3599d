"""Claude-compatible thinking replay keys a Claude Code session per agent, as CPA does
(``helps.ClaudeCodeExecutionScope``: the session from ``X-Claude-Code-Session-Id`` or
``metadata.user_id``, the agent from ``X-Claude-Code-Agent-Id``, ``main`` without one).

A sub-agent (Claude Code's Agent tool) runs while its parent waits for the tool result, in
the same session: its own signed turns must not take the place of the parent's, or the
parent's continuation (its thinking left out by Claude Code) gets nothing back and an
is-compat upstream refuses it with 400 "Expected thinking". And a client naming its session
only in the header gets the replay too."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_thinking_kimi_replay import FIRST, META, TOOLS, content_of, without_thinking


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-claude-replay"\n'
        f'    base-url: "{fake_claude.base_url}"\n    models:\n'
        '      - {name: "claude-sonnet-4-6", alias: "synthetic-compat", is-compat: true}\n'
    )
    p.fake = fake_claude
    return p


async def _post(
    proxy: Any, history: list[dict[str, Any]], stream: bool, headers: dict[str, str], meta: bool = True
) -> tuple[int, bytes]:
    body: dict[str, Any] = {
        "model": "synthetic-compat",
        "max_tokens": 2048,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": TOOLS,
        "messages": history,
        "stream": stream,
    }
    if meta:
        body["metadata"] = META
    sent = {"x-api-key": KEY, "anthropic-version": "2023-06-01", **headers}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
        async with http.post(f"{proxy.url}/v1/messages", json=body, headers=sent) as resp:
            return resp.status, await resp.read()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_sub_agent_does_not_take_the_parents_replay(proxy: Any, stream: bool) -> None:
    session = {"x-claude-code-session-id": "claude-session"}
    status, raw = await _post(proxy, FIRST, stream, session)
    assert status == 200, raw
    parent = content_of(raw, stream)
    sub = {**session, "x-claude-code-agent-id": "agent-explore-1"}
    task = [{"role": "user", "content": "FAKE_TOOL=bash look around (sub-agent)"}]
    status, raw = await _post(proxy, task, stream, sub)
    assert status == 200, raw
    assert content_of(raw, stream)[0]["type"] == "thinking"
    status, raw = await _post(proxy, without_thinking(parent), stream, session)
    sent = proxy.fake.last.json["messages"][1]["content"]
    assert sent[0] == parent[0], sent
    assert status == 200, raw


async def test_a_session_named_in_the_header_only_is_replayed(proxy: Any) -> None:
    session = {"x-claude-code-session-id": "header-only-session"}
    status, raw = await _post(proxy, FIRST, False, session, meta=False)
    assert status == 200, raw
    first = content_of(raw, False)
    status, raw = await _post(proxy, without_thinking(first), False, session, meta=False)
    assert proxy.fake.last.json["messages"][1]["content"][0] == first[0]
    assert status == 200, raw
