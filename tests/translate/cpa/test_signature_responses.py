"""Reasoning artifacts through a Responses client's ``encrypted_content``.

Cases from CPA ``internal/translator/gemini/openai/responses/signature_carrier_test.go``,
``internal/translator/claude/openai/responses/claude_openai-responses_request.go``
(``convertResponsesReasoningToClaudeThinking``) and
``sdk/api/handlers/openai/openai_responses_signature_test.go``.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.carriers import GEMINI_CARRIER_PREFIX, call_carrier, carried_signature, carrier_of
from cliproxy.translate.registry import default_registry
from tests.translate.cpa.signature_fixtures import claude_signature, gemini3_signature, gpt_signature

REG = default_registry()
GEMINI_SIG = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6]))
SKIP = "skip_thought_signature_validator"


def carrier(signature: str, direction: str, target: str) -> str:
    encoded = base64.b64encode(signature.encode()).decode().rstrip("=")
    return f"{GEMINI_CARRIER_PREFIX}{direction}:{target}:{encoded}"


def responses_request(model: str, *items: dict[str, Any]) -> ir.Request:
    return REG.adapter(Format.RESPONSES).parse_request({"model": model, "input": list(items)})


def to_claude(req: ir.Request) -> list[dict[str, Any]]:
    return REG.adapter(Format.CLAUDE).build_request(req)["messages"]


def to_gemini(req: ir.Request) -> list[dict[str, Any]]:
    return REG.adapter(Format.GEMINI).build_request(req)["contents"]


# ---------------------------------------------------------------------- carrier encoding


@pytest.mark.parametrize(
    ("direction", "target"), [("next", "text"), ("previous", "function"), ("standalone", "any")]
)
def test_gemini_carrier_round_trip(direction: str, target: str) -> None:
    """TestGeminiResponsesCarrierRoundTrip"""
    assert carried_signature(carrier(GEMINI_SIG, direction, target)) == (GEMINI_SIG, "gemini", False)


@pytest.mark.parametrize(
    "value",
    [
        GEMINI_CARRIER_PREFIX + "previous:text:not-base64!",
        GEMINI_CARRIER_PREFIX + "sideways:text:QUJD",
        GEMINI_CARRIER_PREFIX + "next:image:QUJD",
        GEMINI_CARRIER_PREFIX + "next:text",
    ],
    ids=["bad base64", "bad direction", "bad target", "missing payload"],
)
def test_malformed_gemini_carrier_carries_nothing(value: str) -> None:
    """TestNormalizeGeminiResponsesCarriersDropsMalformedEnvelope"""
    assert carried_signature(value)[0] is None


def test_nested_gemini_carrier_is_rejected() -> None:
    """TestDecodeGeminiResponsesCarrierRejectsNestedEnvelope"""
    nested = carrier(carrier(GEMINI_SIG, "next", "text"), "previous", "text")
    assert carried_signature(nested)[0] is None


def test_gemini_thought_signature_gets_a_carrier() -> None:
    """signature_carrier.go encodeGeminiResponsesCarrier: Gemini artifacts are wrapped"""
    value = carrier_of(GEMINI_SIG, "gemini")
    assert value is not None and value.startswith(GEMINI_CARRIER_PREFIX)
    assert carried_signature(value) == (GEMINI_SIG, "gemini", False)


def test_call_carrier_never_carries_the_bypass_sentinel() -> None:
    """signature_carrier.go compatibleGeminiResponsesCarrierSignature refuses the sentinel"""
    assert call_carrier(SKIP, "gemini") is None
    assert call_carrier(GEMINI_SIG, "claude") is None
    item = call_carrier(GEMINI_SIG, "gemini")
    assert item is not None and item["summary"] == []


# ---------------------------------------------------------------------- Responses -> Gemini


def test_carrier_binds_to_the_function_call_after_it() -> None:
    """TestGeminiResponsesWrappedUUIDFunctionSignatureRoundTrip (the request half)"""
    req = responses_request(
        "gemini-3-pro",
        {"role": "user", "content": "run"},
        {"type": "reasoning", "summary": [], "encrypted_content": carrier(GEMINI_SIG, "next", "function")},
        {"type": "function_call", "call_id": "call-1", "name": "run", "arguments": '{"command":"true"}'},
        {"type": "function_call_output", "call_id": "call-1", "output": "ok"},
    )
    part = to_gemini(req)[1]["parts"][0]
    assert part["functionCall"]["name"] == "run" and part["thoughtSignature"] == GEMINI_SIG
    assert GEMINI_CARRIER_PREFIX not in str(to_gemini(req))


def test_call_carrier_followed_by_a_message_is_dropped() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DropsInvalidCarrierPayloads (mismatched target)"""
    req = responses_request(
        "gemini-3-pro",
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [], "encrypted_content": carrier(GEMINI_SIG, "next", "function")},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answer"}]},
        {"role": "user", "content": "next"},
    )
    contents = to_gemini(req)
    assert contents[1]["parts"] == [{"text": "answer"}]
    assert GEMINI_SIG not in str(contents)


