"""CPA ``internal/signature/provider_compatibility_test.go`` and ``gpt_validation_test.go``:
which family a signature belongs to, and what a target does with another's."""

from __future__ import annotations

import pytest

from cliproxy.translate import signature_bodies as bodies
from cliproxy.translate import signatures as sig
from tests.translate.cpa.signature_fixtures import (
    OBSERVED_FABLE5,
    antigravity_claude_signature,
    b64,
    cais_signature,
    claude_signature,
    claude_signature_opaque,
    gemini3_signature,
    gemini_envelope,
    gemini_signature,
    gpt_signature,
)

UUID = "e24830a7-5cd6-42fe-998b-ee539e72b9c3"
ENVELOPES = {
    "claude single-layer E": (claude_signature(), "claude"),
    "claude double-layer R": (antigravity_claude_signature(), "claude"),
    "claude CAIS": (cais_signature("claude-fable-5"), "claude"),
    "gemini protobuf field2": (gemini_envelope(), "gemini"),
    "gpt fernet": (gpt_signature(), "gpt"),
}


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_first_chars_cover_every_known_envelope(name: str) -> None:
    """TestSelfDescribingSignatureFirstChars_CoversEveryKnownEnvelope"""
    assert ENVELOPES[name][0][0] in "CERg"


@pytest.mark.parametrize("opaque", ["K1ZAIbzDbO", "jQDLUr+fD8RFP8nbkkfI", "qcgG7jzxH3D6mlVLBBaKXaG3"])
def test_first_chars_reject_opaque_ciphertext(opaque: str) -> None:
    """TestSelfDescribingSignatureFirstChars_CoversEveryKnownEnvelope (opaque xAI ciphertext)"""
    assert opaque[0] not in "CERg"
    assert sig.detect(opaque) == "unknown"


@pytest.mark.parametrize(
    "uuid",
    [
        "09743975-4bb0-4936-9e28-d5b0d21bdc48",
        "49743975-4bb0-4936-9e28-d5b0d21bdc48",
        "89743975-4bb0-4936-9e28-d5b0d21bdc48",
        "a9743975-4bb0-4936-9e28-d5b0d21bdc48",
        "e9743975-4bb0-4936-9e28-d5b0d21bdc48",
    ],
)
def test_gemini_ascii_uuid_is_gate_independent(uuid: str) -> None:
    """TestGeminiASCIIUUIDIsGateIndependent"""
    signature = gemini_signature(uuid.encode())
    assert sig.detect(signature) == "unknown"
    assert sig.decide("gemini", signature, "gemini_function_call").action == "replace_with_gemini_bypass"


@pytest.mark.parametrize("name", list(ENVELOPES))
def test_detect_classifies_every_known_envelope(name: str) -> None:
    """TestDetectSignatureProviderForBlock_ClassifiesEveryKnownEnvelope"""
    signature, want = ENVELOPES[name]
    assert sig.detect(signature) == want


CLAUDE_SHAPES = {
    "single-layer E": claude_signature(),
    "single-layer E opaque": claude_signature_opaque(64),
    "double-layer R": antigravity_claude_signature(),
    "CAIS synthetic": cais_signature("claude-opus-5"),
    "CAIS observed": OBSERVED_FABLE5,
}


@pytest.mark.parametrize("name", list(CLAUDE_SHAPES))
def test_gemini_envelope_never_claims_claude_signatures(name: str) -> None:
    """TestGeminiEnvelopeNeverClaimsClaudeSignatures"""
    signature = CLAUDE_SHAPES[name]
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(signature, known_envelope=True)
    assert sig.detect(signature) == "claude"
    assert sig.compatible_signature("gemini", signature) is None


def test_detect_uses_provider_prefix() -> None:
    """TestDetectSignatureProvider_UsesProviderPrefix"""
    assert sig.detect("claude#" + claude_signature()) == "claude"
    assert sig.detect("gemini#" + gemini3_signature(bytes([0x01, 0x0C, 0x39]))) == "gemini"


def test_detect_rejects_misleading_claude_prefix() -> None:
    """TestDetectSignatureProvider_RejectsMisleadingClaudePrefix"""
    assert sig.detect("claude#" + gemini3_signature(bytes([0x01, 0x0C, 0x39]))) == "unknown"


def test_detect_gemini3_e_prefix_does_not_look_claude() -> None:
    """TestDetectSignatureProvider_Gemini3EPrefixDoesNotLookClaude"""
    gemini = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34]))
    assert gemini.startswith("E")
    assert sig.detect(gemini) == "gemini"


