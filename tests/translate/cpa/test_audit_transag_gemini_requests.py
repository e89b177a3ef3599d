"""Audit (helper transag) of CPA's Gemini-target request tests: the facts our earlier ports
left out, through our real translators (all pass; they pin the behaviour)."""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format

from ._run import GEMINI, OPENAI, RESPONSES, get, req
from .test_is_compat import _translate

SENTINEL = "skip_thought_signature_validator"


def test_namespace_tool_choice_and_custom_tool() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_AdditionalToolsNamespaceAndCustom
    with CPA's own input (our port used another): a custom tool inside a namespace is
    declared as ``functions__exec`` with one string ``input``, and a ``tool_choice`` naming
    a namespaced function forces that one (mode ANY, its namespaced name allowed).
    Our schema goes as ``parameters`` (CPA ``parametersJsonSchema``): documented in
    tests/e2e/test_gemini_schema_spelling.py."""
    body: dict[str, Any] = {
        "model": "gemini-2.5-flash",
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "functions",
                        "tools": [
                            {"type": "custom", "name": "exec", "description": "Execute a command"},
                            {
                                "type": "function",
                                "name": "continuity_probe",
                                "description": "Return a continuity probe",
                                "parameters": {
                                    "type": "object",
                                    "properties": {"value": {"type": "string"}},
                                    "required": ["value"],
                                },
                            },
                        ],
                    }
                ],
            },
            {"role": "user", "content": [{"type": "input_text", "text": "Run probe"}]},
        ],
        "tool_choice": {"type": "function", "name": "continuity_probe", "namespace": "functions"},
    }
    out = req(RESPONSES, GEMINI, body, "gemini-2.5-flash")
    decls = get(out, "tools.0.functionDeclarations")
    assert [d["name"] for d in decls] == ["functions__exec", "functions__continuity_probe"]
    assert decls[0]["parameters"]["properties"]["input"]["type"].lower() == "string"
    assert out["toolConfig"] == {
        "functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["functions__continuity_probe"]}
    }


def test_reasoning_content_gets_the_bypass_signature() -> None:
    """gemini_openai_request_test.go TestConvertOpenAIRequestToGeminiPreservesReasoningContent,
    the half our port left to the signatures work: the replayed reasoning goes as a thought
    part carrying the bypass sentinel (Gemini 3 refuses an unsigned thought)."""
    body = {
        "model": "gemini-3-flash",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "reasoning_content": "thinking only"},
            {"role": "user", "content": "say ok"},
        ],
    }
    contents = req(OPENAI, GEMINI, body, "gemini-3-flash")["contents"]
    assert len(contents) == 3 and contents[1]["role"] == "model"
    assert contents[1]["parts"][0] == {"text": "thinking only", "thought": True, "thoughtSignature": SENTINEL}


def test_unsigned_claude_thinking_is_dropped_without_compat() -> None:
    """gemini_claude_compat_test.go TestConvertClaudeRequestToGeminiWithCompatPreservesEmptyThinking,
    its default-mode half (test_is_compat.py has the compat half): without compat, a
    thinking block with an empty signature reaches Gemini as nothing."""
    body = {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "reason", "signature": ""}]}
        ]
    }
    out = _translate(Format.CLAUDE, Format.GEMINI, body, compat=False)
    assert [p for c in out["contents"] for p in c.get("parts", [])] == []
