from __future__ import annotations

import pytest

from cliproxy.models.catalog import ModelInfo
from cliproxy.models.exclusions import apply_exclusions, match_wildcard, normalize_patterns


@pytest.mark.parametrize(
    ("pattern", "value", "hit"),
    [
        ("gpt-5", "gpt-5", True),
        ("gpt-5", "gpt-5.5", False),
        ("gpt-5*", "gpt-5.5", True),
        ("*-mini", "gpt-5.4-mini", True),
        ("*-mini", "gpt-5.4", False),
        ("*flash*", "gemini-2.5-flash-lite", True),
        ("gemini-*-pro", "gemini-2.5-pro", True),
        ("gemini-*-pro", "gemini-2.5-pro-preview", False),
        ("a*b*c", "axxbyyc", True),
        ("a*b*c", "axxcyyb", False),
        ("*", "anything", True),
        ("", "x", False),
    ],
)
def test_match_wildcard(pattern, value, hit):
    assert match_wildcard(pattern, value) is hit


def test_apply_exclusions_is_case_insensitive():
    models = [ModelInfo(id=i) for i in ("GPT-5.4-Mini", "gpt-5.5", "claude-x")]
    kept = apply_exclusions(models, normalize_patterns([" *-MINI ", "Claude-*", "claude-*"]))
    assert [m.id for m in kept] == ["gpt-5.5"]
    assert normalize_patterns(["A", " a", ""]) == ("a",)
