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
    has_compaction,
    is_prewarm,
    pending_call_ids,
    prewarm_events,
)
from cliproxy.formats.responses_ws_tools import dedupe_items


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
    """CPA TestNormalizeResponsesWebsocketRequestInjectsPreviousResponseIDWhenPendingOutputIsPresent,
    TestNormalizeResponsesWebsocketRequestInjectsPreviousResponseIDForIncremental."""
    raw = {
        "type": "response.create",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "tool-out-1"}],
    }
    out = follow_up(raw, _history())
    assert out is not None and out["previous_response_id"] == "resp-1"
    assert [i["id"] for i in out["input"]] == ["tool-out-1"]
    assert out["model"] == "test-model" and out["instructions"] == "be helpful"


def test_follow_up_skips_the_id_when_a_pending_output_is_missing():
    """CPA TestNormalizeResponsesWebsocketRequestSkipsPreviousResponseIDWhenPendingOutputIsMissing,
    TestResponsesWebsocketDoesNotInjectPreviousResponseIDWhenPendingToolOutputMissing:
    no incremental form, so the whole conversation is sent."""
    raw = {
        "type": "response.create",
        "input": [{"type": "message", "role": "user", "id": "summary-1", "content": "x"}],
    }
    assert follow_up(raw, _history()) is None


def test_follow_up_is_none_for_another_id_a_first_turn_or_a_resent_transcript():
    """CPA TestResponsesWebsocketRequestRequiresCurrentUpstream: a create naming the last
    response and an append continue on the socket that holds the conversation; a full
    create (no id, the open call unanswered) goes whole."""
    history = _history()
    full = {"type": "response.create", "input": [{"type": "message", "role": "user", "content": "new"}]}
    assert follow_up(full, history) is None
    other = {"type": "response.create", "previous_response_id": "resp-0", "input": []}
    assert follow_up(other, history) is None
    assert follow_up({"type": "response.create", "model": "m", "input": []}, History()) is None
    resent = {"type": "response.create", "input": [{"type": "message", "role": "assistant", "content": "hi"}]}
    assert follow_up(resent, history) is None
    appended = follow_up(
        {"type": "response.append", "input": [{"type": "message", "role": "user", "content": "3"}]}, history
    )
    assert appended is not None and appended["previous_response_id"] == "resp-1"


# -- transcript replacement, duplicates and compaction (CPA normalizeResponseSubsequentRequest)


def _last(*items: dict, output: list | None = None, model: str = "test-model") -> History:
    return History(request={"model": model, "stream": True, "input": list(items)}, output=output or [])


def test_a_resent_tool_transcript_replaces_the_history():
    """CPA TestNormalizeResponsesWebsocketRequestTreatsTranscriptReplacementAsReset,
    TestNormalizeResponsesWebsocketRequestTreatsCustomToolTranscriptReplacementAsReset: a
    follow-up whose input holds a tool call is the client's whole (compacted) transcript:
    sent as it is, and it is what the next turn builds on."""
    for call, result in (
        ("function_call", "function_call_output"),
        ("custom_tool_call", "custom_tool_call_output"),
    ):
        history = _last(
            {"type": "message", "id": "msg-1"},
            {"type": call, "id": "c-1", "call_id": "call-1"},
            {"type": result, "id": "out-1", "call_id": "call-1"},
            output=[{"type": "message", "id": "assistant-1", "role": "assistant"}],
        )
        items = [
            {"type": call, "id": "c-compact", "call_id": "call-1", "name": "tool"},
            {"type": result, "id": "out-compact", "call_id": "call-1"},
            {"type": "message", "id": "msg-2"},
        ]
        out = expand({"type": "response.create", "input": items}, history)
        assert "previous_response_id" not in out and out["input"] == items


def test_a_developer_message_is_merged_not_a_replacement():
    """CPA TestNormalizeResponsesWebsocketRequestDoesNotTreatDeveloperMessageAsReplacement."""
    history = _last(
        {"type": "message", "id": "msg-1"},
        output=[{"type": "message", "id": "assistant-1", "role": "assistant"}],
    )
    raw = {
        "type": "response.create",
        "input": [
            {"type": "message", "id": "dev-1", "role": "developer"},
            {"type": "message", "id": "msg-2"},
        ],
    }
    assert _ids(expand(raw, history)) == ["msg-1", "assistant-1", "dev-1", "msg-2"]


