"""CPA ``internal/signature/gemini_validation_test.go`` (inspection cases) and
``gemini_sanitize_test.go``: Gemini thought signatures, and Gemini's replay policy on
a request's ``contents`` (what the proxy applies to every Gemini upstream body,
pass-through included)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.translate import signature_bodies as bodies
from cliproxy.translate import signatures as sig
from tests.translate.cpa.signature_fixtures import gemini3_signature, gemini25_signature, gemini_signature

UUID = "e24830a7-5cd6-42fe-998b-ee539e72b9c3"
NATIVE = gemini3_signature(bytes([0x01, 0x0C, 0x39]))
SKIP = sig.GEMINI_SKIP_VALIDATOR


# ---------------------------------------------------------------------- inspection


def test_inspect_accepts_opaque_base64() -> None:
    """TestInspectGeminiThoughtSignature_AcceptsOpaqueBase64"""
    info = sig.inspect_gemini(gemini_signature(bytes([0x12, 0x34, 0x56])))
    assert info.envelope == "unknown" and not info.known
    assert info.decoded_len == 3 and info.first_byte == 0x12 and info.marker


def test_inspect_accepts_gemini31_pro_field2_envelope() -> None:
    """TestInspectGeminiThoughtSignature_AcceptsGemini31ProField2Envelope"""
    info = sig.inspect_gemini(
        gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34])), known_envelope=True
    )
    assert info.envelope == "protobuf_field_2" and info.marker
    assert info.record_count == 1 and info.opaque_len == 6


def test_inspect_accepts_captured_gemini31_flash_lite_envelope() -> None:
    """TestInspectGeminiThoughtSignature_AcceptsCapturedGemini31FlashLiteEnvelope"""
    captured = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
    info = sig.inspect_gemini(captured, known_envelope=True)
    assert info.envelope == "protobuf_field_2" and info.record_count == 1 and info.opaque_len == 50


def test_inspect_accepts_gemini3_wrapped_uuid_envelope() -> None:
    """TestInspectGeminiThoughtSignature_AcceptsGemini3WrappedUUIDEnvelope"""
    signature = gemini3_signature(UUID.encode())
    info = sig.inspect_gemini(signature, known_envelope=True)
    assert info.envelope == "protobuf_field_2" and info.record_count == 1 and info.opaque_len == len(UUID)
    assert sig.detect(signature, "gemini_function_call") == "gemini"


def test_inspect_rejects_gemini25_field1_envelope() -> None:
    """TestInspectGeminiThoughtSignature_RejectsGemini25Field1Envelope"""
    signature = gemini25_signature(bytes([0x01, 0x8F]), bytes([0x01, 0x90, 0x91]))
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(signature, known_envelope=True)
    info = sig.inspect_gemini(signature)
    assert info.envelope == "unknown" and not info.known
    d = sig.decide("gemini", signature, "gemini_model_part")
    assert d.action == "replace_with_gemini_bypass" and d.replacement == SKIP


def test_inspect_rejects_malformed_known_envelope() -> None:
    """TestInspectGeminiThoughtSignature_RejectsMalformedKnownEnvelope"""
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(gemini3_signature(bytes([0x02, 0x0C, 0x39])), known_envelope=True)


def test_inspect_classifies_ascii_uuid_as_opaque() -> None:
    """TestInspectGeminiThoughtSignature_ClassifiesASCIIUUIDAsOpaque"""
    signature = gemini_signature(UUID.encode())
    info = sig.inspect_gemini(signature)
    assert info.envelope == "ascii_uuid" and not info.known
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(signature, known_envelope=True)


def test_inspect_observed_marker_option() -> None:
    """TestInspectGeminiThoughtSignature_ObservedMarkerOption"""
    signature = gemini_signature(bytes([0x45, 0x12]))
    sig.inspect_gemini(signature)
    with pytest.raises(sig.SignatureError, match="expected observed marker"):
        sig.inspect_gemini(signature, observed_marker=True)


def test_inspect_bypass_sentinel_requires_option() -> None:
    """TestInspectGeminiThoughtSignature_BypassSentinelRequiresOption"""
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(SKIP)
    assert sig.inspect_gemini(SKIP, allow_bypass=True).envelope == "bypass"


def test_inspect_rejects_invalid_base64() -> None:
    """TestInspectGeminiThoughtSignature_RejectsInvalidBase64"""
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini("not valid base64!!!")


# ---------------------------------------------------------------------- SanitizeGeminiRequestThoughtSignatures


def sanitize(raw: str) -> tuple[list[Any], bool]:
    contents = orjson.loads(raw)["contents"]
    changed = bodies.sanitize_gemini_contents(contents)
    return contents, changed


def part(contents: list[Any], i: int = 0, j: int = 0) -> dict[str, Any]:
    return contents[i]["parts"][j]


def test_sanitize_preserves_gemini_signature() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesPreservesGeminiSignature"""
    contents, changed = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{{}}}},"thoughtSignature":"{NATIVE}"}}]}}]}}'
    )
    assert not changed and part(contents)["thoughtSignature"] == NATIVE


