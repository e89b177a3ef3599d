"""CPA's tool-call repair cases (sdk/api/handlers/openai/openai_responses_websocket_test.go,
``TestRepairResponsesWebsocketToolCalls*``, ``TestRecordResponsesWebsocket*ToolCalls*``,
``TestResponsesWebsocketToolCache*``, ``TestRecordPendingToolCallIDsFromPayload*``) on
``cliproxy.formats.responses_ws_tools``. CPA's cache is keyed by the client's session
header and shared by its sockets; ours is a :class:`ToolLedger` per socket (see the
session tests in tests/e2e/test_responses_ws_tools.py)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.formats.responses_ws import pending_call_ids
from cliproxy.formats.responses_ws_tools import (
    LEDGER_SIZE,
    ToolLedger,
    is_complete_call,
    record_response,
    repair,
)


def _kinds(request: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.get("type"), i.get("call_id") or i.get("id")) for i in request["input"]]


@pytest.mark.parametrize(
    ("call", "output"),
    [("function_call", "function_call_output"), ("custom_tool_call", "custom_tool_call_output")],
)
def test_a_known_output_is_put_after_its_lone_call(call: str, output: str) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsInsertsCachedOutput,
    TestRepairResponsesWebsocketToolCallsInsertsCachedCustomToolOutput: an output sent with ``previous_response_id`` stays
    (the upstream holds its call) and is recorded; a later request with the call alone
    gets that output right after it."""
    ledger = ToolLedger()
    warm = {
        "previous_response_id": "resp-1",
        "input": [{"type": output, "call_id": "call-1", "output": "ok"}],
    }
    assert repair(warm, ledger, ledger) is warm
    request = {
        "input": [{"type": call, "call_id": "call-1", "name": "tool"}, {"type": "message", "id": "msg-1"}]
    }
    repaired = repair(request, ledger, ledger)
    assert _kinds(repaired) == [(call, "call-1"), (output, "call-1"), ("message", "msg-1")]
    assert len(request["input"]) == 2  # the client's request is not changed in place


def test_items_repeated_under_one_id_are_kept_once() -> None:
    """CPA TestRepairResponsesWebsocketToolCallsDeduplicatesInputItemsByID: the last copy
    wins (CPA does this with or without a session key; here always)."""
    request = {
        "input": [
            {"type": "message", "id": "msg-1", "content": "old"},
            {"type": "message", "id": "msg-1", "content": "new"},
        ]
    }
    repaired = repair(request, ToolLedger())
    assert repaired["input"] == [{"type": "message", "id": "msg-1", "content": "new"}]


@pytest.mark.parametrize("call", ["function_call", "custom_tool_call"])
def test_a_lone_call_with_no_known_output_is_dropped(call: str) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsDropsOrphanFunctionCall,
    TestRepairResponsesWebsocketToolCallsDropsOrphanCustomToolCall."""
    request = {
        "input": [{"type": call, "call_id": "call-1", "name": "tool"}, {"type": "message", "id": "msg-1"}]
    }
    assert _kinds(repair(request, ToolLedger())) == [("message", "msg-1")]


@pytest.mark.parametrize(
    ("call", "output"),
    [("function_call", "function_call_output"), ("custom_tool_call", "custom_tool_call_output")],
)
def test_a_known_call_is_put_before_its_lone_output(call: str, output: str) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsInsertsCachedCallForOrphanOutput,
    TestRepairResponsesWebsocketToolCallsInsertsCachedCustomToolCallForOrphanOutput."""
    ledger = ToolLedger()
    ledger.record({"type": call, "call_id": "call-1", "name": "tool"})
    request = {
        "input": [{"type": output, "call_id": "call-1", "output": "ok"}, {"type": "message", "id": "msg-1"}]
    }
    assert _kinds(repair(request, ledger)) == [(call, "call-1"), (output, "call-1"), ("message", "msg-1")]


