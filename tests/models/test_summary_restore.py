"""The summary writer an interceptor's lost intent goes through (CPA
``applySummaryConfigForProvider``), per target format."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.models.thinking.summary_restore import stated_summary, write_summary


@pytest.mark.parametrize(
    ("target", "body", "shown", "want"),
    [
        ("gemini", {}, True, {"generationConfig": {"thinkingConfig": {"includeThoughts": True}}}),
        (
            "antigravity",
            {"request": {"generationConfig": {"thinkingConfig": {"include_thoughts": True}}}},
            False,
            {"request": {"generationConfig": {"thinkingConfig": {"includeThoughts": False}}}},
        ),
        ("interactions", {}, False, {"generation_config": {"thinking_summaries": "none"}}),
        (
            "codex",
            {"reasoning": {"effort": "high"}},
            True,
            {"reasoning": {"effort": "high", "summary": "detailed"}},
        ),
        ("codex", {"reasoning": {"summary": "auto", "generate_summary": "auto"}}, False, {}),
        (
            "claude",
            {"thinking": {"type": "adaptive"}},
            False,
            {"thinking": {"type": "adaptive", "display": "omitted"}},
        ),
        ("claude", {"thinking": {"type": "disabled"}}, True, {"thinking": {"type": "disabled"}}),
        ("openai", {"reasoning_effort": "high"}, True, {"reasoning_effort": "high"}),
        ("xai", {"reasoning": {"effort": "high"}}, True, {"reasoning": {"effort": "high"}}),
    ],
)
def test_write_summary(target: str, body: dict[str, Any], shown: bool, want: dict[str, Any]) -> None:
    """CPA: TestApplyThinkingWithSourcePayloadPreservesOriginalOnlySummary, the writing half:
    the visibility only, in each target's field; Claude's display only on thinking that is
    on; Chat and xAI bodies have no field CPA writes."""
    write_summary(body, target, shown, "detailed")
    assert body == want
    if target in ("gemini", "antigravity", "interactions", "claude") and body != {
        "thinking": {"type": "disabled"}
    }:
        assert stated_summary(body, target) is shown
