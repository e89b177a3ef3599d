"""CPA internal/translator/openai/gemini/openai_gemini_request_test.go: Gemini client ->
OpenAI Chat Completions upstream, request side.

CPA makes ``call_``-prefixed ids for Gemini calls that carry none; our Gemini parser
makes its own (``<name>-<n>``), so the prefix is not asserted, only that ids are set,
distinct, stable across runs and shared by a call and its response."""

from __future__ import annotations

from typing import Any

import pytest

from tests.translate.cpa._run import GEMINI, OPENAI, get, req


def to_chat(body: dict[str, Any]) -> dict[str, Any]:
    return req(GEMINI, OPENAI, body, "test-model")


def turn(role: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": role, "parts": list(parts)}


def call(name: str, args: dict[str, Any], **ids: str) -> dict[str, Any]:
    return {"functionCall": {"name": name, **ids, "args": args}}


def result(name: str, response: dict[str, Any], **ids: str) -> dict[str, Any]:
    return {"functionResponse": {"name": name, **ids, "response": response}}


def call_ids(out: dict[str, Any]) -> list[str]:
    return [c["id"] for c in get(out, "messages.0.tool_calls")]


def result_ids(out: dict[str, Any]) -> list[str]:
    return [m["tool_call_id"] for m in out["messages"] if m["role"] == "tool"]


def test_function_responses_consume_tool_call_ids_fifo() -> None:
    """TestConvertGeminiRequestToOpenAI_FunctionResponsesConsumeToolCallIDsFIFO."""
    out = to_chat(
        {
            "contents": [
                turn(
                    "model",
                    call("read_file", {"path": "a.txt"}),
                    call("grep", {"pattern": "needle"}),
                    call("list_dir", {"path": "."}),
                ),
                turn(
                    "function",
                    result("read_file", {"result": "a"}),
                    result("grep", {"result": "b"}),
                    result("list_dir", {"result": "c"}),
                ),
            ]
        }
    )
    ids = call_ids(out)
    assert all(ids) and len(set(ids)) == 3
    assert result_ids(out) == ids


@pytest.mark.parametrize(
    ("field", "want"),
    [
        ("id", "call_gateway_id"),
        ("call_id", "call_gateway_call_id"),
        ("callId", "call_gateway_camel_id"),
    ],
    ids=["id", "call_id", "callId"],
)
def test_preserves_explicit_function_call_ids(field: str, want: str) -> None:
    """TestConvertGeminiRequestToOpenAI_PreservesExplicitFunctionCallIDs."""
    out = to_chat(
        {
            "contents": [
                turn("model", call("lookup", {"q": "x"}, **{field: want})),
                turn("function", result("lookup", {"result": "ok"}, **{field: want})),
            ]
        }
    )
    assert call_ids(out) == [want]
    assert result_ids(out) == [want]


def test_accepts_snake_inline_data() -> None:
    """TestConvertGeminiRequestToOpenAI_AcceptsSnakeInlineData."""
    out = to_chat(
        {"contents": [turn("user", {"inline_data": {"mime_type": "image/png", "data": "aGVsbG8="}})]}
    )
    assert get(out, "messages.0.content.0.image_url.url") == "data:image/png;base64,aGVsbG8="


def test_splits_non_image_inline_data_by_mime() -> None:
    """TestConvertGeminiRequestToOpenAI_SplitsNonImageInlineDataByMIME (defect 9)."""
    out = to_chat(
        {
            "contents": [
                turn(
                    "user",
                    {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
                    {"inlineData": {"mimeType": "video/mp4", "data": "AAAAIGZ0eXA="}},
                    {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
                )
            ]
        }
    )
    content = get(out, "messages.0.content")
    assert content[0] == {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}}
    assert content[1] == {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAAIGZ0eXA="}}
    assert content[2]["type"] == "file"
    assert all(p["type"] != "image_url" for p in content)


def test_drops_hidden_thought_parts_thought_only_turn() -> None:
    """TestConvertGeminiRequestToOpenAI_DropsHiddenThoughtParts/thought-only turn."""
    out = to_chat(
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
    assert out["messages"] == [{"role": "user", "content": "continue"}]


def test_drops_hidden_thought_parts_mixed_turn() -> None:
    """TestConvertGeminiRequestToOpenAI_DropsHiddenThoughtParts/mixed turn."""
    out = to_chat(
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
    assert len(out["messages"]) == 1
    msg = out["messages"][0]
    assert msg["role"] == "assistant" and msg["content"] == "visible answer"
    assert "reasoning_content" not in msg


def test_deterministic_tool_call_ids() -> None:
    """TestConvertGeminiRequestToOpenAI_DeterministicToolCallIDs."""
    body = {
        "contents": [
            turn("model", call("read_file", {"path": "main.go"}), call("grep", {"pattern": "TODO"})),
            turn("function", result("read_file", {"result": "code"}), result("grep", {"result": "matches"})),
        ]
    }
    first = to_chat(body)
    assert result_ids(first) == call_ids(first)
    for _ in range(5):
        assert to_chat(body) == first


def test_same_name_calls_in_same_message_distinct() -> None:
    """TestConvertGeminiRequestToOpenAI_SameNameCallsInSameMessageDistinct."""
    out = to_chat(
        {
            "contents": [
                turn("model", call("read_file", {"path": "a.txt"}), call("read_file", {"path": "a.txt"})),
                turn(
                    "function",
                    result("read_file", {"result": "first"}),
                    result("read_file", {"result": "second"}),
                ),
            ]
        }
    )
    ids = call_ids(out)
    assert ids[0] != ids[1]
    assert result_ids(out) == ids


def test_interleaved_per_name_fifo_matching() -> None:
    """TestConvertGeminiRequestToOpenAI_InterleavedPerNameFIFOMatching."""
    out = to_chat(
        {
            "contents": [
                turn(
                    "model",
                    call("tool_a", {"step": 1}),
                    call("tool_b", {"step": 1}),
                    call("tool_a", {"step": 2}),
                    call("tool_b", {"step": 2}),
                ),
                turn(
                    "function",
                    result("tool_b", {"step": 1}),
                    result("tool_a", {"step": 1}),
                    result("tool_b", {"step": 2}),
                    result("tool_a", {"step": 2}),
                ),
            ]
        }
    )
    a1, b1, a2, b2 = call_ids(out)
    assert result_ids(out) == [b1, a1, b2, a2]


def test_explicit_call_inherited_by_implicit_response() -> None:
    """TestConvertGeminiRequestToOpenAI_ExplicitCallInheritedByImplicitResponse."""
    out = to_chat(
        {
            "contents": [
                turn("model", call("lookup", {"q": "foo"}, id="explicit_call_1")),
                turn("function", result("lookup", {"result": "bar"})),
            ]
        }
    )
    assert call_ids(out) == ["explicit_call_1"]
    assert result_ids(out) == ["explicit_call_1"]


def test_out_order_explicit_response_does_not_duplicate_id() -> None:
    """TestConvertGeminiRequestToOpenAI_OutOrderExplicitResponseDoesNotDuplicateID."""
    out = to_chat(
        {
            "contents": [
                turn(
                    "model",
                    call("foo", {"n": 1}, id="call_1"),
                    call("foo", {"n": 2}, id="call_2"),
                    call("foo", {"n": 3}, id="call_3"),
                ),
                turn(
                    "function",
                    result("foo", {"r": 2}, id="call_2"),
                    result("foo", {"r": 1}),
                    result("foo", {"r": 3}),
                ),
            ]
        }
    )
    assert result_ids(out) == ["call_2", "call_1", "call_3"]


def test_function_response_without_prior_call_gets_fallback_id() -> None:
    """TestConvertGeminiRequestToOpenAI_FunctionResponseWithoutPriorCallGetsFallbackID."""
    out = to_chat({"contents": [turn("function", result("read_file", {"result": "ok"}))]})
    assert get(out, "messages.0.tool_call_id")


def test_extra_function_responses_use_fallback_id() -> None:
    """TestConvertGeminiRequestToOpenAI_ExtraFunctionResponsesUseFallbackID."""
    out = to_chat(
        {
            "contents": [
                turn("model", call("read_file", {"path": "a.txt"})),
                turn(
                    "function", result("read_file", {"result": "a"}), result("read_file", {"result": "extra"})
                ),
            ]
        }
    )
    ids = result_ids(out)
    assert ids[0] == call_ids(out)[0] and ids[1] and ids[1] != ids[0]


def test_deterministic_fallback_orphan_response() -> None:
    """TestConvertGeminiRequestToOpenAI_DeterministicFallbackOrphanResponse."""
    body = {"contents": [turn("function", result("orphan_tool", {"result": "standalone"}))]}
    assert to_chat(body) == to_chat(body)
