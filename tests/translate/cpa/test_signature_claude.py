"""CPA ``internal/signature/claude_test.go``: Claude thinking signatures (classic and CAIS)."""

from __future__ import annotations

import base64

import pytest

from cliproxy.translate import signature_bodies as bodies
from cliproxy.translate import signatures as sig
from tests.translate.cpa.signature_fixtures import (
    OBSERVED_CONTEXT_ID,
    OBSERVED_FABLE5,
    CAISParts,
    b64,
    cais_signature,
    claude_signature,
)


def thinking_messages(*blocks: dict) -> list[dict]:
    return [{"role": "assistant", "content": list(blocks)}]


def strip(messages: list[dict], **opts: bool) -> list[dict]:
    bodies.strip_invalid_claude_thinking(messages, **opts)
    return messages


# ---------------------------------------------------------------------- StripInvalidClaudeThinkingBlocks


def test_strip_removes_gpt_encrypted_content() -> None:
    """TestStripInvalidClaudeThinkingBlocks_RemovesGPTEncryptedContent"""
    messages = [
        *thinking_messages(
            {
                "type": "thinking",
                "thinking": "codex reasoning",
                "signature": "gAAAAABopenai-encrypted-content",
            },
            {"type": "text", "text": "Answer"},
        ),
        {"role": "user", "content": [{"type": "text", "text": "next"}]},
    ]
    out = strip(messages)
    assert out[0]["content"] == [{"type": "text", "text": "Answer"}]


def test_strip_and_empty_messages_drops_messages_left_empty() -> None:
    """TestStripInvalidClaudeThinkingBlocksAndEmptyMessages_DropsMessagesLeftEmpty"""
    messages = [
        *thinking_messages({"type": "thinking", "thinking": "codex reasoning", "signature": "gAAAAABopenai"}),
        {"role": "user", "content": [{"type": "text", "text": "next"}]},
    ]
    out = strip(messages, drop_empty_messages=True)
    assert [m["role"] for m in out] == ["user"]


def test_strip_removes_malformed_e_prefix() -> None:
    """TestStripInvalidClaudeThinkingBlocks_RemovesMalformedEPrefix"""
    out = strip(
        thinking_messages(
            {"type": "thinking", "thinking": "bad", "signature": "Ebad"}, {"type": "text", "text": "Answer"}
        )
    )
    assert out[0]["content"] == [{"type": "text", "text": "Answer"}]


def test_strip_base64_only_keeps_decodable_e_prefix() -> None:
    """TestStripInvalidClaudeThinkingBlocks_Base64OnlyKeepsDecodableEPrefix"""
    out = strip(
        thinking_messages(
            {"type": "thinking", "thinking": "bad", "signature": "Ebad"}, {"type": "text", "text": "Answer"}
        ),
        base64_only=True,
    )
    assert len(out[0]["content"]) == 2


def test_strip_base64_only_removes_invalid_base64() -> None:
    """TestStripInvalidClaudeThinkingBlocks_Base64OnlyRemovesInvalidBase64"""
    out = strip(
        thinking_messages(
            {"type": "thinking", "thinking": "bad", "signature": "E!!!invalid!!!"},
            {"type": "text", "text": "Answer"},
        ),
        base64_only=True,
    )
    assert out[0]["content"] == [{"type": "text", "text": "Answer"}]


def test_strip_allows_empty_signature_empty_text_placeholder() -> None:
    """TestStripInvalidClaudeThinkingBlocks_AllowsEmptySignatureEmptyTextPlaceholder"""
    out = strip(
        thinking_messages(
            {"type": "thinking", "text": "", "signature": ""}, {"type": "text", "text": "Answer"}
        ),
        base64_only=True,
        allow_empty_placeholder=True,
    )
    assert len(out[0]["content"]) == 2


def test_strip_strict_removes_malformed_claude_tree() -> None:
    """TestStripInvalidClaudeThinkingBlocks_StrictRemovesMalformedClaudeTree"""
    bad = b64(bytes([0x12, 0xFF, 0xFE, 0xFD]))
    out = strip(
        thinking_messages(
            {"type": "thinking", "thinking": "bad", "signature": bad}, {"type": "text", "text": "Answer"}
        ),
        strict=True,
    )
    assert out[0]["content"] == [{"type": "text", "text": "Answer"}]