def test_compatible_signature_claude_uses_provider_native_e_form() -> None:
    """TestCompatibleSignatureForProvider_ClaudeUsesProviderNativeEForm"""
    native = claude_signature()
    assert sig.compatible_signature("claude", b64(native.encode())) == native


def test_antigravity_claude_signature_uses_double_layer_r_form() -> None:
    """TestCompatibleAntigravityClaudeThinkingSignature_UsesDoubleLayerRForm"""
    native = claude_signature()
    assert sig.antigravity_claude_signature(native) == b64(native.encode())


def test_antigravity_claude_signature_rejects_gemini_e_prefix() -> None:
    """TestCompatibleAntigravityClaudeThinkingSignature_RejectsGeminiEPrefix"""
    gemini = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34]))
    assert gemini.startswith("E") and sig.antigravity_claude_signature(gemini) is None


def test_detect_does_not_classify_arbitrary_base64_as_gemini() -> None:
    """TestDetectSignatureProvider_DoesNotClassifyArbitraryBase64AsGemini"""
    assert sig.detect(gemini_signature(bytes([0x45, 0x12]))) == "unknown"


@pytest.mark.parametrize("value", [UUID, "gemini#" + UUID, gemini_signature(UUID.encode())])
def test_gemini_ascii_uuid_is_no_provider(value: str) -> None:
    """TestGeminiASCIIUUIDSignatureUsesBypass (detection)"""
    assert sig.detect(value) == "unknown"
    assert sig.detect(value, "gemini_function_call") == "unknown"


@pytest.mark.parametrize("block", ["gemini_function_call", "gemini_model_part"])
def test_gemini_ascii_uuid_signature_uses_bypass(block: str) -> None:
    """TestGeminiASCIIUUIDSignatureUsesBypass (decisions)"""
    signature = gemini_signature(UUID.encode())
    assert sig.compatible_signature("gemini", signature, block) is None  # type: ignore[arg-type]
    d = sig.decide("gemini", signature, block)  # type: ignore[arg-type]
    assert d.action == "replace_with_gemini_bypass" and d.replacement == sig.GEMINI_SKIP_VALIDATOR


@pytest.mark.parametrize("block", ["gemini_function_call", "gemini_model_part"])
def test_gemini_wrapped_uuid_function_call_signature_is_compatible(block: str) -> None:
    """TestGeminiWrappedUUIDFunctionCallSignatureIsCompatible"""
    signature = gemini3_signature(UUID.encode())
    assert sig.detect(signature) == "gemini"
    d = sig.decide("gemini", signature, block)  # type: ignore[arg-type]
    assert d.compatible and d.action == "preserve" and d.normalized == signature


def test_compatible_signature_strips_gemini_prefix() -> None:
    """TestCompatibleSignatureForProvider_StripsGeminiPrefix"""
    native = gemini3_signature(bytes([0x01, 0x0C, 0x39]))
    assert sig.compatible_signature("gemini", "gemini#" + native) == native


def test_split_prefix_uses_strict_provider_aliases() -> None:
    """TestSplitSignatureProviderPrefix_UsesStrictProviderAliases"""
    assert sig.detect("gpt#" + gpt_signature()) == "gpt"
    mislabeled = "claude-cache#" + claude_signature()
    assert sig.split_prefix(mislabeled)[2] is False
    assert sig.detect(mislabeled) == "unknown"


def test_decide_gemini_function_call_uses_bypass() -> None:
    """TestDecideSignatureCompatibility_GeminiFunctionCallUsesBypass"""
    d = sig.decide("gemini", "claude#" + claude_signature(), "gemini_function_call")
    assert d.action == "replace_with_gemini_bypass" and d.replacement == sig.GEMINI_SKIP_VALIDATOR


def thinking(signature: str, text: str = "keep") -> list[dict]:
    return [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": text, "signature": signature},
                {"type": "text", "text": "answer"},
            ],
        }
    ]


def test_sanitize_for_model_normalizes_same_provider_claude() -> None:
    """TestSanitizeClaudeMessagesSignaturesForModel_NormalizesSameProviderClaude"""
    native = claude_signature()
    out, report = bodies.sanitize_for_model(thinking("claude#" + native), "claude-sonnet-4-5")
    assert report.preserved == 1 and report.dropped_blocks == 0
    assert out is not None and out[0]["content"][0]["signature"] == sig.normalize_claude_native(native)


