"""Ported from CPA internal/translator/codex/claude/codex_claude_parallel_function_calls_test.go:
Codex streams whose function calls interleave (or whose arguments arrive only in the
terminal output) reach a Claude client as well-formed blocks: one open at a time, indices
never reused, nothing after ``message_stop``, each call with its whole arguments."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ._run import CLAUDE, CODEX, events, sse, stream

REQUEST = {
    "model": "m",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
    "tools": [{"name": "Read", "input_schema": {"type": "object"}}],
}
CREATED = {"type": "response.created", "response": {"id": "resp_parallel", "model": "gpt-5"}}
USAGE = {"input_tokens": 1, "output_tokens": 1}


def _args(path: str) -> str:
    return orjson.dumps({"file_path": path}).decode()


def _added(output_index: int, call_id: str | None = None, name: str | None = "Read") -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call"}
    if call_id:
        item["call_id"] = call_id
    if name:
        item["name"] = name
    return {"type": "response.output_item.added", "item": item, "output_index": output_index}


def _delta(output_index: int, text: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.delta", "delta": text, "output_index": output_index}


def _args_done(output_index: int, args: str) -> dict[str, Any]:
    return {"type": "response.function_call_arguments.done", "arguments": args, "output_index": output_index}


def _call_done(output_index: int, call_id: str, args: str) -> dict[str, Any]:
    item = {"type": "function_call", "call_id": call_id, "name": "Read", "arguments": args}
    return {"type": "response.output_item.done", "item": item, "output_index": output_index}


def _blocks(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """CPA's assertCodexClaudeContentBlockLifecycle: the blocks of the Claude stream, checked
    to open one at a time at fresh indices, to close before message_delta, and to be
    followed by nothing after message_stop."""
    open_: dict[int, dict[str, Any]] = {}
    started: set[int] = set()
    blocks: list[dict[str, Any]] = []
    state = 0  # 0 content, 1 after message_delta, 2 after message_stop
    for e in events(stream(CODEX, CLAUDE, sse(*chunks, events=False), REQUEST)):
        kind = e.get("type")
        assert state != 2, f"event after message_stop: {e}"
        if kind == "content_block_start":
            assert state == 0 and not open_, f"block started while another is open: {e}"
            index = e["index"]
            assert index not in started, f"index {index} reused"
            started.add(index)
            cb = e["content_block"]
            block = {
                "index": index,
                "type": cb["type"],
                "id": cb.get("id"),
                "name": cb.get("name"),
                "text": "",
                "args": "",
            }
            open_[index] = block
            blocks.append(block)
        elif kind == "content_block_delta":
            block = open_[e["index"]]
            delta = e["delta"]
            if delta["type"] == "input_json_delta":
                block["args"] += delta["partial_json"]
            elif delta["type"] == "text_delta":
                block["text"] += delta["text"]
        elif kind == "content_block_stop":
            assert open_.pop(e["index"], None) is not None, f"stop of an unopened block: {e}"
        elif kind == "message_delta":
            assert not open_ and state == 0, f"message_delta out of order: {e}"
            state = 1
        elif kind == "message_stop":
            assert not open_ and state == 1, f"message_stop out of order: {e}"
            state = 2
    assert not open_, f"blocks left open: {open_}"
    return blocks


def _assert_parallel_calls(blocks: list[dict[str, Any]]) -> None:
    """CPA's assertParallelCodexClaudeToolCalls."""
    assert [(b["index"], b["type"], b["name"], b["id"], b["args"]) for b in blocks] == [
        (0, "tool_use", "Read", "call_a", _args("a")),
        (1, "tool_use", "Read", "call_b", _args("b")),
    ]


@pytest.mark.parametrize(
    "first_done", ["call_a", "call_b"], ids=["first call finishes first", "second call finishes first"]
)
def test_stream_serializes_interleaved_named_function_calls(first_done: str) -> None:
    """TestConvertCodexResponseToClaude_StreamSerializesInterleavedNamedFunctionCalls; and
    CPA's test/codex_claude_parallel_function_calls_test.go
    TestCodexToClaudeParallelFunctionCallsHaveValidLifecycle (both calls added, then each
    one's arguments and done in turn: the first case here)."""
    head = [CREATED, _added(1, "call_a"), _added(2, "call_b")]
    if first_done == "call_a":
        body = [
            _delta(1, _args("a")),
            _delta(2, _args("b")),
            _args_done(1, _args("a")),
            _call_done(1, "call_a", _args("a")),
            _args_done(2, _args("b")),
            _call_done(2, "call_b", _args("b")),
        ]
    else:
        body = [
            _delta(2, _args("b")),
            _args_done(2, _args("b")),
            _call_done(2, "call_b", _args("b")),
            _delta(1, _args("a")),
            _args_done(1, _args("a")),
            _call_done(1, "call_a", _args("a")),
        ]
    _assert_parallel_calls(_blocks(head + body))


