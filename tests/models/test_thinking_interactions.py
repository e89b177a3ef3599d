"""The Gemini Interactions thinking target (CPA internal/thinking/provider/interactions):
``generation_config.thinking_level`` and ``thinking_summaries``, nothing else.

CPA: TestThinkingE2EInteractionsMatrix, its applier's part (IN5, IN9); every row runs
through translation and the thinking step in tests/models/test_thinking_groups_cpa.py."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.models.thinking.appliers import apply_interactions
from cliproxy.models.thinking.canonical import Mode, ThinkingCaps, ThinkingConfig
from cliproxy.models.thinking.extract import extract_thinking

LEVELS = ThinkingCaps(levels=("low", "medium", "high"))


def applied(
    cfg: ThinkingConfig, config: dict[str, Any] | None = None, caps: ThinkingCaps | None = None
) -> Any:
    body: dict[str, Any] = {"input": "hi"}
    if config is not None:
        body["generation_config"] = config
    apply_interactions(body, cfg, caps, "m")
    return body.get("generation_config")


def test_level_is_written_and_old_fields_go() -> None:
    old = {"thinking_budget": 10, "thinking_config": {"thinking_budget": 5}, "temperature": 0.2}
    assert applied(ThinkingConfig(Mode.LEVEL, level="high"), old) == {
        "temperature": 0.2,
        "thinking_level": "high",
    }


@pytest.mark.parametrize(
    ("level", "caps", "want"),
    [
        ("max", None, "high"),
        ("xhigh", None, "high"),
        ("minimal", LEVELS, "high"),
        ("MEDIUM", LEVELS, "medium"),
    ],
)
def test_level_fits_the_model(level: str, caps: ThinkingCaps | None, want: str) -> None:
    assert applied(ThinkingConfig(Mode.LEVEL, level=level), caps=caps) == {"thinking_level": want}


def test_budget_becomes_its_level() -> None:
    assert applied(ThinkingConfig(Mode.BUDGET, budget=20000)) == {"thinking_level": "high"}


def test_summary_intent_is_kept_and_none_writes_nothing() -> None:
    asked = {"thinking_summaries": "AUTO", "thinking_level": "low"}
    assert applied(ThinkingConfig(Mode.LEVEL, level="high"), asked) == {
        "thinking_level": "high",
        "thinking_summaries": "auto",
    }
    thoughts = {"thinking_config": {"include_thoughts": False}}
    assert applied(ThinkingConfig(Mode.AUTO, budget=-1), thoughts) == {"thinking_summaries": "none"}
    assert applied(ThinkingConfig(Mode.NONE), {"thinking_summaries": "auto"}) == {}


def test_reader() -> None:
    body = {"generation_config": {"thinking_config": {"thinkingLevel": "Low"}}}
    assert extract_thinking(body, "interactions") == ThinkingConfig(
        Mode.LEVEL, level="low", source="interactions"
    )
    assert extract_thinking({"generation_config": {"thinking_budget": 0}}, "interactions").mode is Mode.NONE
    assert extract_thinking({"input": "hi"}, "interactions") is None
