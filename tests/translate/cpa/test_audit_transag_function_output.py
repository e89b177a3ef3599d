"""Audit (helper transag) of CPA's gemini_openai-responses_request_test.go
TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations (our earlier port,
test_gemini_openai_responses_request.py, had two of its seven cases). A Responses
client's ``function_call_output`` in each shape CPA's test sends reaches Gemini as the
call's result.

Differences from CPA, on purpose: an output list holding objects with no part ``type``
(which the Responses API asks for) is forwarded as CPA forwards it, but as JSON text in
the result (CPA: the objects themselves; the model reads the same JSON); a stringified
array goes as the result's text (CPA: the parsed array); a stringified object is the response
itself (CPA: under ``result``); images go as ``inlineData``/``mimeType`` (CPA
``inline_data``/``mime_type``, both Gemini spellings)."""

from __future__ import annotations

from typing import Any

import orjson

from ._run import GEMINI, RESPONSES, req

ROWS = [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]
MIXED = [{"type": "input_text", "text": "summary header"}, {"id": 1, "status": "active"}]


def _body(name: str, output: Any) -> dict[str, Any]:
    return {
        "model": "gemini-3.7-flash-high",
        "input": [
            {"type": "function_call", "call_id": "call_1", "name": name, "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": output},
        ],
    }


def _parts(name: str, output: Any) -> list[dict[str, Any]]:
    out = req(RESPONSES, GEMINI, _body(name, output), "gemini-3.7-flash-high")
    parts: list[dict[str, Any]] = out["contents"][1]["parts"]
    assert out["contents"][1]["role"] == "user"
    assert parts[0]["functionResponse"]["name"] == name
    return parts


def test_stringified_array_with_image() -> None:
    """ "stringified JSON array with image": the text is the result, the image a part after it."""
    output = '[{"type":"input_text","text":"done"},{"type":"input_image","image_url":"data:image/jpeg;base64,/9j/4AAQSkZJRg=="}]'
    parts = _parts("screenshot", output)
    assert len(parts) == 2
    assert parts[0]["functionResponse"]["response"]["result"] == "done"
    assert parts[1]["inlineData"] == {"mimeType": "image/jpeg", "data": "/9j/4AAQSkZJRg=="}


def test_untyped_output_objects_are_forwarded_as_json() -> None:
    """ "plain structured JSON array without images": the array as the result's JSON text."""
    parts = _parts("list_items", ROWS)
    assert len(parts) == 1
    assert orjson.loads(parts[0]["functionResponse"]["response"]["result"]) == ROWS


def test_mixed_text_and_untyped_object() -> None:
    """ "mixed array with text and non-image structured object": the text, then the object's JSON."""
    parts = _parts("query", MIXED)
    result = parts[0]["functionResponse"]["response"]["result"]
    assert result == 'summary header\n{"id":1,"status":"active"}' and len(parts) == 1


def test_plain_string_output() -> None:
    """ "plain string output"."""
    parts = _parts("echo", "plain string result")
    assert parts == [{"functionResponse": {"name": "echo", "response": {"result": "plain string result"}}}]


def test_stringified_single_object_array() -> None:
    """ "stringified single-element object array preserved as raw JSON"."""
    parts = _parts("lookup", '[{"id":1}]')
    assert len(parts) == 1
    assert orjson.loads(parts[0]["functionResponse"]["response"]["result"]) == [{"id": 1}]


def test_nested_image_url_object_with_detail() -> None:
    """ "nested image_url object with detail": the image is a part of its own."""
    output = [
        {
            "type": "input_image",
            "image_url": {"url": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg=="},
            "detail": "high",
        }
    ]
    parts = _parts("photo", output)
    assert len(parts) == 2
    assert parts[1]["inlineData"] == {"mimeType": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}