def test_a_call_in_both_the_request_and_the_output_is_merged_once():
    """CPA TestNormalizeResponsesWebsocketRequestDropsDuplicateFunctionCallsByCallID,
    TestNormalizeResponsesWebsocketRequestDropsDuplicateCustomToolCallsByCallID,
    TestNormalizeResponsesWebsocketRequestDropsDuplicateInputItemsByID (the newest
    copy of an id wins)."""
    for call, result in (
        ("function_call", "function_call_output"),
        ("custom_tool_call", "custom_tool_call_output"),
    ):
        history = _last(
            {"type": call, "id": "c-1", "call_id": "call-1"},
            {"type": result, "id": "out-1", "call_id": "call-1"},
            output=[{"type": call, "id": "c-1", "call_id": "call-1", "name": "tool"}],
        )
        merged = expand({"type": "response.create", "input": [{"type": "message", "id": "msg-2"}]}, history)
        assert _ids(merged) == ["c-1", "out-1", "msg-2"]
    history = _last(
        {"type": "message", "id": "msg-1", "role": "user"},
        output=[{"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "tool"}],
    )
    raw = {
        "type": "response.create",
        "previous_response_id": "resp-1",
        "input": [
            {"type": "function_call", "id": "fc-1", "call_id": "call-2", "name": "tool"},
            {"type": "function_call_output", "id": "tool-out-1", "call_id": "call-2"},
        ],
    }
    out = expand(raw, history)
    assert _ids(out) == ["msg-1", "fc-1", "tool-out-1"] and out["input"][1]["call_id"] == "call-2"


def test_dedupe_by_id_keeps_the_call_an_output_answers():
    """CPA TestDedupeResponsesWebsocketInputItemsByIDAfterRepair and
    TestDedupeResponsesWebsocketInputItemsByIDKeepsReferencedToolCall: two calls under one
    id, the answered one stays (else the upstream refuses the orphan output with a 400)."""
    after_repair = [
        {"type": "custom_tool_call", "id": "ctc-1", "call_id": "call-1", "name": "tool"},
        {"type": "custom_tool_call", "id": "ctc-1", "call_id": "call-2", "name": "tool"},
        {"type": "custom_tool_call_output", "id": "tool-out-1", "call_id": "call-2"},
    ]
    assert [i["call_id"] for i in dedupe_items(after_repair)] == ["call-2", "call-2"]
    referenced = [
        {"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "exec_command"},
        {"type": "function_call", "id": "fc-1", "call_id": "call-2", "name": "exec_command"},
        {"type": "function_call_output", "id": "fco-1", "call_id": "call-1"},
    ]
    assert [i["call_id"] for i in dedupe_items(referenced)] == ["call-1", "call-1"]


def test_an_assistant_message_or_a_compaction_item_is_a_full_transcript():
    """CPA TestInputContainsFullTranscriptFalseForAssistantMessageOnly,
    TestInputContainsFullTranscriptDetectsCompactionItem,
    TestInputContainsFullTranscriptFalseForIncremental (``has_compaction``), and
    TestNormalizeSubsequentRequestAssistantInputTriggersTranscriptReplacement: an assistant
    message in an append replaces the transcript (``shouldReplaceWebsocketTranscript``),
    without being a compaction."""
    chat = [
        {"type": "message", "role": "user", "content": "hello"},
        {"type": "message", "role": "assistant", "content": "hi"},
    ]
    assert not has_compaction(chat)
    for kind in ("compaction", "compaction_summary"):
        assert has_compaction([chat[0], {"type": kind, "encrypted_content": "summary"}])
    for items in ([{"type": "function_call_output", "call_id": "call-1", "output": "r"}], [chat[0]], []):
        assert not has_compaction(items)
    history = _last(
        {"type": "message", "role": "user", "id": "msg-1", "content": "hello"},
        output=[{"type": "message", "role": "assistant", "id": "msg-2", "content": "prior"}],
    )
    patched = {"type": "message", "role": "assistant", "id": "msg-3", "content": "patched"}
    assert _ids(expand({"type": "response.append", "input": [patched]}, history)) == ["msg-3"]


def _before_compaction() -> History:
    return _last(
        {"type": "message", "role": "user", "id": "msg-1", "content": "original long prompt"},
        {"type": "message", "role": "assistant", "id": "msg-2", "content": "original long response"},
        {"type": "function_call", "id": "fc-1", "call_id": "call-old", "name": "bash", "arguments": "{}"},
        {"type": "function_call_output", "id": "fco-1", "call_id": "call-old", "output": "old result"},
        output=[
            {"type": "message", "role": "assistant", "id": "msg-3", "content": "another reply"},
            {
                "type": "function_call",
                "id": "fc-2",
                "call_id": "call-stale",
                "name": "read",
                "arguments": "{}",
            },
        ],
        model="gpt-5.4",
    )


_COMPACTED = {
    "type": "response.create",
    "input": [
        {"type": "message", "role": "user", "id": "msg-1c", "content": "compacted user msg"},
        {"type": "compaction", "encrypted_content": "conversation summary"},
    ],
}


def test_a_compacted_transcript_for_codex_is_sent_as_it_is():
    """CPA TestNormalizeSubsequentRequestCompactSkipsMerge (was broken: the stale history
    was merged in front and the compaction item dropped, so Codex CLI's remote compaction
    over the socket shrank nothing): for a model only Codex serves, the compacted input is
    the conversation."""
    out = expand(_COMPACTED, _before_compaction(), compaction_replay=True)
    assert out["input"] == _COMPACTED["input"] and out["model"] == "gpt-5.4"


def test_a_compacted_transcript_for_other_upstreams_is_merged_without_compaction_items():
    """CPA TestNormalizeSubsequentRequestCompactMergesWhenCompactionReplayUnsupported."""
    out = expand(_COMPACTED, _before_compaction())
    assert _ids(out) == ["msg-1", "msg-2", "fc-1", "fco-1", "msg-3", "fc-2", "msg-1c"]


def test_a_consumed_compaction_trigger_is_not_sent_again():
    """CPA TestNormalizeSubsequentRequestDropsConsumedCompactionTrigger: the turn that asked
    for a compaction got one; the replay after it does not carry the trigger."""
    history = _last(
        {"type": "message", "role": "user", "id": "msg-old", "content": "old"}, model="gpt-5.6-sol"
    )
    trigger = {
        "type": "response.create",
        "input": [
            {"type": "message", "role": "user", "id": "msg-tool-output", "content": "done"},
            {"type": "compaction_trigger"},
        ],
    }
    request = expand(trigger, history)
    history.turn_done(
        request, [{"type": "compaction", "id": "cmp-1", "encrypted_content": "opaque"}], "resp-c"
    )
    replay = {
        "type": "response.create",
        "input": [
            {"type": "message", "role": "developer", "id": "msg-new-context", "content": "new context"},
            {"type": "compaction", "id": "cmp-1", "encrypted_content": "opaque"},
            {"type": "message", "role": "user", "id": "msg-next", "content": "continue"},
        ],
    }
    for codex in (False, True):
        out = expand(replay, history, compaction_replay=codex)
        assert all(i.get("type") != "compaction_trigger" for i in out["input"])


def test_a_tool_output_follow_up_is_merged():
    """CPA TestNormalizeSubsequentRequestIncrementalInputStillMerges."""
    history = _last(
        {"type": "message", "role": "user", "id": "msg-1", "content": "hello"},
        output=[
            {"type": "message", "role": "assistant", "id": "msg-2", "content": "let me check"},
            {"type": "function_call", "id": "fc-1", "call_id": "call-1", "name": "bash", "arguments": "{}"},
        ],
    )
    raw = {
        "type": "response.create",
        "input": [{"type": "function_call_output", "call_id": "call-1", "id": "fco-1"}],
    }
    assert _ids(expand(raw, history, compaction_replay=True)) == ["msg-1", "msg-2", "fc-1", "fco-1"]


def test_a_reasoning_continuation_with_previous_response_id_is_incremental():
    """CPA TestNormalizeSubsequentRequestReasoningContinuationWithPreviousResponseID: a
    ``reasoning`` item and a tool output naming the last response go as they are (with the
    id) to the socket that holds it, for ``response.create`` and ``response.append``."""
    history = History()
    history.turn_done(
        {"model": "gpt-5.6-terra", "input": [{"type": "message", "role": "user", "id": "old-user"}]},
        [
            {
                "type": "function_call",
                "id": "old-call",
                "call_id": "old-call",
                "name": "lookup",
                "arguments": "{}",
            }
        ],
        "resp-1",
    )
    for kind in ("response.create", "response.append"):
        raw = {
            "type": kind,
            "previous_response_id": "resp-1",
            "input": [
                {"type": "reasoning", "id": "reasoning-1", "summary": []},
                {"type": "function_call_output", "id": "output-1", "call_id": "old-call", "output": "result"},
            ],
        }
        out = follow_up(raw, history)
        assert out is not None and out["previous_response_id"] == "resp-1"
        assert _ids(out) == ["reasoning-1", "output-1"]


_SUMMARY = COMPACTION_SUMMARY_PREFIX + "\nSummary body."


def _summary_replaces(items: list) -> bool:
    history = _last({"type": "message", "id": "old"})
    return "old" not in _ids(expand({"type": "response.create", "input": items}, history))


def test_the_local_compaction_summary_shapes():
    """CPA TestCodexLocalCompactionSummaryContentShapes: the summary's text is its
    ``input_text`` parts joined (other parts skipped), and starts with the prefix and a
    newline, in a user message."""

    def user(content: object, role: str = "user") -> list:
        return [{"type": "message", "role": role, "content": content}]

    text = lambda t: {"type": "input_text", "text": t}  # noqa: E731
    image = {"type": "input_image", "image_url": "data:image/png;base64,AA=="}
    assert _summary_replaces(user(_SUMMARY))
    assert _summary_replaces(user([text(COMPACTION_SUMMARY_PREFIX), text("\nSummary body.")]))
    assert _summary_replaces(user([image, text(_SUMMARY)]))
    assert not _summary_replaces(user(COMPACTION_SUMMARY_PREFIX))
    assert not _summary_replaces(user(COMPACTION_SUMMARY_PREFIX + " Summary body."))
    assert not _summary_replaces(user([text("ordinary text"), text(_SUMMARY)]))
    assert not _summary_replaces(user(_SUMMARY, role="developer"))


def test_the_local_compaction_summary_additional_tools():
    """CPA TestCodexLocalCompactionSummaryAdditionalToolsConstraints (a malformed tool was
    accepted): Responses Lite's ``additional_tools`` may come first, from the developer, as
    a list of tool objects with a type."""
    summary = {"role": "user", "content": _SUMMARY}

    def tools(value: object = None, role: str = "developer", **extra: object) -> dict:
        item = {"type": "additional_tools", "role": role, **extra}
        if value is not None:
            item["tools"] = value
        return item

    exec_tool = [{"type": "custom", "name": "exec"}]
    assert _summary_replaces([tools(exec_tool), summary])
    assert _summary_replaces([tools([]), summary])
    assert not _summary_replaces([summary, tools(exec_tool)])
    assert not _summary_replaces([tools(exec_tool, role="user"), summary])
    assert not _summary_replaces([tools(), summary])
    assert not _summary_replaces([tools({}), summary])
    assert not _summary_replaces([tools([None]), summary])
    assert not _summary_replaces([{"type": "unknown", "role": "developer"}, summary])


def test_the_local_compaction_summary_after_history_items():
    """CPA TestCodexLocalCompactionSummaryRejectsOrdinaryHistoryItems: after a history item
    the summary is no local compaction; an assistant message or a tool call still replaces
    the transcript (as any resent one), a reasoning item or a tool output does not."""
    summary = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": _SUMMARY}]}
    cases = {
        "reasoning": ({"type": "reasoning", "id": "reasoning-1"}, False),
        "assistant": ({"type": "message", "role": "assistant", "id": "assistant-1"}, True),
        "function call": ({"type": "function_call", "call_id": "call-1"}, True),
        "function call output": ({"type": "function_call_output", "call_id": "call-1"}, False),
        "custom tool call": ({"type": "custom_tool_call", "call_id": "call-1"}, True),
        "custom tool call output": ({"type": "custom_tool_call_output", "call_id": "call-1"}, False),
    }
    for name, (item, replaces) in cases.items():
        assert _summary_replaces([item, summary]) is replaces, name


def test_a_local_compaction_transcript_replaces_the_history_with_its_fields():
    """CPA TestNormalizeResponsesWebsocketRequestReplacesCodexLocalCompactionTranscript:
    Codex Desktop's compacted transcript (Responses Lite tools first, items without a
    type) is the whole input, as sent; the message's own fields stay, the model and
    instructions come from the history."""
    history = History(
        request={
            "model": "gpt-5.6-sol",
            "stream": True,
            "instructions": "be helpful",
            "input": [{"type": "message", "role": "user", "id": "old-user", "content": "old prompt"}],
        },
        output=[
            {
                "type": "function_call",
                "id": "old-tool-call",
                "call_id": "old-call",
                "name": "lookup",
                "arguments": "{}",
            }
        ],
    )
    items = [
        {"type": "additional_tools", "role": "developer", "tools": []},
        {"role": "developer", "id": "initial-context", "content": "workspace context"},
        {
            "type": "message",
            "role": "user",
            "id": "compacted-user",
            "content": [{"type": "input_text", "text": "kept"}],
        },
        {"role": "user", "id": "local-summary", "content": _SUMMARY},
        {"type": "message", "role": "developer", "id": "turn-context", "content": "current workspace"},
        {"role": "user", "id": "incoming-user", "content": "continue the task"},
    ]
    lite = {"ws_request_header_x_openai_internal_codex_responses_lite": "true"}
    raw = {"type": "response.create", "input": items, "parallel_tool_calls": True, "client_metadata": lite}
    out = expand(raw, history)
    assert out["input"] == items and "previous_response_id" not in out
    assert (out["model"], out["instructions"], out["stream"]) == ("gpt-5.6-sol", "be helpful", True)
    assert out["parallel_tool_calls"] is True and out["client_metadata"] == lite
