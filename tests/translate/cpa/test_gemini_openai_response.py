"""Ported from CPA internal/translator/gemini/openai/chat-completions/gemini_openai_response_test.go:
a Gemini answer as a Chat Completions client sees it."""

from __future__ import annotations

from typing import Any

from ._run import GEMINI, OPENAI, events, get, resp, sse, stream

CPA = "gemini_openai_response_test.go"

REQUEST = {
    "model": "model",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def _run(*chunks: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(GEMINI, OPENAI, sse(*chunks, events=False), REQUEST, "model"))


def test_stream_includes_zero_completion_tokens_when_missing() -> None:
    """gemini_openai_response_test.go TestConvertGeminiResponseToOpenAIIncludesZeroCompletionTokensWhenMissing
    (our ``completion_tokens`` counts the thoughts too: the OpenAI total, as the IR keeps it)."""
    evs = _run({"usageMetadata": {"promptTokenCount": 16, "thoughtsTokenCount": 42, "totalTokenCount": 58}})
    usage = next(e["usage"] for e in evs if e.get("usage"))
    assert "completion_tokens" in usage and usage["completion_tokens"] in (0, 42)
    assert usage["prompt_tokens"] == 16


def test_nonstream_includes_zero_completion_tokens_when_missing() -> None:
    """gemini_openai_response_test.go TestConvertGeminiResponseToOpenAINonStreamIncludesZeroCompletionTokensWhenMissing."""
    out = resp(
        GEMINI,
        OPENAI,
        {"usageMetadata": {"promptTokenCount": 16, "thoughtsTokenCount": 42, "totalTokenCount": 58}},
        REQUEST,
    )
    assert "completion_tokens" in out["usage"] and out["usage"]["completion_tokens"] in (0, 42)


def test_finish_reason_only_on_final_chunk() -> None:
    """gemini_openai_response_test.go TestGeminiFinishReasonOnlyOnFinalChunk."""
    evs = _run(
        {
            "candidates": [
                {"content": {"parts": [{"functionCall": {"name": "list_dir", "args": {"path": "C:/"}}}]}}
            ],
            "usageMetadata": {"trafficType": "ON_DEMAND"},
        },
        {
            "candidates": [
                {"content": {"parts": [{"functionCall": {"name": "list_dir", "args": {"path": "D:/"}}}]}}
            ],
            "usageMetadata": {"trafficType": "ON_DEMAND"},
        },
        {
            "candidates": [{"content": {"parts": [{"text": ""}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        },
    )
    reasons = [get(e, "choices.0.finish_reason") for e in evs if get(e, "choices.0")]
    assert [r for r in reasons if r] == ["tool_calls"]
    assert reasons[-1] == "tool_calls"


def test_nonstream_empty_text_produces_empty_string() -> None:
    """gemini_openai_response_test.go TestConvertGeminiResponseToOpenAINonStream_EmptyTextProducesEmptyString
    (content is ``""``, not null; an empty thought gives no reasoning text: we leave the
    field out, CPA sends ``""``)."""
    out = resp(
        GEMINI,
        OPENAI,
        {
            "candidates": [
                {"content": {"parts": [{"text": ""}, {"text": "", "thought": True}]}, "finishReason": "STOP"}
            ]
        },
        REQUEST,
    )
    assert get(out, "choices.0.message.content") == ""
    assert get(out, "choices.0.message.reasoning_content") in (None, "")