def test_sanitize_normalizes_duplicate_canonical_field() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesNormalizesDuplicateCanonicalField (a JSON
    object keeps one value per key; the surviving foreign value becomes the sentinel)"""
    contents, _ = sanitize(
        '{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f","args":{}},'
        f'"thoughtSignature":"{SKIP}","thoughtSignature":"bad","thoughtSignature":"worse"}}]}}]}}'
    )
    assert part(contents)["thoughtSignature"] == SKIP
    assert orjson.dumps(contents).count(b'"thoughtSignature"') == 1


def test_sanitize_parallel_synthetic_only_first_gets_bypass() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesParallelSyntheticOnlyFirstGetsBypass"""
    contents, _ = sanitize(
        '{"contents":[{"role":"model","parts":[{"functionCall":{"name":"first","args":{}}},'
        '{"functionCall":{"name":"second","args":{}}}]}]}'
    )
    assert part(contents)["thoughtSignature"] == SKIP
    assert "thoughtSignature" not in part(contents, 0, 1)


def test_sanitize_native_parallel_preserves_unsigned_sibling() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesNativeParallelPreservesUnsignedSibling"""
    contents, changed = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"first","args":{{}}}},"thoughtSignature":"{NATIVE}"}},'
        '{"functionCall":{"name":"second","args":{}}}]}]}'
    )
    assert not changed
    assert part(contents)["thoughtSignature"] == NATIVE and "thoughtSignature" not in part(contents, 0, 1)


def test_sanitize_removes_polluted_sibling_bypass() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesRemovesPollutedSiblingBypass"""
    contents, _ = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"first","args":{{}}}},"thoughtSignature":"{NATIVE}"}},'
        f'{{"functionCall":{{"name":"second","args":{{}}}},"thoughtSignature":"{SKIP}"}}]}}]}}'
    )
    assert part(contents)["thoughtSignature"] == NATIVE and "thoughtSignature" not in part(contents, 0, 1)


@pytest.mark.parametrize("prefix", ["gemini", "google"])
def test_sanitize_removes_prefixed_sibling_bypass(prefix: str) -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesRemovesPrefixedSiblingBypass"""
    contents, _ = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"first","args":{{}}}},"thoughtSignature":"{NATIVE}"}},'
        f'{{"functionCall":{{"name":"second","args":{{}}}},"thoughtSignature":"{prefix}#{SKIP}"}}]}}]}}'
    )
    assert "thoughtSignature" not in part(contents, 0, 1)


def test_sanitize_leaves_unsigned_thought_unsigned() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesLeavesUnsignedThoughtUnsigned"""
    contents, changed = sanitize('{"contents":[{"role":"model","parts":[{"text":"hidden","thought":true}]}]}')
    assert not changed and "thoughtSignature" not in part(contents)


