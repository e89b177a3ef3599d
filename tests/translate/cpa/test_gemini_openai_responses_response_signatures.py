"""Ported from CPA internal/translator/gemini/openai/responses/gemini_openai-responses_response_test.go,
the signature and item-order cases: a Gemini answer (streamed or whole) as a Responses
client sees it, each signature in a reasoning item's ``encrypted_content`` (CPA's marked
carrier), and, where CPA sends the answer back, the next Gemini request with every
signature on the part it came on.

CPA's stream chunks are wrapped in ``{"response": ...}`` (its Gemini CLI shape); the
Gemini API's own chunks are used here. Sending the answer back goes through the same
translation and the replay policy the proxy applies to every Gemini upstream body.

Deliberate differences, asserted in the tests that meet them (every signature still comes
back on the part it came on):

* a streamed reasoning item's ``output_item.added`` carries no ``encrypted_content``; its
  ``done`` event and ``response.completed`` carry it. CPA holds the item back until its
  signature is known; here summary deltas reach the client as Gemini sends them, and
  clients (Codex CLI) read the signature from ``done``.
* a text part keeps its own boundaries: ``a`` then ``b`` signed stays two parts (the
  signature on ``b``), where CPA joins them into one signed ``ab``.
* the carrier of a signed text goes before its message in a stream too (CPA: after it in a
  stream, before it in a whole answer), so both shapes give the same items; a trailing
  signature-only part goes after the message in a whole answer too (CPA: before it).
* a signature-only thought part is a carrier of its own, not merged into the thought text
  after it, and goes back to Gemini as the signature-only part it was."""

from __future__ import annotations

import base64
from typing import Any

import orjson

from cliproxy.translate.carriers import GEMINI_CARRIER_PREFIX, carried_signature
from cliproxy.translate.registry import default_registry
from cliproxy.translate.signature_bodies import sanitize_gemini_contents

from ._run import GEMINI, RESPONSES, events, ir_of, req, resp, sse, stream

SIG = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
_raw = bytearray(base64.b64decode(SIG))
_raw[-1] ^= 1
SIG2 = base64.b64encode(bytes(_raw)).decode()  # differentResponsesGeminiThoughtSignature
MODEL = "gemini-3.6-flash-high"
REQUEST = {"model": MODEL, "input": "hi", "stream": True}
Part = dict[str, Any]


def text(t: str, sig: str | None = None) -> Part:
    return {"text": t, "thoughtSignature": sig} if sig else {"text": t}


def thought(t: str, sig: str | None = None) -> Part:
    return {**text(t, sig), "thought": True}


def call(sig: str | None = None, name: str = "run_command", args: dict[str, Any] | None = None) -> Part:
    part: Part = {"functionCall": {"name": name, "args": {"command": "true"} if args is None else args}}
    return {**part, "thoughtSignature": sig} if sig else part


def _chunk(parts: list[Part], last: bool = False) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": parts}}
    if last:
        cand["finishReason"] = "STOP"
    return {"candidates": [cand], "modelVersion": "gemini-3.6-flash", "responseId": "r1"}


def streamed(*chunks: list[Part]) -> list[dict[str, Any]]:
    """The client's events for an answer streamed one chunk per list (the last finishes)."""
    payloads = [_chunk(c, i == len(chunks) - 1) for i, c in enumerate(chunks)]
    return events(stream(GEMINI, RESPONSES, sse(*payloads, events=False), REQUEST, MODEL))


