"""CPA internal/runtime/executor/antigravity_reasoning_replay_test.go (and its _clear_ and
_index_ tests), ported: what Antigravity's reasoning replay records from an answer, where
it puts signatures back in the next request and when it forgets a session. Each case runs
one request through :func:`cliproxy.providers.antigravity_replay.restore` (the request
as ``AntigravityProvider.build`` makes it, inside its envelope) and feeds the answer to the
request's own rewrite hook, as the pipeline does; the runs through a live proxy with the
``openai`` SDK are in tests/e2e/test_antigravity_reasoning_replay.py.

CPA's request-index tests (``_index_test.go``: the index against a legacy oracle, its
randomized differentials) test an internal of CPA's; their facts (prefix fingerprints,
calls and responses by id, rebuilding after a change) are covered here through what the
restore does. Not ported, on purpose: CPA's Claude-facing call ids (``cpa_gemini_``, its
provenance, degrade and tool-schema default cases: a Claude client carries Gemini
signatures in its thinking blocks here: TestAntigravityFunctionCallMatchesReplayItemOnlyIgnoresDeclaredDefaults,
TestPrepareAntigravityGeminiReasoningReplayRestoresClaudeToolProvenanceWithSchemaDefault,
TestPrepareAntigravityGeminiReasoningReplayRestoresLegacyClaudeToolIDWithSchemaDefault,
TestPrepareAntigravityGeminiReasoningReplayDegradesWithoutClaudeToolProvenance,
TestPrepareAntigravityGeminiReasoningReplayRestoresParallelClaudeToolProvenance,
TestPrepareAntigravityGeminiReasoningReplayRejectsChangedClaudeToolArguments,
TestPrepareAntigravityGeminiReasoningReplayRestoresIdentityOnContextDrift and
TestDegradeAntigravityClaudeToolProvenanceIDsKeepsParallelShape and the id helper's own
TestGeminiClaudeToolUseIDStableAndBound; with Gemini's own call id a
drifted context gets no signature, as CPA's native-id path), its Home KV failure and CAS
cases (TestPrepareAntigravityGeminiReasoningReplayPayloadToleratesHomeKVFailure: our Redis
mirror copies after the fact; ``test_antigravity_replay_cache.py`` has the local snapshot
rules). The pairing check's 400 is in test_antigravity_replay_cpa.py and through a proxy in
test_antigravity_cpa_history.py.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from cliproxy.providers.antigravity_replay import Scope, restore
from cliproxy.translate.antigravity_replay import (
    CallItem,
    History,
    SignatureItem,
    canonical,
    fingerprint,
    items_of,
)
from cliproxy.translate.antigravity_replay_record import AntigravityReplayCache

MODEL = "gemini-3.6-flash-high"
SESSION = "caller:-:session:test"
BYPASS = "skip_thought_signature_validator"


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "parts": [{"text": text}]}


def model(*parts: dict[str, Any]) -> dict[str, Any]:
    return {"role": "model", "parts": list(parts)}


def call(name: str, args: Any, cid: str = "", sig: str = "") -> dict[str, Any]:
    fc: dict[str, Any] = {"name": name, "args": args}
    if cid:
        fc["id"] = cid
    part: dict[str, Any] = {"functionCall": fc}
    if sig:
        part["thoughtSignature"] = sig
    return part


def result(name: str, cid: str = "", value: str = "ok") -> dict[str, Any]:
    fr: dict[str, Any] = {"name": name, "response": {"result": value}}
    if cid:
        fr["id"] = cid
    return {"functionResponse": fr}


def responses(*parts: dict[str, Any], role: str = "function") -> dict[str, Any]:
    return {"role": role, "parts": list(parts)}


def text(value: str, sig: str = "", thought: bool = False) -> dict[str, Any]:
    part: dict[str, Any] = {"text": value}
    if thought:
        part["thought"] = True
    if sig:
        part["thoughtSignature"] = sig
    return part


def prepare(
    cache: AntigravityReplayCache, *contents: dict[str, Any], session: str = SESSION, **head: Any
) -> tuple[dict[str, Any], Scope]:
    """The request as it goes upstream after the replay, and its scope."""
    request = {"contents": copy.deepcopy(list(contents)), **head}
    before = copy.deepcopy(request)
    sent = dict(request)
    scope = restore(cache, sent, model=MODEL, session=session, headers={})
    assert scope is not None
    assert request == before  # the client's request is never edited
    return sent, scope


def answer(scope: Scope, *chunks: list[dict[str, Any]], finish: bool = True) -> None:
    """A streamed answer, one chunk per list of parts; the last ends it (``finish``)."""
    for i, parts in enumerate(chunks):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
        if finish and i == len(chunks) - 1:
            candidate["finishReason"] = "STOP"
        line = b"data: " + orjson.dumps({"candidates": [candidate]}) + b"\r\n\r\n"
        assert scope.lines(line) == line


def turn(
    cache: AntigravityReplayCache,
    contents: list[dict[str, Any]],
    *chunks: list[dict[str, Any]],
    session: str = SESSION,
) -> dict[str, Any]:
    sent, scope = prepare(cache, *contents, session=session)
    answer(scope, *chunks)
    return sent


def sig(request: dict[str, Any], ci: int, pi: int) -> Any:
    return request["contents"][ci]["parts"][pi].get("thoughtSignature")


def seed(cache: AntigravityReplayCache, *items: Any, session: str = SESSION) -> None:
    assert cache.replace(cache.read(MODEL, session), list(items))


def call_item(
    ci: int, pi: int, name: str, args: Any, cid: str = "", signature: str = "", **kw: Any
) -> CallItem:
    return CallItem(
        ci, pi, kw.get("occurrence"), name, cid, canonical(args), signature, kw.get("context", "")
    )


def text_item(
    ci: int, pi: int, signature: str, part: dict[str, Any] | None = None, context: str = ""
) -> SignatureItem:
    kind, target = fingerprint(part) if part is not None else ("", "")
    return SignatureItem(ci, pi, signature, kind, target, None, context)


# --------------------------------------------------------------------------- recording


def test_multi_tool_stream_chunks() -> None:
    """TestAntigravityReasoningReplayAccumulatorMultiToolSSEChunks."""
    cache = AntigravityReplayCache()
    _, scope = prepare(cache, user("hi"))
    answer(
        scope,
        [call("Read", {"file_path": "/a"}, "id1", "sig-first")],
        [call("Read", {"file_path": "/b"}, "id2")],
    )
    items = cache.get(MODEL, SESSION)
    assert [(i.content, i.part) for i in items] == [(1, 0), (1, 1)]
    assert isinstance(items[0], CallItem) and items[0].signature == "sig-first"


def test_complete_text_signature_chain() -> None:
    """TestAntigravityReasoningReplayAccumulatesCompleteTextSignatureChain."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "native-signature-turn-one-123456", "native-signature-turn-two-123456"
    turn(cache, [user("turn one")], [text("answer-")], [text("one")], [text("", sig1)])
    history = [user("turn one"), model(text("answer-one")), user("turn two")]
    prepared2, scope2 = prepare(cache, *history)
    assert sig(prepared2, 1, 0) == sig1
    assert len(prepared2["contents"][1]["parts"]) == 1  # in place, no part added
    answer(scope2, [text("answer-two")], [text("", sig2)])
    assert len(cache.get(MODEL, SESSION)) == 2
    prepared3, _ = prepare(cache, *history, model(text("answer-two")), user("turn three"))
    assert (sig(prepared3, 1, 0), sig(prepared3, 3, 0)) == (sig1, sig2)
    assert len(prepared3["contents"][1]["parts"]) + len(prepared3["contents"][3]["parts"]) == 2


