"""Gemini signatures through a Claude client (CPA's ``cpa-gemini-carrier-v1`` carriers):
CPA internal/translator/antigravity/claude/antigravity_claude_response_test.go,
antigravity_claude_request_test.go and signature_validation_test.go, the cases with marked
carriers, run through our hub (Gemini answer -> Claude client -> the client's next turn ->
Gemini request).

Deliberate differences, asserted below:

* a thought followed by a signed call is two thinking blocks for us (the thought, then the
  call's carrier), one for CPA: our stream closes the thought before the call starts. The
  next turn is the same on the Gemini wire (the call signed, no sentinel).
* a signature-only part right after an unsigned thought signs that thought (its own
  signature); CPA marks it ``previous:text`` and its own request filter then drops it.
* unmarked (legacy, raw) Gemini signatures in a Claude thinking block are not read: only
  CPA's marked carriers, which this proxy and CPA hand out, come back as Gemini's.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.translate.carriers import CLAUDE_CARRIER_PREFIX, claude_carrier, read_claude_carrier
from tests.translate.cpa._run import CLAUDE, GEMINI, claude_blocks, events, get, req, resp, sse, stream
from tests.translate.cpa.signature_fixtures import gemini3_signature

MODEL = "gemini-3-flash-preview"
SIG = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34]))  # testGeminiEPrefixSignature


def _other(sig: str, flip: int = 1) -> str:
    """``differentClaudeGeminiSignature``: the last byte's low bit(s) flipped."""
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= flip
    return base64.b64encode(bytes(raw)).decode()


SIG2 = _other(SIG)
SIG3 = _other(SIG, 2)


def carrier(sig: str, anchor: str | None) -> str:
    return claude_carrier(sig, anchor)


def answer(*parts: dict[str, Any], finish: str = "STOP") -> dict[str, Any]:
    return {
        "candidates": [{"content": {"role": "model", "parts": list(parts)}, "finishReason": finish}],
        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2, "totalTokenCount": 12},
        "modelVersion": MODEL,
        "responseId": "resp-1",
    }


def chunks(*parts: dict[str, Any]) -> bytes:
    """One SSE chunk per part, the last with the finish reason."""
    payloads = []
    for i, p in enumerate(parts):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [p]}}
        if i == len(parts) - 1:
            cand["finishReason"] = "STOP"
        payloads.append({"candidates": [cand], "modelVersion": MODEL, "responseId": "resp-1"})
    return sse(*payloads, events=False)


