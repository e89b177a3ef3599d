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
from cliproxy.translate.registry import default_registry
from cliproxy.translate.replay import SignatureCache
from tests.translate.cpa._run import CLAUDE, GEMINI, get, ir_of
from tests.translate.cpa.signature_fixtures import (
    b64,
    cais_signature,
    claude_signature,
    claude_signature_opaque,
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
    _BypassModeDropsGeminiSignature / _BypassModeDropsGeminiEPrefixSignature (CAIS: CPA's
    CompatibleAntigravityClaudeThinkingSignature refuses it too)."""
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
