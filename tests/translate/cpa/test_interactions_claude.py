"""Interactions client <-> Claude upstream, ported from CPA
``internal/translator/claude/interactions/interactions_claude_test.go``.

Through the IR hub some facts differ on purpose; each such case says why in one line.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from tests.translate.cpa._run import CLAUDE, events, get, req, resp, sse, stream

I = Format.INTERACTIONS  # noqa: E741


def _claude(body: dict[str, Any]) -> dict[str, Any]:
    return req(I, CLAUDE, body, "claude-test")


def test_tool_messages():
    """TestConvertInteractionsRequestToClaudeWithToolMessagesDirect"""
    out = _claude(
        {
            "model": "claude-test",
            "system_instruction": "be brief",
            "input": [
                {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
                {"type": "function_call", "name": "lookup", "call_id": "toolu_1", "arguments": {"q": "x"}},
                {"type": "function_result", "name": "lookup", "call_id": "toolu_1", "result": {"ok": True}},
            ],
        }
    )
    assert "be brief" in str(out["system"])
    assert get(out, "messages.0.content.0.text") == "hi"
    assert get(out, "messages.1.content.0.type") == "tool_use"
    assert get(out, "messages.1.content.0.input") == {"q": "x"}
    assert get(out, "messages.2.content.0.type") == "tool_result"
    assert get(out, "messages.2.content.0.tool_use_id") == "toolu_1"


def test_groups_consecutive_role_turns():
    """TestConvertInteractionsRequestToClaudeGroupsConsecutiveRoleTurns.
    Differs: the unsigned thought is not sent (Claude rejects thinking without its own
    signature; signatures only go back to the family that made them)."""
    out = _claude(
        {
            "input": [
                {"type": "thought", "content": [{"type": "thinking", "thinking": "reason"}]},
                {"type": "model_output", "content": [{"type": "text", "text": "answer"}]},
                {"type": "function_call", "name": "first", "call_id": "call_1", "arguments": {}},
                {"type": "function_call", "name": "second", "call_id": "call_2", "arguments": {}},
                {"type": "function_result", "call_id": "call_1", "result": {"value": "one"}},
                {"type": "function_result", "call_id": "call_2", "result": {"value": "two"}},
            ]
        }
    )
    messages = out["messages"]
    assert len(messages) == 2
    assert [b["type"] for b in messages[0]["content"]] == ["text", "tool_use", "tool_use"]
    assert [b["tool_use_id"] for b in messages[1]["content"]] == ["call_1", "call_2"]


def test_does_not_merge_across_role_changes():
    """TestConvertInteractionsRequestToClaudeDoesNotMergeAcrossRoleChanges"""
    out = _claude(
        {
            "input": [
                {"type": "model_output", "content": "first assistant"},
                {"type": "user_input", "content": "user reply"},
                {"type": "model_output", "content": "second assistant"},
            ]
        }
    )
    assert [m["role"] for m in out["messages"]] == ["assistant", "user", "assistant"]


def test_string_input():
    """TestConvertInteractionsRequestToClaudeStringInputDirect"""
    out = _claude({"model": "claude-test", "input": "hello"})
    assert get(out, "messages.0.role") == "user"
    assert get(out, "messages.0.content.0.text") == "hello"


def test_generation_config_tools_and_stream():
    """TestConvertInteractionsRequestToClaudeMapsGenerationConfigToolsAndStreamDirect.
    Differs: ``thinking_level`` becomes Claude thinking in the pipeline (the model's
    thinking capabilities decide its shape), not in the bare translation;
    tests/e2e/test_interactions.py shows it."""
    out = _claude(
        {
            "model": "claude-test",
            "stream": True,
            "input": [{"type": "user_input", "content": [{"type": "text", "text": "hi"}]}],
            "tools": [
                {
                    "type": "function",
                    "name": "lookup",
                    "description": "Lookup data",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                }
            ],
            "generation_config": {
                "max_output_tokens": 99,
                "top_p": 0.7,
                "stop_sequences": ["END"],
                "tool_choice": {"type": "function", "name": "lookup"},
                "thinking_level": "high",
            },
        }
    )
    assert out["stream"] is True and out["max_tokens"] == 99 and out["stop_sequences"] == ["END"]
    assert get(out, "tools.0.input_schema.properties.q.type") == "string"
    assert get(out, "tool_choice.name") == "lookup"


def test_image_content():
    """TestConvertInteractionsRequestToClaudeAcceptsImageContent"""
    out = _claude(
        {
            "model": "claude-test",
            "input": [
                {
                    "type": "user_input",
                    "content": [{"type": "image", "mime_type": "image/png", "data": "aGVsbG8="}],
                }
            ],
        }
    )
    assert get(out, "messages.0.content.0.type") == "image"
    assert get(out, "messages.0.content.0.source.media_type") == "image/png"
    assert get(out, "messages.0.content.0.source.data") == "aGVsbG8="


def test_non_image_media():
    """TestConvertInteractionsRequestToClaudePreservesNonImageMediaContent"""
    out = _claude(
        {
            "model": "claude-test",
            "input": [
                {
                    "type": "thought",
                    "content": [
                        {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
                        {"type": "video", "mime_type": "video/mp4", "data": "AAAAIGZ0eXA="},
                        {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0="},
                    ],
                }
            ],
        }
    )
    content = get(out, "messages.0.content")
    assert get(out, "messages.0.role") == "assistant"
    assert [b["type"] for b in content] == ["text", "text", "document"]
    assert not any(b["type"] == "image" for b in content)


def test_response_whole():
    """TestConvertClaudeResponseToInteractionsNonStream.
    Differs: usage counts cached tokens inside the input, as Gemini's and the Interactions
    API's input counts do (CPA adds Claude's uncached input and output only)."""
    out = resp(
        CLAUDE,
        I,
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-test",
            "content": [
                {"type": "thinking", "thinking": "reasoning", "signature": "c2ln"},
                {"type": "text", "text": "ok"},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "x"}},
            ],
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 3,
                "output_tokens": 2,
                "cache_read_input_tokens": 1,
                "cache_creation_input_tokens": 4,
            },
        },
    )
    assert [s["type"] for s in out["steps"]] == ["thought", "model_output", "function_call"]
    assert "signature" not in out["steps"][0]  # a Claude signature is not Gemini's
    assert get(out, "steps.1.content.0.text") == "ok"
    assert get(out, "steps.2.call_id") == "toolu_1"
    assert get(out, "usage.total_cached_tokens") == 5
    assert get(out, "usage.total_tokens") == 10


def test_stream_merges_usage_and_status():
    """TestConvertClaudeResponseToInteractionsStreamMergesUsageAndStatus"""
    data = sse(
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude-test",
                "usage": {"input_tokens": 3, "output_tokens": 0},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "ok"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 2}},
        {"type": "message_stop"},
    )
    evs = events(stream(CLAUDE, I, data, {"model": "claude-test", "input": "hi", "stream": True}))
    names = [e["_event"] for e in evs]
    assert "interaction.status_update" in names
    delta = next(e for e in evs if e["_event"] == "step.delta")
    assert delta["delta"] == {"type": "text", "text": "ok"}
    usage = evs[-1]["interaction"]["usage"]
    assert (usage["total_input_tokens"], usage["total_output_tokens"], usage["total_tokens"]) == (3, 2, 5)
    assert evs[0]["interaction"]["id"] == evs[-1]["interaction"]["id"] == "msg_1"