CLIENT = {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
TOOLS = [
    {"name": "run_command", "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}
]


def claude_whole(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = resp(GEMINI, CLAUDE, answer(*parts), {**CLIENT, "tools": TOOLS}, MODEL)[
        "content"
    ]
    return out


def claude_stream(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(GEMINI, CLAUDE, chunks(*parts), {**CLIENT, "tools": TOOLS}, MODEL))


def replay(content: list[dict[str, Any]], *after: dict[str, Any]) -> list[dict[str, Any]]:
    """The Gemini parts of the model turn when a Claude client sends ``content`` back."""
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": content},
    ]
    messages += after or ({"role": "user", "content": "continue"},)
    body = req(
        CLAUDE, GEMINI, {"model": MODEL, "max_tokens": 64, "messages": messages, "tools": TOOLS}, MODEL
    )
    model = [c for c in body["contents"] if c["role"] == "model"]
    assert len(model) <= 1, body["contents"]
    parts: list[dict[str, Any]] = model[0]["parts"] if model else []  # an emptied turn goes
    assert CLAUDE_CARRIER_PREFIX not in str(body)
    return parts


# ---------------------------------------------------------------------- the carrier itself


def test_carrier_round_trip() -> None:
    """TestGeminiClaudeCarrierSignatureRoundTrip."""
    value = carrier(SIG, "next:function")
    assert value.startswith("cpa-gemini-carrier-v1:next:function:")
    assert read_claude_carrier(value) == (SIG, "next", "function")
    assert read_claude_carrier(carrier(SIG, None)) == (SIG, "standalone", "text")


@pytest.mark.parametrize(
    "value",
    [
        "cpa-gemini-carrier-v1:previous:text:invalid",
        "cpa-gemini-carrier-v1:sideways:text:" + base64.b64encode(SIG.encode()).decode(),
        "cpa-gemini-carrier-v1:next:image:" + base64.b64encode(SIG.encode()).decode(),
        "cpa-gemini-carrier-v1:next:text",
        carrier("skip_thought_signature_validator", "next:function"),
        carrier("not a gemini signature at all", "next:text"),
        carrier(carrier(SIG, "next:text"), "next:text"),
    ],
    ids=["bad-base64", "direction", "kind", "short", "bypass", "foreign", "nested"],
)
def test_invalid_carriers_are_not_read(value: str) -> None:
    assert read_claude_carrier(value) is None


# ---------------------------------------------------------------------- Gemini -> Claude client


def test_visible_signature_uses_leading_carrier_stream() -> None:
    """TestConvertAntigravityResponseToClaude_VisibleGeminiSignatureUsesLeadingCarrier."""
    blocks = claude_blocks(claude_stream({"text": "visible answer", "thoughtSignature": SIG}))
    assert blocks == [
        {"type": "thinking", "thinking": "", "signature": carrier(SIG, "next:text")},
        {"type": "text", "text": "visible answer"},
    ]


def test_detached_signature_after_visible_text() -> None:
    """TestConvertAntigravityResponseToClaude_DetachedGeminiSignatureAfterVisibleText and
    TestConvertAntigravityResponseToClaudeNonStream_DetachedGeminiSignatureAfterVisibleText."""
    parts = ({"text": "visible answer"}, {"text": "", "thoughtSignature": SIG})
    want = [
        {"type": "text", "text": "visible answer"},
        {"type": "thinking", "thinking": "", "signature": carrier(SIG, "previous:text")},
    ]
    assert claude_blocks(claude_stream(*parts)) == want
    assert claude_whole(*parts) == want
    stops = [e for e in claude_stream(*parts) if e["type"] == "content_block_stop"]
    assert len(stops) == 2


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])
def test_tool_signature_carrier_precedes_tool_use(whole: bool) -> None:
    """TestConvertAntigravityResponseToClaude_GeminiToolSignature: the call's signature rides
    in an empty thinking block right before its tool_use, and comes back onto the call."""
    part = {
        "thoughtSignature": SIG,
        "functionCall": {"id": "native-id", "name": "run_command", "args": {"command": "true"}},
    }
    blocks = claude_whole(part) if whole else claude_blocks(claude_stream(part))
    assert [b["type"] for b in blocks] == ["thinking", "tool_use"]
    assert blocks[0]["thinking"] == "" and blocks[0]["signature"] == carrier(SIG, "next:function")
    tool = blocks[1]
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": tool["id"], "content": "ok"}],
    }
    parts = replay([blocks[0], tool], result)
    assert parts == [
        {"functionCall": {"name": "run_command", "args": {"command": "true"}}, "thoughtSignature": SIG}
    ]


def test_thought_then_signed_function() -> None:
    """TestConvertAntigravityResponseToClaude_ThoughtThenSignedFunctionUsesOneThinkingBlock and
    TestConvertAntigravityResponseToClaudeNonStream_ThoughtBeforeSignedToolRoundTrips, with our
    difference: the thought and the call's carrier are two blocks (the unsigned thought is not
    sent again); the next turn signs the call as CPA's does."""
    thought = {"text": "hidden thought", "thought": True}
    call = {"thoughtSignature": SIG, "functionCall": {"name": "run_command", "args": {"command": "true"}}}
    blocks = claude_blocks(claude_stream(thought, call))
    assert [b["type"] for b in blocks] == ["thinking", "thinking", "tool_use"]
    assert blocks[0] == {"type": "thinking", "thinking": "hidden thought", "signature": ""}
    assert blocks[1]["signature"] == carrier(SIG, "next:function")
    whole = claude_whole(thought, call)
    assert [b.get("signature") for b in whole[:2]] == ["", carrier(SIG, "next:function")]
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": whole[2]["id"], "content": "ok"}],
    }
    parts = replay(whole, result)
    assert parts[-1]["thoughtSignature"] == SIG and "functionCall" in parts[-1]
    assert "skip_thought_signature_validator" not in str(parts)


