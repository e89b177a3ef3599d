"""CPA internal/translator/antigravity/openai/responses/antigravity_openai-responses_response_test.go
and sdk/cliproxy/auth/response_model_rewriter_antigravity_sim_test.go: Antigravity's answer
(Gemini's, once the provider takes its envelope off) for a Responses client."""

from __future__ import annotations

from typing import Any

import orjson

from tests.translate.cpa._run import GEMINI, RESPONSES, events, resp, sse, stream


def test_whole_answer_keeps_the_clients_tools_and_call() -> None:
    """CPA: TestConvertAntigravityResponseToOpenAIResponsesNonStream_PreservesOpenAITools: the
    answer echoes the client's own tools (no Gemini declarations) and the call with JSON
    arguments."""
    tool = {
        "type": "function",
        "name": "get_weather",
        "description": "Get weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
    request = {"model": "gemini-3.5-flash-low", "input": "Call get_weather for Tokyo.", "tools": [tool]}
    answer = {
        "responseId": "antigravity-tool-response",
        "candidates": [
            {
                "content": {"parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}}}]},
                "finishReason": "STOP",
            }
        ],
    }
    out = resp(GEMINI, RESPONSES, answer, {**request, "tool_choice": "required"})
    assert out["tools"] == [tool]
    call = out["output"][0]
    assert (call["type"], call["name"], orjson.loads(call["arguments"])) == (
        "function_call",
        "get_weather",
        {"city": "Tokyo"},
    )


def test_namespaced_custom_tool_call_is_restored() -> None:
    """CPA: TestConvertAntigravityResponseToOpenAIResponses_RestoresAdditionalNamespaceCustomToolCall:
    ``functions__exec`` was a custom tool in a namespace of ``additional_tools``; the call
    comes back as that custom tool call with its input, whole and streamed (the call's name
    and namespace set on the item, top-level and inside ``output_item.done``: CPA:
    TestSetResponsesToolCallIdentity; its stale-namespace case has no counterpart, our items
    are built fresh)."""
    request: dict[str, Any] = {
        "model": "gemini-3.5-flash-low",
        "input": [
            {
                "type": "additional_tools",
                "tools": [
                    {"type": "namespace", "name": "functions", "tools": [{"type": "custom", "name": "exec"}]}
                ],
            }
        ],
    }
    answer = {
        "responseId": "antigravity-custom-response",
        "candidates": [
            {
                "content": {
                    "parts": [{"functionCall": {"name": "functions__exec", "args": {"input": "pwd"}}}]
                },
                "finishReason": "STOP",
            }
        ],
    }
    whole = resp(GEMINI, RESPONSES, answer, request)["output"][0]
    evs = events(stream(GEMINI, RESPONSES, sse(answer, events=False), {**request, "stream": True}))
    streamed = next(e["item"] for e in evs if e["type"] == "response.output_item.done")
    for item in (whole, streamed):
        assert (item["type"], item["name"], item["namespace"], item["input"]) == (
            "custom_tool_call",
            "exec",
            "functions",
            "pwd",
        )


def test_stream_ending_on_a_signature_only_part_completes() -> None:
    """CPA: TestAntigravityTranslatorEmitsCompletedWithoutRewriter,
    TestRewriteForceMappedStreamChunk_AntigravityTranslatorEventChunks_PreservesCompleted:
    Antigravity's live frames (a text, then a signature-only part with the finish) end in one
    ``response.completed`` naming the model the client asked for, with the usage."""
    usage = {
        "promptTokenCount": 21,
        "candidatesTokenCount": 1,
        "totalTokenCount": 131,
        "thoughtsTokenCount": 109,
    }

    def frame(part: dict[str, Any], finish: bool) -> dict[str, Any]:
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [part]}}
        if finish:
            cand["finishReason"] = "STOP"
        return {
            "candidates": [cand],
            "usageMetadata": usage,
            "modelVersion": "gemini-3-flash-a",
            "responseId": "tjVCavaJBYjgz7IP-NnfSQ",
        }

    data = sse(
        frame({"text": "OK"}, False), frame({"thoughtSignature": "sig", "text": ""}, True), events=False
    )
    request = {"model": "gemini-3.5-flash", "input": [], "stream": True}
    evs = events(stream(GEMINI, RESPONSES, data, request, "gemini-3.5-flash"))
    done = [e for e in evs if e["type"] == "response.completed"]
    assert len(done) == 1
    final = done[0]["response"]
    assert final["model"] == "gemini-3.5-flash"
    assert final["usage"]["input_tokens"] == 21 and final["usage"]["output_tokens"] == 110