def test_consecutive_signed_text_segments_split() -> None:
    """TestAntigravityReasoningReplaySplitsConsecutiveSignedTextSegments."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "consecutive-text-signature-one-123456", "consecutive-text-signature-two-123456"
    turn(cache, [user("turn")], [text("a")], [text("b", sig1)], [text("c", sig2)])
    out, _ = prepare(cache, user("turn"), model(text("ab"), text("c")), user("next"))
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig2)


def test_signature_only_carrier_ends_text_segment() -> None:
    """TestAntigravityReasoningReplaySignatureOnlyCarrierEndsTextSegment."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "trailing-text-signature-one-123456", "trailing-text-signature-two-123456"
    turn(cache, [user("turn")], [text("a")], [text("", sig1)], [text("b")], [text("c", sig2)])
    out, _ = prepare(cache, user("turn"), model(text("a"), text("bc")), user("next"))
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig2)


def test_unmatched_consecutive_carrier_is_dropped() -> None:
    """TestAntigravityReasoningReplayDropsUnmatchedConsecutiveCarrier."""
    cache = AntigravityReplayCache()
    sig1 = "matched-detached-signature-one-123456"
    sig2 = "unmatched-detached-signature-two-123456"
    sig3 = "matched-text-signature-three-123456"
    turn(cache, [user("turn")], [text("a"), text("", sig1), text("", sig2), text("b", sig3)])
    out, _ = prepare(cache, user("turn"), model(text("a"), text("b")), user("next"))
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig3)
    assert sig2 not in orjson.dumps(out).decode()