def test_sanitize_for_model_drops_claude_thinking_for_gemini() -> None:
    """TestSanitizeClaudeMessagesSignaturesForModel_DropsClaudeThinkingForGemini"""
    out, report = bodies.sanitize_for_model(
        thinking("claude#" + claude_signature(), "drop"), "gemini-3.5-flash"
    )
    # a Gemini target swaps in its sentinel only on Gemini parts; a Claude thinking block goes
    assert report.dropped_blocks == 1
    assert out is not None and out[0]["content"] == [{"type": "text", "text": "answer"}]


def test_sanitize_for_model_preserves_gemini_thinking_for_gemini() -> None:
    """TestSanitizeClaudeMessagesSignaturesForModel_PreservesGeminiThinkingForGemini"""
    native = gemini3_signature(bytes([0x01, 0x0C, 0x39]))
    out, report = bodies.sanitize_for_model(thinking("gemini#" + native), "gemini-3.5-flash")
    assert report.preserved == 1 and report.dropped_blocks == 0
    assert out is not None and out[0]["content"][0]["signature"] == native


def test_sanitize_for_model_preserves_gpt_for_gpt() -> None:
    """TestSanitizeClaudeMessagesSignaturesForModel_PreservesGPTForGPT"""
    signature = gpt_signature()
    out, report = bodies.sanitize_for_model(thinking(signature), "gpt-5.2")
    assert report.preserved == 1 and report.dropped_blocks == 0 and out is None


def test_sanitize_for_model_drops_empty_assistant_message() -> None:
    """TestSanitizeClaudeMessagesSignaturesForModel_DropsEmptyAssistantMessage"""
    messages = [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "drop", "signature": "claude#" + claude_signature()}
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "next"}]},
    ]
    out, report = bodies.sanitize_for_model(messages, "gpt-5.2")
    assert report.dropped_blocks == 1
    assert out is not None and [m["role"] for m in out] == ["user"]


def test_sanitize_for_claude_upstream_drops_invalid_thinking_and_cleans_tool_use() -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstream_DropsInvalidThinkingAndCleansToolUse; the
    content half of CPA: TestClaudeExecutor_LogsSanitizedClaudeUpstreamSignatures (the counts
    it logs at debug level are the report's; we do not log them: a deliberate difference,
    and so no signature can reach a log line)."""
    tool_use = {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "Bash",
        "input": {"command": "git status"},
        "signature": "bad",
        "thoughtSignature": "bad2",
        "thought_signature": "bad3",
        "model": "claude-sonnet-4-5",
        "extra_content": {"google": {"thought_signature": "bad4"}},
    }
    messages = [
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "drop me", "signature": ""},
                {"type": "text", "text": "answer"},
                tool_use,
            ],
        }
    ]
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-sonnet-4-5")
    assert report.dropped_blocks == 1 and out is not None
    parts = out[0]["content"]
    assert [p["type"] for p in parts] == ["text", "tool_use"]
    assert parts[1]["id"] == "toolu_1"
    for key in ("signature", "thoughtSignature", "thought_signature", "model", "extra_content"):
        assert key not in parts[1]


def test_sanitize_for_claude_upstream_normalizes_valid_thinking_and_drops_empty_message() -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstream_NormalizesValidThinkingAndDropsEmptyMessage"""
    native = claude_signature()
    messages = [
        *thinking(b64(native.encode())),
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "drop"}]},
        {"role": "user", "content": [{"type": "text", "text": "next"}]},
    ]
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-sonnet-4-5")
    assert report.preserved == 1 and report.dropped_blocks == 1
    assert out is not None and len(out) == 2
    assert out[0]["content"][0]["signature"] == native and out[1]["role"] == "user"


# ---------------------------------------------------------------------- gpt_validation_test.go


def test_detect_gpt_reasoning() -> None:
    """gpt_validation_test.go TestDetectSignatureProvider_GPTReasoning"""
    assert sig.detect(gpt_signature()) == "gpt"


def test_inspect_gpt_rejects_unicode_ellipsis() -> None:
    """gpt_validation_test.go TestInspectGPTReasoningSignatureRejectsUnicodeEllipsis"""
    signature = gpt_signature()
    with pytest.raises(sig.SignatureError, match="non-base64url"):
        sig.inspect_gpt(signature[:20] + "\u2026" + signature[20:])


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("claude-sonnet-4-6", "claude"),
        ("gemini-3-pro", "gemini"),
        ("gpt-5.4", "gpt"),
        ("codex-mini", "gpt"),
        ("o3-pro", "gpt"),
        ("kimi-k2", "kimi"),
        ("grok-4", "grok"),
        ("llama-3", "unknown"),
    ],
)
def test_provider_from_model_name(model: str, family: str) -> None:
    """provider_compatibility.go SignatureProviderFromModelName (the table its tests rely on)"""
    assert sig.provider_from_model(model) == family
