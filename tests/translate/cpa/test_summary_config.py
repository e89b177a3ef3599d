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
from cliproxy.models.thinking import ThinkingCaps
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.translate.summary import body_summary_intent
from tests.translate.cpa._run import CLAUDE, CODEX, GEMINI, OPENAI, RESPONSES, req

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
    (an explicit control wins over the effort). CPA: TestRegistryTranslateRequestAppliesSummaryIntent
    ("Google Chat extension overrides effort")."""
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
    """TestExtractSummaryConfig (the Responses rows). CPA: TestRegistryTranslateRequestAppliesSummaryIntent
    ("responses null summary disables Gemini summaries")."""
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


CLAUDE_BODY = {"model": "m", "max_tokens": 4096, "messages": [{"role": "user", "content": "hi"}]}


@pytest.mark.parametrize(
    ("thinking", "show"),
    [
        pytest.param({"type": "adaptive", "display": "summarized"}, True, id="claude summarized"),
        pytest.param(
            {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}, False, id="claude omitted"
        ),
        pytest.param({"type": "enabled", "display": "summarized"}, True, id="enabled display without budget"),
        pytest.param(
            {"type": "enabled", "budget_tokens": 0, "display": "summarized"},
            None,
            id="zero budget is inactive",
        ),
        pytest.param(
            {"type": "enabled", "budget_tokens": -1, "display": "summarized"}, True, id="auto budget"
        ),
        pytest.param(
            {"type": "enabled", "budget_tokens": -1, "display": "omitted"}, False, id="auto omitted"
        ),
    ],
)
def test_claude_summary_intent(thinking: dict[str, Any], show: bool | None) -> None:
    """TestExtractSummaryConfig (the Claude rows): ``display`` counts only beside thinking
    that is on. CPA's "display without type" row is a 400 here: Anthropic itself refuses a
    thinking object without a type."""
    assert include_thoughts(CLAUDE, {**CLAUDE_BODY, "thinking": thinking}) is show


def test_claude_thinking_without_a_type_is_refused() -> None:
    """TestExtractSummaryConfig "claude display without type is invalid": a difference, a
    400 in the client's format (CPA reads the display as unsaid)."""
    with pytest.raises(RequestError, match="thinking"):
        include_thoughts(CLAUDE, {**CLAUDE_BODY, "thinking": {"display": "summarized"}})


def test_claude_display_beside_auto_thinking_is_unsaid() -> None:
    """TestExtractSummaryConfig "claude display with auto type is invalid": thinking type
    ``auto`` is taken (CPA's translators read it as adaptive), but a ``display`` beside it
    says nothing; before, the request was refused with a 400."""
    thinking = {"type": "auto", "display": "summarized"}
    assert include_thoughts(CLAUDE, {**CLAUDE_BODY, "thinking": thinking}) is None


IB = {"model": "gemini-3-pro", "input": "hi"}


@pytest.mark.parametrize(
    ("extra", "show"),
    [
        pytest.param({"generation_config": {"thinking_summaries": "auto"}}, True, id="interactions auto"),
        pytest.param({"generation_config": {"thinking_summaries": "none"}}, False, id="interactions none"),
        pytest.param(
            {"generation_config": {"thinking_config": {"include_thoughts": False}}},
            False,
            id="nested snake false",
        ),
        pytest.param(
            {"generation_config": {"thinking_config": {"includeThoughts": True}}},
            True,
            id="nested camel true",
        ),
        pytest.param(
            {"generation_config": {"thinkingConfig": {"include_thoughts": True}}},
            True,
            id="camel config snake",
        ),
        pytest.param(
            {"generation_config": {"thinking_summaries": "none"}, "reasoning": {"summary": "auto"}},
            False,
            id="enum wins over compatibility reasoning",
        ),
        pytest.param({"reasoning": {"summary": "auto"}}, True, id="compatibility reasoning auto"),
        pytest.param({"reasoning": {"summary": "none"}}, False, id="compatibility reasoning none"),
        pytest.param(
            {
                "generation_config": {
                    "thinking_summaries": "none",
                    "thinking_config": {"include_thoughts": True},
                }
            },
            False,
            id="enum wins over include alias",
        ),
        pytest.param(
            {"generation_config": {"thinking_config": {"include_thoughts": "false"}}}, None, id="string alias"
        ),
        pytest.param(
            {"generation_config": {"thinking_summaries": "detailed"}}, None, id="detailed is invalid"
        ),
        pytest.param({"generation_config": {"thinking_summaries": True}}, None, id="boolean is invalid"),
    ],
)
def test_interactions_summary_intent(extra: dict[str, Any], show: bool | None) -> None:
    """TestExtractSummaryConfig (the Interactions rows)"""
    assert include_thoughts(INTERACTIONS, {**IB, **extra}) is show


