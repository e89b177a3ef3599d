"""CPA's Antigravity Claude signature modes (internal/cache/signature_cache.go,
translator/antigravity/claude/antigravity_claude_request_test.go and
antigravity_claude_response.go, runtime/executor/antigravity_executor_signature_test.go):
a Claude client's thinking for a Claude model behind Antigravity, in cache mode and in
bypass mode (basic or strict), through ``translate.antigravity_claude``."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.translate.antigravity_claude import AntigravityClaudeSignatures
from cliproxy.translate.envelopes import MAX_SIGNATURE_LEN, SignatureError, inspect_claude, normalize_claude
from cliproxy.translate.registry import default_registry
from cliproxy.translate.replay import SignatureCache
from cliproxy.translate.signatures import without_prefix
from tests.translate.cpa._run import CLAUDE, GEMINI, get, ir_of
from tests.translate.cpa.signature_fixtures import (
    b64,
    cais_signature,
    claude_signature,
    claude_signature_opaque,
    field_bytes,
    field_varint,
    gemini_envelope,
    gpt_signature,
)

MODEL = "claude-sonnet-4-5-thinking"
TEXT = "Let me think..."
LONG = claude_signature_opaque(41)  # long enough for the cache (50 characters)


def signer(
    cache_mode: bool, strict: bool = False, cache: SignatureCache | None = None
) -> AntigravityClaudeSignatures:
    return AntigravityClaudeSignatures(
        cache if cache is not None else SignatureCache(), MODEL, cache_mode, strict
    )


def upstream(s: AntigravityClaudeSignatures, thinking: str, signature: str) -> list[dict[str, Any]]:
    """The model turn's parts sent to Antigravity for one assistant turn."""
    body = {
        "model": MODEL,
        "max_tokens": 100,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": thinking, "signature": signature},
                    {"type": "text", "text": "Answer"},
                ],
            },
            {"role": "user", "content": "more"},
        ],
    }
    req = s.prepare(ir_of(CLAUDE, body))
    out = default_registry().adapter(GEMINI).build_request(req)
    return get(out, "contents.1.parts")


def r_form(single: str) -> str:
    return b64(single.encode())


def test_cache_mode_signs_from_the_cache() -> None:
    """TestConvertClaudeRequestToAntigravity_ThinkingBlocks: a cached signature for the
    thinking text is sent, in Antigravity's double-layer form."""
    cache = SignatureCache()
    native = LONG
    cache.put(MODEL, TEXT, native)
    parts = upstream(signer(True, cache=cache), TEXT, "")
    assert parts[0] == {"text": TEXT, "thought": True, "thoughtSignature": r_form(native)}


def test_cache_mode_drops_raw_signature() -> None:
    """TestConvertClaudeRequestToAntigravity_CacheModeDropsRawSignature."""
    assert upstream(signer(True), TEXT, claude_signature()) == [{"text": "Answer"}]


def test_cache_mode_takes_its_own_prefixed_value() -> None:
    """resolveCacheModeSignatureRequired: a ``claude#`` value the proxy handed out is used."""
    sig = r_form(LONG)
    assert upstream(signer(True), TEXT, "claude#" + sig)[0]["thoughtSignature"] == sig
    assert upstream(signer(True), TEXT, "gemini#" + sig) == [{"text": "Answer"}]


def test_bypass_mode_normalizes_e_signature_and_ignores_the_cache() -> None:
    """TestConvertClaudeRequestToAntigravity_BypassModeNormalizesESignature."""
    cache = SignatureCache()
    cache.put(MODEL, TEXT, r_form(LONG))
    raw = claude_signature()
    parts = upstream(signer(False, cache=cache), TEXT, raw)
    assert parts[0]["thoughtSignature"] == r_form(raw)


def test_bypass_mode_preserves_short_valid_signature() -> None:
    """TestConvertClaudeRequestToAntigravity_BypassModePreservesShortValidSignature."""
    raw = claude_signature()
    parts = upstream(signer(False), "tiny", raw)
    assert len(parts) == 2 and parts[0]["thought"] is True
    assert parts[0]["thoughtSignature"] == r_form(raw)
    assert parts[1] == {"text": "Answer"}


