"""Ported from CPA internal/translator/gemini/openai/responses/gemini_openai-responses_request_test.go,
the reasoning-signature cases: a Responses client's reasoning items (CPA's marked
``cpa-gemini-responses-carrier-v1:`` carriers, ``gemini#`` values and raw Gemini
signatures) put back on the Gemini parts they were issued with.

Call ids are not sent to Gemini (a documented difference of the request port), so the
order of calls and outputs is read from the calls' ``command`` argument."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.translate.carriers import GEMINI_CARRIER_PREFIX
from cliproxy.translate.signature_bodies import sanitize_gemini_contents
from cliproxy.translate.signatures import GEMINI_SKIP_VALIDATOR as SKIP

from ._run import GEMINI, RESPONSES, req

SIG = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
_raw = bytearray(base64.b64decode(SIG))
_raw[-1] ^= 1
SIG2 = base64.b64encode(bytes(_raw)).decode()  # differentResponsesGeminiThoughtSignature
MODEL = "gemini-3.6-flash-high"


def _gem(*items: dict[str, Any], model: str = MODEL) -> dict[str, Any]:
    """The Gemini body, with the replay policy the proxy applies to every Gemini upstream
    body after translation (CPA runs it inside this translator)."""
    out = req(RESPONSES, GEMINI, {"model": model, "input": list(items)}, model)
    sanitize_gemini_contents(out.get("contents"))
    return out


def _parts(out: dict[str, Any], i: int = 0) -> list[dict[str, Any]]:
    return out["contents"][i]["parts"]


def _user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _said(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def _rs(value: str, *summary: str, rid: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "reasoning",
        "encrypted_content": value,
        "summary": [{"type": "summary_text", "text": s} for s in summary],
    }
    if rid is not None:
        item["id"] = rid
    return item


def _call(cid: str, command: str = "") -> dict[str, Any]:
    args = f'{{"command":"{command}"}}' if command else "{}"
    return {"type": "function_call", "call_id": cid, "name": "run_command", "arguments": args}


def _out(cid: str, output: str = "ok") -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": cid, "output": output}


def _carrier(signature: str, direction: str, kind: str) -> str:
    encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
    return f"{GEMINI_CARRIER_PREFIX}{direction}:{kind}:{encoded}"


def _calls(out: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in out["contents"] for p in c["parts"] if "functionCall" in p]


def _seq(out: dict[str, Any]) -> list[str]:
    seq = []
    for c in out["contents"]:
        for p in c["parts"]:
            if "functionCall" in p:
                seq.append("call:" + p["functionCall"]["args"].get("command", ""))
            if "functionResponse" in p:
                seq.append("output:" + str(p["functionResponse"]["response"].get("result")))
    return seq


def test_detached_reasoning_does_not_cross_a_user_message() -> None:
    """TestReorderOpenAIResponsesDetachedReasoningDoesNotCrossUserMessage (through the
    whole translation: CPA tests its reorder helper; the user turn stays first and the
    signature lands on the call after it)."""
    out = _gem(_user("next"), _rs(SIG, rid="rs_test_detached_after_1"), _call("call-1"))
    assert out["contents"][0]["role"] == "user"
    assert _parts(out, 1)[0]["thoughtSignature"] == SIG


def test_reattaches_reasoning_and_signature_to_function_call() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesReasoningAndSignatureToFunctionCall."""
    out = _gem(_user("run"), _rs(SIG, "hidden thought"), _call("call-1", "true"), _out("call-1"))
    parts = _parts(out, 1)
    assert len(parts) == 2 and parts[0]["thought"] is True
    assert parts[1]["functionCall"]["name"] == "run_command"
    assert parts[1]["thoughtSignature"] == SIG


def test_synthetic_parallel_calls_only_first_gets_sentinel() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_SyntheticParallelCallsOnlyFirstGetsSentinel."""
    parts = _parts(_gem(_call("call-1", "one"), _call("call-2", "two")))
    assert len(parts) == 2
    assert parts[0]["thoughtSignature"] == SKIP and "thoughtSignature" not in parts[1]


def test_native_parallel_calls_preserve_unsigned_sibling() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_NativeParallelCallsPreserveUnsignedSibling."""
    calls = _calls(_gem(_user("run twice"), _rs(SIG), _call("call-1", "one"), _call("call-2", "two")))
    assert len(calls) == 2
    assert calls[0]["thoughtSignature"] == SIG and "thoughtSignature" not in calls[1]


