"""The schemas a Gemini client writes, as other formats' upstreams get them.

Gemini CLI's utility calls (its router's classifier, next-speaker check, loop detection)
send ``generationConfig.responseJsonSchema`` built with google-genai's ``Type`` names, so
the plain JSON Schema says ``"type": "OBJECT"``; its tools may do the same in
``parametersJsonSchema``. A pydantic ``model_dump()`` of google-genai's ``Schema`` without
``by_alias`` spells fields by their proto names (``any_of``, ``max_items``,
``property_ordering``), which the Gemini API reads as the camelCase ones (protobuf JSON
takes both). Chat Completions, Codex and Claude get JSON Schema: type names lowered and, in
a Gemini ``Schema``, proto names in JSON Schema's spelling; property names stay as written.
``propertyOrdering`` (Gemini-only, an unknown keyword elsewhere) is kept, as CPA keeps it in
tool schemas. A Gemini upstream gets every schema as sent.

CPA: ``claude_gemini_request.go`` (``lowercaseClaudeToolSchemaTypes``) and
``codex_gemini_request.go`` lower the type names of ``parameters`` and
``parametersJsonSchema``; ``openai_gemini_request.go`` copies them raw (a deliberate
difference here: OpenAI refuses ``"type": "OBJECT"`` as well). None of the three carries a
response schema; here Chat and Codex get it (non-strict), and a Claude model gets it fitted
to what Anthropic's structured output takes (objects closed, ``propertyOrdering`` as
description text: tests/e2e/test_fidelity_gemini_claude_schema.py). CPA has no test
of these schemas (its ``*_gemini_request_test.go`` files cover contents and call ids)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from google.genai import types as gtypes

from tests.e2e.clients import KEY

# Gemini CLI's classifier schema (routing/strategies/classifierStrategy.ts), with Type.* names
CLASSIFIER = {
    "type": "OBJECT",
    "properties": {
        "reasoning": {"type": "STRING", "description": "why"},
        "model_choice": {"type": "STRING", "enum": ["flash", "pro"]},
    },
    "required": ["reasoning", "model_choice"],
    "propertyOrdering": ["reasoning", "model_choice"],
}
CLASSIFIER_JSON = {
    "type": "object",
    "properties": {
        "reasoning": {"type": "string", "description": "why"},
        "model_choice": {"type": "string", "enum": ["flash", "pro"]},
    },
    "required": ["reasoning", "model_choice"],
    "propertyOrdering": ["reasoning", "model_choice"],
}

TARGETS = [
    ("compat-model", "openai"),
    ("codex-model", "responses"),
    ("claude-model", "claude"),
]


def _snake_schema() -> dict[str, Any]:
    """google-genai's Schema as ``model_dump(exclude_none=True)`` writes it (proto names);
    one property is itself named like a proto field."""
    schema = gtypes.Schema(
        type=gtypes.Type.OBJECT,
        properties={
            "max_items": gtypes.Schema(
                any_of=[gtypes.Schema(type=gtypes.Type.STRING), gtypes.Schema(type=gtypes.Type.INTEGER)]
            ),
            "tags": gtypes.Schema(
                type=gtypes.Type.ARRAY,
                items=gtypes.Schema(type=gtypes.Type.STRING, min_length=1),
                max_items=3,
            ),
        },
        property_ordering=["max_items", "tags"],
    )
    return schema.model_dump(mode="json", exclude_none=True)


SNAKE_JSON = {
    "type": "object",
    "properties": {
        "max_items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        "tags": {"type": "array", "items": {"type": "string", "minLength": 1}, "maxItems": 3},
    },
    "propertyOrdering": ["max_items", "tags"],
}


async def _send(matrix: Any, model: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {"contents": [{"role": "user", "parts": [{"text": "route this"}]}], **body}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": KEY}
        ) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer
    return answer


def _response_schema(fake: str, sent: dict[str, Any]) -> Any:
    if fake == "openai":
        return sent["response_format"]["json_schema"]["schema"]
    if fake == "responses":
        return sent["text"]["format"]["schema"]
    return (sent.get("output_config") or {}).get("format")


def _tool_schema(fake: str, sent: dict[str, Any]) -> Any:
    tool = sent["tools"][0]
    return {"openai": lambda: tool["function"]["parameters"], "claude": lambda: tool["input_schema"]}.get(
        fake, lambda: tool["parameters"]
    )()


@pytest.mark.parametrize(("model", "fake"), TARGETS)
async def test_gemini_cli_response_json_schema(matrix: Any, model: str, fake: str) -> None:
    """The classifier's ``responseJsonSchema`` goes to Chat and Codex with lower-case type
    names (``propertyOrdering`` kept) and to Claude fitted: lower-case, the object closed,
    ``propertyOrdering`` (a keyword Anthropic does not take) as description text (CPA
    leaves it out for all three)."""
    gen = {"responseMimeType": "application/json", "responseJsonSchema": CLASSIFIER}
    await _send(matrix, model, {"generationConfig": gen})
    got = _response_schema(fake, getattr(matrix.fakes, fake).last.json)
    if fake == "claude":
        assert got["type"] == "json_schema"
        props, schema = CLASSIFIER_JSON["properties"], got["schema"]
        assert schema["properties"] == props and schema["additionalProperties"] is False
        assert "propertyOrdering" not in schema and "propertyOrdering" in schema["description"]
    else:
        assert got == CLASSIFIER_JSON


@pytest.mark.parametrize(("model", "fake"), TARGETS)
async def test_parameters_json_schema_type_names_are_lowered(matrix: Any, model: str, fake: str) -> None:
    """``parametersJsonSchema`` with ``Type`` names: lower-case on every target (CPA lowers
    them for Claude and Codex). It is plain JSON Schema, so a null value it holds (a
    ``default: null``) is a value and stays."""
    params = {
        **CLASSIFIER,
        "properties": {**CLASSIFIER["properties"], "note": {"type": "STRING", "default": None}},
    }
    tools = [{"functionDeclarations": [{"name": "route", "parametersJsonSchema": params}]}]
    await _send(matrix, model, {"tools": tools})
    got = _tool_schema(fake, getattr(matrix.fakes, fake).last.json)
    assert got["type"] == "object"
    assert got["properties"]["model_choice"] == {"type": "string", "enum": ["flash", "pro"]}
    assert got["properties"]["note"] == {"type": "string", "default": None}
    assert got["propertyOrdering"] == ["reasoning", "model_choice"]


@pytest.mark.parametrize(("model", "fake"), TARGETS)
async def test_proto_field_names_take_json_schema_spelling(matrix: Any, model: str, fake: str) -> None:
    """A declaration's ``parameters`` dumped without ``by_alias``: ``any_of``,
    ``max_items``, ``min_length`` and ``property_ordering`` reach the upstream as
    ``anyOf``, ``maxItems``, ``minLength`` and ``propertyOrdering``; the property named
    ``max_items`` keeps its name. (CPA copies them as written; for Codex it also closes a
    Gemini client's top-level object with ``additionalProperties: false``, as
    ``translate.openai_responses.codex_tools`` does.)"""
    tools = [{"functionDeclarations": [{"name": "tag", "parameters": _snake_schema()}]}]
    await _send(matrix, model, {"tools": tools})
    want = {**SNAKE_JSON, "additionalProperties": False} if fake == "responses" else SNAKE_JSON
    assert _tool_schema(fake, getattr(matrix.fakes, fake).last.json) == want


@pytest.mark.parametrize(("model", "fake"), TARGETS[:2])
async def test_proto_field_names_in_a_response_schema(matrix: Any, model: str, fake: str) -> None:
    gen = {"response_mime_type": "application/json", "response_schema": _snake_schema()}
    await _send(matrix, model, {"generation_config": gen})
    assert _response_schema(fake, getattr(matrix.fakes, fake).last.json) == SNAKE_JSON


async def test_a_gemini_upstream_gets_the_schemas_as_sent(matrix: Any) -> None:
    snake = _snake_schema()
    tools = [
        {
            "functionDeclarations": [
                {"name": "route", "parametersJsonSchema": CLASSIFIER},
                {"name": "tag", "parameters": snake},
            ]
        }
    ]
    gen = {"responseMimeType": "application/json", "responseJsonSchema": CLASSIFIER}
    await _send(matrix, "gemini-model", {"tools": tools, "generationConfig": gen})
    sent = matrix.fakes.gemini.last.json
    decls = sent["tools"][0]["functionDeclarations"]
    assert decls[0]["parametersJsonSchema"] == CLASSIFIER
    assert decls[1]["parameters"] == snake
    assert sent["generationConfig"]["responseJsonSchema"] == CLASSIFIER
