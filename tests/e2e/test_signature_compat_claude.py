"""CPA ``internal/signature/claude_messages_sanitize_compat_test.go`` through the proxy: a
Claude client's history on a Claude-format key, for a model that is not named Claude.

CPA's Claude executor cleans a history only for a Claude-named model, or for any model
with ``is-compat`` (``SanitizeClaudeMessagesForClaudeUpstream`` in its compat mode: every
thinking block kept as it came, signature included, and the tool calls' signature fields
dropped). A compatible upstream (here DeepSeek's Anthropic endpoint) issues its own opaque
signatures, which no Claude rule recognises.
"""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY

HISTORY: list[Any] = [
    {"role": "user", "content": "List the files."},
    {
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": "reason", "signature": "opaque-deepseek-id"},
            {"type": "thinking", "thinking": "", "signature": ""},
            {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}, "signature": "sig-x"},
        ],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}]},
]


@pytest.fixture
async def proxy(start_proxy: Any, fake_claude: Any) -> Any:
    proxy = await start_proxy(
        f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fake_claude.base_url}"
    models:
      - {{name: "deepseek-v4", alias: "ds-compat", is-compat: true}}
      - {{name: "deepseek-v4", alias: "ds-plain"}}
"""
    )
    proxy.fake = fake_claude
    return proxy


@pytest.mark.parametrize("model", ["ds-compat", "ds-plain"])
async def test_compat_model_keeps_opaque_thinking_signature(proxy: Any, model: str) -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstreamPreservesOpaqueThinkingSignatureInCompatMode,
    TestSanitizeClaudeMessagesForClaudeUpstreamPreservesEmptyThinkingInCompatMode: with
    is-compat both thinking blocks reach the upstream as the client sent them and the
    tool call loses its signature field; without it, a model not named Claude gets the
    history untouched (CPA cleans only Claude-named models' histories). The fake, strict
    like Anthropic, refuses the foreign signature (a 400 the client gets as it came)."""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        with pytest.raises(anthropic.BadRequestError):
            await client.messages.create(model=model, max_tokens=64, messages=HISTORY)
    sent = proxy.fake.last.json["messages"][1]["content"]
    assert sent[:2] == HISTORY[1]["content"][:2]
    tool_use = {"type": "tool_use", "id": "toolu_1", "name": "ls", "input": {}}
    assert sent[2] == (tool_use if model == "ds-compat" else HISTORY[1]["content"][2])
