"""Ported from CPA internal/translator/codex/claude/codex_claude_response_test.go: a Codex
(Responses) answer, streamed or whole, as a Claude Messages client sees it.

CPA feeds one ``data:`` line per call; here the same payloads go through our stream
translator as SSE frames (event names left out, as in CPA's cases)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ._run import CLAUDE, CODEX, claude_blocks, events, resp, sse, stream

CPA = "codex_claude_response_test.go"


def _request(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "hi"}],
    }
    body.update(extra or {})
    return body


LOOKUP = {
    "tools": [
        {"name": "lookup", "description": "lookup", "input_schema": {"type": "object", "properties": {}}}
    ]
}


def _run(chunks: list[dict[str, Any]], request: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return events(stream(CODEX, CLAUDE, sse(*chunks, events=False), _request(request)))


def _created(model: str = "gpt-5") -> dict[str, Any]:
    return {"type": "response.created", "response": {"id": "resp_1", "model": model}}


def _of(evs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in evs if e.get("type") == kind]


def _stop_reason(evs: list[dict[str, Any]]) -> str | None:
    deltas = _of(evs, "message_delta")
    return deltas[-1]["delta"].get("stop_reason") if deltas else None


def _tool_starts(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in _of(evs, "content_block_start") if e["content_block"]["type"] == "tool_use"]


def _json_deltas(evs: list[dict[str, Any]]) -> list[str]:
    return [
        e["delta"]["partial_json"]
        for e in _of(evs, "content_block_delta")
        if e["delta"]["type"] == "input_json_delta" and e["delta"]["partial_json"]
    ]


def test_stream_cyber_policy_error() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamCyberPolicyError."""
    data = sse(
        {
            "type": "error",
            "error": {
                "type": "invalid_request",
                "code": "cyber_policy",
                "message": "This content was flagged for possible cybersecurity risk.",
                "param": None,
            },
            "sequence_number": 3,
        },
        events=False,
    )
    out = stream(CODEX, CLAUDE, data, _request())
    assert b"event: error\n" in out
    err = next(e for e in events(out) if e.get("type") == "error")
    assert err["error"]["type"] == "invalid_request_error"
    assert err["error"]["message"] == "This content was flagged for possible cybersecurity risk."


def test_stream_error_type_fallback_message() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamErrorTypeFallbackMessage."""
    out = stream(
        CODEX,
        CLAUDE,
        sse({"type": "error", "error": {}, "error_type": "overloaded_error"}, events=False),
        _request(),
    )
    err = next(e for e in events(out) if e.get("type") == "error")
    assert err["error"]["type"] == "overloaded_error"
    assert err["error"]["message"] == "overloaded_error"


def test_stream_text_before_tool_calls_no_ghost_stop() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamTextBeforeToolCallsDoesNotEmitGhostStop."""
    read = {"tools": [{"name": "Read", "description": "read", "input_schema": {"type": "object"}}]}
    evs = _run(
        [
            _created("grok-composer-2.5-fast"),
            {
                "type": "response.output_item.added",
                "item": {"type": "message", "status": "in_progress"},
                "output_index": 1,
            },
            {
                "type": "response.content_part.added",
                "part": {"type": "output_text"},
                "content_index": 0,
                "output_index": 1,
            },
            {"type": "response.output_text.delta", "delta": "查看项目的 README。\n", "output_index": 1},
            {
                "type": "response.output_item.added",
                "item": {
                    "type": "function_call",
                    "call_id": "call_a",
                    "name": "Read",
                    "status": "in_progress",
                },
                "output_index": 2,
            },
            {
                "type": "response.function_call_arguments.delta",
                "delta": '{"path":"/tmp/README.md"}',
                "output_index": 2,
            },
            {
                "type": "response.function_call_arguments.done",
                "arguments": '{"path":"/tmp/README.md"}',
                "output_index": 2,
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_a",
                    "name": "Read",
                    "arguments": '{"path":"/tmp/README.md"}',
                },
                "output_index": 2,
            },
            {
                "type": "response.output_item.added",
                "item": {
                    "type": "function_call",
                    "call_id": "call_b",
                    "name": "Read",
                    "status": "in_progress",
                },
                "output_index": 3,
            },
            {
                "type": "response.function_call_arguments.delta",
                "delta": '{"path":"/tmp/main.go"}',
                "output_index": 3,
            },
            {
                "type": "response.content_part.done",
                "part": {"type": "output_text"},
                "content_index": 0,
                "output_index": 1,
            },
            {
                "type": "response.output_item.done",
                "item": {"type": "message", "status": "completed"},
                "output_index": 1,
            },
            {
                "type": "response.function_call_arguments.done",
                "arguments": '{"path":"/tmp/main.go"}',
                "output_index": 3,
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_b",
                    "name": "Read",
                    "arguments": '{"path":"/tmp/main.go"}',
                },
                "output_index": 3,
            },
            {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
        ],
        read,
    )
    assert [e["index"] for e in _of(evs, "content_block_start")] == [0, 1, 2]
    assert [e["index"] for e in _of(evs, "content_block_stop")] == [0, 1, 2]


