"""CPA ``internal/signature/grok_validation_test.go`` and ``kimi_validation_test.go``: the
two families whose opaque reasoning values carry no envelope. xAI's ``encrypted_content``
is recognised by shape only, and only for a value already bound for xAI; Kimi's thinking
signature by its two fixed lengths, after every self-describing envelope has declined.

CPA's cases that replay harvested corpora (``..._NativeSamples``, ``..._NativeCorpus``,
``..._RejectsAgyGeminiThoughtSignatures``, ``..._KimiProbeDoesNotDisturbCatalog``) skip in
CPA too when the corpus is absent, and it is not in CPA's repository: the synthetic cases
below carry the same contracts.
"""

from __future__ import annotations

import base64
import random

import pytest

from cliproxy.translate import envelopes, envelopes_plain
from cliproxy.translate import signatures as sig
from tests.translate.cpa.signature_fixtures import (
    OBSERVED_FABLE5,
    CAISParts,
    antigravity_claude_signature,
    b64_raw,
    claude_signature_opaque,
    field_bytes,
    gemini_envelope,
)

STREAMING, NON_STREAMING = 3255, 9709  # Kimi's decoded sizes: 4340 and 12946 characters


def opaque(n: int, seed: int) -> str:
    """High-entropy unpadded standard base64 of ``n`` bytes (CPA ``synthesizeKimiSignature``;
    native Grok ciphertext has the same shape)."""
    return b64_raw(random.Random(seed).randbytes(n))


def grok_error(value: str) -> str:
    with pytest.raises(sig.SignatureError) as info:
        envelopes_plain.inspect_grok(value)
    return str(info.value)


def unpadded_cais() -> str:
    """``testUnpaddedClaudeCAISSignature``: the model text grows until no padding is left."""
    for suffix in range(8):
        value = CAISParts(model_text=("claude-opus-5" + "x" * suffix).encode()).encode()
        if "=" not in value:
            return value
    raise AssertionError("no unpadded CAIS fixture")


# ------------------------------------------------------------------------------ Grok


def test_grok_accepts_high_entropy_ciphertext() -> None:
    """TestInspectGrokEncryptedContent_NativeSamples (synthetic: the corpus is not in CPA's
    repository; native payloads are uniform random bytes, 43 decoded bytes and up)"""
    for n in (43, 50, 777):
        assert envelopes_plain.inspect_grok(opaque(n, n)) == n


def test_grok_rejects_gemini_thought_signature_envelope() -> None:
    """TestInspectGrokEncryptedContent_RejectsGeminiThoughtSignatureEnvelope"""
    assert "Gemini" in grok_error(gemini_envelope())


def test_grok_retired_gemini25_field1_envelope_is_opaque() -> None:
    """TestInspectGrokEncryptedContent_RetiredGemini25Field1Envelope: no longer a known
    Gemini envelope, so it reaches the residual shape check and passes it."""
    payload = bytearray([0x01])
    i = 0
    while len(payload) < 128:
        payload.append((i * 37 + 11) % 251)
        i += 1
    value = b64_raw(field_bytes(1, bytes(payload)))
    assert not envelopes.gemini_native(value)
    assert envelopes_plain.is_valid_grok(value)


@pytest.mark.parametrize(
    "value",
    [claude_signature_opaque(35), antigravity_claude_signature()],
    ids=["single-layer E", "Antigravity double-layer R"],
)
def test_grok_rejects_claude_thinking_signature(value: str) -> None:
    """TestInspectGrokEncryptedContent_RejectsClaudeThinkingSignature,
    TestInspectGrokEncryptedContent_RejectsAntigravityClaudeThinkingSignature"""
    assert "=" not in value and envelopes.is_valid_claude(value, strict=True)
    assert "Claude" in grok_error(value)


