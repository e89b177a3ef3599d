"""CPA's noop_optimization_test.go cases of claude/gemini, claude/openai, codex/claude and
codex/gemini: what a request or answer that needs no change keeps, and what a wrong one
gets. CPA checks that its byte-level helpers return the input slice itself; our hub reads
JSON into the IR once, so the facts that carry over are the values a client sees."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from tests.translate.cpa._run import CLAUDE, CODEX, GEMINI, OPENAI, RESPONSES, req, resp


def _gemini_tools(params: dict[str, Any]) -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": "x"}]}],
        "tools": [{"functionDeclarations": [{"name": "lookup", "parameters": params}]}],
        "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
    }


def test_gemini_schema_types_reach_claude_lowercase() -> None:
    """CPA: TestLowercaseClaudeToolSchemaTypesNormalizesUppercaseTypes,
    TestLowercaseClaudeToolSchemaTypesReusesLowercaseSchema,
    TestNormalizeClaudeToolSchemaPreservesCanonicalSchema: Gemini's upper-case types are
    lower-cased for Claude; a schema already in Claude's form goes on unchanged."""
    upper = {"type": "OBJECT", "properties": {"value": {"type": "STRING"}}}
    tool = req(GEMINI, CLAUDE, _gemini_tools(upper), "claude-x")["tools"][0]
    assert tool["input_schema"] == {"type": "object", "properties": {"value": {"type": "string"}}}
    canonical = {
        "type": "object",
        "properties": {"value": {"type": "string"}},
        "additionalProperties": False,
        "$schema": "http://json-schema.org/draft-07/schema#",
    }
    assert req(GEMINI, CLAUDE, _gemini_tools(canonical), "claude-x")["tools"][0]["input_schema"] == canonical


def test_wrong_typed_schema_keywords_are_mended_for_claude() -> None:
    """CPA: TestNormalizeClaudeToolSchemaCorrectsWrongTypes: a quoted ``"false"`` becomes
    the boolean and a ``$schema`` that is no string goes (CPA writes draft-07's URL in its
    place; Claude needs none), so Claude does not refuse the request. (CPA:
    TestLowercaseClaudeToolSchemaTypesNormalizesNonStringType, a difference: a root
    ``type: 123`` becomes ``object``, which Claude requires at the root; CPA sends "123".)"""
    wrong = {"type": "object", "additionalProperties": "false", "$schema": 123}
    schema = req(GEMINI, CLAUDE, _gemini_tools(wrong), "claude-x")["tools"][0]["input_schema"]
    assert schema == {"type": "object", "additionalProperties": False, "properties": {}}
    number = req(GEMINI, CLAUDE, _gemini_tools({"type": 123}), "claude-x")["tools"][0]["input_schema"]
    assert number["type"] == "object"


def test_gemini_canonical_schema_and_auto_choice_reach_codex_unchanged() -> None:
    """CPA: TestCleanGeminiCodexToolParametersPreservesCanonicalSchema,
    TestSetCodexToolChoiceFromGeminiToolConfigReusesAutoChoice."""
    canonical = {"type": "object", "properties": {"value": {"type": "string"}}, "additionalProperties": False}
    body = req(GEMINI, CODEX, _gemini_tools(canonical), "gpt-x")
    assert body["tools"][0]["parameters"] == canonical
    assert body["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("stop", "want"),
    [
        (None, "stop"),
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("refusal", "content_filter"),
        ("sensitive", "content_filter"),
    ],
)
def test_claude_stop_reasons_for_chat(stop: str | None, want: str) -> None:
    """CPA: TestConvertClaudeResponseToOpenAINonStreamFinishReasons."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "x"}],
        "stop_reason": stop,
        "usage": {"input_tokens": 1, "output_tokens": 1},
    }
    assert resp(CLAUDE, OPENAI, body)["choices"][0]["finish_reason"] == want


def test_claude_answer_without_usage_gives_responses_zero_counts() -> None:
    """CPA: TestConvertClaudeResponseToOpenAIResponsesNonStreamKeepsZeroUsageDefaults."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [{"type": "text", "text": "hello"}],
        "stop_reason": "end_turn",
    }
    usage = resp(CLAUDE, RESPONSES, body)["usage"]
    assert (usage["input_tokens"], usage["output_tokens"], usage["total_tokens"]) == (0, 0, 0)
    assert usage["input_tokens_details"]["cached_tokens"] == 0


def test_non_string_claude_tool_name_is_refused() -> None:
    """CPA: TestConvertClaudeRequestToCodexNormalizesNonStringToolName, a difference: CPA
    sends a tool named ``"123"``; a number where Claude requires a name is the client's
    mistake, refused with a 400 naming the field."""
    body = {
        "model": "gpt-test",
        "max_tokens": 5,
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"name": 123, "input_schema": {"type": "object"}}],
    }
    with pytest.raises(RequestError, match=r"tools\[0\]\.name"):
        req(CLAUDE, CODEX, body)
