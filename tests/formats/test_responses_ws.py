"""The Responses WebSocket message protocol (``cliproxy.formats.responses_ws``): CPA's
``sdk/api/handlers/openai/openai_responses_websocket_test.go`` normalisation cases, with
the upstream reached over HTTP (CPA's handler runs with incremental input off there)."""

from __future__ import annotations

import pytest

from cliproxy.formats.responses_ws import (
    COMPACTION_SUMMARY_PREFIX,
    History,
    MessageError,
    event_type,
    expand,
    follow_up,
    is_prewarm,
    pending_call_ids,
    prewarm_events,
)


def _ids(request: dict) -> list[str]:
    return [item.get("id") for item in request["input"]]


def test_create_drops_type_and_forces_stream():
    """CPA TestNormalizeResponsesWebsocketRequestCreate."""
    raw = {
        "type": "response.create",
        "model": "test-model",
        "stream": False,
        "input": [{"type": "message", "id": "msg-1"}],
    }
    out = expand(raw, History())
    assert "type" not in out and out["stream"] is True and out["model"] == "test-model"
    assert "type" in raw  # the client's message is not changed


def test_create_without_model_is_400():
    with pytest.raises(MessageError) as err:
        expand({"type": "response.create", "input": []}, History())
    assert err.value.status == 400 and "missing model" in err.value.message


def test_follow_up_create_merges_history_in_order():
    """CPA TestNormalizeResponsesWebsocketRequestCreateWithHistory."""
    history = History(
        request={"model": "test-model", "stream": True, "input": [{"type": "message", "id": "msg-1"}]},
        output=[
            {"type": "function_call", "id": "fc-1", "call_id": "call-1"},
            {"type": "message", "id": "assistant-1"},
        ],
    )
    raw = {
        "type": "response.create",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "tool-out-1"}],
    }
    out = expand(raw, history)
    assert "type" not in out and out["model"] == "test-model"
    assert _ids(out) == ["msg-1", "fc-1", "assistant-1", "tool-out-1"]


def test_previous_response_id_is_expanded_and_removed():
    """CPA TestNormalizeResponsesWebsocketRequestWithPreviousResponseIDMergedWhenIncrementalDisabled."""
    history = History(
        request={
            "model": "test-model",
            "stream": True,
            "instructions": "be helpful",
            "input": [{"type": "message", "id": "msg-1"}],
        },
        output=[
            {"type": "function_call", "id": "fc-1", "call_id": "call-1"},
            {"type": "message", "id": "assistant-1"},
        ],
        response_id="resp-1",
    )
    raw = {
        "type": "response.create",
        "previous_response_id": "resp-1",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "tool-out-1"}],
    }
    out = expand(raw, history)
    assert "previous_response_id" not in out
    assert _ids(out) == ["msg-1", "fc-1", "assistant-1", "tool-out-1"]
    assert out["instructions"] == "be helpful"  # carried over


def test_append_merges():
    """CPA TestNormalizeResponsesWebsocketRequestAppend."""
    history = History(
        request={"model": "test-model", "stream": True, "input": [{"type": "message", "id": "msg-1"}]},
        output=[
            {"type": "message", "id": "assistant-1"},
            {"type": "function_call_output", "id": "tool-out-1"},
        ],
    )
    raw = {
        "type": "response.append",
        "input": [{"type": "message", "id": "msg-2"}, {"type": "message", "id": "msg-3"}],
    }
    assert _ids(expand(raw, history)) == ["msg-1", "assistant-1", "tool-out-1", "msg-2", "msg-3"]


def test_append_without_create_is_400():
    """CPA TestNormalizeResponsesWebsocketRequestAppendWithoutCreate."""
    with pytest.raises(MessageError) as err:
        expand({"type": "response.append", "input": []}, History())
    assert err.value.status == 400


def test_previous_response_id_on_a_fresh_socket_is_409():
    """CPA TestResponsesWebsocketRejectsUnknownPreviousResponseOnNewSocket."""
    with pytest.raises(MessageError) as err:
        expand(
            {"type": "response.create", "model": "m", "previous_response_id": "resp-x", "input": []},
            History(),
        )
    assert (err.value.status, err.value.code, err.value.param) == (
        409,
        "previous_response_not_found",
        "previous_response_id",
    )


def test_unknown_type_and_non_array_input_are_400():
    history = History(request={"model": "m", "input": []})
    with pytest.raises(MessageError, match=r"unsupported websocket request type: response\.cancel"):
        expand({"type": "response.cancel"}, history)
    with pytest.raises(MessageError, match="requires array field: input"):
        expand({"type": "response.create", "input": "hi"}, history)


def test_full_transcript_replaces_history():
    """A follow-up carrying model output items is the whole conversation again (CPA
    ``shouldReplaceWebsocketTranscript``): nothing is merged in front of it."""
    history = History(
        request={"model": "m", "input": [{"type": "message", "id": "old"}]}, output=[{"id": "o"}]
    )
    raw = {
        "type": "response.create",
        "input": [
            {"type": "message", "role": "user", "id": "u1"},
            {"type": "message", "role": "assistant", "id": "a1"},
            {"type": "message", "role": "user", "id": "u2"},
        ],
    }
    out = expand(raw, history)
    assert _ids(out) == ["u1", "a1", "u2"] and out["model"] == "m"


