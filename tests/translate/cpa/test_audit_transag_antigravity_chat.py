"""Audit (helper transag) of CPA's antigravity_openai_request_test.go: the rows of
TestConvertOpenAIRequestToAntigravityThinkingAliases our earlier port
(test_antigravity_openai_request.py::test_thinking_aliases) left out, through the
Antigravity provider's real build: a Chat Completions client's summary intent, in each
spelling CPA reads, reaches Cloud Code as ``thinkingConfig.includeThoughts`` (camelCase
only), and a non-boolean spelling is not read."""

from __future__ import annotations

from typing import Any

import pytest

from ._run import get
from .test_antigravity_openai_request import _ag

MODEL = "gemini-3.1-pro-low"


@pytest.mark.parametrize(
    ("extra", "want"),
    [
        pytest.param({"generationConfig": {"thinkingConfig": {"include_thoughts": True}}}, True, id="snake"),
        pytest.param(
            {"generationConfig": {"thinkingConfig": {"includeThoughts": "true"}}}, None, id="string"
        ),
        pytest.param({"thinking": {"include_thoughts": True}}, True, id="top-level thinking"),
        pytest.param({"reasoning": {"exclude": False}}, True, id="exclude false"),
        pytest.param({"reasoning": {"exclude": True}}, False, id="exclude true"),
        pytest.param(
            {
                "reasoning_effort": "high",
                "extra_body": {"google": {"thinking_config": {"include_thoughts": False}}},
            },
            False,
            id="google extension disables",
        ),
    ],
)
def test_thinking_alias_rows(extra: dict[str, Any], want: bool | None) -> None:
    """TestConvertOpenAIRequestToAntigravityThinkingAliases: "GenerationConfig snake include
    thoughts", "String include thoughts is ignored", "Top-level thinking include thoughts",
    "Reasoning exclude false includes thoughts", "Reasoning exclude true hides thoughts",
    "Google extension disables thoughts"."""
    out = _ag({"messages": [{"role": "user", "content": "hi"}], **extra}, MODEL)
    assert get(out, "generationConfig.thinkingConfig.includeThoughts") is want
    assert get(out, "generationConfig.thinkingConfig.include_thoughts") is None