def test_duplicate_carrier_does_not_split_segment() -> None:
    """TestAntigravityReasoningReplayDuplicateCarrierDoesNotSplitSegment."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "duplicate-thought-signature-one-123456", "following-thought-signature-two-123456"
    parts = [
        text("a", thought=True),
        text("", sig1, thought=True),
        text("b", thought=True),
        text("", sig1, thought=True),
        text("c", sig2, thought=True),
    ]
    turn(cache, [user("turn")], parts)
    out, _ = prepare(
        cache, user("turn"), model(text("a", thought=True), text("bc", thought=True)), user("next")
    )
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig2)


def test_direct_text_signature_wins_over_unbound_prefix() -> None:
    """TestAntigravityReasoningReplayDirectTextSignatureWinsOverUnboundPrefix."""
    cache = AntigravityReplayCache()
    prefix, direct = "unbound-prefix-signature-123456", "direct-thought-signature-123456"
    turn(cache, [user("turn")], [text("", prefix, thought=True), text("hidden", direct, thought=True)])
    out, _ = prepare(cache, user("turn"), model(text("hidden", thought=True)), user("next"))
    assert sig(out, 1, 0) == direct
    assert prefix not in orjson.dumps(out).decode()


def test_same_direct_signature_replaces_prefix() -> None:
    """TestAntigravityReasoningReplaySameDirectSignatureReplacesPrefix."""
    cache = AntigravityReplayCache()
    signature = "same-prefix-and-direct-signature-123456"
    turn(cache, [user("turn")], [text("", signature, thought=True), text("hidden", signature, thought=True)])
    out, _ = prepare(cache, user("turn"), model(text("hidden", thought=True)), user("next"))
    assert sig(out, 1, 0) == signature


def test_direct_tool_signature_wins_over_prefix() -> None:
    """TestAntigravityReasoningReplayDirectToolSignatureWinsOverPrefix."""
    cache = AntigravityReplayCache()
    prefix, direct = "unbound-tool-prefix-signature-123456", "direct-tool-signature-123456"
    turn(cache, [user("run")], [text("", prefix), call("run", {}, "call-1", direct), text("after")])
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run", {}, "call-1"), text("after")),
        responses(result("run", "call-1"), role="user"),
        user("next"),
    )
    assert sig(out, 1, 0) == direct
    assert sig(out, 1, 1) is None


def test_detached_signature_attaches_to_function_call() -> None:
    """TestAntigravityReasoningReplayAttachesDetachedSignatureToFunctionCall."""
    cache = AntigravityReplayCache()
    signature = "detached-function-signature-123456789"
    turn(cache, [user("run")], [call("run", {"n": 1}, "call-1"), text("", signature)])
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run", {"n": 1}, "call-1")),
        responses(result("run", "call-1")),
        user("next"),
    )
    assert sig(out, 1, 0) == signature


def test_complete_tool_signature_chain() -> None:
    """TestAntigravityReasoningReplayAccumulatesCompleteToolSignatureChain."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "native-tool-signature-one-123456", "native-tool-signature-two-123456"
    turn(cache, [user("run first")], [call("run_command", {"command": "one"}, "call-1", sig1)])
    # (answer turns in the role build gives them: CPA normalizes request 2 the same way)
    first = [
        user("run first"),
        model(call("run_command", {"command": "one"}, "call-1")),
        responses(result("run_command", "call-1"), role="model"),
        user("run second"),
    ]
    prepared2, scope2 = prepare(cache, *first)
    assert sig(prepared2, 1, 0) == sig1
    answer(scope2, [call("view_file", {"path": "two"}, "call-2", sig2)])
    out, _ = prepare(
        cache,
        *first,
        model(call("view_file", {"path": "two"}, "call-2")),
        responses(result("view_file", "call-2"), role="model"),
        user("finish"),
    )
    assert (sig(out, 1, 0), sig(out, 4, 0)) == (sig1, sig2)


