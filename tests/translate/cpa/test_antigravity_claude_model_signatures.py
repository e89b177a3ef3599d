"""Claude models behind Antigravity: the signature cases of CPA's
internal/translator/antigravity/gemini/antigravity_gemini_request_test.go (a Gemini client's
body: ``SanitizeAntigravityClaudeGeminiRequestSignatures``, ours
``signature_bodies.sanitize_gemini_contents_for_claude``) and the tool-call and orphan
tool-result cases of antigravity/claude/antigravity_claude_request_test.go (a Claude
client's body, translated and built as ``AntigravityProvider.build`` sends it)."""

from __future__ import annotations

import base64
import copy
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.translate.signature_bodies import sanitize_gemini_contents, sanitize_gemini_contents_for_claude
from cliproxy.translate.signatures import antigravity_claude_signature

from ._run import CLAUDE, GEMINI, get, req
from .signature_fixtures import claude_signature

SKIP = "skip_thought_signature_validator"


def _sanitized(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The Claude-model policy on a copy; the client's array and parts are left as they were."""
    before = copy.deepcopy(contents)
    out = list(contents)
    sanitize_gemini_contents_for_claude(out)
    assert contents == before
    return out


def _model_turn(*parts: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"role": "model", "parts": list(parts)}, {"role": "user", "parts": [{"text": "continue"}]}]


def test_claude_model_normalizes_strict_claude_thought_signature() -> None:
    """TestConvertGeminiRequestToAntigravity_ClaudeModelNormalizesStrictClaudeThoughtSignature:
    kept, in Antigravity's double-layer form."""
    native = claude_signature()
    out = _sanitized(
        _model_turn(
            {"text": "internal reasoning", "thought": True, "thoughtSignature": native},
            {"text": "visible answer"},
        )
    )
    assert out[0]["parts"][0] == {
        "text": "internal reasoning",
        "thought": True,
        "thoughtSignature": antigravity_claude_signature(native),
    }
    assert out[0]["parts"][1] == {"text": "visible answer"}


def test_claude_model_drops_non_strict_e_prefix_thought_signature() -> None:
    """TestConvertGeminiRequestToAntigravity_ClaudeModelDropsNonStrictEPrefixThoughtSignature."""
    loose = base64.b64encode(bytes([0x12, 0x01, 0x02])).decode()
    assert loose.startswith("E")
    out = _sanitized(
        _model_turn(
            {"text": "must not reach Claude", "thought": True, "thoughtSignature": loose},
            {"text": "visible answer"},
        )
    )
    assert out[0]["parts"] == [{"text": "visible answer"}]


def test_claude_model_drops_empty_thought_text() -> None:
    """TestConvertGeminiRequestToAntigravity_ClaudeModelDropsEmptyThoughtText."""
    out = _sanitized(
        _model_turn(
            {"text": "", "thought": True, "thoughtSignature": claude_signature()}, {"text": "visible answer"}
        )
    )
    assert out[0]["parts"] == [{"text": "visible answer"}]


@pytest.mark.parametrize("signature", [claude_signature(), SKIP], ids=["native", "sentinel"])
def test_claude_model_strips_function_call_signature(signature: str) -> None:
    """TestConvertGeminiRequestToAntigravity_ClaudeModelStripsUnneededFunctionCallSignature and
    TestSanitizeAntigravityClaudeGeminiRequestSignatures_StripsFunctionCallSignatureForClaudeModel."""
    call = {"functionCall": {"name": "test_tool", "args": {}}, "thoughtSignature": signature}
    out = _sanitized([{"role": "model", "parts": [call]}])
    assert out[0]["parts"] == [{"functionCall": {"name": "test_tool", "args": {}}}]


def test_claude_model_function_call_gets_no_sentinel() -> None:
    """TestConvertGeminiRequestToAntigravity_SkipsUppercaseClaudeModel: a call without a
    signature stays without one (the Gemini policy would add the bypass sentinel)."""
    contents = [{"role": "model", "parts": [{"functionCall": {"name": "test_tool", "args": {}}}]}]
    assert sanitize_gemini_contents_for_claude(list(contents)) is False
    gemini = list(contents)
    assert sanitize_gemini_contents(gemini) and gemini[0]["parts"][0]["thoughtSignature"] == SKIP


def test_strict_type_checks() -> None:
    """TestSanitizeAntigravityClaudeGeminiRequestSignatures_StrictTypeChecks: a ``thought``
    that is not the boolean true or a text that is not a string is no thinking block: its
    signature goes, the part stays."""
    sig = "valid_signature_1234567890123456789012345678901234567890"
    out = _sanitized(
        [
            {
                "role": "model",
                "parts": [
                    {"text": "reasoning", "thought": "true", "thoughtSignature": sig},
                    {"text": 123, "thought": True, "thoughtSignature": sig},
                    {"text": "valid answer"},
                ],
            }
        ]
    )
    assert out[0]["parts"] == [
        {"text": "reasoning", "thought": "true"},
        {"text": 123, "thought": True},
        {"text": "valid answer"},
    ]