def test_stream_function_call_defers_start_until_done_name() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamFunctionCallDefersStartUntilDoneName."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_1"},
                "output_index": 1,
            },
            {
                "type": "response.function_call_arguments.done",
                "arguments": '{"query":"example"}',
                "output_index": 1,
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_1",
                    "name": "web_search",
                    "arguments": '{"query":"example"}',
                },
                "output_index": 1,
            },
        ],
        {"tools": [{"name": "web_search", "description": "search", "input_schema": {"type": "object"}}]},
    )
    starts = _tool_starts(evs)
    assert [s["content_block"]["name"] for s in starts] == ["web_search"]
    assert _json_deltas(evs) == ['{"query":"example"}']
    assert len(_of(evs, "content_block_stop")) == 1


def test_stream_unnamed_function_call_done_by_call_id_keeps_pending_slots() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamUnnamedFunctionCallDoneByCallIDKeepsPendingSlots
    (issue 15 defect 10: ``done`` events without ``output_index`` matched by ``call_id``)."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_first"},
                "output_index": 1,
            },
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_second"},
                "output_index": 2,
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_first",
                    "name": "lookup",
                    "arguments": '{"id":1}',
                },
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "function_call",
                    "call_id": "call_second",
                    "name": "lookup",
                    "arguments": '{"id":2}',
                },
            },
        ],
        LOOKUP,
    )
    starts = _tool_starts(evs)
    assert [s["content_block"]["id"] for s in starts] == ["call_first", "call_second"]
    assert [s["index"] for s in starts] == [0, 1]
    assert [e["index"] for e in _of(evs, "content_block_stop")] == [0, 1]
    assert _json_deltas(evs) == ['{"id":1}', '{"id":2}']


def test_stream_deferred_unnamed_function_call_does_not_reserve_block_index() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamDeferredUnnamedFunctionCallDoesNotReserveBlockIndex."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_hidden"},
                "output_index": 1,
            },
            {
                "type": "response.output_item.done",
                "item": {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "ok"}],
                },
                "output_index": 2,
            },
        ],
        LOOKUP,
    )
    texts = [e for e in _of(evs, "content_block_start") if e["content_block"]["type"] == "text"]
    assert texts and texts[0]["index"] == 0


def test_stream_terminal_output_hydrates_open_function_call_arguments() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamTerminalOutputHydratesOpenFunctionCallArguments."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_1", "name": "lookup"},
                "output_index": 1,
            },
            {
                "type": "response.completed",
                "response": {
                    "stop_reason": "stop",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                    "output": [
                        {
                            "type": "function_call",
                            "call_id": "call_1",
                            "name": "lookup",
                            "arguments": '{"query":"example"}',
                        }
                    ],
                },
            },
        ],
        LOOKUP,
    )
    kinds = [
        "args"
        if e.get("type") == "content_block_delta" and e["delta"].get("partial_json") == '{"query":"example"}'
        else "stop"
        if e.get("type") == "content_block_stop" and e["index"] == 0
        else "message_delta"
        if e.get("type") == "message_delta"
        else None
        for e in evs
    ]
    order = [k for k in kinds if k]
    assert order == ["args", "stop", "message_delta"]


