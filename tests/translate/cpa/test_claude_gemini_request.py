"""CPA internal/translator/claude/gemini/claude_gemini_request_test.go: Gemini client ->
Claude upstream, request side."""

from __future__ import annotations

from typing import Any

import pytest

from tests.translate.cpa._run import CLAUDE, GEMINI, claude_attempt, get, req


def to_claude(body: dict[str, Any], model: str = "claude-test") -> dict[str, Any]:
    return req(GEMINI, CLAUDE, body, model)


def turn(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "parts": list(parts)}


def call(name: str, args: dict[str, Any] | None = None, **ids: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, **ids, "args": args or {}}}


def result(name: str, value: Any, **ids: str) -> dict[str, Any]:
    return {"functionResponse": {"name": name, **ids, "response": {"result": value}}}


@pytest.mark.parametrize(
    ("field", "want"),
    [
        ("id", "call_gateway_id"),
        ("call_id", "call_gateway_call_id"),
    ],
    ids=["id", "call_id"],
)
def test_preserves_custom_tool_ids(field: str, want: str) -> None:
    """TestConvertGeminiRequestToClaude_PreservesCustomToolIDs."""
    out = to_claude(
        {
            "contents": [
                turn("model", call("lookup", {"query": "status"}, **{field: want})),
                turn("user", result("lookup", "ok", **{field: want})),
            ]
        },
        "claude-sonnet-4",
    )
    assert get(out, "messages.0.content.0.id") == want
    assert get(out, "messages.1.content.0.tool_use_id") == want


def test_groups_consecutive_role_turns() -> None:
    """TestConvertGeminiRequestToClaude_GroupsConsecutiveRoleTurns."""
    out = to_claude(
        {
            "contents": [
                turn("model", {"text": "answer"}),
                turn("model", call("first", id="call_1")),
                turn("model", call("second", id="call_2")),
                turn("user", result("first", "one", id="call_1")),
                turn("user", result("second", "two", id="call_2")),
            ]
        }
    )
    messages = out["messages"]
    assert len(messages) == 2
    assert [b["type"] for b in messages[0]["content"]] == ["text", "tool_use", "tool_use"]
    assert [(b["type"], b["tool_use_id"]) for b in messages[1]["content"]] == [
        ("tool_result", "call_1"),
        ("tool_result", "call_2"),
    ]


def test_system_instruction_goes_to_claude_system() -> None:
    """TestConvertGeminiRequestToClaude_KeepsSystemInstructionUserSeparate. CPA sends the
    Gemini system instruction as a first user turn; we send it as Claude's ``system``,
    where it keeps system authority (documented difference). The user turn stays apart."""
    out = to_claude(
        {
            "system_instruction": {"parts": [{"text": "system rule"}]},
            "contents": [turn("user", {"text": "question"})],
        }
    )
    assert out["system"] == [{"type": "text", "text": "system rule"}]
    assert [get(m, "content.0.text") for m in out["messages"]] == ["question"]


def test_drops_temperature() -> None:
    """TestConvertGeminiRequestToClaude_DropsTemperature (defect 4)."""
    out = to_claude(
        {"generationConfig": {"temperature": 0.2, "topP": 0.8}, "contents": [turn("user", {"text": "hi"})]},
        "claude-sonnet-5",
    )
    assert "temperature" not in out
    assert out["top_p"] == 0.8


def test_accepts_camel_inline_data() -> None:
    """TestConvertGeminiRequestToClaude_AcceptsCamelInlineData."""
    out = to_claude(
        {"contents": [turn("user", {"inlineData": {"mimeType": "image/png", "data": "aGVsbG8="}})]},
        "claude-sonnet-4",
    )
    assert get(out, "messages.0.content.0.type") == "image"
    assert get(out, "messages.0.content.0.source.media_type") == "image/png"


