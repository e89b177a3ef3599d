"""CPA's Antigravity Chat Completions translator cases not ported elsewhere
(internal/translator/antigravity/openai/chat-completions/antigravity_openai_request_test.go
and antigravity_openai_response_test.go), run through our hub: a Chat client's body to the
Gemini request Antigravity wraps, Gemini answers (unwrapped, as the pipeline hands them on)
to the Chat client's answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from tests.translate.cpa._run import GEMINI, OPENAI, events, get, req, resp, sse, stream


def chat_stream(*chunks: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(GEMINI, OPENAI, sse(*chunks, events=False), None, "model"))


def finish_reasons(evs: list[dict[str, Any]]) -> list[str]:
    return [c["finish_reason"] for e in evs for c in e.get("choices", ()) if c.get("finish_reason")]


CALL = {
    "candidates": [{"content": {"parts": [{"functionCall": {"name": "list_files", "args": {"path": "."}}}]}}]
}
USAGE = {"promptTokenCount": 10, "candidatesTokenCount": 20, "totalTokenCount": 30}


# ---------------------------------------------------------------- response


def test_tool_calls_finish_reason_is_not_overwritten() -> None:
    """TestFinishReasonToolCallsNotOverwritten: the call's chunk carries no finish reason;
    the closing STOP after a call is ``tool_calls``. CPA also writes
    ``native_finish_reason: stop``, a field of its own that OpenAI's SDKs do not know: not
    sent here (a deliberate difference)."""
    evs = chat_stream(CALL, {"candidates": [{"finishReason": "STOP"}], "usageMetadata": USAGE})
    first = [c for c in evs[0]["choices"]]
    assert first and all(c.get("finish_reason") is None for c in first)
    assert finish_reasons(evs) == ["tool_calls"]


def test_stop_for_normal_text() -> None:
    """TestFinishReasonStopForNormalText."""
    text = {"candidates": [{"content": {"parts": [{"text": "Hello world"}]}}]}
    evs = chat_stream(text, {"candidates": [{"finishReason": "STOP"}], "usageMetadata": USAGE})
    assert finish_reasons(evs) == ["stop"]


def test_a_tool_call_wins_over_max_tokens() -> None:
    """TestToolCallTakesPriorityOverMaxTokens."""
    evs = chat_stream(CALL, {"candidates": [{"finishReason": "MAX_TOKENS"}], "usageMetadata": USAGE})
    assert finish_reasons(evs) == ["tool_calls"]


def test_no_finish_reason_on_intermediate_chunks() -> None:
    """TestNoFinishReasonOnIntermediateChunks: text chunks without a finish reason carry
    none (the stream's end, with nothing more from the upstream, is ours to close)."""
    one = {"candidates": [{"content": {"parts": [{"text": "Hello"}]}}]}
    two = {"candidates": [{"content": {"parts": [{"text": " world"}]}}]}
    evs = chat_stream(one, two)
    texts = [e for e in evs if any(get(c, "delta.content") for c in e.get("choices", ()))]
    assert len(texts) == 2
    assert all(c.get("finish_reason") is None for e in texts for c in e["choices"])


def test_usage_without_candidates_tokens_has_zero_completion_tokens() -> None:
    """TestConvertAntigravityResponseToOpenAIIncludesZeroCompletionTokensWhenMissing: a
    usage chunk with thoughts but no candidate tokens still names ``completion_tokens``.
    Its value differs on purpose: CPA gives 0, we count the thoughts in it (42), as OpenAI
    counts reasoning in completion_tokens, so prompt plus completion is the total (58)."""
    usage = {"promptTokenCount": 16, "thoughtsTokenCount": 42, "totalTokenCount": 58}
    evs = chat_stream({"candidates": [{"content": {"parts": [{"text": "x"}]}}]}, {"usageMetadata": usage})
    used = [e["usage"] for e in evs if e.get("usage")]
    assert used[-1]["completion_tokens"] == 42 and used[-1]["total_tokens"] == 58
    assert used[-1]["completion_tokens_details"]["reasoning_tokens"] == 42


def test_whole_answer_gives_reasoning_content() -> None:
    """TestConvertAntigravityResponseToOpenAINonStreamIncludesReasoningContent."""
    body = {
        "candidates": [
            {
                "index": 0,
                "content": {
                    "parts": [
                        {"text": "I need to multiply 17 by 24.", "thought": True},
                        {"text": "408", "thoughtSignature": "sig-final-answer"},
                    ]
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {
            "promptTokenCount": 16,
            "candidatesTokenCount": 3,
            "thoughtsTokenCount": 42,
            "totalTokenCount": 61,
        },
        "modelVersion": "gemini-3.1-pro-low",
        "responseId": "resp-reasoning",
    }
    out = resp(GEMINI, OPENAI, body, None, "gemini-3.1-pro-low")
    assert get(out, "choices.0.message.reasoning_content") == "I need to multiply 17 by 24."
    assert get(out, "choices.0.message.content") == "408"
    assert get(out, "usage.completion_tokens_details.reasoning_tokens") == 42


# ---------------------------------------------------------------- request


def test_empty_assistant_messages_are_skipped() -> None:
    """TestConvertOpenAIRequestToAntigravitySkipsEmptyAssistantMessages: an assistant turn
    with no text and only a call without a name sends nothing; the two user turns stay (as
    one Gemini turn: Gemini wants the roles to alternate). Before, the call went as ``_``,
    a call no result ever answers."""
    body = {
        "model": "gemini-3-flash",
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"type": "function", "function": {"name": "", "arguments": "{}"}}],
            },
            {"role": "user", "content": "say ok"},
        ],
    }
    out = req(OPENAI, GEMINI, body, "gemini-3-flash")
    assert out["contents"] == [{"role": "user", "parts": [{"text": "hi"}, {"text": "say ok"}]}]


