"""CPA internal/translator/claude/openai/chat-completions/claude_openai_response_test.go:
Claude upstream -> Chat Completions client, response side.

CPA's "NonStream" functions read a Claude SSE body; our whole-response path reads the
whole Claude message, so those cases give the same message as JSON."""

from __future__ import annotations

from typing import Any

import pytest

from tests.translate.cpa._run import CLAUDE, OPENAI, events, get, resp, sse, stream

START = {"type": "message_start", "message": {"id": "msg_123", "model": "claude-opus-4-6"}}
STOP = {"type": "message_stop"}
# CPA puts usage on the last chunk whatever the client asked; we follow OpenAI and send the
# usage chunk when the client asks for it with stream_options.include_usage
CHAT_REQUEST = {
    "model": "claude-opus-4-6",
    "messages": [{"role": "user", "content": "hi"}],
    "stream": True,
    "stream_options": {"include_usage": True},
}


def chat_stream(*payloads: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(CLAUDE, OPENAI, sse(*payloads), CHAT_REQUEST))


def whole(
    content: list[dict[str, Any]], stop: str = "end_turn", usage: dict[str, Any] | None = None
) -> dict[str, Any]:
    body = {
        "id": "msg_123",
        "type": "message",
        "role": "assistant",
        "model": "claude-opus-4-6",
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage or {"input_tokens": 10, "output_tokens": 20},
    }
    return resp(CLAUDE, OPENAI, body)


def usage_chunk(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    return next(c["usage"] for c in reversed(chunks) if c.get("usage"))


CACHED = {
    "input_tokens": 13,
    "output_tokens": 4,
    "cache_read_input_tokens": 22000,
    "cache_creation_input_tokens": 31,
}


def assert_cached_usage(usage: dict[str, Any]) -> None:
    assert usage["prompt_tokens"] == 22044
    assert usage["completion_tokens"] == 4
    assert usage["total_tokens"] == 22048
    assert get(usage, "prompt_tokens_details.cached_tokens") == 22000
    assert get(usage, "prompt_tokens_details.cached_creation_tokens") == 31


def test_stream_usage_includes_cached_tokens() -> None:
    """TestConvertClaudeResponseToOpenAI_StreamUsageIncludesCachedTokens."""
    chunks = chat_stream(
        START, {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": CACHED}, STOP
    )
    assert_cached_usage(usage_chunk(chunks))


def test_stream_usage_merges_message_start_usage() -> None:
    """TestConvertClaudeResponseToOpenAI_StreamUsageMergesMessageStartUsage."""
    start = {
        "type": "message_start",
        "message": {**START["message"], "usage": {**CACHED, "output_tokens": 1}},
    }
    chunks = chat_stream(
        start,
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 4}},
        STOP,
    )
    assert_cached_usage(usage_chunk(chunks))


def test_nonstream_usage_includes_cached_tokens() -> None:
    """TestConvertClaudeResponseToOpenAINonStream_UsageIncludesCachedTokens."""
    assert_cached_usage(whole([], usage=CACHED)["usage"])


def test_nonstream_usage_merges_message_start_usage() -> None:
    """TestConvertClaudeResponseToOpenAINonStream_UsageMergesMessageStartUsage (the whole
    message carries the merged counters)."""
    assert_cached_usage(whole([], usage=CACHED)["usage"])


@pytest.mark.parametrize(
    ("stop", "want"),
    [("refusal", "content_filter"), ("sensitive", "content_filter")],
    ids=["refusal maps to content_filter", "sensitive maps to content_filter"],
)
def test_stream_refusal_stop_reason(stop: str, want: str) -> None:
    """TestConvertClaudeResponseToOpenAI_RefusalStopReason."""
    chunks = chat_stream(
        START, {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 10}}, STOP
    )
    finishes = [get(c, "choices.0.finish_reason") for c in chunks if get(c, "choices.0.finish_reason")]
    assert finishes == [want]


