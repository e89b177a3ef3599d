"""Ported from CPA test/codex_claude_parallel_function_calls_test.go: two function calls
Codex runs in parallel (both announced before either's arguments), as a Claude Messages
client reads them: a valid block lifecycle."""

from __future__ import annotations

from typing import Any

import orjson

from ._run import CLAUDE, CODEX, events, sse, stream


def _call(call_id: str, path: str, arguments: bool = True) -> dict[str, Any]:
    item: dict[str, Any] = {"type": "function_call", "call_id": call_id, "name": "Read"}
    if arguments:
        item["arguments"] = orjson.dumps({"file_path": path}).decode()
    return item


def _args(path: str) -> str:
    return orjson.dumps({"file_path": path}).decode()


CHUNKS: list[dict[str, Any]] = [
    {"type": "response.created", "response": {"id": "resp_parallel", "model": "gpt-5"}},
    {"type": "response.output_item.added", "item": _call("call_a", "a", False), "output_index": 1},
    {"type": "response.output_item.added", "item": _call("call_b", "b", False), "output_index": 2},
    {"type": "response.function_call_arguments.delta", "delta": _args("a"), "output_index": 1},
    {"type": "response.function_call_arguments.done", "arguments": _args("a"), "output_index": 1},
    {"type": "response.output_item.done", "item": _call("call_a", "a"), "output_index": 1},
    {"type": "response.function_call_arguments.delta", "delta": _args("b"), "output_index": 2},
    {"type": "response.function_call_arguments.done", "arguments": _args("b"), "output_index": 2},
    {"type": "response.output_item.done", "item": _call("call_b", "b"), "output_index": 2},
    {
        "type": "response.completed",
        "response": {
            "usage": {"input_tokens": 1, "output_tokens": 1},
            "output": [_call("call_a", "a"), _call("call_b", "b")],
        },
    },
]


def test_parallel_function_calls_have_a_valid_lifecycle() -> None:
    """CPA TestCodexToClaudeParallelFunctionCallsHaveValidLifecycle: one block open at a
    time, indexes 0 then 1 never reused, each delta inside its open block, both closed
    before ``message_delta``, then ``message_stop`` and nothing after; the blocks carry
    call_a and call_b with their own arguments."""
    request = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 100,
        "stream": True,
        "messages": [{"role": "user", "content": "read both"}],
        "tools": [{"name": "Read", "input_schema": {"type": "object", "properties": {}}}],
    }
    evs = events(stream(CODEX, CLAUDE, sse(*CHUNKS, events=False), request))
    open_: set[int] = set()
    started: list[int] = []
    stopped: list[int] = []
    ids: dict[int, str] = {}
    arguments: dict[int, str] = {}
    state = 0  # 1 after message_delta, 2 after message_stop
    for ev in evs:
        kind = ev.get("type")
        assert state < 2, f"event after message_stop: {ev}"
        index = ev.get("index")
        if kind == "content_block_start":
            assert state == 0 and not open_ and index not in started, ev
            open_.add(index)
            started.append(index)
            ids[index] = ev["content_block"].get("id", "")
        elif kind == "content_block_delta":
            assert index in open_, ev
            if ev["delta"]["type"] == "input_json_delta":
                arguments[index] = arguments.get(index, "") + ev["delta"]["partial_json"]
        elif kind == "content_block_stop":
            assert index in open_, ev
            open_.discard(index)
            stopped.append(index)
        elif kind == "message_delta":
            assert not open_ and state == 0, ev
            state = 1
        elif kind == "message_stop":
            assert not open_ and state == 1, ev
            state = 2
    assert not open_ and state == 2
    assert started == [0, 1] and stopped == [0, 1]
    assert ids == {0: "call_a", 1: "call_b"}
    assert {i: orjson.loads(a) for i, a in arguments.items()} == {
        0: {"file_path": "a"},
        1: {"file_path": "b"},
    }