def test_stream_terminal_output_emits_pending_unnamed_function_call() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamTerminalOutputEmitsPendingUnnamedFunctionCall."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_1"},
                "output_index": 1,
            },
            {
                "type": "response.function_call_arguments.done",
                "arguments": '{"query":"example"}',
                "output_index": 1,
            },
            {
                "type": "response.completed",
                "response": {
                    "stop_reason": "stop",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                    "output": [
                        {
                            "type": "function_call",
                            "call_id": "call_1",
                            "name": "lookup",
                            "arguments": '{"query":"example"}',
                        }
                    ],
                },
            },
        ],
        LOOKUP,
    )
    starts = _tool_starts(evs)
    assert len(starts) == 1 and starts[0]["content_block"]["name"] == "lookup"
    assert "".join(_json_deltas(evs)) == '{"query":"example"}'
    assert _stop_reason(evs) == "tool_use"
    assert evs.index(starts[0]) < evs.index(_of(evs, "message_delta")[0])


def test_stream_unresolved_pending_function_call_does_not_force_tool_use() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamUnresolvedPendingFunctionCallDoesNotForceToolUseStopReason."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_hidden"},
                "output_index": 1,
            },
            {
                "type": "response.completed",
                "response": {
                    "stop_reason": "stop",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                    "output": [],
                },
            },
        ],
        LOOKUP,
    )
    assert not _tool_starts(evs)
    assert _stop_reason(evs) == "end_turn"


def test_stream_empty_output_uses_output_item_done_message_fallback() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamEmptyOutputUsesOutputItemDoneMessageFallback."""
    evs = _run(
        [
            _created(),
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
        ]
    )
    texts = [
        e["delta"]["text"] for e in _of(evs, "content_block_delta") if e["delta"]["type"] == "text_delta"
    ]
    assert "ok" in texts


LONG_ID = "call_" + "a" * 62


def test_shortens_long_tool_use_ids_stream() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_ShortensLongToolUseIDs (stream)."""
    evs = _run(
        [
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": LONG_ID, "name": "lookup"},
            }
        ],
        LOOKUP,
    )
    tool_id = _tool_starts(evs)[0]["content_block"]["id"]
    assert tool_id != LONG_ID and len(tool_id) <= 64


def test_shortens_long_tool_use_ids_nonstream() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_ShortensLongToolUseIDs (nonstream)."""
    out = resp(
        CODEX,
        CLAUDE,
        {
            "id": "resp_1",
            "object": "response",
            "model": "gpt-5",
            "status": "completed",
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "output": [{"type": "function_call", "call_id": LONG_ID, "name": "lookup", "arguments": "{}"}],
        },
        _request(LOOKUP),
    )
    tool_id = out["content"][0]["id"]
    assert tool_id != LONG_ID and len(tool_id) <= 64


_STOP_CASES = [
    (
        [
            {
                "type": "response.completed",
                "response": {"stop_reason": "stop", "usage": {"input_tokens": 1, "output_tokens": 1}},
            }
        ],
        "end_turn",
    ),
    (
        [
            {
                "type": "response.incomplete",
                "response": {
                    "incomplete_details": {"reason": "max_output_tokens"},
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            }
        ],
        "max_tokens",
    ),
    (
        [
            {
                "type": "response.output_item.added",
                "item": {"type": "function_call", "call_id": "call_1", "name": "lookup"},
            },
            {
                "type": "response.completed",
                "response": {"stop_reason": "stop", "usage": {"input_tokens": 1, "output_tokens": 1}},
            },
        ],
        "tool_use",
    ),
    (
        [
            {
                "type": "response.incomplete",
                "response": {
                    "incomplete_details": {"reason": "content_filter"},
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            }
        ],
        "refusal",
    ),
]
_STOP_IDS = ["stop->end_turn", "max_output->max_tokens", "tool call wins", "content_filter->refusal"]


@pytest.mark.parametrize(("chunks", "want"), _STOP_CASES, ids=_STOP_IDS)
def test_stream_stop_reason_mapping(chunks: list[dict[str, Any]], want: str) -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamStopReasonMapping."""
    assert _stop_reason(_run(chunks, LOOKUP)) == want