@pytest.mark.parametrize("value", [unpadded_cais(), OBSERVED_FABLE5], ids=["synthetic", "observed fable-5"])
def test_grok_rejects_claude_cais_signature(value: str) -> None:
    """TestInspectGrokEncryptedContent_RejectsClaudeCAISSignature: unpadded CAIS slips past
    the padding gate and the classic Claude check, so it needs its own."""
    assert "=" not in value and envelopes.is_valid_cais(value)
    assert not envelopes.is_valid_claude(value, strict=True)
    assert "CAIS" in grok_error(value)


@pytest.mark.parametrize("prefix", ["claude#", "anthropic#", "gemini#", "openai#", "codex#"])
def test_grok_rejects_provider_cache_prefix(prefix: str) -> None:
    """TestInspectGrokEncryptedContent_RejectsProviderCachePrefix"""
    assert not envelopes_plain.is_valid_grok(prefix + unpadded_cais())
    assert not envelopes_plain.is_valid_grok(prefix + opaque(64, 1))


def test_grok_thresholds_keep_margins() -> None:
    """TestInspectGrokEncryptedContent_ThresholdMargins: below the shortest observed payload
    (50 bytes) and the lowest observed entropy ratio (0.892)."""
    assert envelopes_plain.GROK_MIN_DECODED < 50
    assert envelopes_plain.GROK_MIN_ENTROPY < 0.892


@pytest.mark.parametrize(
    "value",
    ["", "bad", " opaque", "gAAAAABinvalid-gpt-shape", "abcd_efg", base64.b64encode(b"\xa5" * 32).decode()],
)
def test_grok_rejects_foreign_shapes(value: str) -> None:
    """TestInspectGrokEncryptedContent_RejectsForeignShapes"""
    assert not envelopes_plain.is_valid_grok(value)


def test_grok_rejects_low_entropy_payload() -> None:
    """TestInspectGrokEncryptedContent_RejectsLowEntropyPayload"""
    assert "entropy ratio" in grok_error(b64_raw(b"\xa5" * 32))


def test_grok_rejects_invalid_base64_length() -> None:
    """TestInspectGrokEncryptedContent_RejectsInvalidBase64Length"""
    assert "base64 decode failed" in grok_error("AAAAA")


def test_entropy_ratio_of_one_byte_is_zero() -> None:
    """TestByteEntropyRatio_SingleByteReturnsZero"""
    assert envelopes_plain._entropy_ratio(b"\xa5") == 0


def test_alphabet_is_unpadded_standard_base64() -> None:
    """TestBase64AlphabetSet_MatchesEncoderAlphabets (the Grok/Kimi set; GPT's base64url
    test is a per-character check in ``inspect_gpt``)"""
    standard = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert set(range(256)) & envelopes_plain._GROK_ALPHABET == set(standard)


@pytest.mark.parametrize(
    "model", ["grok-4.5", "grok-4.5-build", "grok-composer-2.5-fast", "grok-code-fast-1"]
)
def test_provider_from_model_name_grok(model: str) -> None:
    """TestSignatureProviderFromModelName_Grok"""
    assert sig.provider_from_model(model) == "grok"


def test_detect_never_classifies_grok() -> None:
    """TestDetectSignatureProvider_NeverClassifiesGrok: xAI is a target-only family (its
    ciphertext has no envelope, so a positive rule would claim any opaque blob)."""
    for seed in range(40):
        assert sig.detect(opaque(43 + seed * 7, seed)) == "unknown"


def test_decide_grok_drops_block() -> None:
    """TestDecideSignatureCompatibility_GrokDropsBlock: xAI decrypts the blob and refuses a
    foreign one, so the block cannot survive by shedding only its signature."""
    d = sig.decide("grok", OBSERVED_FABLE5)
    assert not d.compatible and d.action == "drop_block"


# ------------------------------------------------------------------------------ Kimi


@pytest.mark.parametrize(
    ("decoded", "length", "mode"),
    [(NON_STREAMING, 12946, "non_streaming"), (STREAMING, 4340, "streaming")],
)
def test_kimi_lengths_and_modes(decoded: int, length: int, mode: str) -> None:
    """TestKimiThinkingSignatureLengths_MatchDecodedSizes, TestInspectKimiThinkingSignature_ReportsMode"""
    value = opaque(decoded, 1)
    assert len(value) == length and envelopes_plain.KIMI_LENGTHS[length] == mode
    assert envelopes_plain.inspect_kimi(value) == mode