def test_splits_non_image_inline_data_by_mime() -> None:
    """TestConvertGeminiRequestToClaude_SplitsNonImageInlineDataByMIME (defect 9: audio
    and video become text placeholders, never a document)."""
    out = to_claude(
        {
            "contents": [
                turn(
                    "user",
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                    {"inlineData": {"mimeType": "video/mp4", "data": "AAAAIGZ0eXA="}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                )
            ]
        },
        "claude-sonnet-4",
    )
    content = get(out, "messages.0.content")
    assert [b["type"] for b in content] == ["text", "text", "document"]
    assert content[0]["text"] == "Media content: inline data (Type: audio/wav)"
    assert content[1]["text"] == "Media content: inline data (Type: video/mp4)"


def test_file_data_video_becomes_text_placeholder() -> None:
    """CPA claude_gemini_request.go claudeContentPartFromGeminiFileData (no Go test): a
    video by URI is named in text, an image by URI stays an image."""
    out = to_claude(
        {
            "contents": [
                turn(
                    "user",
                    {"fileData": {"mimeType": "video/mp4", "fileUri": "https://example.com/v.mp4"}},
                    {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/i.png"}},
                )
            ]
        }
    )
    content = get(out, "messages.0.content")
    assert content[0] == {"type": "text", "text": "File: https://example.com/v.mp4 (Type: video/mp4)"}
    assert content[1] == {"type": "image", "source": {"type": "url", "url": "https://example.com/i.png"}}


def test_drops_hidden_thought_parts_thought_only_turn() -> None:
    """TestConvertGeminiRequestToClaude_DropsHiddenThoughtParts/thought-only turn."""
    out = to_claude(
        {
            "contents": [
                turn(
                    "model",
                    {
                        "thought": True,
                        "text": "internal reasoning",
                        "thoughtSignature": "opaque-provider-state",
                    },
                ),
                turn("user", {"text": "continue"}),
            ]
        }
    )
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "continue"}]}]


def test_drops_hidden_thought_parts_mixed_turn() -> None:
    """TestConvertGeminiRequestToClaude_DropsHiddenThoughtParts/mixed turn."""
    out = to_claude(
        {
            "contents": [
                turn(
                    "model",
                    {
                        "thought": True,
                        "text": "internal reasoning",
                        "thoughtSignature": "opaque-provider-state",
                    },
                    {"text": "visible answer"},
                )
            ]
        }
    )
    assert get(out, "messages.0.content") == [{"type": "text", "text": "visible answer"}]


def test_deterministic_tool_ids() -> None:
    """TestConvertGeminiRequestToClaude_DeterministicToolIDs. The same request gives the
    same body, each call and its response share one id. CPA's ids read
    ``toolu_gemini_<n>``; ours are the Gemini parser's own (the value is not asserted)."""
    body = {
        "contents": [
            turn("model", call("first_tool", {"q": "one"})),
            turn("user", result("first_tool", "ok1")),
            turn("model", call("second_tool", {"q": "two"})),
            turn("user", result("second_tool", "ok2")),
        ]
    }
    out1 = to_claude(body, "claude-sonnet-4")
    out2 = to_claude(body, "claude-sonnet-4")
    assert out1 == out2
    first, second = get(out1, "messages.0.content.0.id"), get(out1, "messages.2.content.0.id")
    assert first and second and first != second
    assert get(out1, "messages.1.content.0.tool_use_id") == first
    assert get(out1, "messages.3.content.0.tool_use_id") == second


@pytest.mark.parametrize(
    "user_id",
    [
        "custom-gemini-user-123",
        'foo"bar\nbaz\\qux',
        '{"device_id":"' + "0" * 64 + '","session_id":"11111111-2222-4333-8444-555555555555"}',
    ],
    ids=["plain string", "special characters and json string", "claude code json format"],
)
def test_preserves_caller_supplied_metadata_user_id(user_id: str) -> None:
    """TestConvertGeminiRequestToClaude_PreservesCallerSuppliedMetadataUserID. (Read from
    the client's own body by the Claude provider's carrier: the Gemini IR keeps no
    metadata.)"""
    body = {
        "model": "claude-test",
        "metadata": {"user_id": user_id},
        "contents": [turn("user", {"text": "hello"})],
    }
    assert get(claude_attempt(GEMINI, body, "claude-test"), "metadata.user_id") == user_id


def derived(out: dict[str, Any]) -> str:
    """The attempt body's ``metadata.user_id``, checked to be a derived SHA-256."""
    value: str = get(out, "metadata.user_id")
    assert len(value) == 64 and int(value, 16) >= 0
    return value


def test_different_sessions_produce_different_user_ids() -> None:
    """TestConvertGeminiRequestToClaude_DifferentSessionsProduceDifferentUserIDs."""
    contents = [turn("user", {"text": "hello"})]
    a = claude_attempt(GEMINI, {"prompt_cache_key": "gemini-session-a", "contents": contents}, "claude-test")
    b = claude_attempt(GEMINI, {"prompt_cache_key": "gemini-session-b", "contents": contents}, "claude-test")
    assert derived(a) != derived(b)


def test_default_role_different_content_produces_different_user_ids() -> None:
    """TestConvertGeminiRequestToClaude_DefaultRoleDifferentContentProducesDifferentUserIDs."""
    a = claude_attempt(GEMINI, {"contents": [{"parts": [{"text": "first prompt"}]}]}, "claude-test")
    b = claude_attempt(GEMINI, {"contents": [{"parts": [{"text": "second prompt"}]}]}, "claude-test")
    assert derived(a) != derived(b)
