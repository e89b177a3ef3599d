"""Ported from CPA internal/translator/gemini/openai/responses/gemini_openai-responses_response_test.go:
a Gemini answer as a Responses client sees it. (The signature-carrier cases of that file
belong to the signatures work.)"""

from __future__ import annotations

from typing import Any

import orjson

from ._run import GEMINI, RESPONSES, events, resp, sse, stream

CPA = "gemini_openai-responses_response_test.go"


def _run(request: dict[str, Any], *chunks: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(GEMINI, RESPONSES, sse(*chunks, events=False), request, "gemini-2.5-flash"))


def _named(evs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in evs if e.get("type") == name]


def _lite(tool: dict[str, Any]) -> dict[str, Any]:
    return {
        "model": "gemini-2.5-flash",
        "stream": True,
        "input": [
            {
                "type": "additional_tools",
                "role": "developer",
                "tools": [{"type": "namespace", "name": "functions", "tools": [tool]}],
            },
            {"role": "user", "content": "go"},
        ],
    }


CUSTOM = _lite({"type": "custom", "name": "exec"})
FUNCTION = _lite(
    {
        "type": "function",
        "name": "continuity_probe",
        "parameters": {"type": "object", "properties": {"value": {"type": "string"}}},
    }
)


def _chunk(name: str, args: dict[str, Any], rid: str) -> dict[str, Any]:
    return {
        "candidates": [
            {
                "content": {"role": "model", "parts": [{"functionCall": {"name": name, "args": args}}]},
                "finishReason": "STOP",
            }
        ],
        "modelVersion": "gemini-2.5-flash",
        "responseId": rid,
    }


def test_stream_restores_additional_namespace_custom_tool_call() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponses_RestoresAdditionalNamespaceCustomToolCall."""
    evs = _run(CUSTOM, _chunk("functions__exec", {"input": "pwd"}, "resp_custom_stream"))
    added = [
        e["item"]
        for e in _named(evs, "response.output_item.added")
        if e["item"]["type"] == "custom_tool_call"
    ]
    done = [
        e["item"] for e in _named(evs, "response.output_item.done") if e["item"]["type"] == "custom_tool_call"
    ]
    completed = _named(evs, "response.completed")[0]["response"]["output"][0]
    assert not _named(evs, "response.function_call_arguments.delta")
    for item in (added[0], done[0], completed):
        assert (item["name"], item["namespace"]) == ("exec", "functions")
    assert _named(evs, "response.custom_tool_call_input.done")[0]["input"] == "pwd"
    assert done[0]["input"] == "pwd"
    assert completed["type"] == "custom_tool_call" and completed["input"] == "pwd"


def test_nonstream_restores_additional_namespace_custom_tool_call() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponsesNonStream_RestoresAdditionalNamespaceCustomToolCall."""
    raw = _chunk("functions__exec", {"input": "pwd"}, "resp_custom_nonstream")
    item = resp(GEMINI, RESPONSES, raw, CUSTOM)["output"][0]
    assert (item["type"], item["name"], item["namespace"], item["input"]) == (
        "custom_tool_call",
        "exec",
        "functions",
        "pwd",
    )


def test_stream_restores_additional_namespace_function_call() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponses_RestoresAdditionalNamespaceFunctionCall."""
    evs = _run(FUNCTION, _chunk("functions__continuity_probe", {"value": "PROBE"}, "resp_func_stream"))
    added = [
        e["item"] for e in _named(evs, "response.output_item.added") if e["item"]["type"] == "function_call"
    ]
    done = [
        e["item"] for e in _named(evs, "response.output_item.done") if e["item"]["type"] == "function_call"
    ]
    completed = _named(evs, "response.completed")[0]["response"]["output"][0]
    assert _named(evs, "response.function_call_arguments.done")
    for item in (added[0], done[0], completed):
        assert (item["name"], item["namespace"]) == ("continuity_probe", "functions")
    assert completed["type"] == "function_call"
    assert orjson.loads(completed["arguments"])["value"] == "PROBE"


def test_nonstream_restores_additional_namespace_function_call() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponsesNonStream_RestoresAdditionalNamespaceFunctionCall."""
    raw = _chunk("functions__continuity_probe", {"value": "PROBE"}, "resp_func_nonstream")
    item = resp(GEMINI, RESPONSES, raw, FUNCTION)["output"][0]
    assert (item["type"], item["name"], item["namespace"]) == (
        "function_call",
        "continuity_probe",
        "functions",
    )
    assert orjson.loads(item["arguments"])["value"] == "PROBE"


def test_message_output_item_done_fields() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponses_MessageOutputItemDoneFields."""
    evs = _run(
        {"model": "gemini-2.5-flash", "input": "Reply with exactly: hello", "stream": True},
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": "hello"}]}, "finishReason": "STOP"}
            ],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "resp_item_done_test",
        },
    )
    done = [e["item"] for e in _named(evs, "response.output_item.done") if e["item"]["type"] == "message"]
    assert done
    part = done[0]["content"][0]
    assert isinstance(part["annotations"], list) and isinstance(part["logprobs"], list)


def test_unwrap_and_aggregate_text() -> None:
    """gemini_openai-responses_response_test.go TestConvertGeminiResponseToOpenAIResponses_UnwrapAndAggregateText
    (the text half: deltas in order, one message item whose text is their join, and the
    terminal event once)."""
    request = {"model": "gemini-2.5-flash", "input": "hi", "stream": True}
    evs = _run(
        request,
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}}],
            "responseId": "r1",
            "modelVersion": "gemini-2.5-flash",
        },
        {
            "candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 2, "totalTokenCount": 3},
        },
    )
    deltas = [e["delta"] for e in _named(evs, "response.output_text.delta")]
    assert "".join(deltas) == "Hello"
    assert _named(evs, "response.output_text.done")[0]["text"] == "Hello"
    assert len(_named(evs, "response.completed")) == 1
    assert _named(evs, "response.completed")[0]["response"]["output"][0]["content"][0]["text"] == "Hello"