def test_sanitize_reuses_unsigned_function_response_payload() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesReusesUnsignedFunctionResponsePayload"""
    raw = '{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"ok"}}}]}]}'
    contents, changed = sanitize(raw)
    assert not changed and contents == orjson.loads(raw)["contents"]


def test_sanitize_replaces_base64_uuid_function_call() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesReplacesBase64UUIDFunctionCall"""
    signature = gemini_signature(UUID.encode())
    contents, _ = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{{}},"thoughtSignature":"{signature}"}}}}]}}]}}'
    )
    assert part(contents)["thoughtSignature"] == SKIP
    assert "thoughtSignature" not in part(contents)["functionCall"]


def test_sanitize_preserves_field2_wrapped_uuid_function_call() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesPreservesField2WrappedUUIDFunctionCall"""
    signature = gemini3_signature(UUID.encode())
    contents, changed = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{{}}}},"thoughtSignature":"{signature}"}}]}}]}}'
    )
    assert not changed and part(contents)["thoughtSignature"] == signature


def test_sanitize_removes_function_response_signature() -> None:
    """TestSanitizeGeminiRequestThoughtSignaturesRemovesFunctionResponseSignature"""
    contents, changed = sanitize(
        '{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"ok"},'
        '"thoughtSignature":"bad"},"thoughtSignature":"bad"}]}]}'
    )
    assert changed
    assert "thoughtSignature" not in part(contents)
    assert "thoughtSignature" not in part(contents)["functionResponse"]


@pytest.mark.parametrize(
    "foreign",
    [
        "claude#" + gemini_signature(b"x" * 8),
        "gAAAAA" + "B" * 100,
        "ZmFrZS10aG91Z2h0LXNpZ25hdHVyZQ==",
    ],
    ids=["claude-prefixed", "gpt-shaped", "opaque"],
)
def test_sanitize_first_call_with_foreign_signature_gets_bypass(foreign: str) -> None:
    """gemini_sanitize.go GeminiReplaySignatureOrBypass: after a failover the first
    functionCall carries another backend's (or an unknown) signature -> the sentinel."""
    contents, changed = sanitize(
        f'{{"contents":[{{"role":"model","parts":[{{"functionCall":{{"name":"f","args":{{}}}},"thoughtSignature":"{foreign}"}}]}}]}}'
    )
    assert changed and part(contents)["thoughtSignature"] == SKIP


def test_sanitize_drops_foreign_signature_on_thought_part() -> None:
    """gemini_sanitize.go: non-function model parts never get a synthesized sentinel;
    a foreign signature on them is dropped."""
    contents, changed = sanitize(
        '{"contents":[{"role":"model","parts":[{"text":"t","thought":true,"thoughtSignature":"%s"}]}]}'
        % ("gAAAAA" + "B" * 100)
    )
    assert changed and "thoughtSignature" not in part(contents)


def test_snake_case_calls_and_responses_follow_the_same_policy() -> None:
    """Proto JSON's other spelling (``function_call`` / ``function_response``, which the API
    takes too) is held to the camelCase rules: the first call of a model turn gets the
    bypass sentinel when it has no Gemini signature, a response loses any signature (found
    by the Antigravity translator audit: a Gemini 3 model refuses an unsigned first call)."""
    contents: list[Any] = [
        {"role": "user", "parts": [{"text": "go"}]},
        {"role": "model", "parts": [{"function_call": {"name": "read", "args": {}}}]},
        {
            "role": "user",
            "parts": [
                {
                    "function_response": {"name": "read", "response": {"r": 1}, "thought_signature": "x"},
                    "thought_signature": "y",
                }
            ],
        },
    ]
    assert bodies.sanitize_gemini_contents(contents)
    call = contents[1]["parts"][0]
    assert call["thoughtSignature"] == SKIP and call["function_call"] == {"name": "read", "args": {}}
    response = contents[2]["parts"][0]
    assert response == {"function_response": {"name": "read", "response": {"r": 1}}}