@pytest.mark.parametrize("decoded", [NON_STREAMING, STREAMING])
def test_kimi_rejects_neighbouring_lengths(decoded: int) -> None:
    """TestInspectKimiThinkingSignature_RejectsNeighbouringLengths"""
    native = opaque(decoded, 3)
    assert not envelopes_plain.is_valid_kimi(native[:-1])
    assert not envelopes_plain.is_valid_kimi(native + "A")


def test_kimi_rejects_malformed_input() -> None:
    """TestInspectKimiThinkingSignature_RejectsMalformedInput"""
    native = opaque(STREAMING, 5)
    for value in (
        "",
        "   ",
        " " + native,
        native + " ",
        native[:-2] + "==",
        native[:-1] + "!",
        "claude#" + native,
    ):
        assert not envelopes_plain.is_valid_kimi(value), value[:12]


@pytest.mark.parametrize("length", [4340, 12946])
def test_kimi_rejects_low_entropy_filler(length: int) -> None:
    """TestInspectKimiThinkingSignature_RejectsLowEntropyFiller"""
    assert not envelopes_plain.is_valid_kimi("A" * length)


def test_kimi_rejects_self_describing_envelope() -> None:
    """TestInspectKimiThinkingSignature_RejectsSelfDescribingEnvelope"""
    assert not envelopes_plain.is_valid_kimi(OBSERVED_FABLE5)


def test_detect_kimi_runs_after_envelope_probes() -> None:
    """TestDetectSignatureProvider_KimiRunsAfterEnvelopeProbes: a Kimi value that happens to
    start with an envelope's first character is still Kimi's; an envelope is never Kimi's."""
    assert sig.detect(OBSERVED_FABLE5) == "claude"
    starts = [v for v in (opaque(STREAMING, seed) for seed in range(200)) if v[0] in "CERg"][:3]
    assert starts
    for value in starts:
        assert sig.detect(value) == "kimi"
    assert sig.detect(opaque(NON_STREAMING, 9)) == "kimi"


@pytest.mark.parametrize("decoded", [NON_STREAMING, STREAMING])
def test_grok_rejects_kimi_lengths(decoded: int) -> None:
    """TestInspectGrokEncryptedContent_RejectsKimiLengths"""
    assert not envelopes_plain.is_valid_grok(opaque(decoded, 11))


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("kimi-k3", "kimi"),
        ("kimi-k3-256k", "kimi"),
        ("kimi-k2.7-code-highspeed", "kimi"),
        ("k3", "kimi"),
        ("k2-thinking", "kimi"),
        ("moonshot-v1-128k", "kimi"),
        ("claude-opus-5", "claude"),
        ("gemini-3.6-flash", "gemini"),
        ("gpt-5.6-sol", "gpt"),
    ],
)
def test_provider_from_model_name_kimi(model: str, family: str) -> None:
    """TestSignatureProviderFromModelName_Kimi"""
    assert sig.provider_from_model(model) == family


def test_decide_kimi_drops_signature_not_block() -> None:
    """TestDecideSignatureCompatibility_KimiDropsSignatureNotBlock: Kimi never reads the
    signature back, so a foreign one costs the field, not the thinking text."""
    d = sig.decide("kimi", OBSERVED_FABLE5, "claude_thinking")
    assert not d.compatible and d.action == "drop_signature"


def test_decide_kimi_preserves_native_signature() -> None:
    """TestDecideSignatureCompatibility_KimiPreservesNativeSignature"""
    native = opaque(NON_STREAMING, 13)
    d = sig.decide("kimi", native, "claude_thinking")
    assert d.compatible and d.action == "preserve" and d.normalized == native
    assert sig.compatible_signature("kimi", native) == native
