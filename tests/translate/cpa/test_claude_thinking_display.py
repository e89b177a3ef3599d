"""CPA internal/thinking/summary_test.go (TestExtractSummaryConfig, TestApplySummaryConfig_
ClaudeDisplayRequiresActiveThinking), Claude side: a client's reasoning-summary intent
becomes Claude's ``thinking.display`` when thinking is on."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.formats import Format
from tests.translate.cpa._run import CLAUDE, GEMINI, OPENAI, RESPONSES, req

CHAT = {"messages": [{"role": "user", "content": "hi"}]}
RESP = {"input": "hi"}
GEM = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def thinking(source: Format, body: dict[str, Any]) -> dict[str, Any] | None:
    out = req(source, CLAUDE, {"model": "m", **body}, "claude-sonnet-4-5")
    return out.get("thinking")


@pytest.mark.parametrize(
    ("source", "body", "display"),
    [
        pytest.param(OPENAI, {**CHAT, "reasoning_effort": "high"}, "summarized", id="chat effort enables"),
        pytest.param(
            RESPONSES,
            {**RESP, "reasoning": {"effort": "high"}},
            None,
            id="responses effort alone unspecified",
        ),
        pytest.param(
            RESPONSES,
            {**RESP, "reasoning": {"effort": "high", "summary": "auto"}},
            "summarized",
            id="responses summary auto",
        ),
        pytest.param(
            RESPONSES,
            {**RESP, "reasoning": {"effort": "low", "summary": "concise"}},
            "summarized",
            id="responses summary concise",
        ),
        pytest.param(
            RESPONSES,
            {**RESP, "reasoning": {"effort": "low", "summary": "detailed"}},
            "summarized",
            id="responses summary detailed",
        ),
        pytest.param(
            GEMINI,
            {
                **GEM,
                "generationConfig": {"thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": True}},
            },
            "summarized",
            id="gemini include true",
        ),
        pytest.param(
            GEMINI,
            {
                **GEM,
                "generationConfig": {"thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": False}},
            },
            "omitted",
            id="gemini include false",
        ),
    ],
)
def test_summary_intent_becomes_claude_display(
    source: Format, body: dict[str, Any], display: str | None
) -> None:
    """TestExtractSummaryConfig (the intent) with TestApplySummaryConfig (written as
    ``thinking.display`` on the Claude body). CPA: TestRegistryTranslateRequestAppliesSummaryIntent
    (its Claude rows; the Gemini rows are in test_summary_config.py)."""
    got = thinking(source, body)
    assert got is not None and got["type"] in ("enabled", "adaptive")
    assert got.get("display") == display


@pytest.mark.parametrize(
    ("source", "body"),
    [
        pytest.param(OPENAI, CHAT, id="chat missing unspecified"),
        pytest.param(OPENAI, {**CHAT, "reasoning_effort": "none"}, id="chat none: no thinking, no display"),
        pytest.param(
            GEMINI,
            {**GEM, "generationConfig": {"thinkingConfig": {"thinkingBudget": 0, "includeThoughts": False}}},
            id="thinking off",
        ),
    ],
)
def test_display_requires_active_thinking(source: Format, body: dict[str, Any]) -> None:
    """TestApplySummaryConfig_ClaudeDisplayRequiresActiveThinking."""
    got = thinking(source, body)
    assert got is None or "display" not in got


def test_claude_client_display_is_kept() -> None:
    """TestExtractSummaryConfig/"claude summarized": a Claude client's own display stays."""
    body = {
        "model": "m",
        "max_tokens": 4096,
        "thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"},
        "messages": [{"role": "user", "content": "hi"}],
    }
    assert req(CLAUDE, CLAUDE, body, "claude-x")["thinking"]["display"] == "omitted"