def test_strip_keeps_claude_signature_prefixes() -> None:
    """TestStripInvalidClaudeThinkingBlocks_KeepsClaudeSignaturePrefixes"""
    single = b64(bytes([0x12, 0x34]))
    double = b64(single.encode())
    out = strip(
        thinking_messages(
            {"type": "thinking", "thinking": "one", "signature": single},
            {"type": "thinking", "thinking": "two", "signature": "modelGroup#" + double},
        )
    )
    assert len(out[0]["content"]) == 2


# ---------------------------------------------------------------------- CAIS


def test_cais_observed_fable5_sample() -> None:
    """TestClaudeCAISSignature_ObservedFable5Sample"""
    assert sig.is_valid_cais(OBSERVED_FABLE5)
    info = sig.inspect_cais(OBSERVED_FABLE5)
    assert info.model_text == "claude-fable-5"
    assert info.block_kind == "thinking"
    assert info.context_id == OBSERVED_CONTEXT_ID
    assert base64.b64decode(OBSERVED_FABLE5)[0] == 0x08


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "ccmax#",
        "claude-code-max#",
        "claude_code_max#",
        "cais#",
        "claude-cais#",
        "claude_cais#",
        "claude#",
    ],
)
def test_cais_detect_signature_provider(prefix: str) -> None:
    """TestClaudeCAISSignature_DetectSignatureProvider"""
    assert sig.detect(prefix + OBSERVED_FABLE5) == "claude"


def test_cais_observed_opus5_layout() -> None:
    """TestClaudeCAISSignature_ObservedOpus5Layout"""
    signature = cais_signature("claude-opus-5")
    assert sig.inspect_cais(signature).model_text == "claude-opus-5"
    d = sig.decide("claude", signature, "claude_thinking")
    assert d.compatible and d.normalized == signature and d.detected == "claude"


def test_cais_not_compatible_with_gemini() -> None:
    """TestClaudeCAISSignature_NotCompatibleWithGemini"""
    assert sig.compatible_signature("gemini", OBSERVED_FABLE5) is None
    assert not sig.decide("gemini", OBSERVED_FABLE5).compatible
    with pytest.raises(sig.SignatureError):
        sig.inspect_gemini(OBSERVED_FABLE5)


@pytest.mark.parametrize("model", ["claude-fable-5", "CLAUDE-FABLE-5", "claude-opus-5"])
def test_cais_compatible_with_all_claude_targets(model: str) -> None:
    """TestClaudeCAISSignature_CompatibleWithAllClaudeTargets (the target model never matters)"""
    d = sig.decide("claude", OBSERVED_FABLE5, "claude_thinking")
    assert d.compatible and d.action == "preserve" and d.normalized == OBSERVED_FABLE5
    assert sig.provider_from_model(model) == "claude"


def test_cais_opus5_signature_compatible_with_opus_4_8() -> None:
    """TestClaudeCAISSignature_CompatibleWithAllClaudeTargets (opus-5 signature to claude-opus-4-8)"""
    opus5 = cais_signature("claude-opus-5")
    assert sig.compatible_signature("claude", opus5) == opus5
    assert sig.compatible_signature("claude", OBSERVED_FABLE5) == OBSERVED_FABLE5
    assert not sig.decide("gemini", OBSERVED_FABLE5, "claude_thinking").compatible