@pytest.mark.parametrize(
    ("call", "output"),
    [("function_call", "function_call_output"), ("custom_tool_call", "custom_tool_call_output")],
)
def test_a_lone_output_or_call_stays_with_a_previous_response_id(call: str, output: str) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsKeepsPreviousResponseOutputIncremental,
    TestRepairResponsesWebsocketToolCallsKeepsPreviousResponseCallIncremental, TestRepairResponsesWebsocketToolCallsKeepsPreviousResponseCustomToolOutputIncremental:
    the upstream holds the other half, so nothing is put back or dropped."""
    ledger = ToolLedger()
    ledger.record({"type": call, "id": "fc-1", "call_id": "call-1", "name": "tool"})
    ledger.record({"type": output, "id": "tool-out-1", "call_id": "call-1", "output": "ok"})
    for item in (
        {"type": output, "call_id": "call-1", "id": "tool-out-1", "output": "ok"},
        {"type": call, "id": "fc-1", "call_id": "call-1", "name": "tool"},
    ):
        request = {"previous_response_id": "resp-latest", "input": [item, {"type": "message", "id": "msg-1"}]}
        repaired = repair(request, ledger)
        assert repaired is request and repaired["previous_response_id"] == "resp-latest"


@pytest.mark.parametrize("output", ["function_call_output", "custom_tool_call_output"])
def test_a_lone_output_with_no_known_call_is_dropped(output: str) -> None:
    """CPA TestRepairResponsesWebsocketToolCallsDropsOrphanOutputWhenCallMissing,
    TestRepairResponsesWebsocketToolCallsDropsOrphanCustomToolOutputWhenCallMissing."""
    request = {
        "input": [{"type": output, "call_id": "call-1", "output": "ok"}, {"type": "message", "id": "msg-1"}]
    }
    assert _kinds(repair(request, ToolLedger())) == [("message", "msg-1")]


def test_calls_and_outputs_without_a_call_id_are_dropped() -> None:
    """CPA repairResponsesToolCallItems: the upstream refuses either without ``call_id``."""
    request = {
        "input": [
            {"type": "function_call", "name": "tool", "arguments": "{}"},
            {"type": "function_call_output", "output": "ok"},
            {"type": "message", "id": "msg-1"},
        ]
    }
    assert _kinds(repair(request, ToolLedger())) == [("message", "msg-1")]


def test_a_paired_call_and_output_are_left_alone() -> None:
    request = {
        "input": [
            {"type": "function_call", "call_id": "c", "name": "t", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ]
    }
    assert repair(request, ToolLedger()) is request


def test_an_incomplete_call_is_neither_recorded_nor_pending() -> None:
    """CPA TestRecordResponsesWebsocketToolCallsIgnoresIncompleteCall: a call without
    ``arguments`` is no call the client can answer."""
    ledger = ToolLedger()
    item = {"type": "function_call", "call_id": "call-1", "name": "exec"}
    record_response(ledger, [item])
    assert not ledger
    assert pending_call_ids([item]) == []


@pytest.mark.parametrize(
    "item",
    [
        {"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "tool", "arguments": "{}"},
        {
            "type": "custom_tool_call",
            "id": "ctc-1",
            "call_id": "call-1",
            "name": "apply_patch",
            "input": "*** Begin",
        },
    ],
)
def test_a_response_s_complete_calls_are_recorded(item: dict[str, Any]) -> None:
    """CPA TestRecordResponsesWebsocketToolCallsFromPayloadWithCache,
    TestRecordResponsesWebsocketCustomToolCallsFromCompletedPayloadWithCache, ...CustomToolCallsFromOutputItemDoneWithCache
    (the session records the completed output, which holds the items seen)."""
    ledger = ToolLedger()
    record_response(ledger, [item])
    assert ledger.calls["call-1"] == item


def test_is_complete_call_wants_string_fields() -> None:
    """CPA TestIsCompleteResponsesWebsocketToolCallRequiresStringFields."""
    base = {"type": "function_call", "call_id": "call-1", "name": "tool", "arguments": "{}"}
    assert is_complete_call(base)
    assert not is_complete_call({**base, "call_id": 1})
    assert not is_complete_call({**base, "name": ""})
    assert not is_complete_call({**base, "arguments": {}})
    custom = {"type": "custom_tool_call", "call_id": "call-1", "name": "apply_patch", "input": "x"}
    assert is_complete_call(custom) and not is_complete_call({**custom, "input": None})
    assert not is_complete_call({"type": "local_shell_call", "call_id": "c", "name": "n"})


def test_pending_calls_drop_those_the_output_answers() -> None:
    """CPA TestRecordPendingToolCallIDsFromPayloadDropsSatisfiedCalls."""
    output = [
        {"type": "function_call", "call_id": "call-1", "id": "fc-1", "name": "t", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call-1", "id": "out-1"},
        {"type": "custom_tool_call", "call_id": "call-2", "id": "ctc-1", "name": "p", "input": ""},
        {"type": "custom_tool_call_output", "call_id": "call-2", "id": "custom-out-1"},
        {"type": "function_call", "call_id": "call-3", "name": "t", "arguments": "{}"},
    ]
    assert pending_call_ids(output) == ["call-3"]


def test_a_turn_teaches_the_ledger_only_when_merged() -> None:
    """CPA TestResponsesWebsocketToolCacheTurnCommitsOnlyOnSuccess: what a turn recorded
    repairs nothing until the turn completed (the session merges it then)."""
    ledger, turn = ToolLedger(), ToolLedger()
    first = {
        "input": [{"type": "function_call_output", "id": "fco-1", "call_id": "call-1", "output": "cached"}]
    }
    repair(first, ledger, turn)
    call = {
        "type": "function_call",
        "id": "fc-next",
        "call_id": "call-1",
        "name": "lookup",
        "arguments": "{}",
    }
    assert repair({"input": [call]}, ledger)["input"] == []
    ledger.merge(turn)
    repaired = repair({"input": [call]}, ledger)["input"]
    assert len(repaired) == 2 and repaired[1]["output"] == "cached"


def test_the_ledger_keeps_the_newest_calls() -> None:
    """CPA websocketToolOutputCacheMaxPerSession: 256 of each kind, the oldest go first."""
    ledger = ToolLedger()
    for n in range(LEDGER_SIZE + 2):
        ledger.record({"type": "function_call", "call_id": f"c{n}", "name": "t", "arguments": "{}"})
    assert len(ledger.calls) == LEDGER_SIZE and "c0" not in ledger.calls and "c1" not in ledger.calls