def test_codex_local_compaction_summary_replaces_transcript():
    """CPA TestShouldReplaceWebsocketTranscriptCodexLocalCompactionSemantics."""
    compacted = [
        {
            "type": "message",
            "role": "developer",
            "content": [{"type": "input_text", "text": "initial context"}],
        },
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "retained context"}]},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": COMPACTION_SUMMARY_PREFIX + "\nSummary body."}],
        },
    ]
    history = History(request={"model": "m", "input": [{"type": "message", "id": "old"}]})
    out = expand({"type": "response.create", "input": compacted}, history)
    assert out["input"] == compacted
    # with previous_response_id (even empty or null) or as an append: merged, not replaced
    for extra in ({"previous_response_id": ""}, {"previous_response_id": None}):
        merged = expand({"type": "response.create", "input": compacted, **extra}, history)
        assert len(merged["input"]) == 4
    assert len(expand({"type": "response.append", "input": compacted}, history)["input"]) == 4
    ordinary = [
        {"type": "message", "role": "developer", "content": "Please summarize future messages."},
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Please create a compacted summary."}],
        },
    ]
    assert len(expand({"type": "response.create", "input": ordinary}, history)["input"]) == 3


def test_duplicates_are_dropped_on_merge():
    """A tool call sent again (same call_id) and an item sent again (same id) are kept once."""
    history = History(
        request={"model": "m", "input": [{"type": "message", "id": "msg-1"}]},
        output=[{"type": "function_call", "id": "fc-1", "call_id": "c1"}],
    )
    raw = {
        "type": "response.create",
        "previous_response_id": "r",
        "input": [
            {"type": "message", "id": "msg-1"},
            {"type": "function_call_output", "call_id": "c1", "id": "o1"},
        ],
    }
    assert _ids(expand(raw, history)) == ["fc-1", "msg-1", "o1"]


def test_prewarm_is_local_and_becomes_the_history():
    """CPA ``shouldHandleResponsesWebsocketPrewarmLocally`` / synthetic prewarm events."""
    message = {"type": "response.create", "model": "gpt-5.4", "generate": False, "input": []}
    assert is_prewarm(message, History())
    assert not is_prewarm({**message, "generate": True}, History())
    # a later one too (deliberate difference: CPA sends it upstream, where xAI never ends it)
    assert is_prewarm(message, History(request={"model": "m"}))
    created, done = prewarm_events({"model": "gpt-5.4"})
    assert b'"response.created"' in created and b'"response.completed"' in done
    assert b'"model":"gpt-5.4"' in done and b"resp_prewarm_" in done


def test_pending_call_ids():
    """Complete calls only (CPA updatePendingToolCallIDsFromItem)."""
    output = [
        {"type": "function_call", "call_id": "b", "name": "t", "arguments": "{}"},
        {"type": "message"},
        {"type": "custom_tool_call", "call_id": "a", "name": "t", "input": ""},
        {"type": "function_call", "call_id": "c", "name": "t"},
    ]
    assert pending_call_ids(output) == ["a", "b"]


def test_event_type_reads_the_leading_key_or_parses():
    assert event_type(b'{"type":"response.output_text.delta","delta":"{\\"type\\":\\"error\\"}"}') == (
        "response.output_text.delta"
    )
    assert event_type(b'{"item":{"type":"message"},"type":"response.output_item.done"}') == (
        "response.output_item.done"
    )
    assert event_type(b"not json") == "" and event_type(b"[1]") == ""


# -- follow_up: the incremental form for an upstream socket that keeps the conversation


def _history() -> History:
    history = History()
    request = {
        "model": "test-model",
        "stream": True,
        "instructions": "be helpful",
        "input": [{"type": "message", "id": "msg-1"}],
    }
    output = [
        {"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "tool", "arguments": "{}"},
        {"type": "message", "id": "assistant-1"},
    ]
    history.turn_done(request, output, "resp-1")
    return history


def test_follow_up_keeps_previous_response_id_and_only_the_new_items():
    """CPA TestNormalizeResponsesWebsocketRequestWithPreviousResponseIDIncremental."""
    raw = {
        "type": "response.create",
        "previous_response_id": "resp-1",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "tool-out-1"}],
    }
    out = follow_up(raw, _history())
    assert out is not None and "type" not in out
    assert out["previous_response_id"] == "resp-1"
    assert [i["id"] for i in out["input"]] == ["tool-out-1"]
    assert out["model"] == "test-model" and out["instructions"] == "be helpful" and out["stream"] is True


def test_follow_up_injects_the_id_when_the_pending_calls_are_answered():
    """CPA TestNormalizeResponsesWebsocketRequestInjectsPreviousResponseIDWhenPendingOutputIsPresent."""
    raw = {
        "type": "response.create",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "tool-out-1"}],
    }
    out = follow_up(raw, _history())
    assert out is not None and out["previous_response_id"] == "resp-1"
    assert [i["id"] for i in out["input"]] == ["tool-out-1"]


def test_follow_up_skips_the_id_when_a_pending_output_is_missing():
    """CPA TestNormalizeResponsesWebsocketRequestSkipsPreviousResponseIDWhenPendingOutputIsMissing:
    no incremental form, so the whole conversation is sent."""
    raw = {
        "type": "response.create",
        "input": [{"type": "message", "role": "user", "id": "summary-1", "content": "x"}],
    }
    assert follow_up(raw, _history()) is None


def test_follow_up_is_none_for_another_id_a_first_turn_or_a_resent_transcript():
    history = _history()
    other = {"type": "response.create", "previous_response_id": "resp-0", "input": []}
    assert follow_up(other, history) is None
    assert follow_up({"type": "response.create", "model": "m", "input": []}, History()) is None
    resent = {"type": "response.create", "input": [{"type": "message", "role": "assistant", "content": "hi"}]}
    assert follow_up(resent, history) is None
    appended = follow_up(
        {"type": "response.append", "input": [{"type": "message", "role": "user", "content": "3"}]}, history
    )
    assert appended is not None and appended["previous_response_id"] == "resp-1"