def test_preserves_multiple_leading_tool_signatures() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesMultipleLeadingToolSignatures."""
    out = _gem(
        _user("run twice"),
        _rs(SIG, rid="rs_before_1"),
        _call("call-1", "one"),
        _rs(SIG2, rid="rs_before_2"),
        _call("call-2", "two"),
        _out("call-1", "one"),
        _out("call-2", "two"),
    )
    assert [c["thoughtSignature"] for c in _calls(out)] == [SIG, SIG2]
    assert _seq(out) == ["call:one", "call:two", "output:one", "output:two"]
    assert [c["role"] for c in out["contents"]] == ["user", "model", "user"]


def test_groups_non_contiguous_parallel_tool_outputs() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_GroupsNonContiguousParallelToolOutputs.
    Difference: consecutive user turns are merged into one content here (see the request
    port), so CPA's three user contents are one; what CPA asserts still holds: the second
    output does not move before the user message between the two."""
    out = _gem(
        _call("call-1", "one"),
        _call("call-2", "two"),
        _out("call-1", "one"),
        _user("between outputs"),
        _out("call-2", "two"),
    )
    assert [c["role"] for c in out["contents"]] == ["model", "user"]
    parts = _parts(out, 1)
    assert parts[0]["functionResponse"]["response"]["result"] == "one"
    assert parts[1]["text"] == "between outputs"
    assert parts[2]["functionResponse"]["response"]["result"] == "two"


def test_preserves_reasoning_before_paired_function_signature() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesReasoningBeforePairedFunctionSignature."""
    out = _gem(_rs(SIG, "first"), _rs(SIG2, "second"), _call("call-1", "true"), _out("call-1"))
    signed = [p["thoughtSignature"] for c in out["contents"] for p in c["parts"] if p.get("thoughtSignature")]
    assert signed == [SIG, SIG2]


@pytest.mark.parametrize(
    ("model", "rid"),
    [("gemini-3.6-flash-high", "rs_text_detached_after_1"), ("gemini-3.5-flash", "rs_client_rewritten")],
    ids=["detached", "unmarked"],
)
def test_reattaches_trailing_signature_to_text(model: str, rid: str) -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesTrailingDetachedSignatureToText,
    TestConvertOpenAIResponsesRequestToGemini_ReattachesUnmarkedTrailingSignatureToText."""
    out = _gem(_user("turn one"), _said("visible answer"), _rs(SIG, rid=rid), _user("turn two"), model=model)
    assert _parts(out, 1) == [{"text": "visible answer", "thoughtSignature": SIG}]


def test_unmarked_reasoning_before_function_call_still_pairs_call() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_UnmarkedReasoningBeforeFunctionCallStillPairsCall."""
    out = _gem(
        _user("run"),
        _said("I will run it."),
        _rs(SIG),
        _call("call-1", "true"),
        _out("call-1"),
        model="gemini-3.5-flash",
    )
    parts = _parts(out, 1)
    assert len(parts) == 2
    assert "thoughtSignature" not in parts[0] and parts[1]["thoughtSignature"] == SIG


def test_reattaches_detached_signature_to_function_call() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesDetachedSignatureToFunctionCall."""
    out = _gem(
        _user("run"), _call("call-1", "true"), _rs(SIG, rid="rs_function_detached_after_1"), _out("call-1")
    )
    assert [c["thoughtSignature"] for c in _calls(out)] == [SIG]


def test_reattaches_unmarked_post_call_signature_with_matching_output() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesUnmarkedPostCallSignatureWithMatchingOutput."""
    out = _gem(_call("call-1", "true"), _rs(SIG), _out("call-1"))
    assert _parts(out)[0]["thoughtSignature"] == SIG


@pytest.mark.parametrize("leading", [True, False], ids=["leading", "post-call"])
def test_reattaches_directional_function_carriers_without_ids(leading: bool) -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesDirectionalFunctionCarriersWithoutIDs."""
    carrier = _rs(_carrier(SIG, "next" if leading else "previous", "function"))
    items = [carrier, _call("call-1")] if leading else [_call("call-1"), carrier]
    out = _gem(*items, _out("call-1"))
    assert _parts(out)[0]["thoughtSignature"] == SIG
    assert GEMINI_CARRIER_PREFIX not in str(out)


