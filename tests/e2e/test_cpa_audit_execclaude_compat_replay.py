"""CPA's Claude-compatible thinking replay (claude_thinking_replay_test.go), for a Claude
client on a ``claude-api-key`` model with ``is-compat``.

A third-party Claude-compatible upstream answers with signed thinking and a tool call;
Claude Code leaves thinking it cannot verify (a signature that is not Anthropic's) out of
the next request, and an upstream that wants its reasoning back on a tool continuation
refuses it. CPA keeps the last signed thinking + tool call of the session and puts it back
(TestClaudeExecutorCompatThinkingReplayRestoresOmittedBlock, ...InStream; CPA issues
#4772, #4856); only for a Claude client on an is-compat model of a Claude API key
(TestClaudeThinkingReplayEnabledRequiresCompatClaudeAPIKey).

cliproxy replays for Chat, Responses and Gemini clients (translate.replay); for a Claude
client on an is-compat key it now does too (``pipeline_prepare._compat_replay``, with
Kimi's cache and recorder, ``translate.kimi_replay``). Before, that client got the
upstream's 400 ("Expected `thinking` or `redacted_thinking`") on the continuation.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_thinking_kimi_replay import FIRST, content_of, post, without_thinking


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "key-claude-replay"\n'
        f'    base-url: "{fake_claude.base_url}"\n    models:\n'
        '      - {name: "claude-sonnet-4-6", alias: "synthetic-compat", is-compat: true}\n'
        '      - {name: "claude-sonnet-4-6", alias: "synthetic-plain"}\n'
    )
    p.fake = fake_claude
    return p


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_compat_model_gets_the_omitted_thinking_back(proxy: Any, stream: bool) -> None:
    """CPA: TestClaudeExecutorCompatThinkingReplayRestoresOmittedBlock,
    TestClaudeExecutorCompatThinkingReplayRestoresOmittedBlockInStream."""
    status, raw = await post(proxy, "synthetic-compat", FIRST, stream)
    assert status == 200, raw
    content = content_of(raw, stream)
    assert content[0]["type"] == "thinking" and content[0]["signature"]
    status, raw = await post(proxy, "synthetic-compat", without_thinking(content), stream)
    sent = proxy.fake.last.json["messages"][1]["content"]
    assert sent[0] == content[0] and sent[1]["type"] == "tool_use"
    assert status == 200, raw


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_plain_model_gets_nothing_restored(proxy: Any, stream: bool) -> None:
    """CPA: TestClaudeThinkingReplayEnabledRequiresCompatClaudeAPIKey ("non compat
    model"): no thinking is put back. (cliproxy's own step then turns thinking off for a
    tool loop that lost it, ``unled_turn`` in pipeline_prepare.py, so the request is taken;
    that step leaves an is-compat model alone, which is why the compat case above ends in
    the upstream's 400 today.)"""
    status, raw = await post(proxy, "synthetic-plain", FIRST, stream)
    assert status == 200, raw
    status, raw = await post(proxy, "synthetic-plain", without_thinking(content_of(raw, stream)), stream)
    sent = proxy.fake.last.json
    assert sent["messages"][1]["content"][0]["type"] == "tool_use"
    assert sent["thinking"] == {"type": "disabled"} and status == 200, raw
