"""Capability fixtures shared by the thinking tests: (caps, model family, upstream name).

The models are CPA's ``getTestModels`` (test/thinking_conversion_test.go) under short
names; :data:`CPA_NAMES` gives each its CPA name, for tests whose rows use those."""

from __future__ import annotations

from typing import Any

from cliproxy.models.thinking import ThinkingCaps

LEVELS4 = ("minimal", "low", "medium", "high")
ABSENT = object()  # what :func:`field_at` gives for a path that is not there

MODELS: dict[str, tuple[ThinkingCaps | None, str, str]] = {
    "lvl": (ThinkingCaps(levels=LEVELS4), "openai", "lvl"),
    "lvl2": (ThinkingCaps(levels=("low", "high")), "gemini", "lvl2"),
    "gbud": (ThinkingCaps(min=128, max=20000, dynamic_allowed=True), "gemini", "gbud"),
    "gmix": (
        ThinkingCaps(min=128, max=32768, dynamic_allowed=True, levels=("low", "high")),
        "gemini",
        "gmix",
    ),
    "gmix0": (
        ThinkingCaps(min=128, max=32768, zero_allowed=True, dynamic_allowed=True, levels=("low", "high")),
        "gemini",
        "gmix0",
    ),
    "cbud": (ThinkingCaps(min=1024, max=128000, zero_allowed=True), "claude", "cbud"),
    "copus": (
        ThinkingCaps(
            min=1024,
            max=128000,
            zero_allowed=True,
            levels=("low", "medium", "high", "max"),
            max_completion_tokens=128000,
        ),
        "claude",
        "copus",
    ),
    "cson": (
        ThinkingCaps(
            min=1024,
            max=128000,
            zero_allowed=True,
            levels=("low", "medium", "high"),
            max_completion_tokens=64000,
        ),
        "claude",
        "cson",
    ),
    "agbud": (
        ThinkingCaps(min=128, max=20000, zero_allowed=True, dynamic_allowed=True),
        "antigravity",
        "agbud",
    ),
    "agclaude": (
        ThinkingCaps(min=1024, max=64000, zero_allowed=True, max_completion_tokens=64000),
        "antigravity",
        "claude-sonnet-ag",
    ),
    "ktog": (ThinkingCaps(levels=("low", "medium", "high"), zero_allowed=True), "kimi", "ktog"),
    "ktier": (ThinkingCaps(levels=("low", "medium", "high")), "kimi", "ktier"),
    "xlvl": (ThinkingCaps(levels=("none", "low", "medium", "high"), zero_allowed=True), "xai", "xlvl"),
    "nothink": (ThinkingCaps(), "openai", "nothink"),
    "unknown": (None, "", "unknown"),
    "userdef": (ThinkingCaps(user_defined=True), "", "userdef"),
}

# CPA's getTestModels name -> the short name above (the same capabilities and family)
CPA_NAMES: dict[str, str] = {
    "level-model": "lvl",
    "level-subset-model": "lvl2",
    "gemini-budget-model": "gbud",
    "gemini-mixed-model": "gmix",
    "gemini-toggle-mixed-model": "gmix0",
    "claude-budget-model": "cbud",
    "claude-opus-4-6-model": "copus",
    "claude-sonnet-4-6-model": "cson",
    "antigravity-budget-model": "agbud",
    "kimi-toggle-thinking-model": "ktog",
    "xai-level-model": "xlvl",
    "no-thinking-model": "nothink",
}


def field_at(body: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON body, or :data:`ABSENT`."""
    for key in path.split("."):
        if not isinstance(body, dict) or key not in body:
            return ABSENT
        body = body[key]
    return body