def test_direct_signature_closes_segment_before_unsigned_text() -> None:
    """TestAntigravityReasoningReplayDirectSignatureClosesSegmentBeforeUnsignedText."""
    cache = AntigravityReplayCache()
    signature = "direct-text-signature-closes-segment-123456"
    turn(cache, [user("start")], [text("signed", signature)], [text("unsigned")])
    out, _ = prepare(cache, user("start"), model(text("signed"), text("unsigned")), user("next"))
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (signature, None)


def test_mixed_text_tool_text_fingerprints_stay_separate() -> None:
    """TestAntigravityReasoningReplayKeepsMixedTextToolTextFingerprintsSeparate."""
    cache = AntigravityReplayCache()
    t1, tool, t2 = (
        "mixed-text-signature-one-123456",
        "mixed-tool-signature-123456789",
        "mixed-text-signature-two-123456",
    )
    turn(
        cache,
        [user("mixed")],
        [text("sa")],
        [text("me", t1)],
        [call("run_command", {"command": "true"}, "call-1", tool)],
        [text("sa")],
        [text("me", t2)],
    )
    items = cache.get(MODEL, SESSION)
    assert len(items) == 3
    assert isinstance(items[0], SignatureItem) and items[0].occurrence == 0
    assert isinstance(items[2], SignatureItem) and items[2].occurrence == 1
    out, _ = prepare(
        cache,
        user("mixed"),
        model(text("same"), call("run_command", {"command": "true"}, "call-1"), text("same")),
        responses(result("run_command", "call-1")),
        user("next"),
    )
    assert [sig(out, 1, i) for i in range(3)] == [t1, tool, t2]


def test_existing_segment_occurrences_count() -> None:
    """TestAntigravityReasoningReplayAccumulatorCountsExistingSegmentOccurrences: the
    answer continues a prefilled model turn whose parts count first."""
    cache = AntigravityReplayCache()
    turn(
        cache,
        [model(text("same"), text("same", thought=True))],
        [text("same", "text-signature-123456789"), text("same", "thought-signature-123456789", thought=True)],
    )
    items = cache.get(MODEL, SESSION)
    assert [(i.kind, i.occurrence) for i in items if isinstance(i, SignatureItem)] == [
        ("text", 1),
        ("thought", 1),
    ]


def test_existing_function_occurrence_counts_through_replay() -> None:
    """TestAntigravityReasoningReplayAccumulatorCountsExistingFunctionOccurrenceThroughReplay."""
    cache = AntigravityReplayCache()
    signature = "second-function-signature-123456789"
    turn(cache, [model(call("run", {"value": "same"}))], [call("run", {"value": "same"}, sig=signature)])
    items = cache.get(MODEL, SESSION)
    assert len(items) == 2 and items[1].occurrence == 1
    out, _ = prepare(cache, model(call("run", {"value": "same"}), call("run", {"value": "same"})))
    parts = out["contents"][-1]["parts"]  # (a user turn now leads: Gemini wants one first)
    assert parts[0].get("thoughtSignature") in (None, BYPASS) and parts[1]["thoughtSignature"] == signature


def test_signature_before_thought_text_is_captured() -> None:
    """TestAntigravityReasoningReplayCapturesSignatureBeforeThoughtText."""
    cache = AntigravityReplayCache()
    signature = "thought-first-signature-123456789"
    turn(cache, [user("think")], [text("", signature, thought=True)], [text("hidden thought", thought=True)])
    out, _ = prepare(cache, user("think"), model(text("hidden thought", thought=True)), user("next"))
    assert sig(out, 1, 0) == signature