def test_stream_stop_sequence_mapping() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamStopSequenceMapping."""
    evs = _run(
        [
            {
                "type": "response.completed",
                "response": {
                    "stop_reason": "stop",
                    "stop_sequence": "\nEND",
                    "usage": {"input_tokens": 1, "output_tokens": 1},
                },
            }
        ]
    )
    delta = _of(evs, "message_delta")[-1]["delta"]
    assert delta["stop_reason"] == "stop_sequence"
    assert delta["stop_sequence"] == "\nEND"


def _whole(status: str, output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "model": "gpt-5",
        "status": status,
        "usage": {"input_tokens": 1, "output_tokens": 1},
        "output": output,
        **extra,
    }


@pytest.mark.parametrize(
    ("body", "want"),
    [
        (_whole("completed", [], stop_reason="stop"), "end_turn"),
        (_whole("incomplete", [], incomplete_details={"reason": "max_output_tokens"}), "max_tokens"),
        (
            _whole(
                "completed",
                [{"type": "function_call", "call_id": "call_1", "name": "lookup", "arguments": "{}"}],
                stop_reason="stop",
            ),
            "tool_use",
        ),
        (_whole("incomplete", [], incomplete_details={"reason": "content_filter"}), "refusal"),
    ],
    ids=_STOP_IDS,
)
def test_nonstream_stop_reason_mapping(body: dict[str, Any], want: str) -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_StopReasonMapping."""
    assert resp(CODEX, CLAUDE, body, _request(LOOKUP))["stop_reason"] == want


def test_nonstream_stop_sequence_mapping() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_StopSequenceMapping."""
    out = resp(CODEX, CLAUDE, _whole("completed", [], stop_reason="stop", stop_sequence="\nEND"), _request())
    assert out["stop_reason"] == "stop_sequence"
    assert out["stop_sequence"] == "\nEND"


def test_nonstream_thinking_includes_signature() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_ThinkingIncludesSignature."""
    out = resp(
        CODEX,
        CLAUDE,
        _whole(
            "completed",
            [
                {
                    "type": "reasoning",
                    "id": "rs_1",
                    "encrypted_content": "enc_sig_nonstream",
                    "summary": [{"type": "summary_text", "text": "internal reasoning"}],
                },
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "final answer"}],
                },
            ],
        ),
        _request(),
    )
    assert out["content"][0] == {
        "type": "thinking",
        "thinking": "internal reasoning",
        "signature": "enc_sig_nonstream",
    }
    assert out["content"][-1]["type"] == "text" and out["content"][-1]["text"] == "final answer"


def test_nonstream_signature_only_reasoning_is_a_signed_empty_thinking_block() -> None:
    """CPA's whole-answer counterpart of the stream case: a reasoning item with no summary
    (Codex sends none unless asked) is a thinking block with no text that carries the
    encrypted content; a reasoning item with neither is left out."""
    out = resp(
        CODEX,
        CLAUDE,
        _whole(
            "completed",
            [
                {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "enc_only"},
                {"type": "reasoning", "id": "rs_2", "summary": []},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "ok"}],
                },
            ],
        ),
        _request(),
    )
    assert out["content"][0] == {"type": "thinking", "thinking": "", "signature": "enc_only"}
    assert [b["type"] for b in out["content"]] == ["thinking", "text"]