def test_does_not_retarget_extra_previous_text_carrier() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DoesNotRetargetExtraPreviousCarrier (text)."""
    out = _gem(
        _rs(_carrier(SIG, "next", "text")),
        _said("signed"),
        _rs(_carrier(SIG2, "previous", "text")),
        _said("unsigned"),
    )
    assert _parts(out) == [
        {"text": "signed", "thoughtSignature": SIG},
        {"text": "", "thoughtSignature": SIG2},
        {"text": "unsigned"},
    ]


def test_does_not_retarget_extra_previous_function_carrier() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DoesNotRetargetExtraPreviousCarrier (function)."""
    out = _gem(
        _rs(_carrier(SIG, "next", "function")),
        _call("call-1", "one"),
        _rs(_carrier(SIG2, "previous", "function")),
        _call("call-2", "two"),
    )
    parts = _parts(out)
    assert len(parts) == 3
    assert parts[0]["functionCall"]["args"] == {"command": "one"} and parts[0]["thoughtSignature"] == SIG
    assert parts[1] == {"text": "", "thoughtSignature": SIG2}
    assert parts[2]["functionCall"]["args"] == {"command": "two"} and "thoughtSignature" not in parts[2]


def test_does_not_bind_standalone_function_carrier() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DoesNotBindStandaloneFunctionCarrier."""
    parts = _parts(_gem(_rs(_carrier(SIG, "standalone", "function")), _call("call-1")))
    assert len(parts) == 2
    assert parts[0]["thoughtSignature"] == SIG and parts[1]["thoughtSignature"] == SKIP


def test_reattaches_unmarked_parallel_post_call_signature() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesUnmarkedParallelPostCallSignature."""
    out = _gem(
        _call("call-1", "one"), _call("call-2", "two"), _rs(SIG), _out("call-1", "one"), _out("call-2", "two")
    )
    parts = _parts(out)
    assert len(parts) == 2
    assert parts[0]["thoughtSignature"] == SKIP and parts[1]["thoughtSignature"] == SIG


def test_reattaches_alternating_parallel_post_call_signatures() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReattachesAlternatingParallelPostCallSignatures."""
    out = _gem(
        _call("call-1", "one"),
        _rs(SIG),
        _call("call-2", "two"),
        _rs(SIG2),
        _out("call-1", "one"),
        _out("call-2", "two"),
    )
    parts = _parts(out)
    assert [(p["functionCall"]["args"]["command"], p["thoughtSignature"]) for p in parts] == [
        ("one", SIG),
        ("two", SIG2),
    ]


def test_preserves_extra_consecutive_post_call_carrier() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesExtraConsecutivePostCallCarrier."""
    parts = _parts(_gem(_call("call-1"), _rs(SIG), _rs(SIG2), _out("call-1")))
    assert len(parts) == 2
    assert "functionCall" in parts[0] and parts[0]["thoughtSignature"] == SIG
    assert parts[1]["thoughtSignature"] == SIG2


def test_does_not_pair_unmarked_post_call_signature_across_user_message() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DoesNotPairUnmarkedPostCallSignatureAcrossUserMessage."""
    out = _gem(_call("call-1"), _rs(SIG), _user("boundary"), _out("call-1"))
    assert _parts(out)[0]["thoughtSignature"] == SKIP


def test_output_for_an_unknown_call_is_refused() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DoesNotPairUnmarkedPostCallSignatureAcrossMismatch.
    Difference: an output whose call_id names no call before it is the client's 400 here
    (the request port's rule: Gemini cannot pair it), where CPA forwards it and leaves the
    signature unpaired; with a matching call the same history pairs (the test above)."""
    with pytest.raises(RequestError) as err:
        _gem(_call("call-1"), _rs(SIG), _out("other-call"))
    assert err.value.status == 400 and "other-call" in str(err.value)