def completed(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    (done,) = [e for e in evs if e.get("type") == "response.completed"]
    out: list[dict[str, Any]] = done["response"]["output"]
    return out


def whole(*parts: Part) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = resp(GEMINI, RESPONSES, _chunk(list(parts), True), REQUEST, MODEL)["output"]
    return out


def sig_of(item: dict[str, Any]) -> str | None:
    value = item.get("encrypted_content")
    assert isinstance(value, str) and value.startswith(GEMINI_CARRIER_PREFIX), item
    decoded: str | None = carried_signature(value)[0]
    return decoded


def types(items: list[dict[str, Any]]) -> list[str]:
    return [i["type"] for i in items]


def done_types(evs: list[dict[str, Any]]) -> list[str]:
    return [e["item"]["type"] for e in evs if e.get("type") == "response.output_item.done"]


def reasoning_events(evs: list[dict[str, Any]], kind: str) -> dict[str, str]:
    return {
        e["item"]["id"]: e["item"].get("encrypted_content", "")
        for e in evs
        if e.get("type") == f"response.output_item.{kind}" and e["item"]["type"] == "reasoning"
    }


def back(output: list[dict[str, Any]], answer_calls: bool = False) -> list[dict[str, Any]]:
    """The Gemini ``contents`` when the client sends ``output`` back as its next input
    (with an output for each call when ``answer_calls``)."""
    items = list(output)
    if answer_calls:
        items += [
            {"type": "function_call_output", "call_id": i["call_id"], "output": "ok"}
            for i in output
            if i["type"] == "function_call"
        ]
    body = req(RESPONSES, GEMINI, {"model": MODEL, "input": items}, MODEL)
    sanitize_gemini_contents(body["contents"])
    assert GEMINI_CARRIER_PREFIX not in orjson.dumps(body).decode()  # carriers stay on the client side
    contents: list[dict[str, Any]] = body["contents"]
    return contents


def signatures(contents: list[dict[str, Any]]) -> list[str]:
    return [p["thoughtSignature"] for c in contents for p in c["parts"] if p.get("thoughtSignature")]


def visible(parts: list[Part]) -> list[tuple[str, str | None]]:
    return [(p["text"], p.get("thoughtSignature")) for p in parts if p.get("text") and not p.get("thought")]


def assert_done_carries(evs: list[dict[str, Any]], count: int | None = None) -> None:
    """Each reasoning item is added without ``encrypted_content`` and done with it, as in
    ``response.completed`` (a difference: CPA adds it with the signature already there)."""
    added, done = reasoning_events(evs, "added"), reasoning_events(evs, "done")
    assert added.keys() == done.keys() and not any(added.values())
    final = {i["id"]: i.get("encrypted_content", "") for i in completed(evs) if i["type"] == "reasoning"}
    assert done == final
    if count is not None:
        assert len(done) == count


# ---------------------------------------------------------------------- visible text


def test_consecutive_signed_visible_text_preserves_every_signature() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_ConsecutiveSignedVisibleTextPreservesEverySignature,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_ConsecutiveSignedVisibleTextPreservesEverySignature.
    Difference: ``a`` and the signed ``b`` stay two parts (CPA: one signed ``ab``); the ids of
    the reasoning items are not needed to send it back."""
    evs = streamed([text("a")], [text("b", SIG)], [text("c", SIG2)])
    assert_done_carries(evs, 2)
    for output in (completed(evs), whole(text("a"), text("b", SIG), text("c", SIG2))):
        assert types(output) == ["message", "reasoning", "message", "reasoning", "message"]
        assert [sig_of(output[1]), sig_of(output[3])] == [SIG, SIG2]
        no_ids = [
            {k: v for k, v in i.items() if not (k == "id" and i["type"] == "reasoning")} for i in output
        ]
        assert visible(back(no_ids)[0]["parts"]) == [("a", None), ("b", SIG), ("c", SIG2)]


def test_signed_visible_then_unsigned_preserves_boundary() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_SignedVisibleThenUnsignedPreservesBoundary,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_SignedVisibleThenUnsignedPreservesBoundary."""
    for output in (
        completed(streamed([text("signed", SIG)], [text("unsigned")])),
        whole(text("signed", SIG), text("unsigned")),
    ):
        assert any(GEMINI_CARRIER_PREFIX in i.get("encrypted_content", "") for i in output)
        assert back(output)[0]["parts"] == [text("signed", SIG), text("unsigned")]


def test_leading_carrier_does_not_cross_signed_thought() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_LeadingCarrierDoesNotCrossSignedThought."""
    answer = [text("", SIG), thought("reason", SIG2), text("answer")]
    for output in (completed(streamed(*([p] for p in answer))), whole(*answer)):
        assert back(output)[0]["parts"] == answer


def test_trailing_carrier_direction_does_not_depend_on_ids() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_TrailingCarrierDirectionDoesNotDependOnID,
    TestConvertGeminiResponseToOpenAIResponses_TrailingCarrierDirectionSurvivesStrippedIDs."""
    answer = [text("answer", SIG), text("", SIG2)]
    stream_output = completed(streamed([answer[0]], [answer[1]]))
    assert any(GEMINI_CARRIER_PREFIX in i.get("encrypted_content", "") for i in stream_output)
    no_ids = [{k: v for k, v in i.items() if k != "id"} for i in stream_output]
    for output in (whole(*answer), no_ids):
        assert back(output)[0]["parts"] == answer


def test_visible_signature_does_not_overwrite_signed_thought() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_VisibleSignatureDoesNotOverwriteSignedThought
    (the text's carrier goes before its message: see the module docstring)."""
    evs = streamed([thought("one", SIG)], [text("answer", SIG2)])
    assert_done_carries(evs, 2)
    output = completed(evs)
    assert types(output) == ["reasoning", "reasoning", "message"]
    assert sig_of(output[0]) == SIG and sig_of(output[1]) == SIG2
    parts = back(output)[0]["parts"]
    assert signatures([{"parts": parts}]) == [SIG, SIG2]
    assert visible(parts) == [("answer", SIG2)]


def test_flushes_visible_signature_before_later_thought() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_FlushesVisibleSignatureBeforeLaterThought
    (the text's carrier goes before its message: see the module docstring)."""
    third = "third-distinct-gemini-signature-123456"
    output = completed(
        streamed([thought("thought-a", SIG)], [text("answer", SIG2)], [thought("thought-c", third)])
    )
    assert types(output) == ["reasoning", "reasoning", "message", "reasoning"]
    assert [sig_of(output[i]) for i in (0, 1, 3)] == [SIG, SIG2, third]


def test_interleaved_thought_and_text_preserves_order() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_InterleavedThoughtAndTextPreservesOrder,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_InterleavedThoughtAndTextPreservesOrder."""
    answer = [thought("thought-a", SIG), text("answer-a"), thought("thought-b", SIG2), text("answer-b")]
    evs = streamed(answer)
    assert done_types(evs) == ["reasoning", "message", "reasoning", "message"]
    output = completed(evs)
    assert [output[0]["summary"][0]["text"], output[1]["content"][0]["text"]] == ["thought-a", "answer-a"]
    assert [output[2]["summary"][0]["text"], output[3]["content"][0]["text"]] == ["thought-b", "answer-b"]
    assert types(whole(*answer)) == ["reasoning", "message", "reasoning", "message"]


# ---------------------------------------------------------------------- signature-only parts


def test_leading_empty_and_signed_text_round_trip_in_order() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_LeadingEmptyAndSignedTextRoundTripInOrder."""
    parts = back(completed(streamed([text("", SIG)], [text("answer", SIG2)])))[0]["parts"]
    assert signatures([{"parts": parts}]) == [SIG, SIG2]
    assert visible(parts) == [("answer", SIG2)]


def test_signed_text_and_trailing_signature_round_trip_in_order() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_SignedTextAndTrailingSignatureRoundTripInOrder,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_SignedTextAndTrailingSignatureRoundTripInOrder
    (the stream has CPA's whole-answer order: see the module docstring)."""
    answer = [text("answer", SIG), text("", SIG2)]
    for output in (completed(streamed([answer[0]], [answer[1]])), whole(*answer)):
        assert types(output) == ["reasoning", "message", "reasoning"]
        assert sig_of(output[0]) == SIG and sig_of(output[2]) == SIG2
        assert signatures(back(output)) == [SIG, SIG2]


def test_preserves_multiple_leading_empty_signatures() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_PreservesMultipleLeadingEmptySignatures."""
    output = completed(streamed([text("", SIG), text("", SIG2)]))
    assert [sig_of(output[0]), sig_of(output[1])] == [SIG, SIG2]


def test_distinct_signed_thoughts_use_distinct_items() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_DistinctSignedThoughtsUseDistinctItems,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_DistinctSignedThoughtsUseDistinctItems."""
    evs = streamed([thought("one", SIG)], [thought("two", SIG2)])
    assert_done_carries(evs, 2)
    for output in (completed(evs), whole(thought("one", SIG), thought("two", SIG2))):
        assert len(output) == 2 and [sig_of(output[0]), sig_of(output[1])] == [SIG, SIG2]


def test_visible_signature_completes_active_reasoning() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_VisibleSignatureCompletesActiveReasoning,
    TestConvertGeminiResponseToOpenAIResponsesNonStream_VisibleSignatureCompletesReasoning."""
    evs = streamed([thought("hidden thought")], [text("visible answer", SIG)])
    assert done_types(evs) == ["reasoning", "message"]
    assert_done_carries(evs, 1)
    assert sig_of(completed(evs)[0]) == SIG
    output = whole(thought("hidden thought"), text("visible answer", SIG))
    assert output[0]["type"] == "reasoning" and sig_of(output[0]) == SIG and output[1]["type"] == "message"


def test_late_thought_signature_is_immutable() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_LateThoughtSignatureIsImmutable: one
    reasoning item for the two thought chunks, its signature the late one."""
    evs = streamed([thought("one")], [thought("two", SIG2)])
    assert_done_carries(evs, 1)
    (item,) = [e["item"] for e in evs if e.get("type") == "response.output_item.done"]
    assert item["summary"][0]["text"] == "onetwo" and sig_of(item) == SIG2


def test_detached_signature_after_visible_text() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_DetachedSignatureAfterVisibleText."""
    evs = streamed([text("visible answer")], [text("", SIG)])
    assert done_types(evs) == ["message", "reasoning"]
    assert sig_of(completed(evs)[1]) == SIG


def test_nonstream_detached_signature() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_DetachedSignature. Difference: the
    trailing signature's carrier follows the message as in a stream (CPA puts it first in a
    whole answer); sent back, it signs the text either way."""
    output = whole(text("visible answer"), text("", SIG))
    assert types(output) == ["message", "reasoning"] and sig_of(output[1]) == SIG
    assert back(output)[0]["parts"] == [text("visible answer", SIG)]


def test_reasoning_encrypted_content() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_ReasoningEncryptedContent. Difference: the
    signature-only thought part is a carrier item of its own before the thought text's item
    (CPA: one item, its summary ``a``)."""
    sig = (
        "RXE0RENrZ0lDeEFDR0FJcVFOZDdjUzlleGFuRktRdFcvSzNyZ2MvWDNCcDQ4RmxSbGxOWUlOVU5kR1l1UHMrMGdkMVp0Vkg3ekdKU0g4"
        "YVljc2JjN3lNK0FrdGpTNUdqamI4T3Z0VVNETzdQd3pmcFhUOGl3U3hXUEJvTVFRQ09mWTFyMEtTWGZxUUlJakFqdmFGWk83RW1XRlBK"
        "ckJVOVpkYzdDKw=="
    )
    evs = streamed([thought("", sig)], [thought("a")], [text("hello")], [text("")])
    assert_done_carries(evs, 2)
    output = completed(evs)
    assert sig_of(output[0]) == sig and output[1]["summary"][0]["text"] == "a"


# ---------------------------------------------------------------------- function calls


def test_function_and_trailing_signatures_round_trip() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_FunctionAndTrailingSignaturesRoundTrip."""
    output = completed(streamed([call(SIG)], [text("", SIG2)]))
    assert signatures(back(output, answer_calls=True)) == [SIG, SIG2]


def test_nonstream_function_and_trailing_signatures_preserve_order() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_FunctionAndTrailingSignaturesPreserveOrder."""
    output = whole(call(SIG), text("", SIG2))
    assert types(output) == ["reasoning", "function_call", "reasoning"]
    assert sig_of(output[0]) == SIG and sig_of(output[2]) == SIG2


def test_function_then_trailing_signature_has_stream_parity() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_FunctionThenTrailingSignatureHasStreamParity."""
    answer = [text("preamble"), call(), text("", SIG)]
    for output in (completed(streamed(answer)), whole(*answer)):
        assert types(output) == ["message", "function_call", "reasoning"]
        assert output[2]["encrypted_content"].startswith(GEMINI_CARRIER_PREFIX + "previous:function:")
        assert sig_of(output[2]) == SIG
        parts = back(output)[0]["parts"]
        assert len(parts) == 2 and parts[0]["text"] == "preamble"
        assert parts[1]["functionCall"]["name"] == "run_command" and parts[1]["thoughtSignature"] == SIG


def test_nonstream_trailing_signature_follows_pending_reasoning() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_TrailingSignatureFollowsPendingReasoning."""
    output = whole(thought("thought", SIG), text("", SIG2))
    assert [sig_of(output[0]), sig_of(output[1])] == [SIG, SIG2]


def test_nonstream_unsigned_thought_does_not_steal_function_signature() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_UnsignedThoughtDoesNotStealFunctionSignature."""
    output = whole(call(SIG), thought("later thought"))
    assert sig_of(output[0]) == SIG and output[1]["type"] == "function_call"
    assert output[2]["summary"][0]["text"] == "later thought" and not output[2].get("encrypted_content")


def test_preserves_text_around_function() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_PreservesTextAroundFunction."""
    evs = streamed([text("preface")], [call()], [text("after")])
    assert done_types(evs) == ["message", "function_call", "message"]
    output = completed(evs)
    assert output[0]["content"][0]["text"] == "preface" and output[2]["content"][0]["text"] == "after"
    contents = back(output, answer_calls=True)
    assert [c["role"] for c in contents] == ["model", "user"]
    parts = contents[0]["parts"]
    assert len(parts) == 3 and parts[0]["text"] == "preface" and "functionCall" in parts[1]
    assert parts[2]["text"] == "after" and "functionResponse" in contents[1]["parts"][0]


def test_pending_signature_before_function_round_trips() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_PendingSignatureBeforeFunctionRoundTrips."""
    native = {
        "functionCall": {"id": "native-pending-call", "name": "run_command", "args": {"command": "true"}}
    }
    parts = back(completed(streamed([text("", SIG)], [native])), answer_calls=True)[0]["parts"]
    assert [p.get("thoughtSignature") for p in parts if "functionCall" in p] == [SIG]
    assert not [p for p in parts if p.get("text") == "" and p.get("thoughtSignature")]


def test_signed_text_before_signed_function_round_trips() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_SignedTextBeforeSignedFunctionRoundTrips.
    Difference: ``before `` and the signed ``tool`` stay two parts (CPA: one signed
    ``before tool``)."""
    output = completed(streamed([text("before ")], [text("tool", SIG)], [call(SIG2)]))
    parts = [p for c in back(output, answer_calls=True) for p in c["parts"]]
    assert visible(parts) == [("before ", None), ("tool", SIG)]
    assert [p.get("thoughtSignature") for p in parts if "functionCall" in p] == [SIG2]


def test_nonstream_preserves_text_around_signed_function() -> None:
    """TestConvertGeminiResponseToOpenAIResponsesNonStream_PreservesTextAroundSignedFunction."""
    output = whole(text("preface"), call(SIG), text("after"))
    assert types(output) == ["message", "reasoning", "function_call", "message"]
    assert output[3]["content"][0]["text"] == "after"


def test_gemini_tool_signature() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_GeminiToolSignature."""
    native = {"functionCall": {"id": "native-id", "name": "run_command", "args": {"command": "true"}}}
    evs = streamed([{**native, "thoughtSignature": SIG}])
    assert done_types(evs) == ["reasoning", "function_call"]
    (enc,) = reasoning_events(evs, "done").values()
    assert sig_of({"encrypted_content": enc}) == SIG


# ---------------------------------------------------------------------- stream lifecycle


def _translator() -> Any:
    return default_registry().stream_translator(GEMINI, RESPONSES, ir_of(RESPONSES, REQUEST), MODEL)


def _frame(payload: dict[str, Any] | str) -> bytes:
    return sse(payload, events=False)


def test_stream_end_finalizes_started_stream_exactly_once() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_DoneFinalizesStartedStreamExactlyOnce.
    Difference: Gemini's stream has no ``[DONE]`` (a stray one is ignored); the end of the
    upstream stream finalizes an answer that had no finish reason, once."""
    tr = _translator()
    data = tr.feed(_frame({"candidates": [{"content": {"parts": [thought("unsigned thought")]}}]}))
    assert tr.feed(_frame("[DONE]")) == b""
    evs = events(data + tr.finish())
    deltas = [e["delta"] for e in evs if e.get("type") == "response.reasoning_summary_text.delta"]
    assert "".join(deltas) == "unsigned thought"
    assert len(done_types(evs)) == 1
    assert [e["type"] for e in evs].count("response.completed") == 1
    assert tr.finish() == b""


def test_finish_reason_then_done_does_not_duplicate_completion() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_FinishReasonThenDoneDoesNotDuplicateCompletion.
    Difference: ``response.completed`` waits for the end of the upstream stream, where CPA
    sends it on the finish reason (Gemini may send usage in a chunk after it), so a later
    chunk's text is still part of the answer; completion comes once either way."""
    tr = _translator()
    first = tr.feed(_frame(_chunk([text("answer")], last=True)))
    assert b"response.completed" not in first
    assert tr.feed(_frame("[DONE]")) == b""
    evs = events(first + tr.feed(_frame(_chunk([text(" late")]))) + tr.finish())
    assert [e["type"] for e in evs].count("response.completed") == 1
    assert completed(evs)[0]["content"][0]["text"] == "answer late"


def test_bare_done_before_start_emits_nothing() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_BareDoneBeforeStartEmitsNothing (the
    translator's state is not read here: nothing comes out of the [DONE] itself)."""
    assert _translator().feed(_frame("[DONE]")) == b""


def _positions(evs: list[dict[str, Any]], kind: str, item_type: str | None = None) -> dict[int, int]:
    return {
        e["output_index"]: n
        for n, e in enumerate(evs)
        if e.get("type") == kind and (item_type is None or e["item"]["type"] == item_type)
    }


def test_function_call_event_order() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_FunctionCallEventOrder."""
    evs = streamed(
        [{"functionCall": {"name": "tool0"}}],
        [{"functionCall": {"name": "tool1"}}],
        [{"functionCall": {"name": "tool2", "args": {"a": 1}}}],
        [text("")],
    )
    added = _positions(evs, "response.output_item.added", "function_call")
    delta = _positions(evs, "response.function_call_arguments.delta")
    args_done = _positions(evs, "response.function_call_arguments.done")
    done = _positions(evs, "response.output_item.done", "function_call")
    completed_at = next(n for n, e in enumerate(evs) if e.get("type") == "response.completed")
    for i in range(3):
        assert added[i] < delta[i] < args_done[i] < done[i]
        assert i == 0 or done[i - 1] < added[i]
    assert done[2] < completed_at
    deltas = {
        e["output_index"]: e["delta"]
        for e in evs
        if e.get("type") == "response.function_call_arguments.delta"
    }
    assert deltas[0] == deltas[1] == "{}" and orjson.loads(deltas[2]) == {"a": 1}
    output = completed(evs)
    assert [(i["name"], i["arguments"]) for i in output[:2]] == [("tool0", "{}"), ("tool1", "{}")]
    assert (
        len(output) == 3 and output[2]["name"] == "tool2" and orjson.loads(output[2]["arguments"]) == {"a": 1}
    )


def test_response_output_ordering() -> None:
    """TestConvertGeminiResponseToOpenAIResponses_ResponseOutputOrdering."""
    evs = streamed([{"functionCall": {"name": "tool0", "args": {"x": "y"}}}], [text("hi")], [text("")])
    call_done = _positions(evs, "response.output_item.done", "function_call")[0]
    message_added = _positions(evs, "response.output_item.added", "message")[1]
    completed_at = next(n for n, e in enumerate(evs) if e.get("type") == "response.completed")
    assert call_done < message_added < completed_at
    output = completed(evs)
    assert types(output) == ["function_call", "message"] and output[1]["content"][0]["text"] == "hi"