def test_repeated_id_less_calls_keep_their_signatures() -> None:
    """TestAntigravityReasoningReplayPreservesRepeatedIDLessCalls."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "repeated-idless-signature-one-123456", "repeated-idless-signature-two-123456"
    same = {"command": "same"}
    turn(
        cache, [user("run twice")], [call("run_command", same, sig=sig1), call("run_command", same, sig=sig2)]
    )
    out, _ = prepare(
        cache,
        user("run twice"),
        model(call("run_command", same), call("run_command", same)),
        responses(result("run_command", value="one"), result("run_command", value="two"), role="model"),
        user("continue"),
    )
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig2)


def test_repeated_id_less_calls_across_split_stream() -> None:
    """TestAntigravityReasoningReplayPreservesRepeatedIDLessCallsAcrossSplitSSEPartDrift."""
    cache = AntigravityReplayCache()
    sig1, sig2 = "split-idless-signature-one-123456", "split-idless-signature-two-123456"
    same = {"command": "same"}
    turn(
        cache,
        [user("run twice")],
        [text("hidden", thought=True)],
        [call("run_command", same, sig=sig1)],
        [call("run_command", same, sig=sig2)],
    )
    items = cache.get(MODEL, SESSION)
    assert [i.occurrence for i in items] == [0, 1]
    out, _ = prepare(
        cache,
        user("run twice"),
        model(call("run_command", same), call("run_command", same)),
        responses(result("run_command", value="one"), result("run_command", value="two"), role="model"),
        user("continue"),
    )
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (sig1, sig2)
    again = items_of(History(out, out["contents"]))
    assert [i.occurrence for i in again] == [0, 1]


def test_signature_before_function_call_is_associated() -> None:
    """TestAntigravityReasoningReplayAssociatesSignatureBeforeFunctionCall."""
    cache = AntigravityReplayCache()
    signature = "signature-before-function-call-123456"
    turn(cache, [user("run")], [text("", signature)], [call("run_command", {"command": "one"}, "call-1")])
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run_command", {"command": "one"}, "call-1")),
        responses(result("run_command", "call-1")),
    )
    assert sig(out, 1, 0) == signature


def test_terminal_empty_chain_clears_session() -> None:
    """TestAntigravityReasoningReplayTerminalEmptyChainClearsCache."""
    cache = AntigravityReplayCache()
    seed(cache, text_item(1, 0, "old-signature-123456789"))
    turn(cache, [user("new conversation")], [text("answer without signature")])
    assert cache.get(MODEL, SESSION) == ()


def test_partial_answer_records_nothing() -> None:
    """TestAntigravityReasoningReplayDoesNotCommitPartialResponse: a stream cut before
    its finish reason."""
    cache = AntigravityReplayCache()
    _, scope = prepare(cache, user("turn"))
    answer(scope, [text("partial"), text("", "partial-signature-123456789")], finish=False)
    assert cache.get(MODEL, SESSION) == ()


def test_whole_answer_is_recorded() -> None:
    """The whole-body hook records as the stream does (CPA cacheAntigravityReasoningReplayFromResponse)."""
    cache = AntigravityReplayCache()
    _, scope = prepare(cache, user("run"))
    body = orjson.dumps(
        {
            "candidates": [
                {
                    "content": {"parts": [call("run", {}, "c1", "whole-signature-1234")]},
                    "finishReason": "STOP",
                }
            ]
        }
    )
    assert scope.whole(body) == body
    out, _ = prepare(cache, user("run"), model(call("run", {}, "c1")), responses(result("run", "c1")))
    assert sig(out, 1, 0) == "whole-signature-1234"


# --------------------------------------------------------------------------- restoring


def test_injects_cached_tool_part() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayPayloadInjectsCachedToolPart: a call the
    client left out goes back before its answer."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "Read", {"file_path": "/a"}, "id1", "sig-first"))
    out, _ = prepare(cache, user("hi"), responses(result("Read", "id1"), role="user"))
    contents = out["contents"]
    assert contents[1]["role"] == "model" and sig(out, 1, 0) == "sig-first"
    assert contents[1]["parts"][0]["functionCall"] == {
        "name": "Read",
        "id": "id1",
        "args": {"file_path": "/a"},
    }
    assert "functionResponse" in contents[2]["parts"][0]


def test_inserted_unsigned_tool_part_gets_the_sentinel() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayPayloadSanitizesInsertedUnsignedToolPart."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "Read", {"file_path": "/a"}, "id1"))
    out, _ = prepare(cache, user("hi"), responses(result("Read", "id1"), role="user"))
    assert sig(out, 1, 0) == BYPASS
    assert out["contents"][2]["role"] == "model"  # the answer's role, as Antigravity pairs them


def test_inserts_before_model_function_response() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayInsertsBeforeModelFunctionResponse."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "Read", {"file_path": "/a"}, "id1", "sig-first"))
    out, _ = prepare(cache, user("hi"), responses(result("Read", "id1"), role="model"))
    assert out["contents"][1]["role"] == "model" and "functionCall" in out["contents"][1]["parts"][0]
    assert "functionResponse" in out["contents"][2]["parts"][0]


def test_signature_merges_into_existing_call() -> None:
    """TestMergeAntigravityFunctionCallPartReplayMergesSignatureIntoExistingFunctionCall."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "Read", {"file_path": "/a"}, "id1", "sig-first"))
    out, _ = prepare(
        cache,
        user("hi"),
        model(call("Read", {"file_path": "/a"}, "id1")),
        responses(result("Read", "id1"), role="user"),
    )
    assert sig(out, 1, 0) == "sig-first"