def test_preserves_reasoning_only_history() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesReasoningOnlyHistory."""
    out = _gem(_rs("gemini#" + SIG, "reasoning summary"), model="gemini-3.5-flash")
    assert len(out["contents"]) == 1
    assert _parts(out) == [{"text": "reasoning summary", "thought": True, "thoughtSignature": SIG}]


def test_drops_empty_unsigned_reasoning_carrier() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DropsEmptyUnsignedReasoningCarrier."""
    assert not _gem(_rs("")).get("contents")


def test_preserves_unbound_detached_carrier_without_empty_thought() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesUnboundDetachedCarrierWithoutEmptyThought."""
    out = _gem(_rs(SIG, rid="rs_unbound_detached_after_1"))
    assert _parts(out) == [{"text": "", "thoughtSignature": SIG}]


def test_preserves_reasoning_before_trailing_assistant_prefill() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_PreservesReasoningBeforeTrailingAssistantPrefill."""
    out = _gem(
        _user("hello"),
        _rs("gemini#" + SIG, "reasoning summary"),
        _said("previous answer"),
        model="gemini-3.5-flash",
    )
    assert [c["role"] for c in out["contents"]] == ["user", "model"]
    assert _parts(out, 1)[1]["thoughtSignature"] == SIG


def _gpt_signature() -> str:
    raw = bytearray(1 + 8 + 16 + 16 + 32)
    raw[0], raw[8] = 0x80, 1
    for i in range(9, len(raw)):
        raw[i] = i
    return base64.urlsafe_b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("encrypted", "want"), [("gemini#" + SIG, SIG), ("", None)], ids=["gemini-kept", "missing"]
)
def test_reasoning_signature_compatibility(encrypted: str, want: str | None) -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReasoningSignatureCompatibility (Gemini and
    missing encrypted_content)."""
    parts = _parts(_gem(_rs(encrypted, "reasoning summary"), model="gemini-3.5-flash"))
    assert len(parts) == 1
    assert parts[0].get("thoughtSignature") == want and parts[0]["text"] == "reasoning summary"


def test_reasoning_with_gpt_signature_is_left_out() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_ReasoningSignatureCompatibility (GPT
    encrypted_content). Difference: CPA sends the summary as an unsigned Gemini thought; here
    reasoning signed by another family stays with that family, as for every other client
    format (gemini.build: signed reasoning of another family drops), so Gemini never reads
    another model's summary as its own thought."""
    assert not _gem(_rs(_gpt_signature(), "reasoning summary"), model="gemini-3.5-flash").get("contents")


def test_merges_reasoning_with_assistant_visible_answer() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_MergesReasoningWithAssistantVisibleAnswer
    and TestConvertOpenAIResponsesRequestToGemini_PreservesWhitespaceWhenMergingReasoning: an unmarked ``gemini#`` signature signs
    the visible answer after the thought, whose text keeps its whitespace."""
    for text in ("visible answer", "  lead trail  "):
        out = _gem(
            _rs("gemini#" + SIG, "internal reasoning"),
            _said(text),
            _user("continue"),
            model="gemini-3.5-flash",
        )
        assert len(out["contents"]) == 2
        parts = _parts(out)
        assert len(parts) == 2 and parts[0]["thought"] is True and "thoughtSignature" not in parts[0]
        assert parts[1] == {"text": text, "thoughtSignature": SIG}


def test_merges_reasoning_with_user_role_output_text() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_MergesReasoningWithUserRoleOutputText.
    Difference: a message's role decides its Gemini role here (CPA makes ``output_text``
    model content even under role user), so the text stays the user's turn and the
    signature, which had no model part to sign, is not sent; the thought is."""
    msg = {
        "type": "message",
        "role": "user",
        "content": [{"type": "output_text", "text": "visible from user role"}],
    }
    out = _gem(_rs("gemini#" + SIG, "reasoning summary"), msg, model="gemini-3.5-flash")
    assert out["contents"] == [
        {"role": "model", "parts": [{"text": "reasoning summary", "thought": True}]},
        {"role": "user", "parts": [{"text": "visible from user role"}]},
    ]