def test_stream_no_json_null_content() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamThinkingKeepsSingleBlockAcrossSummaryParts:
    two summary parts of one reasoning item stay one thinking block."""
    evs = _run(
        [
            _created(),
            {
                "type": "response.output_item.added",
                "item": {"type": "reasoning", "id": "rs_1"},
                "output_index": 0,
            },
            {
                "type": "response.reasoning_summary_part.added",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
            },
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
                "delta": "one",
            },
            {
                "type": "response.reasoning_summary_part.done",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 0,
            },
            {
                "type": "response.reasoning_summary_part.added",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 1,
            },
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 1,
                "delta": "two",
            },
            {
                "type": "response.reasoning_summary_part.done",
                "item_id": "rs_1",
                "output_index": 0,
                "summary_index": 1,
            },
            {
                "type": "response.output_item.done",
                "item": {"type": "reasoning", "id": "rs_1", "encrypted_content": "enc"},
                "output_index": 0,
            },
            {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
        ]
    )
    thinking_starts = [e for e in _of(evs, "content_block_start") if e["content_block"]["type"] == "thinking"]
    assert len(thinking_starts) == 1
    assert b"null" not in orjson.dumps([e for e in evs if e.get("type") == "content_block_delta"])


WEB_SEARCH = {
    "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    "messages": [{"role": "user", "content": "search weather"}],
}


def test_stream_web_search_call_emits_claude_server_tool_blocks() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamWebSearchCallEmitsClaudeServerToolBlocks
    (the block opens with an empty ``input`` and the query comes as a partial_json delta, as
    CPA and Anthropic stream it)."""
    out = stream(
        CODEX,
        CLAUDE,
        sse(
            _created("gpt-5.4"),
            {
                "type": "response.output_item.added",
                "item": {"id": "ws_123", "type": "web_search_call", "status": "in_progress"},
            },
            {"type": "response.web_search_call.searching", "item_id": "ws_123"},
            {"type": "response.web_search_call.completed", "item_id": "ws_123"},
            {
                "type": "response.output_item.done",
                "item": {
                    "id": "ws_123",
                    "type": "web_search_call",
                    "status": "completed",
                    "action": {"type": "search", "query": "search weather"},
                },
            },
            {
                "type": "response.completed",
                "response": {"stop_reason": "stop", "usage": {"input_tokens": 3, "output_tokens": 2}},
            },
            events=False,
        ),
        _request(WEB_SEARCH),
    )
    evs = events(out)
    blocks = [e["content_block"] for e in _of(evs, "content_block_start")]
    kinds = [b["type"] for b in blocks]
    assert kinds == ["server_tool_use", "web_search_tool_result"]
    assert blocks[0]["id"] == "ws_123" and blocks[0]["input"] == {}
    assert _json_deltas(evs) == ['{"query":"search weather"}']
    assert claude_blocks(evs)[0]["input"] == {"query": "search weather"}
    assert blocks[1]["tool_use_id"] == "ws_123"
    assert b"event: message_stop" in out
    assert _stop_reason(evs) == "end_turn"


def test_stream_web_search_call_reuses_upstream_id() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaude_StreamWebSearchCallReusesFallbackToolUseID."""
    evs = _run(
        [
            _created("gpt-5.4"),
            {
                "type": "response.output_item.added",
                "item": {"type": "web_search_call", "status": "in_progress"},
            },
            {"type": "response.web_search_call.completed", "item_id": "ws_from_upstream"},
            {
                "type": "response.output_item.done",
                "item": {
                    "id": "ws_from_upstream",
                    "type": "web_search_call",
                    "status": "completed",
                    "action": {"type": "search", "query": "search weather"},
                },
            },
            {
                "type": "response.completed",
                "response": {"stop_reason": "stop", "usage": {"input_tokens": 3, "output_tokens": 2}},
            },
        ],
        WEB_SEARCH,
    )
    blocks = [e["content_block"] for e in _of(evs, "content_block_start")]
    assert [b["type"] for b in blocks].count("server_tool_use") == 1
    assert blocks[1]["tool_use_id"] == "ws_from_upstream"


_SEARCH_OUTPUT = [
    {
        "type": "web_search_call",
        "id": "ws_123",
        "status": "completed",
        "action": {"type": "search", "query": "search weather"},
    },
    {"type": "message", "content": [{"type": "output_text", "text": "done"}]},
]


def test_nonstream_web_search_call_emits_server_tool_blocks() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_WebSearchCallEmitsServerToolBlocks."""
    out = resp(CODEX, CLAUDE, _whole("completed", _SEARCH_OUTPUT, stop_reason="stop"), _request(WEB_SEARCH))
    assert [b["type"] for b in out["content"]] == ["server_tool_use", "web_search_tool_result", "text"]
    assert out["content"][0]["input"] == {"query": "search weather"}