def test_resolve_bypass_trims_whitespace() -> None:
    """TestResolveBypassModeSignature_TrimsWhitespace."""
    s = signer(False)
    assert s.resolve(TEXT, claude_signature() + "  ") == s.resolve(TEXT, claude_signature())


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(b64(b"\x0a" + b"\x56" * 48), id="gemini payload"),
        pytest.param(gemini_envelope(), id="gemini E prefix"),
        pytest.param(gpt_signature(), id="gpt"),
        pytest.param(cais_signature("claude-opus-5"), id="CAIS"),
        pytest.param("not-a-signature", id="garbage"),
    ],
)
def test_bypass_mode_drops_foreign_signatures(signature: str) -> None:
    """TestConvertClaudeRequestToAntigravity_BypassModeDropsInvalidSignature /
    TestConvertClaudeRequestToAntigravity_BypassModeDropsGeminiSignature /
    TestConvertClaudeRequestToAntigravity_BypassModeDropsGeminiEPrefixSignature (CAIS: CPA's
    CompatibleAntigravityClaudeThinkingSignature refuses it too) and the drop of
    TestConvertClaudeRequestToAntigravity_LogsDroppedInvalidThinkingSignature (we write no debug
    line for it, so the signature cannot leak into one)."""
    assert upstream(signer(False), "hmm", signature) == [{"text": "Answer"}]


def test_bypass_mode_drops_empty_thinking() -> None:
    """TestConvertClaudeRequestToAntigravity_BypassMode_DropsRedactedThinkingBlocks."""
    assert upstream(signer(False), "", claude_signature()) == [{"text": "Answer"}]


def test_strict_bypass_needs_the_claude_tree() -> None:
    """TestAntigravityExecutor_StrictBypassStripsInvalidSignature and
    TestValidateBypassMode_NonStrictAccepts12WithoutClaudeTree."""
    bare = base64.b64encode(b"\x12" + b"\x01" * 60).decode()
    assert upstream(signer(False), TEXT, bare)[0]["thoughtSignature"] == r_form(bare)
    assert upstream(signer(False, strict=True), TEXT, bare) == [{"text": "Answer"}]
    assert upstream(signer(False, strict=True), TEXT, claude_signature())[0]["thought"] is True


def test_to_client_in_each_mode() -> None:
    """formatClaudeSignatureValue: cache mode hands out ``claude#<signature>`` and caches
    it under the text; bypass mode hands out the single-layer form and caches nothing."""
    single = LONG
    cache = SignatureCache()
    assert signer(True, cache=cache).to_client(TEXT, r_form(single)) == "claude#" + r_form(single)
    assert cache.get(MODEL, TEXT) == r_form(single)
    cache = SignatureCache()
    assert signer(False, cache=cache).to_client(TEXT, r_form(single)) == single
    assert len(cache) == 0
    assert signer(False).to_client(TEXT, gemini_envelope()) is None


@pytest.mark.parametrize("thought_flag", [False, True], ids=["without thought flag", "thought flag"])
def test_nonstream_signature_only_part_signs_the_thinking_before_it(thought_flag: bool) -> None:
    """TestConvertAntigravityResponseToClaudeNonStream_SignatureOnlyPartWithoutThoughtFlag: a
    whole answer whose signature comes in a part of its own after the thought
    (``{"text": "", "thoughtSignature": ...}``) is one signed thinking block (the signature
    was lost, and the next turn's thinking with it)."""
    s = signer(False)
    req = s.prepare(
        ir_of(CLAUDE, {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]})
    )
    carrier: dict[str, Any] = {"text": "", "thoughtSignature": r_form(LONG)}
    if thought_flag:
        carrier["thought"] = True
    body = {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [{"text": "Full thinking text.", "thought": True}, carrier],
                },
                "finishReason": "STOP",
            }
        ],
        "usageMetadata": {"promptTokenCount": 10, "thoughtsTokenCount": 2, "totalTokenCount": 12},
        "modelVersion": MODEL,
        "responseId": "resp-test",
    }
    out = default_registry().translate_response(GEMINI, CLAUDE, body, req, MODEL)
    assert out["content"] == [{"type": "thinking", "thinking": "Full thinking text.", "signature": LONG}]


# ---------------------------------------------------------------------- bypass-mode checks (CPA's
# ValidateClaudeBypassSignatures, a check only its tests call: here the decision it stands for,
# whether bypass mode sends the block, with the reason our check gives)


def claude_payload(channel: int, field2: int | None, model_text: str, field7: bool) -> bytes:
    """CPA's ``buildClaudeSignaturePayload``."""
    block = field_varint(1, channel)
    if field2 is not None:
        block += field_varint(2, field2)
    if model_text:
        block += field_bytes(6, model_text.encode())
    if field7:
        block += field_varint(7, 0)
    container = field_bytes(1, block) + field_bytes(2, b"\x11" * 12) + field_bytes(3, b"\x22" * 12)
    container += field_bytes(4, b"\x33" * 48)
    return field_bytes(2, container) + field_varint(3, 1)


NATIVE = b64(claude_payload(12, 2, "claude-sonnet-4-6", True))  # testAnthropicNativeSignature


