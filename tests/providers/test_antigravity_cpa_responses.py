"""CPA's Antigravity Responses translator request cases
(internal/translator/antigravity/openai/responses/antigravity_openai-responses_request_test.go),
ported as requests through a running proxy: a Responses client's ``input`` goes to the fake
Cloud Code server, and the test reads the envelope it received.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.providers.test_antigravity_cpa_signature import proxy, send  # noqa: F401 (fixture)
from tests.translate.cpa.signature_fixtures import (
    field_bytes,
    field_varint,
    gpt_signature,
)

CLAUDE = "claude-opus-4-6-thinking"


def claude_signature(model: str = "claude-sonnet-4-6") -> str:
    """testAntigravityResponsesClaudeSignatureForModel: a native ``E`` Claude signature."""
    channel = field_varint(1, 12) + field_varint(2, 2) + field_bytes(6, model.encode())
    payload = field_bytes(2, field_bytes(1, channel)) + field_varint(3, 1)
    return base64.b64encode(payload).decode()


def r_form(native: str) -> str:
    """Antigravity's double-layer ``R`` form of a native Claude signature."""
    return base64.b64encode(native.encode()).decode()


def thoughts(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for c in envelope["request"]["contents"] for p in c["parts"] if p.get("thought")]


def reasoning(sig: str, text: str | None) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if text is not None else []
    return {"type": "reasoning", "id": "rs_prev", "encrypted_content": sig, "summary": summary}


ANSWER = {"role": "assistant", "content": [{"type": "output_text", "text": "visible answer"}]}
CONTINUE = {"role": "user", "content": [{"type": "input_text", "text": "continue"}]}
START = {"role": "user", "content": [{"type": "input_text", "text": "start"}]}