def test_nonstream_web_search_stop_reason_end_turn() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_WebSearchStopReasonEndTurn."""
    out = resp(CODEX, CLAUDE, _whole("completed", _SEARCH_OUTPUT, stop_reason="stop"), _request(WEB_SEARCH))
    assert out["stop_reason"] == "end_turn"


def test_nonstream_web_search_dedupes_empty_open_page_items() -> None:
    """codex_claude_response_test.go TestConvertCodexResponseToClaudeNonStream_WebSearchDedupesEmptyOpenPageItems."""
    out = resp(
        CODEX,
        CLAUDE,
        _whole(
            "completed",
            [
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "open_page"},
                },
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "weather"},
                },
                {"type": "message", "content": [{"type": "output_text", "text": "ok"}]},
            ],
            stop_reason="stop",
        ),
        _request(WEB_SEARCH),
    )
    uses = [b for b in out["content"] if b["type"] == "server_tool_use"]
    assert len(uses) == 1 and uses[0]["input"] == {"query": "weather"}


# ---------------------------------------------------------------------- thinking and its signature


# CPA opens a thinking block without a ``signature`` member while the signature is unknown;
# ours has ``"signature": ""`` (as every thinking block we write): the anthropic SDKs'
# ThinkingBlock requires the member, and a block a client keeps from a stream that never
# sends a signature_delta stays valid with it (without it the SDK's snapshot has none)
UNSIGNED_START = {"type": "thinking", "thinking": "", "signature": ""}


def _thinking_digest(chunks: list[dict[str, Any]]) -> dict[str, Any]:
    """CPA's ``digestCodexThinkingStream``: the thinking blocks' starts and stops, the
    signatures sent, the thinking text, the event order (index 0) and the raw stream."""
    evs = _run(chunks, {"messages": []})
    order: list[str] = []
    out: dict[str, Any] = {"starts": 0, "stops": 0, "signatures": [], "thinking": "", "order": order}
    thinking_blocks: set[int] = set()
    for e in evs:
        kind = e.get("type")
        if kind == "content_block_start":
            block = e["content_block"]
            if block["type"] == "thinking":
                thinking_blocks.add(e["index"])
                out["starts"] += 1
                out.setdefault("start_blocks", []).append(block)
                order.append("thinking_start")
            elif block["type"] == "text":
                out["text_index"] = e["index"]
                order.append("text_start")
        elif kind == "content_block_delta":
            delta = e["delta"]
            if delta["type"] == "thinking_delta":
                out["thinking"] += delta["thinking"]
                order.append("thinking_delta")
            elif delta["type"] == "signature_delta":
                out["signatures"].append(delta["signature"])
                out.setdefault("signature_indexes", []).append(e["index"])
                order.append("signature_delta")
        elif kind == "content_block_stop" and e["index"] in thinking_blocks:
            out["stops"] += 1
            order.append("thinking_stop")
    out["raw"] = orjson.dumps(evs).decode()
    return out


SUMMARY_ADDED = {"type": "response.reasoning_summary_part.added"}
SUMMARY_DONE = {"type": "response.reasoning_summary_part.done"}


def _summary(text: str) -> dict[str, Any]:
    return {"type": "response.reasoning_summary_text.delta", "delta": text}


def _reasoning(event: str, encrypted: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "reasoning"}
    if encrypted is not None:
        item["encrypted_content"] = encrypted
    return {"type": f"response.output_item.{event}", "item": item}


def test_stream_thinking_includes_signature() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingIncludesSignature: the start block has
    no signature yet (an empty one: UNSIGNED_START); the reasoning item's encrypted_content
    comes as a signature_delta, then the block stops."""
    d = _thinking_digest(
        [
            {"type": "response.created", "response": {"id": "resp_123", "model": "gpt-5"}},
            SUMMARY_ADDED,
            _summary("Let me think"),
            SUMMARY_DONE,
            _reasoning("done", "enc_sig_123"),
        ]
    )
    assert d["starts"] == 1 and d["start_blocks"] == [UNSIGNED_START]
    assert d["signatures"] == ["enc_sig_123"]
    assert d["stops"] == 1


def test_stream_thinking_without_reasoning_item_has_no_signature() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingWithoutReasoningItemStillIncludesSignatureField:
    summary text with no reasoning item: a thinking block, stopped, with no signature_delta."""
    d = _thinking_digest(
        [
            SUMMARY_ADDED,
            _summary("Let me think"),
            SUMMARY_DONE,
            {"type": "response.completed", "response": {"usage": {"input_tokens": 1, "output_tokens": 1}}},
        ]
    )
    assert d["starts"] == 1 and d["start_blocks"] == [UNSIGNED_START]
    assert d["stops"] == 1
    assert d["signatures"] == []


def test_stream_thinking_keeps_single_block_across_summary_parts() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingKeepsSingleBlockAcrossSummaryParts: one
    reasoning item's summary parts are one block, joined by a blank line, open until the
    item is done."""
    d = _thinking_digest(
        [SUMMARY_ADDED, _summary("First part"), SUMMARY_DONE, SUMMARY_ADDED, _summary("Second part")]
    )
    assert d["starts"] == 1
    assert d["thinking"] == "First part\n\nSecond part"


