"""More of CPA internal/runtime/executor/antigravity_reasoning_replay_test.go (the helpers and
the ground rules are those of tests/providers/test_antigravity_replay.py): parallel calls
told apart by their ids, responses a compacted history named ``unknown`` taking the restored
call's name, and the pairing check across a user turn."""

from __future__ import annotations

import pytest

from cliproxy.errors import RequestError
from cliproxy.providers.antigravity_replay import check_pairing
from cliproxy.translate.antigravity_replay import History
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache
from tests.providers.test_antigravity_replay import (
    MODEL,
    call,
    call_item,
    model,
    prepare,
    responses,
    result,
    seed,
    sig,
    text,
    text_item,
    user,
)

SIG1 = "EsMTCsATARFNMg/XNVix5lDpkKaHR7Xg"
SIG2 = "EvQCCvECARFNMg/sZy4s+7HU2/PDOR12"


def test_parallel_calls_alike_but_for_their_ids_keep_their_own_signatures() -> None:
    """TestAntigravityReplayToolCallKeysUsesNativeFunctionCallID: two calls of one tool with the
    same arguments are told apart by Gemini's call ids, whatever order the client sends them in."""
    cache = AntigravityReplayCache()
    args = {"file_path": "/a"}
    seed(
        cache,
        call_item(1, 0, "Read", args, "id-native", SIG1),
        call_item(1, 1, "Read", args, "id-native-2", SIG2),
    )
    for first, second in (("id-native", "id-native-2"), ("id-native-2", "id-native")):
        out, _ = prepare(
            cache,
            user("u"),
            model(call("Read", args, first), call("Read", args, second)),
            responses(result("Read", first), result("Read", second)),
        )
        want = {"id-native": SIG1, "id-native-2": SIG2}
        assert (sig(out, 1, 0), sig(out, 1, 1)) == (want[first], want[second])


@pytest.mark.parametrize(
    "calls",
    [
        pytest.param([("call_seq_1", "Read", {"path": "/tmp/a"}, SIG1)], id="sequential"),
        pytest.param(
            [
                ("call_par_1", "Read", {"path": "/tmp/a"}, SIG1),
                ("call_par_2", "Grep", {"query": "foo"}, SIG2),
            ],
            id="parallel",
        ),
    ],
)
def test_compacted_unknown_response_names_are_repaired(
    calls: list[tuple[str, str, dict[str, str], str]],
) -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRepairsSequentialCompactedUnknownResponseName and
    TestPrepareAntigravityGeminiReasoningReplayRepairsParallelCompactedUnknownResponseName: a
    compacted history kept the responses (named ``unknown``) but not their calls; the calls
    come back signed, the responses take their names, and the history pairs."""
    cache = AntigravityReplayCache()
    seed(
        cache,
        *(call_item(1, i, name, args, cid, s, occurrence=0) for i, (cid, name, args, s) in enumerate(calls)),
    )
    answers = [
        {"functionResponse": {"id": cid, "name": "unknown", "response": {"output": "x"}}} for cid, *_ in calls
    ]
    out, _ = prepare(cache, user("Read and search"), {"role": "user", "parts": answers})
    restored = out["contents"][1]["parts"]
    assert [
        (p["functionCall"]["id"], p["functionCall"]["name"], p["thoughtSignature"]) for p in restored
    ] == [(cid, name, s) for cid, name, _, s in calls]
    assert [p["functionResponse"]["name"] for p in out["contents"][2]["parts"]] == [
        name for _, name, *_ in calls
    ]
    check_pairing(out, MODEL)


def test_tool_outputs_across_a_user_turn_are_refused() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayPayloadRejectsToolOutputsAcrossUserBoundary:
    two calls answered on both sides of a user turn are refused with a 400 before sending."""
    contents = [
        model(call("run", {}, "call-1"), call("run", {}, "call-2")),
        responses(result("run", "call-1"), role="model"),
        user("boundary"),
        responses(result("run", "call-2"), role="model"),
    ]
    with pytest.raises(RequestError, match="invalid Gemini function call history") as caught:
        check_pairing({"contents": contents}, MODEL)
    assert caught.value.status == 400


def test_a_model_turn_whose_parts_are_not_a_list_gets_nothing() -> None:
    """TestAntigravityReplayNonArrayPartsFailsClosed: a cached call for a model turn whose
    ``parts`` is an object is neither matched nor written; the request goes as it came."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "lookup", {"value": 1}, "call-1", SIG1))
    broken = {"role": "model", "parts": {"functionCall": {"name": "lookup", "args": {"value": 1}}}}
    out, _ = prepare(cache, user("hi"), broken)
    assert out["contents"] == [user("hi"), broken]


def test_an_item_without_a_target_goes_to_the_last_part_while_the_history_holds() -> None:
    """TestAntigravityReplayLegacyItemWithoutTargetHash: a signature item that names no part
    fingerprint (an old-style item pointing at a streamed signature-only part that is gone)
    goes on the turn's last text part, and only while the history before the turn is the
    one it was recorded after."""
    cache = AntigravityReplayCache()
    turn = [user("ask"), model(text("chunk-a"), text("chunk-b"), text("chunk-c"))]
    context = History({"contents": turn}, turn).context(1)
    signature = "legacy-positional-signature-12345"
    seed(cache, text_item(1, 7, signature, None, context))
    out, _ = prepare(cache, *turn)
    assert [sig(out, 1, pi) for pi in range(3)] == [None, None, signature]
    drifted, _ = prepare(cache, user("different question"), *turn[1:])
    assert [sig(drifted, 1, pi) for pi in range(3)] == [None, None, None]