@pytest.mark.parametrize("whole", [True, False], ids=["whole", "stream"])
def test_text_with_thought_signature_stays_text(whole: bool) -> None:
    """TestConvertAntigravityResponseToClaudeNonStream_TextWithThoughtSignatureStaysText and
    TestConvertAntigravityResponseToClaudeStream_TextWithThoughtSignatureStaysText:
    the thought is signed with the next text's carrier; the answer stays text."""
    parts = (
        {"text": "I need to multiply 17 by 24.", "thought": True},
        {"text": "408", "thoughtSignature": SIG},
    )
    blocks = claude_whole(*parts) if whole else claude_blocks(claude_stream(*parts))
    assert blocks == [
        {
            "type": "thinking",
            "thinking": "I need to multiply 17 by 24.",
            "signature": carrier(SIG, "next:text"),
        },
        {"type": "text", "text": "408"},
    ]
    assert replay(blocks) == [
        {"text": "I need to multiply 17 by 24.", "thought": True},
        {"text": "408", "thoughtSignature": SIG},
    ]


@pytest.mark.parametrize(
    ("parts", "carrier_at", "anchor", "signed"),
    [
        ([{"text": "A", "thoughtSignature": SIG}, {"text": "B"}], 0, "next:text", 0),
        ([{"text": "A"}, {"text": "", "thoughtSignature": SIG}, {"text": "B"}], 1, "previous:text", 0),
        ([{"text": "A"}, {"text": "B", "thoughtSignature": SIG}], 1, "next:text", 1),
    ],
    ids=["signed-first", "trailing-carrier-before-next", "signed-second"],
)
def test_directional_text_carriers_round_trip(
    parts: list[dict[str, Any]], carrier_at: int, anchor: str, signed: int
) -> None:
    """TestConvertAntigravityResponseToClaude_DirectionalTextCarriersRoundTrip; the replay half is
    TestConvertClaudeRequestToAntigravity_ReattachesDetachedGeminiSignature (trailing carrier) and
    TestConvertClaudeRequestToAntigravity_ReattachesLeadingDetachedGeminiSignature (leading one),
    with our marked carriers (a raw Gemini signature is not read: test_unmarked_gemini_signature_is_not_read)."""
    whole = claude_whole(*parts)
    assert len(whole) == 3
    assert whole[carrier_at] == {"type": "thinking", "thinking": "", "signature": carrier(SIG, anchor)}
    gemini = replay(whole)
    assert [p["text"] for p in gemini] == ["A", "B"]
    assert [p.get("thoughtSignature") for p in gemini] == [SIG if i == signed else None for i in range(2)]
    blocks = claude_blocks(claude_stream(*parts))
    assert [b["type"] for b in blocks].count("text") == 2
    assert blocks[carrier_at]["signature"] == carrier(SIG, anchor)


def test_leading_carrier_targets_following_thought() -> None:
    """TestConvertAntigravityResponseToClaude_LeadingCarrierTargetsFollowingThought."""
    whole = claude_whole({"text": "", "thoughtSignature": SIG}, {"text": "reason", "thought": True})
    assert [(b["thinking"], b["signature"]) for b in whole] == [
        ("", carrier(SIG, "next:any")),
        ("reason", ""),
    ]
    assert replay(whole) == [{"text": "reason", "thought": True, "thoughtSignature": SIG}]


def test_trailing_function_carrier_round_trip() -> None:
    """TestConvertAntigravityResponseToClaude_TrailingFunctionCarrierRoundTrip: no sentinel
    once the carrier is back on the call."""
    call = {"functionCall": {"id": "native-call-1", "name": "run_command", "args": {"command": "true"}}}
    whole = claude_whole(call, {"text": "", "thoughtSignature": SIG})
    assert [b["type"] for b in whole] == ["tool_use", "thinking"]
    assert whole[1]["signature"] == carrier(SIG, "previous:function")
    result = {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": whole[0]["id"], "content": "ok"}],
    }
    parts = replay(whole, result)
    assert parts == [
        {"functionCall": {"name": "run_command", "args": {"command": "true"}}, "thoughtSignature": SIG}
    ]


