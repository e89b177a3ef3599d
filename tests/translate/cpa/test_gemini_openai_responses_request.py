"""Ported from CPA internal/translator/gemini/openai/responses/gemini_openai-responses_request_test.go:
a Responses client's body for a Gemini upstream. The reasoning-signature cases of that
file belong to the signatures work.

Documented differences kept as assertions: ``inlineData.mimeType`` (CPA writes
``inline_data.mime_type``); call ids are not sent to Gemini (CPA sends
``functionResponse.id``); consecutive user turns are merged into one content."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ._run import GEMINI, RESPONSES, get, req

CPA = "gemini_openai-responses_request_test.go"


def _gem(body: dict[str, Any], model: str = "gemini-3.7-flash-high") -> dict[str, Any]:
    return req(RESPONSES, GEMINI, {"model": "gpt-5.4", **body}, model)


def _call(cid: str, name: str, args: str = "{}") -> dict[str, Any]:
    return {"type": "function_call", "call_id": cid, "name": name, "arguments": args}


def _out(cid: str, output: Any) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": cid, "output": output}


def _seq(out: dict[str, Any]) -> list[str]:
    seq = []
    for c in out["contents"]:
        for p in c["parts"]:
            if "functionCall" in p:
                seq.append("call:" + p["functionCall"]["args"].get("command", ""))
            if "functionResponse" in p:
                seq.append("output:" + str(p["functionResponse"]["response"].get("result")))
    return seq


def test_strips_trailing_assistant_prefill() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_StripsTrailingAssistantPrefill."""
    out = _gem(
        {
            "input": [
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hello"}]},
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "previous answer"}],
                },
            ]
        },
        "gemini-3.1-pro-high",
    )
    assert [c["role"] for c in out["contents"]] == ["user"]


def test_text_format_json_schema() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_TextFormatJSONSchema."""
    out = _gem(
        {
            "temperature": 0.2,
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "Return structured JSON."}]}
            ],
            "text": {
                "format": {
                    "type": "json_schema",
                    "strict": True,
                    "name": "response",
                    "schema": {
                        "type": "object",
                        "properties": {"cleanedContent": {"type": "string"}},
                        "required": ["cleanedContent"],
                        "additionalProperties": False,
                    },
                }
            },
        },
        "gemini-3.1-flash-lite",
    )
    gc = out["generationConfig"]
    assert gc["responseMimeType"] == "application/json"
    schema = gc["responseJsonSchema"]
    assert "responseSchema" not in gc
    assert schema["type"] == "object" and get(schema, "properties.cleanedContent.type") == "string"
    assert schema["additionalProperties"] is False
    assert gc["temperature"] == 0.2


def test_text_format_json_object() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_TextFormatJSONObject."""
    out = _gem(
        {"input": "Return a JSON object.", "text": {"format": {"type": "json_object"}}},
        "gemini-3.1-flash-lite",
    )
    assert out["generationConfig"]["responseMimeType"] == "application/json"
    assert "responseJsonSchema" not in out["generationConfig"]


@pytest.mark.parametrize(
    ("role", "text"), [("system", "System message text"), ("developer", "Developer message text")]
)
def test_system_and_developer_roles(role: str, text: str) -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_SystemAndDeveloperRoles."""
    out = _gem(
        {
            "instructions": "Be a helpful assistant",
            "input": [
                {"type": "message", "role": role, "content": [{"type": "input_text", "text": text}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hello"}]},
            ],
        },
        "gemini-3.5-flash",
    )
    assert [p["text"] for p in get(out, "systemInstruction.parts")] == ["Be a helpful assistant", text]
    assert all(c["role"] != role for c in out["contents"])


def test_cleans_tool_schema_required_fields() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGeminiCleansToolSchemaRequiredFields."""
    out = _gem(
        {
            "input": "hi",
            "tools": [
                {
                    "type": "function",
                    "name": "search_company",
                    "description": "Search",
                    "parameters": {
                        "type": "object",
                        "title": "SearchCompany",
                        "properties": {"country": {"type": "string"}, "industry": {"type": "string"}},
                        "required": ["country", "industry", "stale_field", "another_stale"],
                    },
                }
            ],
        },
        "gemini-2.0-flash",
    )
    decl = get(out, "tools.0.functionDeclarations.0")
    schema = decl.get("parametersJsonSchema") or decl["parameters"]
    assert schema["required"] == ["country", "industry"]


def test_function_call_output_with_images() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputWithImages."""
    out = _gem(
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_text", "text": "Below is the image from tool. Reply IMAGE_SEEN."}
                    ],
                },
                {
                    "type": "function_call",
                    "id": "fc_test",
                    "call_id": "call_test",
                    "name": "read",
                    "arguments": "{}",
                },
                _out(
                    "call_test",
                    [
                        {"type": "input_text", "text": "Read image file [image/png]"},
                        {
                            "type": "input_image",
                            "detail": "auto",
                            "image_url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==",
                        },
                    ],
                ),
            ]
        }
    )
    user = out["contents"][2]
    assert user["role"] == "user"
    fr = user["parts"][0]["functionResponse"]
    assert fr["name"] == "read" and fr["response"]["result"] == "Read image file [image/png]"
    assert user["parts"][1]["inlineData"] == {"data": "iVBORw0KGgoAAAANSUhEUg==", "mimeType": "image/png"}


def test_output_stringified_json_array_with_image() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations
    (stringified JSON array with image)."""
    out = _gem(
        {
            "input": [
                _call("call_1", "screenshot"),
                _out(
                    "call_1",
                    '[{"type":"input_text","text":"done"},{"type":"input_image","image_url":"data:image/jpeg;base64,/9j/4AAQSkZJRg=="}]',
                ),
            ]
        }
    )
    parts = get(out, "contents.1.parts")
    assert len(parts) == 2
    assert get(parts[0], "functionResponse.response.result") == "done"
    assert parts[1]["inlineData"] == {"data": "/9j/4AAQSkZJRg==", "mimeType": "image/jpeg"}


