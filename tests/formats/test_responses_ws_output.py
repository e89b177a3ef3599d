"""CPA's completion-output cases (sdk/api/handlers/openai/openai_responses_websocket_test.go)
on ``cliproxy.formats.responses_ws_output``, for the one case a running proxy cannot show:
the Codex and xAI providers already fill an empty ``response.completed`` output from the
done items (``providers.codex_stream.CompletedOutput``, as CPA's executors over HTTP), so
the session's own fill, which leaves incomplete tool calls out, only runs for an upstream
that does not. The other cases run end to end in tests/e2e/test_responses_ws_output.py."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats.responses_ws_output import TurnOutput


def _done(item: dict[str, Any], index: int | None = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "response.output_item.done", "item": item}
    if index is not None:
        event["output_index"] = index
    return event


def _complete(seen: TurnOutput, output: list[Any]) -> tuple[dict[str, Any], list[Any]]:
    event = {"type": "response.completed", "response": {"id": "resp-1", "output": output}}
    data, kept = seen.complete(orjson.dumps(event), event)
    return orjson.loads(data), kept


def test_a_filled_output_leaves_incomplete_tool_calls_out() -> None:
    """CPA TestResponseCompletedOutputFromPayloadDropsIncompleteCollectedToolCalls: a
    ``function_call`` without ``arguments`` is no call the client can run; the message and
    the complete ``custom_tool_call`` fill the empty output, and only the latter is left
    pending."""
    seen = TurnOutput()
    seen.see_item(_done({"type": "message", "id": "msg-1"}, 0), True)
    seen.see_item(_done({"type": "function_call", "call_id": "call-1", "name": "exec"}, 1), True)
    custom = {"type": "custom_tool_call", "call_id": "call-2", "name": "exec", "input": "pwd"}
    seen.see_item(_done(custom, 2), True)
    event, kept = _complete(seen, [])
    assert event["response"]["output"] == kept == [{"type": "message", "id": "msg-1"}, custom]
    assert list(seen.pending) == ["call-2"]


def test_a_consistent_completion_is_passed_as_it_came() -> None:
    """CPA TestRestoreResponsesWebsocketCompletionOutputPreservesNonEmptyOutput: the very
    bytes, not a copy serialised again."""
    seen = TurnOutput()
    seen.see_item(_done({"type": "function_call", "id": "call-1", "call_id": "call-1"}, 0), True)
    data = b'{"type": "response.completed", "response": {"id": "resp-1", "output": [{"type": "message"}]}}'
    assert seen.complete(data, orjson.loads(data))[0] is data


def test_a_call_only_streamed_is_kept_and_pending_until_answered() -> None:
    """CPA recordPendingToolCallIDsFromPayload, TestRecordPendingToolCallIDsFromPayloadDropsSatisfiedCalls:
    the calls of the item events and of the output count, in order; an output answers its
    call."""
    seen = TurnOutput()
    call = {"type": "function_call", "call_id": "call-1", "name": "exec", "arguments": ""}
    seen.see_item({"type": "response.output_item.added", "item": call}, False)
    seen.see_item(_done({**call, "arguments": "{}"}, 0), True)
    answered = {"type": "custom_tool_call", "call_id": "call-2", "name": "p", "input": ""}
    _, kept = _complete(seen, [answered, {"type": "custom_tool_call_output", "call_id": "call-2"}])
    assert kept[0] == answered and list(seen.pending) == ["call-1"]
    assert [c["call_id"] for c in seen.calls] == ["call-1", "call-1", "call-2"]