@pytest.mark.parametrize("form", ["native", "double-layer"])
async def test_claude_reasoning_keeps_its_claude_signature(proxy: Any, form: str) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_ClaudeReasoningKeepsClaudeSignature:
    a reasoning item whose encrypted_content is a Claude signature (native ``E`` or
    Antigravity's ``R``) goes to Antigravity's Claude as a thought with the ``R`` form."""
    native = claude_signature()
    sig = native if form == "native" else r_form(native)
    body = {"model": CLAUDE, "input": [START, reasoning(sig, "internal reasoning"), ANSWER, CONTINUE]}
    sent = await send(proxy, "/v1/responses", body)
    assert thoughts(sent) == [
        {"text": "internal reasoning", "thought": True, "thoughtSignature": r_form(native)}
    ]


async def test_claude_reasoning_drops_a_foreign_signature(proxy: Any) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_ClaudeReasoningDropsIncompatibleSignature:
    a GPT reasoning item never reaches Claude, nor does the validator skip."""
    body = {
        "model": CLAUDE,
        "input": [START, reasoning(gpt_signature(), "must not reach Claude"), ANSWER, CONTINUE],
    }
    sent = await send(proxy, "/v1/responses", body)
    assert thoughts(sent) == []
    text = str(sent)
    assert "must not reach Claude" not in text and "skip_thought_signature_validator" not in text
    assert sent["request"]["contents"][1]["parts"] == [{"text": "visible answer"}]


async def test_claude_reasoning_without_text_is_dropped(proxy: Any) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_ClaudeReasoningDropsEmptyThinkingText,
    and _EmptyClaudeReasoning{,BeforeFunction}DoesNotShiftLaterSignature: an empty item is
    left out, and the next one keeps its own signature.
    CPA: TestConvertOpenAIResponsesRequestToAntigravity_EmptyClaudeReasoningBeforeFunctionDoesNotShiftLaterSignature,
    TestConvertOpenAIResponsesRequestToAntigravity_EmptyClaudeReasoningDoesNotShiftLaterSignature"""
    first, second = claude_signature("claude-sonnet-4-6"), claude_signature("claude-opus-4-6")
    body = {
        "model": CLAUDE,
        "input": [
            START,
            reasoning(first, None),
            {"type": "function_call", "call_id": "call-1", "name": "run", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call-1", "output": "ok"},
            reasoning(second, "second reasoning"),
            ANSWER,
            CONTINUE,
        ],
    }
    sent = await send(proxy, "/v1/responses", body)
    assert thoughts(sent) == [
        {"text": "second reasoning", "thought": True, "thoughtSignature": r_form(second)}
    ]


async def test_gemini_reasoning_keeps_its_native_signature(proxy: Any) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_GeminiReasoningUsesNativeThoughtSignaturePlacement:
    a ``gemini#``-prefixed signature goes back bare on the thought."""
    sig = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
    item = reasoning("gemini#" + sig, "reasoning summary")
    sent = await send(
        proxy, "/v1/responses", {"model": "gemini-3-flash-agent", "input": [START, item, CONTINUE]}
    )
    assert thoughts(sent) == [{"text": "reasoning summary", "thought": True, "thoughtSignature": sig}]


async def test_tool_result_images_go_inside_their_responses(proxy: Any) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_PreservesToolResultImage and
    _AttachesParallelToolImagesToNearestResponse: each output's image goes into its own
    functionResponse (by id), whatever else the output holds.
    CPA: TestConvertOpenAIResponsesRequestToAntigravity_AttachesParallelToolImagesToNearestResponse"""

    def output(call: str, text: str, url: str) -> dict[str, Any]:
        parts = [
            {"type": "input_text", "text": text},
            {"type": "input_image", "detail": "auto", "image_url": url},
        ]
        return {"type": "function_call_output", "call_id": call, "output": parts}

    body = {
        "model": "gemini-3-flash",
        "input": [
            {"role": "user", "content": [{"type": "input_text", "text": "read both"}]},
            {
                "type": "function_call",
                "call_id": "call_a",
                "name": "read",
                "arguments": '{"path":"/tmp/a.png"}',
            },
            {
                "type": "function_call",
                "call_id": "call_b",
                "name": "read",
                "arguments": '{"path":"/tmp/b.png"}',
            },
            output("call_a", "file A", "data:image/png;base64,AAA"),
            output("call_b", "file B", "data:image/jpeg;base64,BBB"),
        ],
    }
    sent = await send(proxy, "/v1/responses", body)
    responses = [p["functionResponse"] for p in sent["request"]["contents"][2]["parts"]]
    images = {r["id"]: [p["inlineData"] for p in r.get("parts", ())] for r in responses}
    assert [r["name"] for r in responses] == ["read", "read"]
    assert images == {
        "call_a": [{"mimeType": "image/png", "data": "AAA"}],
        "call_b": [{"mimeType": "image/jpeg", "data": "BBB"}],
    }


async def test_additional_tools_and_a_namespaced_tool_choice(proxy: Any) -> None:  # noqa: F811
    """TestConvertOpenAIResponsesRequestToAntigravity_PreservesAdditionalToolsAndToolConfig:
    tools an ``additional_tools`` item brings in a namespace are declared, and a
    tool_choice naming one of them forces it by its namespaced name."""
    params = {"type": "object", "properties": {"value": {"type": "string"}}, "required": ["value"]}
    body = {
        "model": "gemini-3-flash",
        "input": [
            {
                "type": "additional_tools",
                "tools": [
                    {
                        "type": "namespace",
                        "name": "functions",
                        "tools": [
                            {"type": "custom", "name": "exec", "description": "Execute a command"},
                            {
                                "type": "function",
                                "name": "continuity_probe",
                                "description": "Probe",
                                "parameters": params,
                            },
                        ],
                    }
                ],
            },
            {"role": "user", "content": [{"type": "input_text", "text": "test"}]},
        ],
        "tool_choice": {"type": "function", "name": "continuity_probe", "namespace": "functions"},
    }
    request = (await send(proxy, "/v1/responses", body))["request"]
    assert len(request["tools"][0]["functionDeclarations"]) == 2
    config = request["toolConfig"]["functionCallingConfig"]
    assert config["mode"] == "ANY" and config["allowedFunctionNames"] == ["functions__continuity_probe"]


async def test_claude_gets_no_gemini_call_signature(proxy: Any) -> None:  # noqa: F811
    """Ours, beside CPA's Responses cases: with its Claude reasoning kept, a Responses
    client's history still loses every Gemini signature on its way to a Claude model (a call
    signed while the conversation was on a Gemini model, say)."""
    carrier_call = {"type": "function_call", "call_id": "call-1", "name": "run", "arguments": "{}"}
    gemini_sig = "EjQKMgEMOdbHO0Gd+c9Mxk4ELwPGbpCEcp2mFfYYLix2UVtBH3fL8GECc4+JITVnHF4qZDsA"
    body = {
        "model": CLAUDE,
        "input": [
            START,
            reasoning(claude_signature(), "thinking first"),
            reasoning("gemini#" + gemini_sig, "a Gemini thought"),
            carrier_call,
            {"type": "function_call_output", "call_id": "call-1", "output": "ok"},
            CONTINUE,
        ],
    }
    sent = await send(proxy, "/v1/responses", body)
    assert gemini_sig not in str(sent) and "skip_thought_signature_validator" not in str(sent)
    assert [t["text"] for t in thoughts(sent)] == ["thinking first"]