def test_signed_thought_keeps_its_own_and_later_signature_gets_a_block() -> None:
    """TestConvertAntigravityResponseToClaudeNonStream_PreservesDistinctThoughtAndTextSignatures and
    TestConvertAntigravityResponseToClaudeStream_PreservesDistinctThoughtAndTextSignatures
    (their shape): a signed thought, then signed visible text: two signatures, each back on
    its own part."""
    parts = (
        {"text": "reason", "thought": True, "thoughtSignature": SIG},
        {"text": "answer", "thoughtSignature": SIG2},
    )
    for blocks in (claude_whole(*parts), claude_blocks(claude_stream(*parts))):
        assert blocks == [
            {"type": "thinking", "thinking": "reason", "signature": carrier(SIG, None)},
            {"type": "thinking", "thinking": "", "signature": carrier(SIG2, "next:text")},
            {"type": "text", "text": "answer"},
        ]
        assert replay(blocks) == [
            {"text": "reason", "thought": True, "thoughtSignature": SIG},
            {"text": "answer", "thoughtSignature": SIG2},
        ]


@pytest.mark.parametrize(
    ("parts", "want"),
    [
        pytest.param(
            ({"text": "hidden", "thought": True, "thoughtSignature": SIG}, {"text": "visible"}),
            [{"text": "hidden", "thought": True, "thoughtSignature": SIG}, {"text": "visible"}],
            id="signed thought, unsigned text",
        ),
        pytest.param(
            ({"text": "A", "thoughtSignature": SIG}, {"text": "", "thoughtSignature": SIG2}, {"text": "B"}),
            [{"text": "A", "thoughtSignature": SIG}, {"text": "", "thoughtSignature": SIG2}, {"text": "B"}],
            id="carrier between texts",
        ),
        pytest.param(
            (
                {"text": "visible"},
                {"text": "", "thoughtSignature": SIG},
                {"text": "", "thoughtSignature": SIG2},
            ),
            [{"text": "visible", "thoughtSignature": SIG}, {"text": "", "thoughtSignature": SIG2}],
            id="consecutive trailing carriers",
        ),
    ],
)
def test_signatures_go_back_where_they_came(
    parts: tuple[dict[str, Any], ...], want: list[dict[str, Any]]
) -> None:
    """TestConvertAntigravityResponseToClaudeNonStream_SignedThoughtBeforeUnsignedTextKeepsTarget,
    TestConvertAntigravityResponseToClaudeNonStream_PreviousCarrierDoesNotCrossFollowingText and
    TestConvertAntigravityResponseToClaude_PreservesConsecutiveDetachedCarriers: the next turn
    sends each signature on the part it came on (whole and streamed answers alike)."""
    whole = claude_whole(*parts)
    assert claude_blocks(claude_stream(*parts)) == whole
    assert replay(whole) == want


def test_a_call_keeps_geminis_own_id() -> None:
    """TestConvertAntigravityResponseToClaudeUsesStableGeminiToolProvenanceID, with our
    difference: the tool_use id is Gemini's own call id (no ``cpa_gemini_`` provenance ids),
    the same whole and streamed."""
    call = {"thoughtSignature": "sig-native", "functionCall": {"id": "native-call-1", "name": "run_command"}}
    call["functionCall"]["args"] = {"command": "x"}
    ids = [b["id"] for b in claude_whole(call) if b["type"] == "tool_use"]
    assert (
        ids
        == [b["id"] for b in claude_blocks(claude_stream(call)) if b["type"] == "tool_use"]
        == ["native-call-1"]
    )


def test_signature_only_part_after_thought_signs_it() -> None:
    """Our difference from CPA: the thought gets it as its own (``standalone``), so it
    comes back on the thought; CPA's ``previous:text`` on a thought is dropped by its filter."""
    parts = ({"text": "Full thinking text.", "thought": True}, {"text": "", "thoughtSignature": SIG})
    want = [{"type": "thinking", "thinking": "Full thinking text.", "signature": carrier(SIG, None)}]
    assert claude_whole(*parts) == want
    assert claude_blocks(claude_stream(*parts)) == want
    assert replay(want) == [{"text": "Full thinking text.", "thought": True, "thoughtSignature": SIG}]


# ---------------------------------------------------------------------- Claude client -> Gemini


def thinking(text: str, sig: str, anchor: str | None = None, marked: bool = True) -> dict[str, Any]:
    return {"type": "thinking", "thinking": text, "signature": carrier(sig, anchor) if marked else sig}


def tool_use(call_id: str, command: str = "true") -> dict[str, Any]:
    return {"type": "tool_use", "id": call_id, "name": "run_command", "input": {"command": command}}


