"""CPA ``internal/thinking/summary_test.go``: a client's reasoning-summary intent, read in
its own format and written in the upstream's. The Claude side (``thinking.display``) is
in ``test_claude_thinking_display.py``; here the other formats: Chat's extensions read,
Responses' null and deprecated ``generate_summary``, Gemini's ``includeThoughts``,
Interactions' ``thinking_summaries`` and the Codex / Responses ``reasoning.summary``.

Deliberate difference: a ``reasoning_effort`` or ``reasoning.summary`` that is not a
string is a 400 here (a clear error for a malformed body); CPA reads it as "unsaid".
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from tests.translate.cpa._run import CODEX, GEMINI, OPENAI, RESPONSES, req

INTERACTIONS = Format.INTERACTIONS
CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
RESP = {"model": "m", "input": "hi"}
EFFORT = {"reasoning_effort": "high"}


def include_thoughts(source: Format, body: dict[str, Any]) -> bool | None:
    """The intent as a Gemini upstream gets it (``includeThoughts``; None: unsaid)."""
    out = req(source, GEMINI, body, "gemini-2.5-pro")
    return ((out.get("generationConfig") or {}).get("thinkingConfig") or {}).get("includeThoughts")


@pytest.mark.parametrize(
    ("extra", "show"),
    [
        pytest.param(EFFORT, True, id="chat effort enables"),
        pytest.param({"reasoning_effort": "none"}, False, id="chat none disables"),
        pytest.param({}, None, id="chat missing unspecified"),
        pytest.param({"reasoning_effort": None}, None, id="chat null effort unspecified"),
        pytest.param(
            {**EFFORT, "extra_body": {"google": {"thinking_config": {"include_thoughts": False}}}},
            False,
            id="chat google extension false overrides effort",
        ),
        pytest.param(
            {"extra_body": {"google": {"thinking_config": {"include_thoughts": True}}}},
            True,
            id="chat google extension true",
        ),
        pytest.param({**EFFORT, "reasoning": {"exclude": True}}, False, id="chat exclude disables"),
        pytest.param(
            {"reasoning": {"effort": "high", "exclude": False}}, True, id="chat exclude false enables"
        ),
        pytest.param({**EFFORT, "include_reasoning": False}, False, id="chat legacy include_reasoning false"),
        pytest.param({"include_reasoning": True}, True, id="chat legacy include_reasoning true"),
        pytest.param({"reasoning": {"enabled": False}}, False, id="chat reasoning enabled false"),
        pytest.param({"reasoning": {"enabled": True}}, True, id="chat reasoning enabled true"),
        pytest.param(
            {"reasoning": {"exclude": True}, "include_reasoning": True}, False, id="chat exclude wins"
        ),
        pytest.param({"include_reasoning": "false"}, None, id="chat non-boolean include_reasoning"),
    ],
)
def test_chat_summary_intent(extra: dict[str, Any], show: bool | None) -> None:
    """TestExtractSummaryConfig (the Chat rows), TestExtractExplicitSummaryConfigDoesNotUseChatEffort
    (an explicit control wins over the effort)"""
    assert include_thoughts(OPENAI, {**CHAT, **extra}) is show


@pytest.mark.parametrize(
    ("reasoning", "show"),
    [
        pytest.param({"effort": "high"}, None, id="responses effort alone unspecified"),
        pytest.param({"effort": "high", "summary": "auto"}, True, id="responses summary auto"),
        pytest.param({"summary": "concise"}, True, id="responses summary concise"),
        pytest.param({"summary": None}, False, id="responses summary null"),
        pytest.param({"generate_summary": "detailed"}, True, id="responses deprecated generate summary"),
    ],
)
def test_responses_summary_intent(reasoning: dict[str, Any], show: bool | None) -> None:
    """TestExtractSummaryConfig (the Responses rows)"""
    assert include_thoughts(RESPONSES, {**RESP, "reasoning": reasoning}) is show


def test_responses_boolean_summary_is_refused() -> None:
    """TestExtractSummaryConfig "responses boolean summary invalid": a difference, a 400
    (CPA ignores the field)."""
    with pytest.raises(RequestError, match=r"reasoning\.summary"):
        req(RESPONSES, GEMINI, {**RESP, "reasoning": {"summary": True}}, "gemini-2.5-pro")


def codex_reasoning(reasoning: dict[str, Any]) -> Any:
    return req(RESPONSES, CODEX, {**RESP, "reasoning": reasoning}, "gpt-5.4").get("reasoning", "absent")


def test_responses_deprecated_generate_summary_is_normalised() -> None:
    """TestApplySummaryConfig_ResponsesNormalizesDeprecatedGenerateSummary"""
    assert codex_reasoning({"generate_summary": "detailed"}) == {"summary": "detailed"}


def test_responses_disabled_summary_is_left_out() -> None:
    """TestApplySummaryConfig_ResponsesDisabledOmitsSummary: a null summary goes up as no
    field (not every Responses backend takes null), the effort stays."""
    assert codex_reasoning({"effort": "high", "summary": None}) == {"effort": "high"}
    assert codex_reasoning({"effort": "high", "summary": "none"}) == {"effort": "high"}


def test_responses_disabled_summary_drops_empty_reasoning() -> None:
    """TestApplySummaryConfig_ResponsesDisabledDropsEmptyReasoning"""
    assert codex_reasoning({"summary": None}) == "absent"


def test_responses_concise_summary_reaches_codex() -> None:
    """TestApplySummaryConfig "responses concise", and "chat enabled invents no effort"."""
    assert codex_reasoning({"summary": "concise"}) == {"summary": "concise"}
    out = req(RESPONSES, OPENAI, {**RESP, "reasoning": {"summary": "auto"}}, "m")
    assert "reasoning_effort" not in out


def test_chat_disabled_summary_keeps_the_effort() -> None:
    """TestApplySummaryConfig "chat disabled preserves requested effort": Chat cannot say
    "reason but hide", so a hidden summary never becomes ``reasoning_effort: none``."""
    out = req(RESPONSES, OPENAI, {**RESP, "reasoning": {"effort": "high", "summary": None}}, "m")
    assert out["reasoning_effort"] == "high"


@pytest.mark.parametrize(
    ("reasoning", "summaries"),
    [({"summary": "detailed"}, "auto"), ({"summary": None}, "none"), ({"effort": "high"}, None)],
    ids=["detail collapses to auto", "disabled", "unsaid"],
)
def test_interactions_thinking_summaries(reasoning: dict[str, Any], summaries: str | None) -> None:
    """TestApplySummaryConfig "interactions detail collapses to auto" / "interactions disabled"
    (Interactions has only auto and none)"""
    out = req(RESPONSES, INTERACTIONS, {**RESP, "reasoning": reasoning}, "gemini-3-pro")
    assert (out.get("generation_config") or {}).get("thinking_summaries") == summaries