def test_a_custom_call_without_its_object_is_refused() -> None:
    """The other half of CPA's case, a ``{"type": "custom"}`` tool call with no ``custom``
    object: a deliberate difference. CPA skips it silently; the proxy refuses the request
    with a 400 that names the field, as for any malformed tool call."""
    body = {
        "model": "gemini-3-flash",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "custom"}]},
        ],
    }
    with pytest.raises(RequestError) as err:
        req(OPENAI, GEMINI, body, "gemini-3-flash")
    assert err.value.param == "messages[1].tool_calls[0].custom"


def test_json_object_response_format_sets_only_the_mime_type() -> None:
    """TestConvertOpenAIRequestToAntigravityMapsResponseFormatJSONObject: a stale schema in
    a client's generationConfig (every spelling) does not survive ``json_object``."""
    body = {
        "model": "gemini-3.6-flash-high",
        "messages": [{"role": "user", "content": "hi"}],
        "generationConfig": {
            "responseSchema": {"type": "string", "description": "stale"},
            "responseJsonSchema": {"type": "string"},
            "response_schema": {"type": "string"},
            "response_json_schema": {"type": "string"},
        },
        "response_format": {"type": "json_object"},
    }
    config = req(OPENAI, GEMINI, body, "gemini-3.6-flash-high")["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert not {"responseSchema", "responseJsonSchema", "response_schema", "response_json_schema"} & set(
        config
    )


def test_video_url_becomes_inline_data() -> None:
    """TestConvertOpenAIRequestToAntigravityTranslatesVideoURL."""
    body = {
        "model": "gemini-3.7-flash-high",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Name the colours in order"},
                    {"type": "video_url", "video_url": {"url": "data:video/mp4;base64,AAAAIGZ0eXBtcDQy"}},
                ],
            }
        ],
    }
    parts = req(OPENAI, GEMINI, body, "gemini-3.7-flash-high")["contents"][0]["parts"]
    assert parts == [
        {"text": "Name the colours in order"},
        {"inlineData": {"mimeType": "video/mp4", "data": "AAAAIGZ0eXBtcDQy"}},
    ]