def fc(command: str = "true") -> dict[str, Any]:
    return {"functionCall": {"name": "run_command", "args": {"command": command}}}


def test_thinking_signature_targets_following_text() -> None:
    """TestConvertClaudeRequestToAntigravity_GeminiThinkingSignatureTargetsFollowingText (marked)."""
    parts = replay([thinking("hidden thought", SIG, "next:text"), {"type": "text", "text": "visible answer"}])
    assert parts == [
        {"text": "hidden thought", "thought": True},
        {"text": "visible answer", "thoughtSignature": SIG},
    ]


def test_thinking_signature_targets_following_tool() -> None:
    """TestConvertClaudeRequestToAntigravity_GeminiThinkingSignatureTargetsFollowingTool (marked)."""
    parts = replay([thinking("hidden thought", SIG, "next:function"), tool_use("claude-id")])
    assert parts == [{"text": "hidden thought", "thought": True}, {**fc(), "thoughtSignature": SIG}]


def test_native_parallel_tool_leaves_unsigned_sibling() -> None:
    """TestConvertClaudeRequestToAntigravity_NativeParallelToolLeavesUnsignedSibling."""
    parts = replay([thinking("", SIG, "next:function"), tool_use("call-1", "a"), tool_use("call-2", "b")])
    assert parts == [{**fc("a"), "thoughtSignature": SIG}, fc("b")]


def test_carrier_signs_the_call_not_the_text_before_it() -> None:
    """TestConvertClaudeRequestToAntigravity_PreservesGeminiToolSignature and
    TestConvertClaudeRequestToAntigravity_DetachedToolCarrierTargetsFollowingTool (marked): a call
    carrier signs the call after it, never the text before it."""
    assert replay([thinking("", SIG, "next:function"), tool_use("claude-id")]) == [
        {**fc(), "thoughtSignature": SIG}
    ]
    preface = {"type": "text", "text": "preface"}
    parts = replay([preface, thinking("", SIG, "next:function"), tool_use("claude-id")])
    assert parts == [{"text": "preface"}, {**fc(), "thoughtSignature": SIG}]


def test_synthetic_parallel_tool_only_first_gets_sentinel() -> None:
    """TestConvertClaudeRequestToAntigravity_SyntheticParallelToolOnlyFirstGetsSentinel."""
    parts = replay([tool_use("call-1", "a"), tool_use("call-2", "b")])
    assert parts == [{**fc("a"), "thoughtSignature": "skip_thought_signature_validator"}, fc("b")]


def test_consecutive_trailing_carriers() -> None:
    """TestConvertClaudeRequestToAntigravity_DistributesConsecutiveTrailingGeminiCarriers
    (marked): the first signs the nearest text, the second (that text signed already) keeps
    a part of its own; neither reaches past the nearest text."""
    content = [
        {"type": "text", "text": "first"},
        {"type": "text", "text": "second"},
        thinking("", SIG, "previous:text"),
        thinking("", SIG2, "previous:text"),
    ]
    assert replay(content) == [
        {"text": "first"},
        {"text": "second", "thoughtSignature": SIG},
        {"text": "", "thoughtSignature": SIG2},
    ]


def test_consecutive_leading_carriers() -> None:
    """TestConvertClaudeRequestToAntigravity_PreservesConsecutiveLeadingGeminiCarriers and
    TestConvertClaudeRequestToAntigravity_PreservesConsecutiveLeadingGeminiCarriersBeforeText
    (marked): the nearer one signs the part; the other keeps a part of its own."""
    lead = [thinking("", SIG, "next:any"), thinking("", SIG2, "next:any")]
    assert replay([*lead, tool_use("tool-1")]) == [
        {"text": "", "thoughtSignature": SIG},
        {**fc(), "thoughtSignature": SIG2},
    ]
    text = {"type": "text", "text": "visible"}
    assert replay([*lead, text]) == [
        {"text": "", "thoughtSignature": SIG},
        {"text": "visible", "thoughtSignature": SIG2},
    ]


def test_trailing_carrier_after_signed_tool() -> None:
    """TestConvertClaudeRequestToAntigravity_PreservesTrailingCarrierAfterSignedTool (marked)."""
    content = [
        thinking("", SIG, "next:function"),
        tool_use("tool-1"),
        thinking("", SIG2, "previous:function"),
    ]
    assert replay(content) == [{**fc(), "thoughtSignature": SIG}, {"text": "", "thoughtSignature": SIG2}]