def test_stale_thought_signature_is_dropped() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayPayloadDropsStaleThoughtSignature."""
    cache = AntigravityReplayCache()
    seed(cache, SignatureItem(8, 3, "stale-thought-sig-ok12", "", "", None, ""))
    out, _ = prepare(cache, user("hi"), model(text("visible answer")), user("next"))
    assert out["contents"][1]["parts"] == [{"text": "visible answer"}]


def test_parallel_omitted_calls_are_restored_together() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRestoresParallelOmittedCalls."""
    cache = AntigravityReplayCache()
    full = {
        "contents": [
            user("run both"),
            model(
                call("run", {"n": 1}, "id1", "parallel-call-signature-one-123456"),
                call("run", {"n": 2}, "id2", "parallel-call-signature-two-123456"),
            ),
            responses(result("run", "id1", "one"), result("run", "id2", "two"), role="user"),
            user("finish"),
        ]
    }
    seed(cache, *items_of(History(full, full["contents"])))
    out, _ = prepare(
        cache,
        user("run both"),
        responses(result("run", "id1", "one"), result("run", "id2", "two"), role="user"),
        user("finish"),
    )
    calls = [p["functionCall"]["id"] for p in out["contents"][1]["parts"]]
    assert calls == ["id1", "id2"]
    assert [sig(out, 1, 0), sig(out, 1, 1)] == [
        "parallel-call-signature-one-123456",
        "parallel-call-signature-two-123456",
    ]


def test_responses_reordered_after_restoring_parallel_calls() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayReordersResponsesAfterRestoringParallelCalls."""
    cache = AntigravityReplayCache()
    full = {
        "contents": [
            user("run both"),
            model(
                call("run", {"n": 1}, "id1", "parallel-call-signature-one-123456"),
                call("run", {"n": 2}, "id2"),
            ),
            responses(result("run", "id1", "one"), result("run", "id2", "two"), role="model"),
        ]
    }
    seed(cache, *items_of(History(full, full["contents"])))
    out, _ = prepare(
        cache,
        user("run both"),
        responses(result("run", "id2", "two"), result("run", "id1", "one"), role="user"),
    )
    answers = out["contents"][2]
    assert [p["functionResponse"]["id"] for p in answers["parts"]] == ["id1", "id2"]
    assert answers["role"] == "model"


def test_synthetic_parallel_calls_only_first_bypassed() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRestoresSyntheticParallelCallsWithFirstBypassOnly."""
    cache = AntigravityReplayCache()
    full = {
        "contents": [
            user("run both"),
            model(call("run", {"n": 1}, "id1", BYPASS), call("run", {"n": 2}, "id2")),
            responses(result("run", "id1", "one"), result("run", "id2", "two"), role="model"),
        ]
    }
    seed(cache, *items_of(History(full, full["contents"])))
    out, _ = prepare(
        cache,
        user("run both"),
        responses(result("run", "id1", "one"), result("run", "id2", "two"), role="user"),
    )
    calls = out["contents"][1]["parts"]
    assert len(calls) == 2 and calls[0]["thoughtSignature"] == BYPASS and "thoughtSignature" not in calls[1]


