"""CPA internal/translator/gemini/openai/chat-completions (noop_optimization_test.go,
gemini_openai_signature_test.go) and gemini/openai/responses/noop_optimization_test.go:
Chat Completions / Responses clients with a Gemini upstream."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.errors import RequestError
from cliproxy.formats.gemini import SKIP_SIGNATURE
from tests.translate.cpa._run import GEMINI, OPENAI, RESPONSES, events, req, resp, sse, stream
from tests.translate.cpa.signature_fixtures import gemini3_signature

SIG = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34]))
PNG = "aGVsbG8="


def test_whole_answer_is_the_assistants_with_its_image() -> None:
    """CPA: TestConvertGeminiResponseToOpenAINonStreamKeepsAssistantRole; an image part of a
    Gemini image model reaches the message as ``images`` (it was dropped)."""
    body = {
        "candidates": [
            {
                "index": 0,
                "content": {
                    "parts": [{"text": "hello"}, {"inlineData": {"mimeType": "image/png", "data": PNG}}]
                },
                "finishReason": "STOP",
            }
        ]
    }
    msg = resp(GEMINI, OPENAI, body)["choices"][0]["message"]
    assert msg["role"] == "assistant" and msg["content"] == "hello"
    assert msg["images"] == [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]


def test_stream_names_the_role_once_and_keeps_call_and_image() -> None:
    """CPA: TestConvertGeminiResponseToOpenAIStreamingSetsAssistantRoleOnce. We send each
    part as its own chunk (CPA packs the chunk's parts in one); the facts hold: the role comes
    once, then the text, the call and the image (the image was dropped)."""
    chunk = {
        "candidates": [
            {
                "index": 0,
                "content": {
                    "parts": [
                        {"text": "hello"},
                        {"functionCall": {"name": "lookup", "args": {}}},
                        {"inlineData": {"mimeType": "image/png", "data": PNG}},
                    ]
                },
            }
        ]
    }
    request = {"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}
    deltas = [
        c["choices"][0]["delta"] for c in events(stream(GEMINI, OPENAI, sse(chunk, events=False), request))
    ]
    assert [d["role"] for d in deltas if "role" in d] == ["assistant"]
    assert "".join(d.get("content") or "" for d in deltas) == "hello"
    assert [c["function"]["name"] for d in deltas for c in d.get("tool_calls", ()) if "id" in c] == ["lookup"]
    assert [i["image_url"]["url"] for d in deltas for i in d.get("images", ())] == [
        f"data:image/png;base64,{PNG}"
    ]


def test_tool_strict_is_dropped_and_a_non_string_name_refused() -> None:
    """CPA: TestConvertOpenAIRequestToGeminiNormalizesToolNameAndStrict: ``strict`` never
    reaches Gemini. A difference: CPA sends a tool named ``true`` for ``"name": true``; we
    refuse it as the client's mistake (a 400 naming the field)."""
    tool = {
        "type": "function",
        "function": {"name": "lookup", "strict": True, "parameters": {"type": "object"}},
    }
    body = {"model": "gemini-test", "messages": [{"role": "user", "content": "x"}], "tools": [tool]}
    decl = req(OPENAI, GEMINI, body, "gemini-test")["tools"][0]["functionDeclarations"][0]
    assert decl["name"] == "lookup" and "strict" not in decl
    bad = {
        **body,
        "tools": [{"type": "function", "function": {"name": True, "parameters": {"type": "object"}}}],
    }
    with pytest.raises(RequestError, match=r"tools\[0\]\.function\.name"):
        req(OPENAI, GEMINI, bad, "gemini-test")


@pytest.mark.parametrize(
    ("raw", "want"), [("gemini#" + SIG, SIG), ("not-a-provider-signature", SKIP_SIGNATURE)]
)
def test_tool_call_signature_from_extra_content(raw: str, want: str) -> None:
    """CPA: TestConvertOpenAIRequestToGemini_ToolCallSignatureCompatibility: a Gemini
    signature the client kept in ``extra_content.google`` goes back on the call; anything
    else becomes the validator-skip sentinel."""
    call = {
        "id": "call_123",
        "type": "function",
        "function": {"name": "lookup", "arguments": '{"q":"Paris"}'},
        "extra_content": {"google": {"thought_signature": raw}},
    }
    body: dict[str, Any] = {
        "model": "gemini-3.5-flash",
        "messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [call]}],
    }
    part = req(OPENAI, GEMINI, body, "gemini-3.5-flash")["contents"][1]["parts"][0]
    assert part["functionCall"]["name"] == "lookup" and part["thoughtSignature"] == want


def test_responses_generation_config() -> None:
    """CPA: TestConvertOpenAIResponsesRequestToGeminiBuildsGenerationConfigWithoutIntermediateObject:
    temperature, top_p and a JSON-schema format land in ``generationConfig`` (the schema as
    ``responseJsonSchema``, never ``responseSchema``)."""
    body = {
        "model": "gemini-test",
        "input": "hello",
        "temperature": 0.5,
        "top_p": 0.9,
        "text": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
    }
    gen = req(RESPONSES, GEMINI, body, "gemini-test")["generationConfig"]
    assert gen["temperature"] == 0.5 and gen["topP"] == 0.9
    assert gen["responseMimeType"] == "application/json" and gen["responseJsonSchema"] == {"type": "object"}
    assert "responseSchema" not in gen