def test_bypass_carrier_changes_nothing() -> None:
    """TestConvertOpenAIResponsesRequestToGemini_DropsInvalidCarrierPayloads (bypass payload)"""
    req = responses_request(
        "gemini-3-pro",
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [], "encrypted_content": carrier(SKIP, "next", "function")},
        {"type": "function_call", "call_id": "call-1", "name": "run", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call-1", "output": "ok"},
    )
    part = to_gemini(req)[1]["parts"][0]
    # no signature came through: the builder's own rule gives the first call the sentinel
    assert part["thoughtSignature"] == SKIP


def test_gemini_thought_text_carrier_returns_to_gemini() -> None:
    """signature_carrier.go (text target): a thought summary and its signature go back as a thought part"""
    req = responses_request(
        "gemini-3-pro",
        {"role": "user", "content": "q"},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "thinking"}],
            "encrypted_content": carrier(GEMINI_SIG, "standalone", "text"),
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "answer"}]},
        {"role": "user", "content": "next"},
    )
    parts = to_gemini(req)[1]["parts"]
    assert parts[0]["thoughtSignature"] == GEMINI_SIG and parts[0]["thought"] is True


# ---------------------------------------------------------------------- Responses -> Claude


def test_claude_signature_in_encrypted_content_becomes_a_thinking_block() -> None:
    """claude_openai-responses_request.go convertResponsesReasoningToClaudeThinking"""
    sig = claude_signature()
    req = responses_request(
        "claude-sonnet-4-6",
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "why"}], "encrypted_content": sig},
        {"type": "function_call", "call_id": "toolu_1", "name": "run", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "ok"},
    )
    content = to_claude(req)[1]["content"]
    assert content[0] == {"type": "thinking", "thinking": "why", "signature": sig}
    assert content[1]["type"] == "tool_use"


@pytest.mark.parametrize("value", [gpt_signature(), "", "not-a-signature", GEMINI_SIG])
def test_foreign_encrypted_content_is_dropped_for_claude(value: str) -> None:
    """convertResponsesReasoningToClaudeThinking: missing or another provider's -> no block"""
    req = responses_request(
        "claude-sonnet-4-6",
        {"role": "user", "content": "q"},
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "why"}],
            "encrypted_content": value,
        },
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"role": "user", "content": "next"},
    )
    assert all(b["type"] != "thinking" for m in to_claude(req) for b in m["content"])


def test_redacted_thinking_rides_behind_its_marker() -> None:
    """claude_openai-responses_response.go ClaudeResponsesRedactedThinkingPrefix, both ways"""
    assert carrier_of("opaque-data", "claude", redacted=True) == "claude-redacted-thinking:opaque-data"
    req = responses_request(
        "claude-sonnet-4-6",
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [], "encrypted_content": "claude-redacted-thinking:opaque-data"},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
        {"role": "user", "content": "next"},
    )
    assert to_claude(req)[1]["content"][0] == {"type": "redacted_thinking", "data": "opaque-data"}


def test_empty_redacted_marker_carries_nothing() -> None:
    """responsesRedactedThinkingData: an empty payload is no block"""
    assert carried_signature("claude-redacted-thinking:") == (None, "claude", False)


def test_codex_encrypted_content_is_not_given_to_claude_but_kept_for_codex() -> None:
    """A Codex blob stays OpenAI's: sent back to a Codex upstream, never to Claude"""
    blob = gpt_signature()
    assert carried_signature(blob) == (blob, "openai", False)
    assert carried_signature("opaque-codex-state") == ("opaque-codex-state", "openai", False)


def test_claude_signature_is_never_sent_to_codex() -> None:
    """codex_executor_signature_test.go: what Codex cannot decrypt leaves the request"""
    sig = claude_signature()
    req = responses_request(
        "gpt-5.4",
        {"role": "user", "content": "q"},
        {"type": "reasoning", "summary": [], "encrypted_content": sig},
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "a"}]},
    )
    req.source = Format.OPENAI.value  # built for Codex as a foreign request
    body = REG.adapter(Format.CODEX).build_request(req)
    assert sig not in str(body)


def test_invalid_encrypted_content_is_accepted_from_the_client() -> None:
    """openai_responses_signature_test.go TestOpenAIResponsesForwardsInvalidReasoningEncryptedContentToExecutor:
    a malformed value is no client error; the upstream side decides what to keep"""
    req = responses_request(
        "gpt-5.4",
        {"id": "rs_bad", "type": "reasoning", "encrypted_content": "gAAAAABqFTIa\u2026abc", "summary": []},
    )
    thinking = req.messages[0].content[0]
    assert isinstance(thinking, ir.Thinking) and thinking.signature == "gAAAAABqFTIa\u2026abc"