def test_carrier_between_parallel_tools() -> None:
    """TestConvertClaudeRequestToAntigravity_PreservesCarrierBetweenDirectlySignedParallelTools
    (each call signed by its own carrier)."""
    content = [
        thinking("", SIG, "next:function"),
        tool_use("tool-1", "one"),
        thinking("", SIG2, "next:function"),
        tool_use("tool-2", "two"),
    ]
    assert replay(content) == [
        {**fc("one"), "thoughtSignature": SIG},
        {**fc("two"), "thoughtSignature": SIG2},
    ]


def test_leading_carrier_does_not_cross_signed_thinking() -> None:
    """TestConvertClaudeRequestToAntigravity_LeadingCarrierDoesNotCrossSignedThinking: the
    signed thought keeps its own; the leading one keeps a part of its own (before the
    thought here; Antigravity's part order puts thoughts first, as CPA's output has it)."""
    content = [thinking("", SIG, "next:any"), thinking("reason", SIG2), {"type": "text", "text": "answer"}]
    assert replay(content) == [
        {"text": "", "thoughtSignature": SIG},
        {"text": "reason", "thought": True, "thoughtSignature": SIG2},
        {"text": "answer"},
    ]


@pytest.mark.parametrize(
    "content",
    [
        [thinking("hidden", SIG, "next:function"), {"type": "text", "text": "visible"}],
        [thinking("hidden", SIG, "standalone:function")],
        [thinking("hidden", SIG, "previous:text"), {"type": "text", "text": "visible"}],
        [thinking("", SIG, "next:text"), tool_use("tool-1")],
        [{"type": "text", "text": "visible"}, thinking("", SIG, "previous:function")],
        [thinking("", SIG, "next:text")],
    ],
    ids=[
        "next-function-before-text",
        "standalone-function",
        "previous-with-text",
        "text-before-call",
        "function-after-text",
        "nothing-next",
    ],
)
def test_mismatched_marked_carriers_are_dropped(content: list[dict[str, Any]]) -> None:
    """TestConvertClaudeRequestToAntigravity_DropsMismatchedMarkedNonEmptyCarrier and
    TestStripInvalidGeminiSignatureThinkingBlocksDropsMismatchedDirectionalThinking."""
    parts = replay(content)
    assert SIG not in str(parts)


def test_carriers_in_a_user_message_are_dropped() -> None:
    """TestConvertClaudeRequestToAntigravity_DropsLegacyRawCarrierFromUserMessage, for marked
    and raw values alike: only the model's turns carry its signatures."""
    for value in (carrier(SIG, "next:text"), SIG):
        body = {
            "model": MODEL,
            "max_tokens": 64,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "thinking", "thinking": "", "signature": value},
                        {"type": "text", "text": "user text"},
                    ],
                }
            ],
        }
        out = req(CLAUDE, GEMINI, body, MODEL)
        assert out["contents"] == [{"role": "user", "parts": [{"text": "user text"}]}]


def test_unmarked_gemini_signature_is_not_read() -> None:
    """Our difference: a raw Gemini signature in a Claude thinking block (CPA's legacy
    carrier) is not taken as Gemini's; the call falls back to the sentinel. So
    TestConvertClaudeRequestToAntigravity_PreservesCarrierOnlyAssistantMessage (raw signatures in an
    assistant turn of carriers alone) does not hold here; marked ``next`` carriers with nothing
    after them are dropped, as CPA's own geminiClaudeCarrierMatchesAdjacent drops them."""
    parts = replay([thinking("", SIG, marked=False), tool_use("tool-1")])
    assert parts == [{**fc(), "thoughtSignature": "skip_thought_signature_validator"}]


def test_carrier_never_reaches_claude() -> None:
    """A Claude client that moves to a Claude model keeps its history: the carrier is not a
    Claude signature, so the block is left out (CPA's Claude sanitizer)."""
    body = {
        "model": "claude-sonnet-4-6",
        "max_tokens": 64,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [thinking("", SIG, "next:text"), {"type": "text", "text": "answer"}],
            },
            {"role": "user", "content": "more"},
        ],
    }
    out = req(CLAUDE, GEMINI, body, MODEL)  # sanity: Gemini takes it
    assert get(out, "contents.1.parts.0.thoughtSignature") == SIG
    from tests.translate.cpa._run import OPENAI

    chat = req(CLAUDE, OPENAI, body, "gpt-5")
    assert CLAUDE_CARRIER_PREFIX not in str(chat) and SIG not in str(chat)


