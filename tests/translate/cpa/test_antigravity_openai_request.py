"""Ported from CPA internal/translator/antigravity/openai/chat-completions/antigravity_openai_request_test.go
(and antigravity_openai_file_data_test.go): a Chat Completions client's body for the
Antigravity upstream (our Gemini request inside the envelope ``AntigravityProvider.build``
sends). Documented differences: ``inlineData.mimeType`` (CPA ``mime_type``); consecutive
user turns merged into one content."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider

from ._run import GEMINI, OPENAI, get, req

CPA = "antigravity_openai_request_test.go"


def _ag(body: dict[str, Any], model: str = "gemini-3-flash") -> dict[str, Any]:
    gemini = req(OPENAI, GEMINI, {"model": model, **body}, model)
    cred = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
    up = AntigravityProvider().build(cred, gemini, model=model, stream=False, client_headers={})
    return orjson.loads(up.body)["request"]  # type: ignore[no-any-return]


def test_skips_empty_text_parts_without_nulls() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravitySkipsEmptyTextPartsWithoutNulls."""
    out = _ag(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": ""},
                        {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [{"type": "text", "text": ""}],
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": '{"path":"a.txt"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"output":"ok"}'},
                {"role": "user", "content": "done"},
            ]
        }
    )
    user = get(out, "contents.0.parts")
    assert user == [{"inlineData": {"data": "SUQzBA==", "mimeType": "audio/mpeg"}}]
    model = get(out, "contents.1.parts")
    assert len(model) == 1 and "functionCall" in model[0]


def test_claude_model_sanitizes_unsigned_reasoning_content() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravity_ClaudeModelSanitizesUnsignedReasoningContent."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "visible text", "reasoning_content": "unsigned reasoning"},
                {"role": "user", "content": "say ok"},
            ]
        },
        "claude-sonnet-4-6",
    )
    contents = out["contents"]
    assert len(contents) == 3
    assert contents[1]["parts"] == [{"text": "visible text"}]


def test_claude_model_drops_empty_assistant_turn_after_sanitizing() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravity_ClaudeModelDropsEmptyAssistantTurnAfterSanitizingReasoningContent
    (the two user turns left are merged into one content; CPA keeps two)."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "reasoning_content": "unsigned reasoning"},
                {"role": "user", "content": "say ok"},
            ]
        },
        "claude-sonnet-4-6",
    )
    assert [c["role"] for c in out["contents"]] == ["user"]


def test_preserves_reasoning_content() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityPreservesReasoningContent."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "", "reasoning_content": "thinking only"},
                {"role": "user", "content": "say ok"},
            ]
        }
    )
    contents = out["contents"]
    assert len(contents) == 3 and contents[1]["role"] == "model"
    part = contents[1]["parts"][0]
    assert part["text"] == "thinking only" and part["thought"] is True
    assert part["thoughtSignature"] == "skip_thought_signature_validator"


def test_preserves_reasoning_before_visible_content_and_tool_call() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityPreservesReasoningBeforeVisibleContentAndToolCall."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": "visible answer",
                    "reasoning_content": "thinking only",
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "read_file", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"output":"ok"}'},
                {"role": "user", "content": "say ok"},
            ]
        }
    )
    parts = out["contents"][1]["parts"]
    assert parts[0]["text"] == "thinking only" and parts[0]["thought"] is True
    assert parts[1] == {"text": "visible answer"}
    assert parts[2]["functionCall"]["name"] == "read_file"
    assert parts[2]["thoughtSignature"] == "skip_thought_signature_validator"
    assert get(out, "contents.2.parts.0.functionResponse.name") == "read_file"


@pytest.mark.parametrize(
    ("extra", "want"),
    [({}, None), ({"reasoning_effort": "high"}, True)],
    ids=["missing summary intent leaves include thoughts absent", "reasoning effort enables thoughts"],
)
def test_thinking_aliases(extra: dict[str, Any], want: bool | None) -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityThinkingAliases (the rows
    spelled in Chat's own fields; the Google and OpenRouter extension spellings are read by
    the Chat parser's owner's work)."""
    out = _ag({"messages": [{"role": "user", "content": "hi"}], **extra}, "gemini-3.1-pro-low")
    assert get(out, "generationConfig.thinkingConfig.includeThoughts") is want
    assert get(out, "generationConfig.thinkingConfig.include_thoughts") is None


@pytest.mark.parametrize(("choice", "mode"), [("none", "NONE"), ("auto", "AUTO"), ("required", "ANY")])
def test_maps_tool_choice_modes(choice: str, mode: str) -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityMapsToolChoiceModes."""
    out = _ag(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}],
            "tool_choice": choice,
        }
    )
    assert get(out, "toolConfig.functionCallingConfig.mode") == mode


def test_deduplicates_and_disambiguates_tools() -> None:
    """antigravity_openai_request_test.go TestConvertOpenAIRequestToAntigravityDeduplicatesAndDisambiguatesTools."""
    first = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build"
    second = "mcp__plugin_cloudflare_cloudflare-builds__workers_builds_get_build_logs"
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": second, "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "{}"},
            ],
            "tools": [
                {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}},
                {
                    "type": "function",
                    "function": {
                        "name": "lookup",
                        "description": "duplicate",
                        "parameters": {"type": "object"},
                    },
                },
                {"type": "function", "function": {"name": first, "parameters": {"type": "object"}}},
                {"type": "function", "function": {"name": second, "parameters": {"type": "object"}}},
            ],
            "tool_choice": {"type": "function", "function": {"name": second}},
        }
    )
    decls = get(out, "tools.0.functionDeclarations")
    names = [d["name"] for d in decls]
    assert len(names) == 3 and names[0] == "lookup"
    first_mapped, second_mapped = names[1], names[2]
    assert first_mapped != second_mapped and len(second_mapped) <= 64
    assert get(out, "contents.1.parts.0.functionCall.name") == second_mapped
    assert get(out, "contents.2.parts.0.functionResponse.name") == second_mapped
    assert get(out, "toolConfig.functionCallingConfig.allowedFunctionNames") == [second_mapped]


def test_normalizes_file_data_url() -> None:
    """antigravity_openai_file_data_test.go (chat-completions): a data-URL file part becomes inlineData.
    CPA: TestConvertOpenAIRequestToAntigravityNormalizesFileDataURL"""
    out = _ag(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "file",
                            "file": {
                                "filename": "test.pdf",
                                "file_data": "data:application/pdf;base64,JVBERi0xLjQK",
                            },
                        }
                    ],
                }
            ]
        },
        "gemini-2.5-pro",
    )
    assert get(out, "contents.0.parts.0.inlineData") == {
        "data": "JVBERi0xLjQK",
        "mimeType": "application/pdf",
    }
