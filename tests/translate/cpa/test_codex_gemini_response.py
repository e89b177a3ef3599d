"""Ported from CPA internal/translator/codex/gemini/codex_gemini_response_test.go: a Codex
(Responses) answer as a Gemini client sees it."""

from __future__ import annotations

from typing import Any

from ._run import CODEX, GEMINI, events, get, resp, sse, stream

CPA = "codex_gemini_response_test.go"

REQUEST = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _run(*chunks: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(CODEX, GEMINI, sse(*chunks, events=False), REQUEST, "gemini-2.5-pro"))


def _parts(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for e in evs for p in (get(e, "candidates.0.content.parts") or [])]


TERMINAL_INCOMPLETE = {
    "type": "response.incomplete",
    "response": {
        "id": "resp_1",
        "model": "gpt-5.5",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    },
}


def test_incomplete_terminal_stream() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_IncompleteTerminal (stream)."""
    evs = _run(TERMINAL_INCOMPLETE)
    reasons = [get(e, "candidates.0.finishReason") for e in evs if get(e, "candidates.0.finishReason")]
    assert reasons == ["MAX_TOKENS"]


def test_incomplete_terminal_nonstream() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_IncompleteTerminal (non-stream)."""
    out = resp(CODEX, GEMINI, TERMINAL_INCOMPLETE["response"], REQUEST, "gemini-2.5-pro")
    assert get(out, "candidates.0.finishReason") == "MAX_TOKENS"


def test_stream_empty_output_uses_output_item_done_message_fallback() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_StreamEmptyOutputUsesOutputItemDoneMessageFallback."""
    evs = _run(
        {
            "type": "response.output_item.done",
            "item": {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "ok"}],
            },
            "output_index": 0,
        },
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
    )
    assert any(p.get("text") == "ok" for p in _parts(evs))


def test_stream_image_generation_call_done_emits_inline_data() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_StreamImageGenerationCallDoneEmitsInlineData
    (we send the final image only: partial images are previews, CPA also streams them).
    CPA: TestConvertCodexResponseToGemini_StreamPartialImageEmitsInlineData, that difference."""
    evs = _run(
        {
            "type": "response.image_generation_call.partial_image",
            "item_id": "ig_123",
            "output_format": "png",
            "partial_image_b64": "aGVsbG8=",
            "partial_image_index": 0,
        },
        {
            "type": "response.output_item.done",
            "item": {
                "id": "ig_123",
                "type": "image_generation_call",
                "output_format": "jpeg",
                "result": "Ymll",
            },
        },
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
    )
    images = [p["inlineData"] for p in _parts(evs) if "inlineData" in p]
    assert images == [{"data": "Ymll", "mimeType": "image/jpeg"}]


def test_nonstream_image_generation_call_adds_inline_data_part() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_NonStreamImageGenerationCallAddsInlineDataPart."""
    out = resp(
        CODEX,
        GEMINI,
        {
            "id": "resp_123",
            "created_at": 1700000000,
            "status": "completed",
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "output": [
                {"type": "message", "content": [{"type": "output_text", "text": "ok"}]},
                {"type": "image_generation_call", "output_format": "png", "result": "aGVsbG8="},
            ],
        },
        REQUEST,
        "gemini-2.5-pro",
    )
    part = get(out, "candidates.0.content.parts.1.inlineData")
    assert part == {"data": "aGVsbG8=", "mimeType": "image/png"}


def test_stream_preserves_function_call_id() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGemini_StreamPreservesFunctionCallID."""
    evs = _run(
        {
            "type": "response.output_item.done",
            "item": {
                "type": "function_call",
                "call_id": "call_gateway",
                "name": "lookup",
                "arguments": '{"query":"status"}',
            },
        },
        {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
    )
    calls = [p["functionCall"] for p in _parts(evs) if "functionCall" in p]
    assert calls and calls[0]["id"] == "call_gateway"
    assert calls[0]["args"] == {"query": "status"}


def test_nonstream_preserves_function_call_id() -> None:
    """codex_gemini_response_test.go TestConvertCodexResponseToGeminiNonStreamPreservesFunctionCallID."""
    out = resp(
        CODEX,
        GEMINI,
        {
            "id": "resp_123",
            "created_at": 1700000000,
            "status": "completed",
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "output": [
                {
                    "type": "function_call",
                    "call_id": "call_gateway",
                    "name": "lookup",
                    "arguments": '{"query":"status"}',
                }
            ],
        },
        REQUEST,
        "gemini-2.5-pro",
    )
    assert get(out, "candidates.0.content.parts.0.functionCall.id") == "call_gateway"
