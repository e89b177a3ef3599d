"""CPA internal/translator/claude/gemini/claude_gemini_response_test.go: Claude upstream ->
Gemini client, response side."""

from __future__ import annotations

import pytest

from tests.translate.cpa._run import CLAUDE, GEMINI, events, get, resp, sse, stream

REQUEST = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def test_stream_preserves_tool_use_id() -> None:
    """TestConvertClaudeResponseToGemini_StreamPreservesToolUseID: the call goes out whole,
    once its input is complete, under Claude's id."""
    data = sse(
        {
            "type": "message_start",
            "message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 1}},
        },
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "tool_use", "id": "toolu_gateway", "name": "lookup"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "input_json_delta", "partial_json": '{"query":"status"}'},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    )
    chunks = events(stream(CLAUDE, GEMINI, data, REQUEST, "gemini-2.5-pro"))
    calls = [
        p["functionCall"]
        for c in chunks
        for p in get(c, "candidates.0.content.parts") or []
        if "functionCall" in p
    ]
    assert calls == [{"id": "toolu_gateway", "name": "lookup", "args": {"query": "status"}}]


def test_nonstream_preserves_tool_use_id() -> None:
    """TestConvertClaudeResponseToGeminiNonStreamPreservesToolUseID."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "tool_use", "id": "toolu_gateway", "name": "lookup", "input": {"query": "status"}}
        ],
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    out = resp(CLAUDE, GEMINI, body, REQUEST, "gemini-2.5-pro")
    assert get(out, "candidates.0.content.parts.0.functionCall.id") == "toolu_gateway"


VALID_GEMINI_SIGNATURE = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
SIGNATURE_CASES = {
    "foreign claude signature maps to bypass sentinel": (
        "foreign_claude_sig_123",
        "skip_thought_signature_validator",
    ),
    "preserves valid gemini signature": ("gemini#" + VALID_GEMINI_SIGNATURE, VALID_GEMINI_SIGNATURE),
}


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_stream_thinking_signature(case: str) -> None:
    """TestConvertClaudeResponseToGemini_StreamThinkingSignature: the thought's signature
    reaches the Gemini client in Gemini's replay form, or as the bypass sentinel."""
    signature, want = SIGNATURE_CASES[case]
    data = sse(
        {"type": "message_start", "message": {"id": "msg_123", "model": "claude-3-7-sonnet-20250219"}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": ""}},
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "thinking text"},
        },
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": signature},
        },
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "final answer"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_stop"},
    )
    chunks = events(stream(CLAUDE, GEMINI, data, REQUEST, "gemini-2.5-pro"))
    parts = [p for c in chunks for p in get(c, "candidates.0.content.parts") or []]
    signed = [p["thoughtSignature"] for p in parts if p.get("thought") and "thoughtSignature" in p]
    assert signed == [want]
    assert "".join(p["text"] for p in parts if p.get("thought")) == "thinking text"
    assert "".join(p["text"] for p in parts if not p.get("thought")) == "final answer"


@pytest.mark.parametrize("case", sorted(SIGNATURE_CASES))
def test_nonstream_thinking_signature(case: str) -> None:
    """TestConvertClaudeResponseToGeminiNonStream_ThinkingSignature (CPA reads the whole
    answer from its SSE form; ours is the Messages body it stands for)."""
    signature, want = SIGNATURE_CASES[case]
    body = {
        "id": "msg_123",
        "type": "message",
        "role": "assistant",
        "model": "claude-3-7-sonnet-20250219",
        "content": [
            {"type": "thinking", "thinking": "thinking text", "signature": signature},
            {"type": "text", "text": "final answer"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    out = resp(CLAUDE, GEMINI, body, REQUEST, "gemini-2.5-pro")
    thought = get(out, "candidates.0.content.parts.0")
    assert thought == {"text": "thinking text", "thought": True, "thoughtSignature": want}
    assert get(out, "candidates.0.content.parts.1") == {"text": "final answer"}


def test_unsigned_and_redacted_thinking_get_no_signature() -> None:
    """Beyond CPA's cases: a thought without a signature gets none (the sentinel stands for
    a signature, not for its absence), and redacted thinking does not reach the client."""
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "plain thought", "signature": ""},
            {"type": "redacted_thinking", "data": "opaque"},
            {"type": "text", "text": "answer"},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 1, "output_tokens": 2},
    }
    out = resp(CLAUDE, GEMINI, body, REQUEST, "gemini-2.5-pro")
    assert get(out, "candidates.0.content.parts") == [
        {"text": "plain thought", "thought": True},
        {"text": "answer"},
    ]
