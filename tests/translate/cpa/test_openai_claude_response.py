"""CPA internal/translator/openai/claude/openai_claude_response_test.go: OpenAI Chat
Completions upstream -> Claude Messages client, streamed responses."""

from __future__ import annotations

from typing import Any

import orjson

from tests.translate.cpa._run import CLAUDE, OPENAI, events, get, stream

REQUEST = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100, "stream": True}


def run(*chunks: str | dict[str, Any]) -> list[dict[str, Any]]:
    data = b"".join(
        b"data: " + (c.encode() if isinstance(c, str) else orjson.dumps(c)) + b"\n\n"
        for c in (*chunks, "[DONE]")
    )
    return events(stream(OPENAI, CLAUDE, data, REQUEST))


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


def calls(*tcs: dict[str, Any], role: bool = False) -> dict[str, Any]:
    delta: dict[str, Any] = {"tool_calls": list(tcs)}
    if role:
        delta["role"] = "assistant"
    return chunk(delta)


FINISH_TOOLS = chunk({}, "tool_calls")


def count(evs: list[dict[str, Any]], kind: str) -> int:
    return sum(1 for e in evs if e["_event"] == kind)


def tool_starts(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e for e in evs if e["_event"] == "content_block_start" and get(e, "content_block.type") == "tool_use"
    ]


def stop_reason(evs: list[dict[str, Any]]) -> str | None:
    deltas = [e for e in evs if e["_event"] == "message_delta"]
    return get(deltas[-1], "delta.stop_reason") if deltas else None