@pytest.mark.parametrize(
    ("stop", "want"),
    [("refusal", "content_filter"), ("sensitive", "content_filter")],
    ids=["refusal maps to content_filter", "sensitive maps to content_filter"],
)
def test_nonstream_refusal_stop_reason(stop: str, want: str) -> None:
    """TestConvertClaudeResponseToOpenAINonStream_RefusalStopReason."""
    assert get(whole([], stop), "choices.0.finish_reason") == want


def test_nonstream_reasoning_content() -> None:
    """TestConvertClaudeResponseToOpenAINonStream_ReasoningContent."""
    out = whole(
        [
            {"type": "thinking", "thinking": "Let me analyze the problem. Step 2 is clear.", "signature": ""},
            {"type": "text", "text": "Here is the solution."},
        ]
    )
    msg = get(out, "choices.0.message")
    assert msg["reasoning_content"] == "Let me analyze the problem. Step 2 is clear."
    assert "reasoning" not in msg
    assert msg["content"] == "Here is the solution."


def test_nonstream_omits_reasoning_content_when_absent() -> None:
    """TestConvertClaudeResponseToOpenAINonStream_OmitsReasoningContentWhenAbsent."""
    msg = get(whole([{"type": "text", "text": "Just plain text."}]), "choices.0.message")
    assert "reasoning_content" not in msg and "reasoning" not in msg
    assert msg["content"] == "Just plain text."


def test_stream_and_nonstream_parity() -> None:
    """TestConvertClaudeResponseToOpenAI_StreamAndNonStreamParity."""
    chunks = chat_stream(
        {
            "type": "message_start",
            "message": {**START["message"], "usage": {"input_tokens": 15, "output_tokens": 1}},
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "First thought. "},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "Second thought."},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Final "}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "answer."}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 25}},
        STOP,
    )
    reasoning = "".join(get(c, "choices.0.delta.reasoning_content") or "" for c in chunks)
    content = "".join(get(c, "choices.0.delta.content") or "" for c in chunks)
    finish = [get(c, "choices.0.finish_reason") for c in chunks if get(c, "choices.0.finish_reason")]
    assert reasoning == "First thought. Second thought."
    assert content == "Final answer."
    assert finish == ["stop"]
    out = whole(
        [
            {"type": "thinking", "thinking": "First thought. Second thought.", "signature": ""},
            {"type": "text", "text": "Final answer."},
        ]
    )
    assert get(out, "choices.0.message.reasoning_content") == reasoning
    assert get(out, "choices.0.message.content") == content
    assert get(out, "choices.0.finish_reason") == "stop"


def test_redacted_thinking_ignored() -> None:
    """TestConvertClaudeResponseToOpenAI_RedactedThinkingIgnored."""
    out = whole(
        [{"type": "redacted_thinking", "data": "encrypted_blob"}, {"type": "text", "text": "Visible reply."}]
    )
    msg = get(out, "choices.0.message")
    assert "reasoning_content" not in msg and "reasoning" not in msg
    assert msg["content"] == "Visible reply."
    chunks = chat_stream(
        START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "redacted_thinking", "data": "encrypted_blob"},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Visible reply."},
        },
        {"type": "content_block_stop", "index": 1},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn"},
            "usage": {"input_tokens": 10, "output_tokens": 20},
        },
        STOP,
    )
    assert all(get(c, "choices.0.delta.reasoning_content") is None for c in chunks)
    assert all(get(c, "choices.0.delta.reasoning") is None for c in chunks)
    assert "".join(get(c, "choices.0.delta.content") or "" for c in chunks) == "Visible reply."


def test_no_argument_tool_call_gets_empty_object_arguments() -> None:
    """Issue 15 defect 6 (CPA claude_openai_response.go writes "{}" for a tool_use with
    no input): a no-argument Claude tool call reaches a Chat client with arguments
    "{}", whole and streamed."""
    out = whole([{"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}], "tool_use")
    assert get(out, "choices.0.message.tool_calls.0.function.arguments") == "{}"
    chunks = chat_stream(
        START,
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}},
        STOP,
    )
    args = "".join(
        get(tc, "function.arguments") or ""
        for c in chunks
        for tc in (get(c, "choices.0.delta.tool_calls") or [])
    )
    assert args == "{}"