def test_sequential_omitted_calls_are_restored() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRestoresSequentialOmittedCalls."""
    cache = AntigravityReplayCache()
    full = {
        "contents": [
            user("run1"),
            model(call("run", {"n": 1}, "id1", "omitted-call-signature-one-123456")),
            responses(result("run", "id1", "one")),
            user("run2"),
            model(call("run", {"n": 2}, "id2", "omitted-call-signature-two-123456")),
            responses(result("run", "id2", "two")),
        ]
    }
    seed(cache, *items_of(History(full, full["contents"])))
    out, _ = prepare(
        cache,
        user("run1"),
        responses(result("run", "id1", "one")),
        user("run2"),
        responses(result("run", "id2", "two")),
    )
    ids = [p["functionCall"]["id"] for c in out["contents"] for p in c["parts"] if "functionCall" in p]
    assert ids == ["id1", "id2"]


def test_id_less_call_bypass_is_replaced() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayReplacesIDLessFunctionCallBypass."""
    cache = AntigravityReplayCache()
    seed(
        cache, call_item(1, 0, "run_command", {"command": "same"}, signature="idless-native-signature-123456")
    )
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run_command", {"command": "same"}, sig=BYPASS)),
        responses(result("run_command")),
    )
    assert sig(out, 1, 0) == "idless-native-signature-123456"


def test_context_fingerprint_is_canonical() -> None:
    """TestAntigravityReasoningReplayContextFingerprintCanonicalizesJSON."""
    one = {
        "tools": [
            {
                "functionDeclarations": [
                    {"name": "run", "parameters": {"type": "object", "properties": {"a": {}, "b": {}}}}
                ]
            }
        ],
        "contents": [user("turn"), model(call("run", {"a": "x", "b": 2}))],
    }
    two = {
        "tools": [
            {
                "functionDeclarations": [
                    {"parameters": {"properties": {"b": {}, "a": {}}, "type": "object"}, "name": "run"}
                ]
            }
        ],
        "contents": [
            {"parts": [{"text": "turn"}], "role": "user"},
            {"parts": [{"functionCall": {"args": {"b": 2, "a": "x"}, "name": "run"}}], "role": "model"},
        ],
    }
    first = History(one, one["contents"]).context(2)
    assert first and first == History(two, two["contents"]).context(2)
    assert canonical({"a": "x", "b": 2}) == canonical({"b": 2, "a": "x"})


def test_context_fingerprint_ignores_signatures() -> None:
    """The fingerprint leaves signatures out (CPA deletes them before hashing): a turn
    sent back with the sentinel has the history its signature was given for."""
    signed = {"contents": [user("u"), model(call("run", {}, "c", "a-signature-1234567"))]}
    bare = {"contents": [user("u"), model(call("run", {}, "c", BYPASS))]}
    assert History(signed, signed["contents"]).context(2) == History(bare, bare["contents"]).context(2)


def test_rewritten_tool_call_id_still_matches() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayMatchesRewrittenToolCallID: a client
    that gave the call its own id gets the signature by name and arguments."""
    cache = AntigravityReplayCache()
    seed(
        cache,
        call_item(
            1, 0, "run_command", {"command": "same"}, "native-call-id", "rewritten-id-signature-123456"
        ),
    )
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run_command", {"command": "same"}, "claude-generated-id")),
        responses(result("run_command", "claude-generated-id")),
    )
    assert sig(out, 1, 0) == "rewritten-id-signature-123456"


def test_reused_id_with_changed_call_gets_nothing() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRejectsReusedIDWithChangedCall."""
    cache = AntigravityReplayCache()
    seed(
        cache,
        call_item(1, 0, "run_command", {"command": "old"}, "reused-id", "reused-id-stale-signature-123456"),
    )
    out, _ = prepare(
        cache,
        user("run"),
        model(
            call("run_command", {"command": "new"}, "reused-id"),
            call("run_command", {"command": "old"}, "other-id"),
        ),
        responses(result("run_command", "reused-id"), result("run_command", "other-id")),
    )
    assert sig(out, 1, 0) in (None, BYPASS) and sig(out, 1, 1) is None
    ids = [p["functionCall"]["id"] for c in out["contents"] for p in c["parts"] if "functionCall" in p]
    assert ids.count("reused-id") == 1