@pytest.mark.parametrize(
    "signature",
    [
        pytest.param(NATIVE, id="single layer"),
        pytest.param("claude#" + b64(NATIVE.encode()), id="prefixed double layer"),
        pytest.param(" " + NATIVE, id="leading space"),
        pytest.param(NATIVE + " ", id="trailing space"),
        pytest.param(" " + NATIVE + " ", id="both spaces"),
        pytest.param("\t" + NATIVE, id="leading tab"),
    ],
)
def test_bypass_accepts_claude_signatures(signature: str) -> None:
    """TestValidateBypassMode_AcceptsClaudeSingleAndDoubleLayer and
    TestValidateBypassMode_HandlesWhitespace: sent in the double-layer form, in both checks."""
    for strict in (False, True):
        assert signer(False, strict=strict).resolve("t", signature) == b64(NATIVE.encode())


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        pytest.param(b64(b"\x0a" + b"\x56" * 48), "'E' or 'R' prefix", id="gemini"),  # RejectsGeminiSignature
        pytest.param(b64(b"\x34" * 48), "'E' or 'R' prefix", id="not R or E"),  # RejectsNonREPrefix
        pytest.param(b64(b"\x10" + b"\x34" * 48), "0x10", id="E wrong first byte"),
        pytest.param(b64(("F" + "a" * 60).encode()), "inner does not start with 'E'", id="R inner not E"),
        pytest.param("E!!!invalid!!!", "base64", id="E invalid base64"),
        pytest.param("R$$$invalid$$$", "base64", id="R invalid base64"),
        pytest.param("claude#", "empty", id="prefix only"),
        pytest.param("claude#   ", "empty", id="prefix with spaces"),
        pytest.param("#", "empty", id="hash only"),
        pytest.param("claude#" + NATIVE + "#extra", "prefix", id="two hash marks"),
    ],
)
def test_bypass_rejects_what_is_not_a_claude_signature(signature: str, reason: str) -> None:
    """TestValidateBypassMode_RejectsGeminiSignature, TestValidateBypassMode_RejectsNonREPrefix,
    TestValidateBypassMode_RejectsEPrefixWrongFirstByte, TestValidateBypassMode_RejectsRPrefixInnerNotE,
    TestValidateBypassMode_RejectsInvalidBase64, TestValidateBypassMode_RejectsPrefixStrippedToEmpty,
    TestValidateBypassMode_HandlesMultipleHashMarks: the block is not sent."""
    assert signer(False).resolve("t", signature) is None
    with pytest.raises(SignatureError, match=reason):
        normalize_claude(without_prefix(signature.strip()))


def test_bypass_rejects_a_missing_or_oversized_signature() -> None:
    """TestValidateBypassMode_RejectsMissingSignature, TestValidateBypassMode_RejectsOversizedSignature
    and TestConvertClaudeRequestToAntigravity_ThinkingBlockWithoutSignature (the unsigned block is
    left out, the answer's text kept, in both modes)."""
    assert signer(False).resolve("t", None) is None
    for cache_mode in (True, False):
        assert upstream(signer(cache_mode), TEXT, "") == [{"text": "Answer"}]
    with pytest.raises(SignatureError, match="maximum length"):
        normalize_claude("A" * (MAX_SIGNATURE_LEN + 1))


def test_strict_bypass_checks_the_tree_up_to_the_size_limit() -> None:
    """TestValidateBypassMode_RejectsTopLevel12WithoutClaudeTree and
    TestValidateBypassMode_StrictAcceptsSignatureBetween16KiBAnd32MiB."""
    bare = b64(b"\x12" + b"\x34" * 48)
    assert signer(False, strict=True).resolve("t", bare) is None
    assert signer(False).resolve("t", bare) == r_form(bare)
    big = b64(claude_payload(12, 2, "m" * 20000, True))
    assert 1 << 14 < len(big) <= MAX_SIGNATURE_LEN
    assert signer(False, strict=True).resolve("t", big) == r_form(big)


def test_inspect_claude_signature_tree() -> None:
    """TestInspectClaudeSignaturePayload_ExtractsSpecTree and
    TestInspectDoubleLayerSignature_TracksEncodingLayers (a channel 11 signature behind two
    base64 layers is Vertex direct; the strict check takes it)."""
    tree = inspect_claude(claude_payload(12, 2, "claude-sonnet-4-6", True))
    assert tree.routing_class == "routing_class_12" and tree.infrastructure_class == "infra_google"
    assert tree.schema_features == "extended_model_tagged_schema" and tree.model_text == "claude-sonnet-4-6"
    legacy = claude_payload(11, 2, "", False)
    double = inspect_claude(legacy, 2)
    assert double.encoding_layers == 2 and double.legacy_route_hint == "legacy_vertex_direct"
    assert inspect_claude(legacy).legacy_route_hint == "legacy_vertex_proxy"
    outer = b64(b64(legacy).encode())
    assert normalize_claude(outer, strict=True) == outer