def test_late_usage_only_does_not_emit_after_message_stop() -> None:
    """TestStreaming_LateUsageOnlyDoesNotEmitAfterMessageStop."""
    evs = run(
        chunk({"role": "assistant"}),
        chunk({"content": "hello"}),
        chunk({}, "stop", usage={"prompt_tokens": 1, "completion_tokens": 1}),
        {"id": "c1", "model": "m", "choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
    )
    assert count(evs, "message_delta") == 1
    assert count(evs, "message_stop") == 1
    assert evs[-1]["_event"] == "message_stop"


def test_stream_ignores_null_tool_name_delta() -> None:
    """TestConvertOpenAIResponseToClaude_StreamIgnoresNullToolNameDelta."""
    evs = run(
        chunk(
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "read_file", "arguments": ""},
                    }
                ],
            }
        ),
        calls({"index": 0, "function": {"name": None, "arguments": '{"path":"/tmp/a"}'}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert [get(s, "content_block.name") for s in starts] == ["read_file"]
    assert all(get(s, "content_block.name") != "" for s in starts)


def test_tool_empty_name_throughout() -> None:
    """TestStreamingTool_EmptyNameThroughout."""
    evs = run(
        calls({"index": 0, "id": "call_a", "function": {"name": "", "arguments": ""}}, role=True),
        calls({"index": 0, "function": {"name": "", "arguments": '{"x":1}'}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.name") == "tool_0"
    assert get(starts[0], "content_block.id") == "call_a"
    assert count(evs, "content_block_delta") == 1
    assert count(evs, "content_block_stop") == 1
    assert stop_reason(evs) == "tool_use"


def test_tool_null_name() -> None:
    """TestStreamingTool_NullName."""
    evs = run(
        calls({"index": 0, "id": "call_a", "function": {"name": None, "arguments": ""}}, role=True),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.name") == "tool_0"
    assert get(starts[0], "content_block.id") == "call_a"
    assert count(evs, "content_block_stop") == 1
    assert stop_reason(evs) == "tool_use"


def test_tool_non_string_name() -> None:
    """TestStreamingTool_NonStringName."""
    evs = run(
        calls({"index": 0, "id": "call_a", "function": {"name": 123, "arguments": ""}}, role=True),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.name") == "tool_0"


def test_tool_repeated_name() -> None:
    """TestStreamingTool_RepeatedName."""
    evs = run(
        calls({"index": 0, "id": "call_a", "function": {"name": "do_it", "arguments": ""}}, role=True),
        calls({"index": 0, "function": {"name": "do_it", "arguments": '{"x"'}}),
        calls({"index": 0, "function": {"name": "do_it", "arguments": ":1}"}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert [get(s, "content_block.name") for s in starts] == ["do_it"]
    assert count(evs, "content_block_stop") == 1


def test_tool_mixed_empty_name_and_valid() -> None:
    """TestStreamingTool_MixedEmptyNameAndValid."""
    evs = run(
        calls(
            {"index": 0, "id": "call_empty", "function": {"name": "", "arguments": ""}},
            {"index": 1, "id": "call_real", "function": {"name": "do_it", "arguments": ""}},
            role=True,
        ),
        calls({"index": 1, "function": {"arguments": "{}"}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert [get(s, "content_block.name") for s in starts] == ["do_it", "tool_0"]
    assert count(evs, "content_block_stop") == 2
    assert [e["index"] for e in evs if e["_event"] == "content_block_start"][:2] == [0, 1]


def test_tool_empty_name_without_signal_is_suppressed() -> None:
    """TestStreamingTool_EmptyNameWithoutSignalIsSuppressed."""
    evs = run(calls({"index": 0, "function": {"name": "", "arguments": ""}}, role=True), FINISH_TOOLS)
    assert tool_starts(evs) == []
    assert stop_reason(evs) != "tool_use"


def test_tool_empty_id_defer_start() -> None:
    """TestStreamingTool_EmptyIDDeferStart."""
    evs = run(
        calls({"index": 0, "id": "", "function": {"name": "do_it", "arguments": ""}}, role=True),
        calls({"index": 0, "id": "call_real", "function": {"arguments": "{}"}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert [get(s, "content_block.id") for s in starts] == ["call_real"]


def test_tool_id_in_delta_without_function() -> None:
    """TestStreamingTool_IDInDeltaWithoutFunction."""
    evs = run(
        calls({"index": 0, "function": {"name": "do_it"}}, role=True),
        calls({"index": 0, "id": "call_real"}),
        calls({"index": 0, "function": {"arguments": "{}"}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.id") == "call_real"
    assert get(starts[0], "content_block.name") == "do_it"
    assert count(evs, "content_block_stop") == 1


def test_tool_stop_reason_with_emitted_tool() -> None:
    """TestStreamingTool_StopReasonWithEmittedTool."""
    evs = run(
        calls({"index": 0, "id": "call_a", "function": {"name": "do_it", "arguments": "{}"}}, role=True),
        chunk({}, "tool_calls", usage={"prompt_tokens": 1, "completion_tokens": 1}),
    )
    assert stop_reason(evs) == "tool_use"


def test_tool_stop_reason_when_id_never_arrives() -> None:
    """TestStreamingTool_StopReasonWhenIDNeverArrives."""
    evs = run(
        calls({"index": 0, "function": {"name": "do_it", "arguments": ""}}, role=True),
        calls({"index": 0, "function": {"arguments": "{}"}}),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.id").startswith("toolu_")
    assert get(starts[0], "content_block.name") == "do_it"
    assert stop_reason(evs) == "tool_use"


def test_tool_belated_starts_use_openai_tool_index_order() -> None:
    """TestStreamingTool_BelatedStartsUseOpenAIToolIndexOrder."""
    evs = run(
        calls(
            {"index": 2, "function": {"name": "third_tool", "arguments": "{}"}},
            {"index": 0, "function": {"name": "first_tool", "arguments": "{}"}},
            {"index": 1, "function": {"name": "second_tool", "arguments": "{}"}},
            role=True,
        ),
        FINISH_TOOLS,
    )
    starts = tool_starts(evs)
    assert [get(s, "content_block.name") for s in starts] == ["first_tool", "second_tool", "third_tool"]
    assert [s["index"] for s in starts] == [0, 1, 2]


def test_tool_late_id_after_finalization() -> None:
    """TestStreamingTool_LateIDAfterFinalization."""
    evs = run(
        calls({"index": 0, "function": {"name": "do_it"}}, role=True),
        chunk({}, "tool_calls", usage={"prompt_tokens": 1, "completion_tokens": 1}),
        calls({"index": 0, "id": "call_late"}),
    )
    assert len(tool_starts(evs)) == 1
    after = [e["_event"] for e in evs[[e["_event"] for e in evs].index("message_stop") :]]
    assert not {"content_block_start", "content_block_delta", "content_block_stop"} & set(after)


def test_tool_stop_reason_mixed_empty_name_and_valid() -> None:
    """TestStreamingTool_StopReasonMixedEmptyNameAndValid."""
    evs = run(
        calls(
            {"index": 0, "id": "call_empty", "function": {"name": "", "arguments": ""}},
            {"index": 1, "id": "call_real", "function": {"name": "do_it", "arguments": "{}"}},
            role=True,
        ),
        FINISH_TOOLS,
    )
    assert stop_reason(evs) == "tool_use"
    assert len(tool_starts(evs)) == 2


def test_tool_empty_name_args_only_no_id() -> None:
    """TestStreamingTool_EmptyNameArgsOnlyNoID."""
    evs = run(
        calls({"index": 0, "function": {"name": "", "arguments": '{"q":"x"}'}}, role=True), FINISH_TOOLS
    )
    starts = tool_starts(evs)
    assert len(starts) == 1
    assert get(starts[0], "content_block.name") == "tool_0"
    assert get(starts[0], "content_block.id").startswith("toolu_")
    assert stop_reason(evs) == "tool_use"