# ---------------------------------------------------------------------- Responses clients too


def test_responses_carrier_keeps_the_direction() -> None:
    """The same anchors ride in a Responses client's Gemini carrier
    (``cpa-gemini-responses-carrier-v1:<direction>:<kind>:``, CPA's signature_carrier.go):
    a signature that came on visible text goes back onto that text, not onto a thought."""
    from tests.translate.cpa._run import RESPONSES

    request = {"model": MODEL, "input": "hi"}
    out = resp(
        GEMINI, RESPONSES, answer({"text": "A"}, {"text": "B", "thoughtSignature": SIG}), request, MODEL
    )
    kinds = [item["type"] for item in out["output"]]
    assert kinds == ["message", "reasoning", "message"], kinds
    assert out["output"][1]["encrypted_content"].startswith("cpa-gemini-responses-carrier-v1:next:text:")
    user = [{"role": "user", "content": "hi"}], [{"role": "user", "content": "more"}]
    body = req(RESPONSES, GEMINI, {"model": MODEL, "input": [*user[0], *out["output"], *user[1]]}, MODEL)
    model = [c for c in body["contents"] if c["role"] == "model"]
    assert model[0]["parts"] == [{"text": "A"}, {"text": "B", "thoughtSignature": SIG}]


def test_only_valid_marked_carriers_survive() -> None:
    """CPA: TestStripInvalidGeminiSignatureThinkingBlocks: of a raw signature, a valid
    ``previous:text`` carrier, a marked carrier with a broken payload and a bare ``invalid``
    signature, the valid carrier signs the text before it and the broken ones go. A
    difference (see test_unmarked_gemini_signature_is_not_read): the raw one is not read."""
    content = [
        {"type": "text", "text": "first"},
        thinking("", SIG, marked=False),
        thinking("", SIG, "previous:text"),
        {"type": "thinking", "thinking": "", "signature": CLAUDE_CARRIER_PREFIX + "previous:text:invalid"},
        {"type": "thinking", "thinking": "", "signature": "invalid"},
        {"type": "text", "text": "last"},
    ]
    assert replay(content) == [{"text": "first", "thoughtSignature": SIG}, {"text": "last"}]


def test_marked_non_empty_thinking_keeps_its_carriers() -> None:
    """CPA: TestStripInvalidGeminiSignatureThinkingBlocksPreservesMarkedNonEmptyThinking: a
    ``standalone`` thought keeps its signature, a ``next:function`` thought signs the call
    after it, and a ``previous:text`` thought after a call (no text before it) goes."""
    content = [
        thinking("signed thought", SIG, "standalone:text"),
        thinking("tool preface", SIG, "next:function"),
        tool_use("tool-1"),
        thinking("invalid backward", SIG, "previous:text"),
    ]
    parts = replay(content)
    assert parts[0] == {"text": "signed thought", "thought": True, "thoughtSignature": SIG}
    assert parts[-1] == {**fc(), "thoughtSignature": SIG}
    assert "invalid backward" not in str(parts)


def test_user_turn_carriers_go_and_the_assistants_stay() -> None:
    """CPA: TestStripInvalidGeminiSignatureThinkingBlocksDropsLegacyRawCarrierFromUserMessage,
    with a marked carrier (a raw one is not read, see above): the user's goes, the
    assistant's signs its text."""
    body = {
        "model": MODEL,
        "max_tokens": 64,
        "messages": [
            {
                "role": "user",
                "content": [thinking("", SIG, "next:text"), {"type": "text", "text": "user text"}],
            },
            {
                "role": "assistant",
                "content": [thinking("", SIG, "next:text"), {"type": "text", "text": "assistant text"}],
            },
            {"role": "user", "content": "continue"},
        ],
    }
    out = req(CLAUDE, GEMINI, body, MODEL)["contents"]
    assert out[0] == {"role": "user", "parts": [{"text": "user text"}]}
    assert out[1]["parts"] == [{"text": "assistant text", "thoughtSignature": SIG}]
