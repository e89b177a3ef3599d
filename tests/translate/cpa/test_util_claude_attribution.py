"""CPA internal/util/claude_attribution_test.go: Claude Code's billing/attribution system
block (``x-anthropic-billing-header: ...``) is not forwarded to other families
(issue 15 defect 10) and is stripped for Kimi."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.providers.identity import strip_claude_attribution
from tests.translate.cpa._run import CLAUDE, OPENAI, req

BILLING = "x-anthropic-billing-header: cc_version=2.1.220; cch=abcde;"


@pytest.mark.parametrize(
    ("text", "attribution"),
    [
        ("x-anthropic-billing-header: cc_version=2.1.63.abc; cc_entrypoint=cli; cch=12345;", True),
        ("\n\t x-anthropic-billing-header: cc_version=2.1.63.abc; cch=12345;", True),
        ("You are helpful.", False),
        ("", False),
    ],
    ids=["Claude Code attribution block", "leading whitespace", "regular system prompt", "empty text"],
)
def test_is_claude_code_attribution_system_text(text: str, attribution: bool) -> None:
    """TestIsClaudeCodeAttributionSystemText, seen through a Claude request built for a
    Chat upstream: the block is forwarded exactly when it is not the attribution."""
    body = {
        "model": "claude-x",
        "system": [{"type": "text", "text": text}, {"type": "text", "text": "Keep me."}],
        "messages": [{"role": "user", "content": "hi"}],
    }
    system = req(CLAUDE, OPENAI, body, "gpt-5")["messages"][0]
    content = system["content"]
    sent = [content] if isinstance(content, str) else [p["text"] for p in content]
    assert (text in sent) is (not attribution and bool(text))
    assert "Keep me." in sent


@pytest.mark.parametrize(
    ("body", "want"),
    [
        ({"system": BILLING, "messages": []}, None),
        ({"system": "You are helpful.", "messages": []}, "You are helpful."),
        (
            {
                "system": [
                    {"type": "text", "text": BILLING},
                    {"type": "text", "text": "You are Claude Code"},
                ],
                "messages": [],
            },
            [{"type": "text", "text": "You are Claude Code"}],
        ),
        ({"system": [{"type": "text", "text": BILLING}], "messages": []}, None),
    ],
    ids=[
        "string attribution deleted",
        "string regular prompt kept",
        "array drops billing keeps identity",
        "array only billing deleted",
    ],
)
def test_strip_claude_code_attribution_system(body: dict[str, Any], want: Any) -> None:
    """TestStripClaudeCodeAttributionSystem (our Kimi path's strip)."""
    strip_claude_attribution(body)
    assert body.get("system") == want
    assert "cch=" not in str(body)