def test_signatures_inside_calls_and_responses_go_too() -> None:
    """(CPA's StripsDuplicateSignatureKeys, in what a parsed body can hold: a signature
    inside ``functionCall`` / ``functionResponse`` or in snake case goes as well.)"""
    out = _sanitized(
        [
            {
                "role": "model",
                "parts": [{"functionCall": {"name": "calc", "args": {}, "thoughtSignature": "secret"}}],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "calc", "response": {}}, "thought_signature": "x"}],
            },
        ]
    )
    assert out[0]["parts"] == [{"functionCall": {"name": "calc", "args": {}}}]
    assert out[1]["parts"] == [{"functionResponse": {"name": "calc", "response": {}}}]


def test_a_model_turn_left_empty_is_dropped() -> None:
    out = _sanitized(_model_turn({"text": "unsigned", "thought": True}))
    assert out == [{"role": "user", "parts": [{"text": "continue"}]}]


# ---------------------------------------------------------------------- a Claude client


def _ag(body: dict[str, Any], model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    gemini = req(CLAUDE, GEMINI, {"model": model, "max_tokens": 1024, **body}, model)
    cred = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
    up = AntigravityProvider().build(cred, gemini, model=model, stream=False, client_headers={})
    return orjson.loads(up.body)  # type: ignore[no-any-return]


def _tool_use(**extra: Any) -> dict[str, Any]:
    return {
        "type": "tool_use",
        "id": "call_123",
        "name": "get_weather",
        "input": {"location": "Paris"},
        **extra,
    }


@pytest.mark.parametrize(
    "extra", [{}, {"signature": SKIP}], ids=["ToolUse", "ToolUse_DropsInvalidThoughtSignatureOnly"]
)
def test_tool_use_on_a_claude_model_carries_no_signature(extra: dict[str, Any]) -> None:
    """TestConvertClaudeRequestToAntigravity_ToolUse /
    TestConvertClaudeRequestToAntigravity_ToolUse_DropsInvalidThoughtSignatureOnly:
    one part, the call, with no thoughtSignature (no sentinel on Claude). Documented
    difference: the call id is not sent (CPA sends functionCall.id)."""
    out = _ag({"messages": [{"role": "assistant", "content": [_tool_use(**extra)]}]})
    parts = get(out, "request.contents.0.parts")
    assert parts == [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]


def test_tool_use_does_not_reuse_thinking_signature() -> None:
    """TestConvertClaudeRequestToAntigravity_ToolUse_DoesNotReuseThinkingSignature."""
    out = _ag(
        {
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Test user message"}]},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Let me think...", "signature": claude_signature()},
                        _tool_use(),
                    ],
                },
            ]
        },
        "claude-sonnet-4-5-thinking",
    )
    calls = [p for p in get(out, "request.contents.1.parts") if "functionCall" in p]
    assert calls == [{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]


@pytest.mark.parametrize(
    ("call_id", "name"),
    [
        ("get_weather-call-123", "get_weather"),
        ("toolu_tool-48fca351f12844eabf49dad8b63886d2", "toolu_tool-48fca351f12844eabf49dad8b63886d2"),
    ],
    ids=["Heuristic", "RawID"],
)
def test_tool_result_name_with_no_matching_tool_use(call_id: str, name: str) -> None:
    """TestConvertClaudeRequestToAntigravity_ToolResultName_NoMatchingToolUse_Heuristic /
    TestConvertClaudeRequestToAntigravity_ToolResultName_NoMatchingToolUse_RawID:
    a result whose tool_use is not in the request is named from its id (we refused it)."""
    content = [{"type": "tool_result", "tool_use_id": call_id, "content": "22C sunny"}]
    out = _ag({"messages": [{"role": "user", "content": content}]})
    assert get(out, "request.contents.0.parts.0.functionResponse.name") == name


def test_tool_use_input_given_as_json_text_is_its_object() -> None:
    """TestConvertClaudeRequestToAntigravity_ToolUse's input: ``"{\\"location\\": \\"Paris\\"}"``,
    an object sent as JSON text, is sent as that object (it became ``{}``)."""
    use = {"type": "tool_use", "id": "call_123", "name": "get_weather", "input": '{"location": "Paris"}'}
    out = _ag({"messages": [{"role": "assistant", "content": [use]}]})
    assert get(out, "request.contents.0.parts.0.functionCall.args") == {"location": "Paris"}
