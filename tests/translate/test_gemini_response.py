from __future__ import annotations

import copy

import pytest

from cliproxy.translate import ir
from cliproxy.translate.gemini import ADAPTER

RESPONSE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    {"text": "thinking...", "thought": True, "thoughtSignature": "s1"},
                    {"text": "Here you go."},
                    {"functionCall": {"name": "mcp__search", "args": {"q": "x"}}, "thoughtSignature": "s2"},
                    {"functionCall": {"name": "mcp__search", "args": {"q": "y"}}},
                ],
            },
            "finishReason": "STOP",
            "index": 0,
            "safetyRatings": [{"category": "HARM_CATEGORY_HARASSMENT", "probability": "NEGLIGIBLE"}],
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 100,
        "candidatesTokenCount": 40,
        "thoughtsTokenCount": 10,
        "cachedContentTokenCount": 60,
        "totalTokenCount": 150,
    },
    "modelVersion": "gemini-2.5-pro",
    "responseId": "abc123",
}


def test_parse_response():
    req = ir.Request(model="m", tools=[ir.Tool("search", namespace="mcp")])
    resp = ADAPTER.parse_response(copy.deepcopy(RESPONSE), req)
    assert resp.id == "abc123" and resp.model == "gemini-2.5-pro"
    thinking, text, call1, call2 = resp.content
    assert thinking == ir.Thinking("thinking...", signature="s1", family="gemini")
    assert text.text == "Here you go."
    assert (call1.name, call1.namespace, call1.signature, call1.family) == ("search", "mcp", "s2", "gemini")
    assert call1.id != call2.id
    assert resp.stop_reason == "tool_use"
    assert resp.usage == ir.Usage(
        input_tokens=100, output_tokens=50, cache_read_tokens=60, reasoning_tokens=10, total_tokens=150
    )


def test_gemini_response_round_trip():
    resp = ADAPTER.parse_response(copy.deepcopy(RESPONSE))
    out = ADAPTER.build_response(resp)
    assert out == RESPONSE


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("STOP", "end_turn"),
        ("MAX_TOKENS", "max_tokens"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("SPII", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("OTHER", "end_turn"),
        ("MALFORMED_FUNCTION_CALL", "end_turn"),
    ],
)
def test_finish_reasons(finish, stop):
    body = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": finish}]}
    resp = ADAPTER.parse_response(body)
    assert resp.stop_reason == stop
    assert resp.extras["stop_raw"] == finish
    assert ADAPTER.build_response(resp)["candidates"][0]["finishReason"] == finish


def test_blocked_prompt():
    body = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 5}}
    resp = ADAPTER.parse_response(body)
    assert resp.stop_reason == "content_filter" and resp.content == []


def test_build_response_from_foreign_ir():
    resp = ir.Response(
        id="msg_1",
        model="claude-x",
        source="claude",
        content=[
            ir.Thinking("hmm", signature="claude-sig", family="claude"),
            ir.Text("hi", extras={"x": 1}),
            ir.ToolCall("toolu_1", "get", '{"a": 1}'),
            ir.ServerTool("claude", {"type": "server_tool_use"}),
        ],
        stop_reason="max_tokens",
        usage=ir.Usage(input_tokens=10, output_tokens=5),
        extras={"stop_raw": "whatever"},
    )
    out = ADAPTER.build_response(resp)
    assert out == {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        # a Claude signature: the bypass sentinel (CPA's claude->gemini translator)
                        {
                            "text": "hmm",
                            "thought": True,
                            "thoughtSignature": "skip_thought_signature_validator",
                        },
                        {"text": "hi"},
                        {"functionCall": {"name": "get", "args": {"a": 1}, "id": "toolu_1"}},
                    ],
                },
                "finishReason": "MAX_TOKENS",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
        "modelVersion": "claude-x",
        "responseId": "msg_1",
    }


def test_count_tokens_shape():
    assert ADAPTER.count_tokens_response(42) == {"totalTokens": 42}
