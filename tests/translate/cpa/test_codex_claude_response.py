"""Ported from CPA internal/translator/codex/claude/codex_claude_response_test.go: a Codex
(Responses) answer, streamed or whole, as a Claude Messages client sees it.

CPA feeds one ``data:`` line per call; here the same payloads go through our stream
translator as SSE frames (event names left out, as in CPA's cases)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ._run import CLAUDE, CODEX, events, resp, sse, stream

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
    thinking = [b for b in out["content"] if b["type"] == "thinking"]
    assert thinking and thinking[0]["thinking"] == "internal reasoning"
    assert "signature" in thinking[0]
    assert (
        out["content"][-1] == {"type": "text", "text": "final answer"}
        or out["content"][-1]["text"] == "final answer"
    )


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
    (the query rides in the block's ``input``; CPA also streams it as a partial_json delta)."""
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
    assert blocks[0]["id"] == "ws_123" and blocks[0]["input"] == {"query": "search weather"}
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
