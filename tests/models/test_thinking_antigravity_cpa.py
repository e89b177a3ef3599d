"""CPA's TestAntigravityIncludeThoughtsPreservesExplicitness
(test/summary_intent_translation_test.go) on the thinking step: Antigravity wraps Gemini's
generateContent, where ``includeThoughts`` is its own opt-in that a budget change keeps."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cliproxy.models.thinking import apply_thinking, resolve_thinking, same_provider_family

from ._thinking_models import CPA_NAMES, MODELS

CAPS = MODELS[CPA_NAMES["antigravity-budget-model"]][0]
HI = [{"role": "user", "parts": [{"text": "hi"}]}]


def _thinking(config: dict[str, Any] | None) -> dict[str, Any]:
    request: dict[str, Any] = {"contents": HI}
    if config is not None:
        request["generationConfig"] = {"thinkingConfig": config}
    return {"request": request}


@pytest.mark.parametrize(
    ("suffix", "config", "want"),
    [
        ("medium", None, None),
        (None, {"thinkingBudget": 8192}, None),
        ("medium", {"includeThoughts": True}, True),
        ("medium", {"includeThoughts": False}, False),
        ("medium", {"include_thoughts": False}, False),
        ("none", None, None),
    ],
    ids=[
        "suffix-no-intent",
        "native-budget",
        "explicit-true",
        "explicit-false",
        "snake-case-false",
        "disabled",
    ],
)
def test_include_thoughts_stays_as_the_client_said(
    suffix: str | None, config: Any, want: bool | None
) -> None:
    """CPA: TestAntigravityIncludeThoughtsPreservesExplicitness: a suffix or budget without a
    visibility intent leaves ``includeThoughts`` out; an explicit true or false (also the
    snake_case spelling, which is not left behind) is kept."""
    body = _thinking(config)
    same = same_provider_family("antigravity", "antigravity", "antigravity")
    setting = resolve_thinking(suffix, "antigravity", body, CAPS, same, target="antigravity")
    out = copy.deepcopy(body)
    apply_thinking(out, setting, "antigravity", "antigravity-budget-model", CAPS)
    thinking = out["request"].get("generationConfig", {}).get("thinkingConfig", {})
    assert thinking.get("includeThoughts") == want and "include_thoughts" not in thinking, thinking
    if want is None:
        assert "includeThoughts" not in thinking
