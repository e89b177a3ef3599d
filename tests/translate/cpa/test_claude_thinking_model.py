"""CPA's ``internal/util/claude_model_test.go``: which models are Claude thinking models,
seen where CPA asks (the interleaved-thinking hint of a Claude request with tools and
thinking on, sent to Antigravity)."""

from __future__ import annotations

import pytest

from tests.translate.cpa.test_antigravity_claude_request import HELLO, THINKING, WEATHER, _ag, _hinted


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("claude-sonnet-4-5-thinking", True),
        ("claude-opus-4-5-thinking", True),
        ("claude-opus-4-6-thinking", True),
        ("Claude-Sonnet-4-5-Thinking", True),
        ("Claude-THINKING-Model", True),
        ("claude-sonnet-4-5", False),
        ("claude-opus-4-5", False),
        ("claude-3-5-sonnet-20240620", False),
        ("gemini-3-pro-preview", False),
        ("gemini-3-pro-thinking", False),
        ("gpt-4o", False),
        ("thinking-model", False),
        ("claude-model", False),
    ],
)
def test_a_claude_thinking_model_is_named_both(model: str, thinking: bool) -> None:
    """CPA: TestIsClaudeThinkingModel"""
    out = _ag({"messages": HELLO, "tools": WEATHER, "thinking": THINKING}, model)
    assert _hinted(out) is thinking
