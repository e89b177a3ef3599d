"""Ported from CPA internal/translator/gemini/claude/gemini_claude_request_test.go and
gemini_claude_compat_test.go: a Claude Messages client's body for a Gemini upstream.

Documented differences kept as assertions: we write ``inlineData.mimeType`` (CPA
``inline_data.mime_type``; Gemini reads both) and a tool result's text goes as
``{"result": "<text>"}``."""

from __future__ import annotations

from typing import Any

from ._run import CLAUDE, GEMINI, get, req

CPA = "gemini_claude_request_test.go"


def _gem(body: dict[str, Any], model: str = "gemini-3-flash-preview") -> dict[str, Any]:
    return req(CLAUDE, GEMINI, {"model": "gemini-3-flash-preview", "max_tokens": 1024, **body}, model)


def test_tool_choice_specific_tool() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_ToolChoice_SpecificTool."""
    out = _gem(
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
            "tools": [
                {
                    "name": "json",
                    "description": "A JSON tool",
                    "input_schema": {"type": "object", "properties": {}},
                }
            ],
            "tool_choice": {"type": "tool", "name": "json"},
        }
    )
    fcc = get(out, "toolConfig.functionCallingConfig")
    assert fcc["mode"] == "ANY" and fcc["allowedFunctionNames"] == ["json"]


def test_string_system_instruction() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_StringSystemInstruction."""
    out = _gem({"system": "Be concise", "messages": [{"role": "user", "content": "Hello"}]})
    assert get(out, "systemInstruction.parts.0.text") == "Be concise"
    assert "role" not in out["systemInstruction"]
    assert "system_instruction" not in out


def test_image_content() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_ImageContent."""
    out = _gem(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "describe this image"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/png", "data": "aGVsbG8="},
                        },
                    ],
                }
            ]
        }
    )
    parts = get(out, "contents.0.parts")
    assert len(parts) == 2 and parts[0]["text"] == "describe this image"
    assert parts[1]["inlineData"] == {"data": "aGVsbG8=", "mimeType": "image/png"}


def test_strips_claude_code_attribution() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_StripsClaudeCodeAttribution (issue 15:
    the billing header block busted non-Claude prompt caches)."""
    out = _gem(
        {
            "model": "claude-sonnet-4-5",
            "system": [
                {
                    "type": "text",
                    "text": "x-anthropic-billing-header: cc_version=2.1.63.abc; cc_entrypoint=cli; cch=12345;",
                },
                {"type": "text", "text": "You are a Claude agent, built on Anthropic's Claude Agent SDK."},
                {"type": "text", "text": "User system prompt"},
            ],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        }
    )
    texts = [p["text"] for p in get(out, "systemInstruction.parts")]
    assert texts == ["You are a Claude agent, built on Anthropic's Claude Agent SDK.", "User system prompt"]


def test_skips_empty_text_parts() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_SkipsEmptyTextParts (issue 15
    defect 10: empty Gemini text parts were sent)."""
    out = _gem(
        {
            "model": "claude-3-5-sonnet",
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "text", "text": ""},
                        {"type": "text", "text": "hello"},
                        {"type": "text", "text": ""},
                    ],
                },
                {"role": "user", "content": "go on"},
            ],
        }
    )
    model = next(c for c in out["contents"] if c["role"] == "model")
    assert model["parts"] == [{"text": "hello"}]


def test_structured_tool_result() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_StructuredToolResult: the image
    of a tool result is its own inline part after the functionResponse."""
    out = _gem(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "json-call-1", "name": "json", "input": {"ok": True}}
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "json-call-1",
                            "content": [
                                {"type": "text", "text": "alpha"},
                                {
                                    "type": "image",
                                    "source": {
                                        "type": "base64",
                                        "media_type": "image/png",
                                        "data": "aGVsbG8=",
                                    },
                                },
                            ],
                        }
                    ],
                },
            ],
            "tools": [{"name": "json", "input_schema": {"type": "object"}}],
        }
    )
    parts = get(out, "contents.2.parts")
    assert get(parts[0], "functionResponse.response") == {"result": "alpha"}
    assert parts[1]["inlineData"] == {"data": "aGVsbG8=", "mimeType": "image/png"}


def test_string_tool_result() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_StringToolResult."""
    out = _gem(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "tool_use", "id": "json-call-1", "name": "json", "input": {"ok": True}}
                    ],
                },
                {
                    "role": "user",
                    "content": [{"type": "tool_result", "tool_use_id": "json-call-1", "content": "alpha"}],
                },
            ],
            "tools": [{"name": "json", "input_schema": {"type": "object"}}],
        }
    )
    assert get(out, "contents.2.parts.0.functionResponse.response.result") == "alpha"


def test_unsigned_claude_thinking_not_sent() -> None:
    """gemini_claude_compat_test.go TestConvertClaudeRequestToGeminiWithCompatPreservesEmptyThinking
    (without compat: Claude thinking with no signature is not sent to Gemini)."""
    out = _gem(
        {
            "messages": [
                {"role": "user", "content": "q"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "reason", "signature": ""},
                        {"type": "text", "text": "a"},
                    ],
                },
                {"role": "user", "content": "q2"},
            ]
        },
        "deepseek-v4",
    )
    model = next(c for c in out["contents"] if c["role"] == "model")
    assert model["parts"] == [{"text": "a"}]


def test_text_of_tool_result_json_image_array_unpacked() -> None:
    """Issue 15 (CPA codex_openai_request_test.go TestToolCallOutputWithStringifiedImageContent, for a
    Gemini upstream): a tool result that is the JSON text of an image array reaches Gemini as
    an inline image after the functionResponse."""
    text = '[{"type":"input_text","text":"shot"},{"type":"input_image","image_url":"data:image/png;base64,AA=="}]'
    out = _gem(
        {
            "messages": [
                {"role": "user", "content": "go"},
                {
                    "role": "assistant",
                    "content": [{"type": "tool_use", "id": "c1", "name": "view", "input": {}}],
                },
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "c1", "content": text}]},
            ],
            "tools": [{"name": "view", "input_schema": {"type": "object"}}],
        }
    )
    parts = get(out, "contents.2.parts")
    assert get(parts[0], "functionResponse.response") == {"result": "shot"}
    assert parts[1]["inlineData"] == {"data": "AA==", "mimeType": "image/png"}


def test_converts_message_system_role_to_user_content() -> None:
    """gemini_claude_request_test.go TestConvertClaudeRequestToGemini_ConvertsMessageSystemRoleToUserContent
    (we merge the consecutive user turns into one content; CPA sends three)."""
    out = _gem(
        {
            "system": [{"type": "text", "text": "Top-level rules"}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                {"role": "system", "content": "String mid-conversation rule"},
                {"role": "system", "content": [{"type": "text", "text": "Array mid-conversation rule"}]},
            ],
        }
    )
    assert [c["role"] for c in out["contents"]] == ["user"]
    assert [p["text"] for p in out["contents"][0]["parts"]] == [
        "Hello",
        "<system-reminder>\nString mid-conversation rule\n</system-reminder>",
        "<system-reminder>\nArray mid-conversation rule\n</system-reminder>",
    ]
    assert [p["text"] for p in get(out, "systemInstruction.parts")] == ["Top-level rules"]
