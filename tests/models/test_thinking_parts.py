"""Unit tests of the thinking pieces: suffix grammar, tables, extraction, appliers."""

from __future__ import annotations

import pytest

from cliproxy.errors import RequestError
from cliproxy.models.thinking import (
    Mode,
    ThinkingCaps,
    ThinkingConfig,
    ThinkingError,
    apply_thinking,
    budget_to_level,
    clamp_level,
    claude_effort,
    extract_thinking,
    level_to_budget,
    parse_suffix_value,
    same_provider_family,
    split_model_suffix,
)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gpt-5(high)", ("gpt-5", "high")),
        ("gemini-2.5-pro", ("gemini-2.5-pro", None)),
        ("a(b)(c)", ("a(b)", "c")),
        ("model(high", ("model(high", None)),
        ("m()", ("m", "")),
    ],
)
def test_split_model_suffix(model, expected):
    assert split_model_suffix(model) == expected


@pytest.mark.parametrize(
    ("raw", "mode", "budget", "level"),
    [
        ("none", Mode.NONE, 0, ""),
        ("NONE", Mode.NONE, 0, ""),
        ("0", Mode.NONE, 0, ""),
        ("auto", Mode.AUTO, -1, ""),
        ("-1", Mode.AUTO, -1, ""),
        ("minimal", Mode.LEVEL, 0, "minimal"),
        ("Max", Mode.LEVEL, 0, "max"),
        ("16384", Mode.BUDGET, 16384, ""),
        ("007", Mode.BUDGET, 7, ""),
    ],
)
def test_suffix_values(raw, mode, budget, level):
    cfg = parse_suffix_value(raw)
    assert cfg == ThinkingConfig(mode, budget=budget, level=level, source="suffix")


@pytest.mark.parametrize("raw", [None, "", "ultra", "-2", "1e3", " 5", "9223372036854775808", "٣"])
def test_suffix_values_ignored(raw):
    assert parse_suffix_value(raw) is None


@pytest.mark.parametrize(
    ("budget", "level"),
    [
        (-2, None),
        (-1, "auto"),
        (0, "none"),
        (1, "minimal"),
        (512, "minimal"),
        (513, "low"),
        (1024, "low"),
        (8192, "medium"),
        (24576, "high"),
        (24577, "xhigh"),
        (10**6, "xhigh"),
    ],
)
def test_budget_to_level(budget, level):
    assert budget_to_level(budget) == level


def test_level_to_budget_table():
    assert [
        level_to_budget(x) for x in ("none", "auto", "minimal", "low", "medium", "high", "xhigh", "max")
    ] == [0, -1, 512, 1024, 8192, 24576, 32768, 128000]
    assert level_to_budget("ultra") is None


def test_claude_effort_and_clamp():
    assert claude_effort("minimal", False) == "low"
    assert claude_effort("xhigh", True) == "max"
    assert claude_effort("max", False) == "high"
    assert claude_effort("auto", False) == "high"
    assert claude_effort("bogus", True) is None
    assert clamp_level("medium", ("low", "high")) == "low"
    assert clamp_level("xhigh", ("low", "high")) == "high"
    assert clamp_level("ultra", ("low",)) == "ultra"


@pytest.mark.parametrize(
    ("a", "b", "model_type", "same"),
    [
        ("openai", "codex", None, True),
        ("openai-response", "openai", None, True),
        ("gemini", "antigravity", None, True),
        ("claude", "claude", None, True),
        ("claude", "gemini", None, False),
        ("openai", "kimi", None, False),
        ("claude", "claude", "kimi", False),
        ("openai", "codex", "gemini", False),
    ],
)
def test_same_provider_family(a, b, model_type, same):
    assert same_provider_family(a, b, model_type) is same


@pytest.mark.parametrize(
    ("fmt", "body", "expected"),
    [
        ("openai", {"reasoning_effort": " High "}, ThinkingConfig(Mode.LEVEL, level="high")),
        ("openai", {"reasoning_effort": ""}, None),
        ("openai", {"reasoning_effort": 3}, None),
        ("codex", {"reasoning": {"effort": "none"}}, ThinkingConfig(Mode.NONE)),
        ("claude", {"thinking": {"type": "disabled", "budget_tokens": 5000}}, ThinkingConfig(Mode.NONE)),
        (
            "claude",
            {"thinking": {"type": "enabled", "budget_tokens": 4096.0}},
            ThinkingConfig(Mode.BUDGET, budget=4096),
        ),
        (
            "claude",
            {"thinking": {"type": "adaptive"}, "output_config": {"effort": "auto"}},
            ThinkingConfig(Mode.AUTO, budget=-1),
        ),
        (
            "gemini",
            {"generationConfig": {"thinkingConfig": {"thinkingLevel": "low", "thinkingBudget": 99}}},
            ThinkingConfig(Mode.LEVEL, level="low"),
        ),
        (
            "antigravity",
            {"request": {"generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}}},
            ThinkingConfig(Mode.AUTO, budget=-1),
        ),
        ("kimi", {"thinking": {"type": "disabled"}, "reasoning_effort": "high"}, ThinkingConfig(Mode.NONE)),
        ("kimi", {"reasoning_effort": "low"}, ThinkingConfig(Mode.LEVEL, level="low")),
        ("unknown-format", {"reasoning_effort": "low"}, None),
    ],
)
def test_extract(fmt, body, expected):
    got = extract_thinking(body, fmt)
    assert got == (expected.with_(source=fmt) if expected is not None else None)


def test_thinking_error_is_a_400_request_error():
    assert issubclass(ThinkingError, RequestError)
    assert ThinkingError("x").status == 400


def test_unknown_target_is_left_alone():
    body = {"reasoning_effort": "high"}
    apply_thinking(body, ThinkingConfig(Mode.LEVEL, level="low"), "bedrock", "m", None)
    assert body == {"reasoning_effort": "high"}


def test_claude_disable_drops_empty_output_config_but_keeps_other_keys():
    caps = ThinkingCaps(min=1024, max=128000, zero_allowed=True, levels=("low", "high"))
    body = {"output_config": {"effort": "high", "format": {"type": "json"}}}
    apply_thinking(body, ThinkingConfig(Mode.NONE), "claude", "c", caps)
    assert body == {"thinking": {"type": "disabled"}, "output_config": {"format": {"type": "json"}}}


def test_claude_auto_on_adaptive_model_is_adaptive_without_effort():
    caps = ThinkingCaps(min=1024, max=128000, dynamic_allowed=True, levels=("low", "high"))
    body = {"thinking": {"type": "enabled", "budget_tokens": 2048}, "output_config": {"effort": "low"}}
    apply_thinking(body, ThinkingConfig(Mode.AUTO, budget=-1), "claude", "c", caps)
    assert body == {"thinking": {"type": "adaptive"}}


def test_openai_none_without_zero_falls_back_to_first_level():
    caps = ThinkingCaps(levels=("low", "high"))
    body: dict = {}
    apply_thinking(body, ThinkingConfig(Mode.NONE), "openai", "m", caps)
    assert body == {"reasoning_effort": "low"}


def test_codex_replaces_non_object_reasoning():
    body: dict = {"reasoning": "bad"}
    apply_thinking(
        body, ThinkingConfig(Mode.LEVEL, level="high"), "codex", "m", ThinkingCaps(levels=("high",))
    )
    assert body == {"reasoning": {"effort": "high"}}