def test_merges_reasoning_with_assistant_string_content() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_MergesReasoningWithAssistantStringContent."""
    msg = {"type": "message", "role": "assistant", "content": "string visible answer"}
    out = _gem(_rs("gemini#" + SIG, "reasoning summary"), msg, model="gemini-3.5-flash")
    assert _parts(out)[1]["text"] == "string visible answer"


def test_two_turn_custom_tool_roundtrip_with_reasoning() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_TwoTurnCustomToolRoundtripWithReasoning."""
    out = _gem(
        {
            "type": "additional_tools",
            "tools": [
                {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}
            ],
        },
        _user("Run pwd"),
        _rs(SIG, "executing pwd"),
        {
            "type": "custom_tool_call",
            "call_id": "call_1",
            "name": "exec",
            "namespace": "functions",
            "input": "pwd",
        },
        {"type": "custom_tool_call_output", "call_id": "call_1", "output": "/workspace"},
    )
    assert len(out["contents"]) == 3
    model = _parts(out, 1)
    assert len(model) == 2 and model[0]["thought"] is True and model[0]["text"] == "executing pwd"
    assert model[1]["functionCall"]["name"] == "functions__exec" and model[1]["thoughtSignature"] == SIG
    (answer,) = _parts(out, 2)
    assert answer["functionResponse"]["name"] == "functions__exec"
    assert answer["functionResponse"]["response"]["result"] == "/workspace"


ALIAS = "alias-without-provider-name"


@pytest.mark.parametrize("value", [_carrier(SIG, "next", "text"), SIG], ids=["carrier", "legacy-raw"])
def test_alias_model_reads_reasoning_signatures(value: str) -> None:
    """CPA: TestConvertOpenAIResponsesRequestToGemini_DecodesCarrierForAliasModel,
    TestConvertOpenAIResponsesRequestToGemini_DecodesLegacyRawCarrierForAliasModel: a model
    name that names no provider still gets the signature back on its part, unwrapped."""
    text = _gem(_rs(value), _said("answer"), model=ALIAS)
    assert _parts(text) == [{"text": "answer", "thoughtSignature": SIG}]
    assert GEMINI_CARRIER_PREFIX not in str(text)
    if value == SIG:  # a raw signature pairs with a call too (the carrier names text)
        call = _gem(_rs(value), _call("call-1"), model=ALIAS)
        assert _parts(call) == [
            {"functionCall": {"name": "run_command", "args": {}}, "thoughtSignature": SIG}
        ]


def test_spoofed_carrier_metadata_is_ignored() -> None:
    """CPA: TestConvertOpenAIResponsesRequestToGemini_IgnoresSpoofedCarrierMetadata: CPA's
    internal direction and target keys on a client's reasoning item change nothing and never
    reach Gemini."""
    item = {**_rs(SIG), "_cpa_reasoning_direction": "standalone", "_cpa_reasoning_target": "function"}
    out = _gem(item, _said("answer"), model=ALIAS)
    assert _parts(out) == [{"text": "answer", "thoughtSignature": SIG}]
    assert "_cpa_reasoning" not in str(out)


@pytest.mark.parametrize(
    "raw",
    [
        '"_cpa_reasoning_signature":"' + SIG + '","_cpa_reasoning_summary":"spoofed thought"',
        '"_cpa_reason\\u0069ng_signature":"' + SIG + '"',
    ],
    ids=["plain", "unicode-escaped"],
)
def test_spoofed_pairing_fields_on_a_call_are_not_read(raw: str) -> None:
    """CPA: TestConvertOpenAIResponsesRequestToGemini_StripsSpoofedInternalPairingFields,
    TestConvertOpenAIResponsesRequestToGemini_StripsUnicodeEscapedSpoofedInternalFields: a
    signature or thought a client put on a call under CPA's internal keys (spelled plainly or
    with a JSON escape) is neither sent nor turned into a thought: the call alone, unsigned."""
    body = (
        '{"model":"' + ALIAS + '","input":[{"type":"function_call","call_id":"call-1","name":"run",'
        '"arguments":"{}",' + raw + "}]}"
    )
    out = req(RESPONSES, GEMINI, body, ALIAS)
    sanitize_gemini_contents(out.get("contents"))
    parts = _parts(out)
    assert len(parts) == 1 and parts[0]["functionCall"]["name"] == "run"
    assert parts[0]["thoughtSignature"] == SKIP and "thought" not in parts[0]
    assert "spoofed" not in str(out) and "_cpa_reasoning" not in str(out)
