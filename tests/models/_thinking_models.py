"""Capability fixtures shared by the thinking tests: (caps, model family, upstream name)."""

from __future__ import annotations

from cliproxy.models.thinking import ThinkingCaps

LEVELS4 = ("minimal", "low", "medium", "high")

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