def test_changed_id_less_call_at_same_place_gets_nothing() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRejectsChangedIDLessCallAtSamePosition."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "run_command", {"command": "old"}, signature="idless-stale-signature-123456"))
    out, _ = prepare(
        cache, user("run"), model(call("run_command", {"command": "new"})), responses(result("run_command"))
    )
    assert sig(out, 1, 0) in (None, BYPASS)


def test_ambiguous_id_less_call_fails_closed() -> None:
    """TestAntigravityReasoningReplayLegacyAmbiguousIDLessCallFailsClosed: two calls alike,
    an item that does not say which: no signature goes on either."""
    cache = AntigravityReplayCache()
    seed(
        cache,
        call_item(1, 1, "run_command", {"command": "same"}, signature="legacy-ambiguous-signature-123456"),
    )
    out, _ = prepare(
        cache,
        user("run"),
        model(call("run_command", {"command": "same"}), call("run_command", {"command": "same"})),
    )
    assert "legacy-ambiguous-signature" not in orjson.dumps(out).decode()


def test_text_signature_kept_when_context_drifts() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayKeepsTextSignatureOnContextDrift: the
    signed part itself is unchanged, so its signature still fits it."""
    cache = AntigravityReplayCache()
    old = {"contents": [user("old context"), model(text("same answer")), user("old next")]}
    context = History(old, old["contents"]).context(1)
    seed(cache, text_item(1, 0, "fingerprinted-signature-123456", text("same answer"), context))
    out, _ = prepare(cache, user("new context"), model(text("same answer")), user("next"))
    assert sig(out, 1, 0) == "fingerprinted-signature-123456"


def test_edited_part_gets_no_signature() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayRejectsFingerprintMismatch."""
    cache = AntigravityReplayCache()
    seed(cache, text_item(1, 0, "fingerprinted-signature-123456", text("original answer")))
    out, _ = prepare(cache, user("turn"), model(text("edited answer")), user("next"))
    assert sig(out, 1, 0) is None


def test_client_signature_moves_to_its_own_part() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayMovesClientSignatureToNativePart."""
    cache = AntigravityReplayCache()
    signature = "client-carried-signature-123456"
    seed(cache, text_item(1, 1, signature, text("visible answer")))
    out, _ = prepare(
        cache,
        user("turn"),
        model(text("hidden", signature, thought=True), text("visible answer")),
        user("next"),
    )
    assert (sig(out, 1, 0), sig(out, 1, 1)) == (None, signature)


def test_bypass_signature_is_replaced() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayReplacesBypassSignature (an old item
    with no fingerprint: placed by position, its history unknown)."""
    cache = AntigravityReplayCache()
    seed(cache, SignatureItem(1, 0, "native-real-signature-123456", "", "", None, ""))
    out, _ = prepare(cache, user("turn"), model(text("answer", BYPASS)), user("next"))
    assert sig(out, 1, 0) == "native-real-signature-123456"


def test_a_client_signature_is_never_replaced() -> None:
    """A part that carries its own Gemini signature keeps it (the client's wins)."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(1, 0, "run", {}, "c1", "cached-signature-123456"))
    out, _ = prepare(
        cache,
        user("u"),
        model(call("run", {}, "c1", "clients-own-signature-1")),
        responses(result("run", "c1")),
    )
    assert sig(out, 1, 0) == "clients-own-signature-1"


def test_already_broken_history_keeps_the_cache() -> None:
    """TestPrepareAntigravityGeminiReasoningReplayPayloadKeepsCacheForAlreadyInvalidToolHistory
    and TestPrepareAntigravityGeminiReasoningReplayPayloadKeepsCacheForClientMalformedHistory
    (the replay's part): nothing is put back into a history whose calls and answers do not
    pair, and the session's chain stays; the build then refuses the history with a 400, as
    CPA does (providers.antigravity_replay.check_pairing)."""
    cache = AntigravityReplayCache()
    seed(cache, call_item(0, 0, "run", {}, "call-2", "injected-tool-signature-123456789"))
    contents = [model(call("run", {}, "call-1")), responses(result("run", "call-2"), role="model")]
    out, _ = prepare(cache, *contents)
    ids = [p["functionCall"]["id"] for c in out["contents"] for p in c["parts"] if "functionCall" in p]
    assert ids == ["call-1"]  # nothing put back into a history that cannot pair
    assert cache.get(MODEL, SESSION)