# ---------------------------------------------------------------------- thinking blocks kept or left out


def contents(s: AntigravityClaudeSignatures, *messages: dict[str, Any]) -> list[dict[str, Any]]:
    """The Gemini contents sent to Antigravity for ``messages``."""
    body = {"model": MODEL, "max_tokens": 100, "messages": list(messages)}
    out = default_registry().adapter(GEMINI).build_request(s.prepare(ir_of(CLAUDE, body)))
    return out["contents"]  # type: ignore[no-any-return]


def said(*content: dict[str, Any]) -> dict[str, Any]:
    return {"role": "assistant", "content": list(content)}


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def think(value: Any, signature: str | None = None) -> dict[str, Any]:
    block = {"type": "thinking", "thinking": value}
    if signature is not None:
        block["signature"] = signature
    return block


HELLO = {"role": "user", "content": "Hello"}


@pytest.mark.parametrize("cache_mode", [True, False], ids=["cache", "bypass"])
def test_unsigned_thinking_is_left_out_wherever_it_is(cache_mode: bool) -> None:
    """TestConvertClaudeRequestToAntigravity_TrailingUnsignedThinking_Removed and
    TestConvertClaudeRequestToAntigravity_MiddleUnsignedThinking_Removed."""
    trailing = contents(
        signer(cache_mode), HELLO, said(text("Here is my answer"), think("I should think more..."))
    )
    assert trailing[1]["parts"] == [{"text": "Here is my answer"}]
    middle = contents(signer(cache_mode), said(think("Middle thinking..."), text("Answer")), HELLO)
    assert middle[0]["parts"] == [{"text": "Answer"}]


def test_trailing_signed_thinking_is_kept() -> None:
    """TestConvertClaudeRequestToAntigravity_TrailingSignedThinking_Kept (cache mode, signed from
    the cache)."""
    cache = SignatureCache()
    cache.put(MODEL, "Valid thinking...", LONG)
    parts = contents(
        signer(True, cache=cache), HELLO, said(text("Here is my answer"), think("Valid thinking...", "x"))
    )[1]["parts"]
    assert len(parts) == 2 and parts[0] == {"text": "Here is my answer"}  # (the provider puts thoughts first)
    assert parts[1] == {"text": "Valid thinking...", "thought": True, "thoughtSignature": r_form(LONG)}


def test_bypass_keeps_signed_thinking_and_drops_redacted_or_wrapped_blocks() -> None:
    """TestConvertClaudeRequestToAntigravity_BypassMode_KeepsNonEmptyThinking,
    TestConvertClaudeRequestToAntigravity_BypassMode_DropsWrappedRedactedThinking (a ``thinking``
    that is an object, not text), TestConvertClaudeRequestToAntigravity_BypassMode_DropsWrappedRedactedThinkingBeforeTool
    and TestConvertClaudeRequestToAntigravity_BypassMode_MultiTurnRedactedThinking: an empty or
    wrapped block is never sent, and its signature never lands on the text or the call."""
    sig = claude_signature()
    kept = contents(signer(False), HELLO, said(think("Let me reason...", sig), text("Here is my answer.")))
    assert kept[1]["parts"] == [
        {"text": "Let me reason...", "thought": True, "thoughtSignature": r_form(sig)},
        {"text": "Here is my answer."},
    ]
    wrapped = think({"cache_control": {"type": "ephemeral"}}, b64(sig.encode()))
    assert contents(signer(False), HELLO, said(wrapped, text("Answer")), HELLO)[1]["parts"] == [
        {"text": "Answer"}
    ]
    call = {"type": "tool_use", "id": "Bash-123-456", "name": "Bash", "input": {"command": "ls"}}
    result = {"type": "tool_result", "tool_use_id": "Bash-123-456", "content": "file1.txt\nfile2.txt"}
    turns = contents(
        signer(False),
        HELLO,
        said(think("", sig), text("First answer"), call),
        {"role": "user", "content": [result]},
        said(think("", sig), text("Here are the files.")),
        {"role": "user", "content": "Thanks"},
    )
    assert turns[1]["parts"] == [
        {"text": "First answer"},
        {"functionCall": {"name": "Bash", "args": {"command": "ls"}}},
    ]
    assert turns[3]["parts"] == [{"text": "Here are the files."}]