def test_sanitize_for_claude_upstream_cais_same_and_cross_model() -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstream_ClaudeCAIS (same model, cross model)"""
    block = {"type": "thinking", "thinking": "keep", "signature": OBSERVED_FABLE5}
    for model in ("claude-fable-5", "claude-opus-5"):
        messages = thinking_messages(block, {"type": "text", "text": "answer"})
        out, report = bodies.sanitize_for_claude_upstream(messages, model)
        assert out is None  # nothing to change
        assert report.preserved == 1 and report.dropped_blocks == 0


def test_sanitize_for_claude_upstream_cais_strips_tool_use_signature() -> None:
    """TestSanitizeClaudeMessagesForClaudeUpstream_ClaudeCAIS (tool_use signature stripped)"""
    messages = thinking_messages(
        {"type": "thinking", "thinking": "keep", "signature": OBSERVED_FABLE5},
        {"type": "text", "text": "answer"},
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "Bash",
            "input": {"command": "pwd"},
            "signature": OBSERVED_FABLE5,
        },
    )
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-fable-5")
    assert report.preserved == 1 and out is not None
    parts = out[0]["content"]
    assert len(parts) == 3 and parts[0]["signature"] == OBSERVED_FABLE5 and "signature" not in parts[2]


DRIFT = {
    "observed layout": CAISParts(),
    "new channel id": CAISParts(channel_id=17),
    "new envelope version": CAISParts(top_envelope=3),
    "no top-level trailer": CAISParts(top_trailer=False),
    "no channel version": CAISParts(channel_version=False),
    "longer signature bytes": CAISParts(signature_len=96),
    "no field 7": CAISParts(field7=False),
    "other block kind": CAISParts(block_kind="redacted_thinking"),
    "no block kind": CAISParts(block_kind=""),
    "no context id": CAISParts(context_id=""),
    "unreleased model name": CAISParts(model_text=b"claude-opus-6-preview"),
}


@pytest.mark.parametrize("name", list(DRIFT))
def test_cais_tolerates_upstream_field_drift(name: str) -> None:
    """TestClaudeCAISSignature_ToleratesUpstreamFieldDrift"""
    signature = DRIFT[name].encode()
    sig.inspect_cais(signature)
    assert sig.detect(signature, "claude_thinking") == "claude"
    messages = thinking_messages({"type": "thinking", "thinking": "keep", "signature": signature})
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-opus-5")
    assert report.preserved == 1 and report.dropped_blocks == 0
    assert (out or messages)[0]["content"][0]["signature"] == signature


def _truncated() -> str:
    raw = base64.b64decode(OBSERVED_FABLE5)
    return b64(raw[: len(raw) // 2])


MALFORMED = {
    "empty": "",
    "whitespace only": "   ",
    "not base64": "CAIS!!!not-base64",
    "truncated payload": _truncated(),
    "classic claude prefix": b64(bytes([0x12, 0x00])),
    "wrong marker byte": b64(bytes([0x0A, 0x00])),
    "no container": CAISParts(container=False).encode(),
    "no channel block": CAISParts(channel_block=False).encode(),
    "no channel id": CAISParts(channel_id=None).encode(),
    "channel id wrong wire type": CAISParts(channel_id_as_bytes=True).encode(),
    "no signature bytes": CAISParts(signature_len=None).encode(),
    "empty signature bytes": CAISParts(signature_len=0).encode(),
    "no model text": CAISParts(model_text=None).encode(),
    "foreign model text": CAISParts(model_text=b"gemini-3-pro").encode(),
    "invalid utf-8 model text": CAISParts(model_text=b"claude-\xff\xfe").encode(),
    "non-uuid context id": CAISParts(context_id="not-a-canonical-uuid-value-000000000").encode(),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_cais_rejects_malformed_payloads(name: str) -> None:
    """TestClaudeCAISSignature_RejectsMalformedPayloads"""
    assert not sig.is_valid_cais(MALFORMED[name])


def test_cais_does_not_shadow_classic_claude_signature() -> None:
    """TestClaudeCAISSignature_DoesNotShadowClassicClaudeSignature"""
    classic = claude_signature()
    assert not sig.is_valid_cais(classic)
    assert sig.detect(classic, "claude_thinking") == "claude"
    messages = thinking_messages({"type": "thinking", "thinking": "keep", "signature": classic})
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-sonnet-4-6")
    assert report.preserved == 1 and report.dropped_blocks == 0
    assert (out or messages)[0]["content"][0]["signature"] == classic


@pytest.mark.parametrize("prefix", ["claude#", "anthropic#", "cais#", "ccmax#"])
def test_cais_cache_prefix_survives_claude_upstream_sanitize(prefix: str) -> None:
    """TestClaudeCAISSignature_CachePrefixSurvivesClaudeUpstreamSanitize"""
    messages = thinking_messages(
        {"type": "thinking", "thinking": "keep", "signature": prefix + OBSERVED_FABLE5}
    )
    out, report = bodies.sanitize_for_claude_upstream(messages, "claude-fable-5")
    assert report.preserved == 1 and report.dropped_blocks == 0
    assert out is not None and out[0]["content"][0]["signature"] == OBSERVED_FABLE5


@pytest.mark.parametrize("prefix", ["", "ccmax#", "cais#", "claude-cais#"])
def test_antigravity_claude_signature_rejects_cais(prefix: str) -> None:
    """TestCompatibleAntigravityClaudeThinkingSignature_RejectsClaudeCAIS"""
    assert sig.antigravity_claude_signature(prefix + OBSERVED_FABLE5) is None