@pytest.mark.parametrize(
    ("include", "display"),
    [(True, "summarized"), (False, "omitted"), ("true", None)],
    ids=["true", "false", "string"],
)
def test_gemini_summary_intent(include: Any, display: str | None) -> None:
    """TestExtractSummaryConfig (the Gemini rows), read on a Claude upstream"""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {"thinkingConfig": {"thinkingBudget": 4096, "includeThoughts": include}},
    }
    out = req(GEMINI, CLAUDE, body, "claude-sonnet-4-5")
    assert (out.get("thinking") or {}).get("display") == display


def test_chat_suffix_none_survives_an_enabled_summary() -> None:
    """TestApplyThinkingWithSummaryKeepsOpenAIChatSuffixNone: ``model(none)`` turns thinking
    off on a Chat upstream although the Responses client asked for a summary."""
    body = {"model": "private-openai", "input": "hi", "reasoning": {"summary": "auto"}}
    out = req(RESPONSES, OPENAI, body, "private-openai")
    ThinkingPlan(None, "responses", "openai", False).apply(out, body, "none", "private-openai")
    assert out["reasoning_effort"] == "none"


def test_summary_only_invents_no_chat_effort() -> None:
    """TestApplyThinkingWithModelInfoSummaryOnlyDoesNotInventOpenAIEffort, with the model's
    levels known: a summary alone is no effort."""
    body = {"model": "private-openai", "input": "hi", "reasoning": {"summary": "auto"}}
    out = req(RESPONSES, OPENAI, body, "private-openai")
    caps = ThinkingCaps(levels=("high", "max"), configured_type="openai")
    ThinkingPlan(caps, "responses", "openai", False).apply(out, body, None, "private-openai")
    assert "reasoning_effort" not in out


@pytest.mark.parametrize("model", ["claude-opus-4-6", "claude-haiku-4-5-20251001"])
def test_disabled_summary_does_not_turn_claude_thinking_on(model: str) -> None:
    """TestApplySummaryConfigForModel_ClaudeDisabledSummaryDoesNotEnableThinking,
    TestApplyThinkingWithModelInfoDoesNotActivateClaudeForDisabledSummary.
    CPA: TestRegistryTranslateRequestDoesNotActivateClaudeForDisabledSummary."""
    body = {"model": model, "input": "hi", "max_output_tokens": 32000, "reasoning": {"summary": None}}
    assert "thinking" not in req(RESPONSES, CLAUDE, body, model)


def test_unsaid_summary_leaves_claude_thinking_alone() -> None:
    """TestApplySummaryConfig_UnspecifiedLeavesBodyUnchanged.
    CPA: TestRegistryTranslateRequestPreservesNativeClaudeMissingDisplay."""
    body = {**CLAUDE_BODY, "thinking": {"type": "adaptive"}}
    assert req(CLAUDE, CLAUDE, body, "claude-opus-4-6")["thinking"] == {"type": "adaptive"}


@pytest.mark.parametrize(
    ("fmt", "body", "show"),
    [
        ("openai", {**CHAT, **EFFORT, "reasoning": {"exclude": True}}, False),
        ("openai", {**CHAT, "include_reasoning": True}, True),
        ("openai", {**CHAT, "reasoning_effort": "none"}, False),
        ("openai", CHAT, None),
        ("openai-response", {**RESP, "reasoning": {"summary": None}}, False),
        ("openai-response", {**RESP, "reasoning": {"generate_summary": "detailed"}}, True),
        ("openai-response", {**RESP, "reasoning": {"effort": "high"}}, None),
        (
            "claude",
            {**CLAUDE_BODY, "thinking": {"type": "enabled", "budget_tokens": 0, "display": "summarized"}},
            None,
        ),
        ("claude", {**CLAUDE_BODY, "thinking": {"type": "adaptive", "display": "omitted"}}, False),
        ("gemini", {"generationConfig": {"thinkingConfig": {"include_thoughts": True}}}, True),
        (
            "interactions",
            {"generation_config": {"thinking_summaries": "none"}, "reasoning": {"summary": "auto"}},
            False,
        ),
        ("interactions", {"reasoning": {"summary": "auto"}}, True),
    ],
)
def test_body_intent_matches_the_translated_intent(fmt: str, body: dict[str, Any], show: bool | None) -> None:
    """TestExtractSummaryConfig, as the steps after translation read it from the client's
    own body (OpenRouter's ``reasoning.exclude``): the same answer as the IR's."""
    assert body_summary_intent(body, fmt) is show
