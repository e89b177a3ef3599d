"""Audit (helper transag) of CPA's gemini_openai-responses_request_test.go
TestConvertOpenAIResponsesRequestToGemini_FunctionCallOutputVariations (our earlier port,
test_gemini_openai_responses_request.py, had two of its seven cases). A Responses
client's ``function_call_output`` in each shape CPA's test sends reaches Gemini as the
call's result.

Differences from CPA, on purpose: an output list holding objects with no part ``type``
is a 400 here (the Responses API types every output part;
test_gemini_openai_responses_request.py::test_output_untyped_structured_parts_rejected),
where CPA forwards the objects; a stringified array goes as the result's text (CPA: the
parsed array; the model reads the same JSON); a stringified object is the response
itself (CPA: under ``result``); images go as ``inlineData``/``mimeType`` (CPA
``inline_data``/``mime_type``, both Gemini spellings)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError

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


@pytest.mark.parametrize(
    ("name", "output"),
    [("list_items", ROWS), ("query", MIXED)],
    ids=[
        "plain structured JSON array without images",
        "mixed array with text and non-image structured object",
    ],
)
def test_untyped_output_objects_are_refused(name: str, output: list[Any]) -> None:
    """Our difference: a clear 400 naming the part without a ``type`` (CPA forwards it)."""
    with pytest.raises(RequestError, match=r"output\[\d\]\.type: missing content part type"):
        req(RESPONSES, GEMINI, _body(name, output), "gemini-3.7-flash-high")


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