def test_stream_thinking_single_signature_across_multipart_reasoning() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingEmitsSingleSignatureAcrossMultipartReasoning:
    a done item without encrypted_content falls back to the one the added item carried."""
    d = _thinking_digest(
        [
            _reasoning("added", "enc_sig_multipart"),
            SUMMARY_ADDED,
            _summary("First part"),
            SUMMARY_DONE,
            SUMMARY_ADDED,
            _summary("Second part"),
            SUMMARY_DONE,
            _reasoning("done"),
        ]
    )
    assert (d["starts"], d["stops"]) == (1, 1)
    assert d["signatures"] == ["enc_sig_multipart"]
    assert d["thinking"] == "First part\n\nSecond part"


def test_stream_thinking_never_emits_pre_content_encrypted_content() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingNeverEmitsPreContentEncryptedContent: the
    added item's encrypted_content is a snapshot that differs from the done item's; only the
    final one reaches the client."""
    chunks = [_reasoning("added", "enc_sig_pre_content_snapshot")]
    for part in ("Part A", "Part B", "Part C"):
        chunks += [SUMMARY_ADDED, _summary(part), SUMMARY_DONE]
    d = _thinking_digest([*chunks, _reasoning("done", "enc_sig_final")])
    assert (d["starts"], d["stops"]) == (1, 1)
    assert d["signatures"] == ["enc_sig_final"]
    assert "enc_sig_pre_content_snapshot" not in d["raw"]
    assert d["thinking"] == "Part A\n\nPart B\n\nPart C"


def test_stream_thinking_one_block_per_reasoning_item() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingEmitsOneBlockPerReasoningItem (its
    events carry no output_index: an added item where one ended is a new item)."""
    d = _thinking_digest(
        [
            _reasoning("added", "enc_pre_1"),
            SUMMARY_ADDED,
            _summary("First item"),
            SUMMARY_DONE,
            _reasoning("done", "enc_final_1"),
            _reasoning("added", "enc_pre_2"),
            SUMMARY_ADDED,
            _summary("Second item"),
            SUMMARY_DONE,
            _reasoning("done", "enc_final_2"),
        ]
    )
    assert (d["starts"], d["stops"]) == (2, 2)
    assert d["signatures"] == ["enc_final_1", "enc_final_2"]
    assert "enc_pre_1" not in d["raw"] and "enc_pre_2" not in d["raw"]


def test_stream_thinking_uses_early_signature_when_done_omits_it() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingUsesEarlyCapturedSignatureWhenDoneOmitsIt."""
    d = _thinking_digest(
        [_reasoning("added", "enc_sig_early"), SUMMARY_ADDED, _summary("Let me think"), _reasoning("done")]
    )
    assert d["signatures"] == ["enc_sig_early"]


def test_stream_thinking_uses_final_done_signature() -> None:
    """TestConvertCodexResponseToClaude_StreamThinkingUsesFinalDoneSignature."""
    d = _thinking_digest(
        [
            _reasoning("added", "enc_sig_initial"),
            SUMMARY_ADDED,
            _summary("Let me think"),
            SUMMARY_DONE,
            _reasoning("done", "enc_sig_final"),
        ]
    )
    assert d["signatures"] == ["enc_sig_final"]
    assert d["order"] == ["thinking_start", "thinking_delta", "signature_delta", "thinking_stop"]


def test_stream_signature_only_reasoning_emits_thinking_signature() -> None:
    """TestConvertCodexResponseToClaude_StreamSignatureOnlyReasoningEmitsThinkingSignature: a
    reasoning item with no summary (Codex sends none unless asked) still reaches the client
    as a thinking block carrying its encrypted_content, so the client sends it back."""
    d = _thinking_digest(
        [
            {"type": "response.created", "response": {"id": "resp_123", "model": "gpt-5"}},
            _reasoning("added", "enc_sig_initial"),
            _reasoning("done", "enc_sig_only"),
            {"type": "response.content_part.added"},
            {"type": "response.output_text.delta", "delta": "ok"},
        ]
    )
    assert d["thinking"] == ""
    assert d["signatures"] == ["enc_sig_only"] and d["signature_indexes"] == [0]
    assert d["text_index"] == 1
    assert d["order"] == ["thinking_start", "signature_delta", "thinking_stop", "text_start"]
