"""A Gemini client's function declarations whose ``parameters`` schema holds null members
(``"required": null``, ``"enum": null``, ``"anyOf": null``..., as a pydantic ``model_dump()``
of google-genai's ``Schema`` writes every unset field). The Gemini API reads protobuf JSON,
where a null member is an unset one; Anthropic and OpenAI validate the tool's JSON Schema and
refuse ``required: null`` or ``enum: null``. So a schema translated for a Claude, Chat
Completions or Codex upstream leaves every null member out, at every depth; a Gemini upstream
gets the declaration as sent.

Deliberate difference: CPA copies the schema raw (``claude_gemini_request.go``
``normalizeClaudeToolSchema``, ``openai_gemini_request.go`` ``function.parameters``), so the
upstream refuses the request. No CPA test covers nulls in a declaration."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from google.genai import types as gtypes

from tests.e2e.clients import KEY


def _declaration() -> dict[str, Any]:
    schema = gtypes.Schema(
        type=gtypes.Type.OBJECT,
        properties={
            "cmd": gtypes.Schema(type=gtypes.Type.STRING, description="shell command"),
            "mode": gtypes.Schema(type=gtypes.Type.STRING, enum=["fast", "safe"]),
            "paths": gtypes.Schema(type=gtypes.Type.ARRAY, items=gtypes.Schema(type=gtypes.Type.STRING)),
        },
        required=["cmd"],
    )
    decl = gtypes.FunctionDeclaration(name="bash", parameters=schema)
    return decl.model_dump(mode="json", by_alias=True)


def _nulls(node: Any, path: str = "") -> list[str]:
    if isinstance(node, dict):
        return [
            p for k, v in node.items() for p in ([f"{path}.{k}"] if v is None else _nulls(v, f"{path}.{k}"))
        ]
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _nulls(v, f"{path}[{i}]")]
    return []


async def _send(matrix: Any, model: str) -> None:
    body = {
        "contents": [{"role": "user", "parts": [{"text": "run ls"}]}],
        "tools": [{"functionDeclarations": [_declaration()]}],
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": KEY}
        ) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer


@pytest.mark.parametrize(
    ("model", "fake", "schema_of"),
    [
        ("claude-model", "claude", lambda b: b["tools"][0]["input_schema"]),
        ("compat-model", "openai", lambda b: b["tools"][0]["function"]["parameters"]),
        ("codex-model", "responses", lambda b: b["tools"][0]["parameters"]),
    ],
)
async def test_null_schema_members_are_left_out(matrix: Any, model: str, fake: str, schema_of: Any) -> None:
    await _send(matrix, model)
    schema = schema_of(getattr(matrix.fakes, fake).last.json)
    assert _nulls(schema) == [], schema
    assert schema["required"] == ["cmd"]
    assert schema["properties"]["mode"] == {"type": "string", "enum": ["fast", "safe"]}
    assert schema["properties"]["paths"]["items"] == {"type": "string"}
    assert schema["properties"]["cmd"]["description"] == "shell command"


async def test_a_gemini_upstream_gets_the_declaration_as_sent(matrix: Any) -> None:
    await _send(matrix, "gemini-model")
    decl = matrix.fakes.gemini.last.json["tools"][0]["functionDeclarations"][0]
    assert decl["parameters"]["required"] == ["cmd"]
    assert decl["parameters"]["properties"]["cmd"]["enum"] is None


@pytest.mark.parametrize(
    ("model", "fake", "schema_of"),
    [
        ("compat-model", "openai", lambda b: b["response_format"]["json_schema"]["schema"]),
        ("codex-model", "responses", lambda b: b["text"]["format"]["schema"]),
    ],
)
async def test_a_response_schema_goes_as_json_schema(
    matrix: Any, model: str, fake: str, schema_of: Any
) -> None:
    """``generationConfig.responseSchema`` is a Gemini ``Schema`` too: other formats get it
    without its null members and with JSON Schema's lower-case type names. CPA's
    Claude, Chat and Codex translators do not carry a response schema at all; a Claude
    model does not get it either (tests/e2e/test_gemini_schema_spelling.py says why)."""
    schema = gtypes.Schema(type=gtypes.Type.OBJECT, properties={"a": gtypes.Schema(type=gtypes.Type.STRING)})
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "generationConfig": {
            "responseMimeType": "application/json",
            "responseSchema": schema.model_dump(mode="json", by_alias=True),
        },
    }
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1beta/models/{model}:generateContent", json=body, headers={"x-goog-api-key": KEY}
        ) as resp:
            assert resp.status == 200, await resp.text()
    sent = schema_of(getattr(matrix.fakes, fake).last.json)
    assert sent == {"type": "object", "properties": {"a": {"type": "string"}}}, sent