def test_output_plain_string() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations (plain string output)."""
    out = _gem({"input": [_call("call_1", "echo"), _out("call_1", "plain string result")]})
    parts = get(out, "contents.1.parts")
    assert len(parts) == 1 and get(parts[0], "functionResponse.response.result") == "plain string result"


def test_output_json_object_with_image_url_property_is_not_an_image() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations
    (structured JSON object with image_url property not an image block): the object is the response."""
    out = _gem(
        {
            "input": [
                _call("call_1", "get_hero"),
                _out("call_1", '{"ok":true,"caption":"hero","image_url":"https://example.com/hero.png"}'),
            ]
        }
    )
    parts = get(out, "contents.1.parts")
    assert len(parts) == 1
    assert get(parts[0], "functionResponse.response.caption") == "hero"


def test_output_stringified_object_array_kept_as_text() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations
    (stringified single-element object array preserved): no image, so the JSON text stays
    the result (CPA parses it into an array)."""
    out = _gem({"input": [_call("call_1", "lookup"), _out("call_1", '[{"id":1}]')]})
    parts = get(out, "contents.1.parts")
    assert len(parts) == 1 and get(parts[0], "functionResponse.response.result") == '[{"id":1}]'


def test_output_nested_image_url_object_with_detail() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations
    (nested image_url object with detail)."""
    out = _gem(
        {
            "input": [
                _call("call_1", "photo"),
                _out(
                    "call_1",
                    [
                        {
                            "type": "input_image",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="},
                            "detail": "high",
                        }
                    ],
                ),
            ]
        }
    )
    parts = get(out, "contents.1.parts")
    assert len(parts) == 2
    assert parts[1]["inlineData"] == {"data": "iVBORw0KGgoAAAANSUhEUg==", "mimeType": "image/png"}


def test_output_untyped_structured_parts_forwarded() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations
    (plain structured JSON array without images): objects without a part ``type`` (which
    the Responses API asks for) are forwarded, as CPA does (its issue #5039), not refused:
    as their JSON text, where CPA puts the array itself in ``result`` (our IR carries a
    tool's result as text or typed parts)."""
    out = _gem({"input": [_call("call_1", "list_items"), _out("call_1", [{"id": 1, "name": "first"}])]})
    result = get(out["contents"][-1]["parts"][0], "functionResponse.response.result")
    assert json.loads(result) == [{"id": 1, "name": "first"}]


def test_groups_reversed_parallel_tool_outputs() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_GroupsReversedParallelToolOutputs."""
    out = _gem(
        {
            "input": [
                _call("call-1", "run_command", '{"command":"one"}'),
                _call("call-2", "run_command", '{"command":"two"}'),
                _out("call-2", "two"),
                _out("call-1", "one"),
            ]
        },
        "gemini-3.6-flash-high",
    )
    assert [c["role"] for c in out["contents"]] == ["model", "user"]
    results = [get(p, "functionResponse.response.result") for p in out["contents"][1]["parts"]]
    assert sorted(results) == ["one", "two"] and len(results) == 2


def test_preserves_function_output_order_across_model_text() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_PreservesFunctionOutputOrderAcrossModelText."""
    out = _gem(
        {
            "input": [
                _call("call-1", "run_command", '{"command":"one"}'),
                {
                    "type": "message",
                    "role": "assistant",
                    "content": [{"type": "output_text", "text": "between"}],
                },
                _call("call-2", "run_command", '{"command":"two"}'),
                _out("call-1", "one"),
                _out("call-2", "two"),
            ]
        },
        "gemini-3.6-flash-high",
    )
    assert _seq(out) == ["call:one", "call:two", "output:one", "output:two"]


def test_additional_tools_namespace_and_custom() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_AdditionalToolsNamespaceAndCustom."""
    out = _gem(
        {
            "input": [
                {
                    "type": "additional_tools",
                    "role": "developer",
                    "tools": [
                        {
                            "type": "namespace",
                            "name": "collaboration",
                            "tools": [
                                {
                                    "type": "function",
                                    "name": "send_message",
                                    "parameters": {
                                        "type": "object",
                                        "properties": {"to": {"type": "string"}},
                                    },
                                }
                            ],
                        },
                        {"type": "custom", "name": "exec", "description": "run code"},
                    ],
                },
                {"role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            ]
        }
    )
    names = [d["name"] for d in get(out, "tools.0.functionDeclarations")]
    assert names == ["collaboration__send_message", "exec"]
    custom = get(out, "tools.0.functionDeclarations.1")
    schema = custom.get("parameters") or custom.get("parametersJsonSchema")
    assert "input" in schema["properties"]


def test_replays_custom_tool_call_and_output() -> None:
    """gemini_openai-responses_request_test.go TestConvertOpenAIResponsesRequestToGemini_ReplaysCustomToolCallAndOutput."""
    out = _gem(
        {
            "tools": [{"type": "custom", "name": "exec"}],
            "input": [
                {"role": "user", "content": [{"type": "input_text", "text": "run"}]},
                {"type": "custom_tool_call", "call_id": "call_c", "name": "exec", "input": "print(1)"},
                {"type": "custom_tool_call_output", "call_id": "call_c", "output": "1"},
            ],
        }
    )
    call = get(out, "contents.1.parts.0.functionCall")
    assert call["name"] == "exec" and call["args"] == {"input": "print(1)"}
    fr = get(out, "contents.2.parts.0.functionResponse")
    assert fr["name"] == "exec" and fr["response"] == {"result": "1"}