@pytest.mark.parametrize(
    ("call", "order"),
    [
        (_added(0, "call_a"), ["tool_use", "text"]),
        (_added(0, "call_a", name=None), ["text", "tool_use"]),
    ],
    ids=["named active call", "unnamed pending call"],
)
def test_stream_defers_other_content_until_function_calls_close(
    call: dict[str, Any], order: list[str]
) -> None:
    """TestConvertCodexResponseToClaude_StreamDefersOtherContentUntilFunctionCallsClose."""
    text_part = {"part": {"type": "output_text"}, "content_index": 0, "output_index": 1}
    chunks = [
        {"type": "response.created", "response": {"id": "resp_mixed", "model": "gpt-5"}},
        call,
        {
            "type": "response.output_item.added",
            "item": {"type": "message", "status": "in_progress"},
            "output_index": 1,
        },
        {"type": "response.content_part.added", **text_part},
        {"type": "response.output_text.delta", "delta": "done", "output_index": 1},
        {"type": "response.content_part.done", **text_part},
        {
            "type": "response.output_item.done",
            "item": {"type": "message", "status": "completed"},
            "output_index": 1,
        },
        _args_done(0, _args("a")),
        _call_done(0, "call_a", _args("a")),
        {"type": "response.completed", "response": {"usage": USAGE}},
    ]
    blocks = _blocks(chunks)
    assert [(b["index"], b["type"]) for b in blocks] == [(0, order[0]), (1, order[1])]
    for b in blocks:
        assert (b["args"] if b["type"] == "tool_use" else b["text"]) == (
            _args("a") if b["type"] == "tool_use" else "done"
        )


def test_stream_deferred_text_closes_before_thinking_starts() -> None:
    """TestConvertCodexResponseToClaude_StreamDeferredTextClosesBeforeThinkingStarts."""
    chunks = [
        {"type": "response.created", "response": {"id": "resp_mixed", "model": "gpt-5"}},
        _added(0, "call_a"),
        {
            "type": "response.content_part.added",
            "part": {"type": "output_text"},
            "content_index": 0,
            "output_index": 1,
        },
        {"type": "response.output_text.delta", "delta": "answer", "output_index": 1},
        {
            "type": "response.output_item.added",
            "item": {"type": "reasoning", "encrypted_content": "enc_initial"},
            "output_index": 2,
        },
        {"type": "response.reasoning_summary_part.added", "output_index": 2},
        {"type": "response.reasoning_summary_text.delta", "delta": "thought", "output_index": 2},
        {
            "type": "response.output_item.done",
            "item": {"type": "reasoning", "encrypted_content": "enc_final"},
            "output_index": 2,
        },
        _args_done(0, _args("a")),
        _call_done(0, "call_a", _args("a")),
        {"type": "response.completed", "response": {"usage": USAGE}},
    ]
    blocks = _blocks(chunks)
    assert [(b["index"], b["type"]) for b in blocks] == [(0, "tool_use"), (1, "text"), (2, "thinking")]
    assert blocks[0]["args"] == _args("a") and blocks[1]["text"] == "answer"


def test_stream_terminal_matches_function_calls_by_output_index() -> None:
    """TestConvertCodexResponseToClaude_StreamTerminalMatchesFunctionCallsByOutputIndex: calls
    with no call_id get their arguments from the terminal output, by position."""
    output = [
        {"type": "function_call", "name": "Read", "arguments": _args("a")},
        {"type": "function_call", "name": "Read", "arguments": _args("b")},
    ]
    chunks = [
        CREATED,
        _added(0),
        _added(1),
        {"type": "response.completed", "response": {"usage": USAGE, "output": output}},
    ]
    blocks = _blocks(chunks)
    assert [(b["index"], b["args"]) for b in blocks] == [(0, _args("a")), (1, _args("b"))]


@pytest.mark.parametrize("terminal", ["response.completed", "response.incomplete"])
def test_stream_terminal_hydrates_interleaved_function_calls(terminal: str) -> None:
    """TestConvertCodexResponseToClaude_StreamTerminalHydratesInterleavedFunctionCalls: a call
    whose argument deltas stopped short gets the rest from the terminal output (the client
    would otherwise run a call with broken JSON)."""
    output = [
        {"type": "function_call", "call_id": "call_a", "name": "Read", "arguments": _args("a")},
        {"type": "function_call", "call_id": "call_b", "name": "Read", "arguments": _args("b")},
    ]
    chunks = [
        CREATED,
        _added(0, "call_a"),
        _added(1, "call_b"),
        _delta(0, '{"file_path":'),
        {"type": terminal, "response": {"usage": USAGE, "output": output}},
    ]
    _assert_parallel_calls(_blocks(chunks))


def test_stream_done_event_completes_arguments_cut_short() -> None:
    """Beyond CPA's cases, the same repair from the call's own ``done`` events: deltas that
    stopped short are completed from ``function_call_arguments.done``; a done whose
    arguments do not extend what was sent adds nothing (no second copy)."""
    chunks = [
        CREATED,
        _added(0, "call_a"),
        _delta(0, '{"file_'),
        _args_done(0, _args("a")),
        _call_done(0, "call_a", _args("a")),
        _added(1, "call_b"),
        _delta(1, _args("b")),
        _args_done(1, _args("other")),
        _call_done(1, "call_b", _args("other")),
        {"type": "response.completed", "response": {"usage": USAGE}},
    ]
    blocks = _blocks(chunks)
    assert [b["args"] for b in blocks] == [_args("a"), _args("b")]
