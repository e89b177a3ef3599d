"""A Gemini client's response schema, answered by a Claude model.

Gemini CLI's utility calls (its router's classifier, the next-speaker check, loop
detection) and any google-genai program that asks for JSON send
``generationConfig.responseJsonSchema`` (or ``responseSchema``) and parse the answer as
JSON. On a Claude model the schema now goes as ``output_config.format``, fitted as a Chat or
Responses client's schema is (tests/e2e/test_claude_output_schema.py): every object closed
with ``additionalProperties: false``, what Anthropic's grammar does not take written into the
node's description. Before, a Gemini client's schema was left out (it dated from before the
fitting, when Anthropic refused a Gemini schema's open objects), so Claude answered free
text, which a client's JSON parse may fail on. The Claude fake refuses schemas as Anthropic
does and answers an accepted one with JSON that follows it.

Deliberate difference from CPA: ``claude_gemini_request.go`` reads no response schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY

MODEL = "claude-model"

# Gemini CLI's classifier schema (routing/strategies/classifierStrategy.ts), with Type.* names
CLASSIFIER: dict[str, Any] = {
    "type": "OBJECT",
    "properties": {
        "reasoning": {"type": "STRING", "description": "why"},
        "model_choice": {"type": "STRING", "enum": ["flash", "pro"]},
    },
    "required": ["reasoning", "model_choice"],
}


def _client(url: str) -> genai.Client:
    return genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )


def _closed(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, node
        for value in node.values():
            _closed(value)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_response_json_schema_reaches_claude(matrix: Any, stream: bool) -> None:
    config = gtypes.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=CLASSIFIER
    )
    client = _client(matrix.url)
    try:
        if stream:
            text = "".join(
                [
                    c.text or ""
                    async for c in await client.aio.models.generate_content_stream(
                        model=MODEL, contents="route this", config=config
                    )
                ]
            )
        else:
            text = (
                await client.aio.models.generate_content(model=MODEL, contents="route this", config=config)
            ).text
    finally:
        await client.aio.aclose()
    sent = matrix.fakes.claude.last.json["output_config"]["format"]
    assert sent["type"] == "json_schema"
    schema = sent["schema"]
    _closed(schema)
    assert schema["properties"]["model_choice"] == {"type": "string", "enum": ["flash", "pro"]}
    assert schema["required"] == ["reasoning", "model_choice"]
    answer = json.loads(text or "")
    assert set(answer) == {"reasoning", "model_choice"} and answer["model_choice"] in ("flash", "pro")


async def test_response_schema_with_proto_fields_reaches_claude(matrix: Any) -> None:
    """``responseSchema`` (Gemini's ``Schema``, here with ``nullable``): converted to JSON
    Schema, then fitted."""
    schema = gtypes.Schema(
        type=gtypes.Type.OBJECT,
        properties={
            "city": gtypes.Schema(type=gtypes.Type.STRING),
            "note": gtypes.Schema(type=gtypes.Type.STRING, nullable=True),
        },
        required=["city"],
    )
    config = gtypes.GenerateContentConfig(response_mime_type="application/json", response_schema=schema)
    client = _client(matrix.url)
    try:
        r = await client.aio.models.generate_content(model=MODEL, contents="where", config=config)
    finally:
        await client.aio.aclose()
    sent = matrix.fakes.claude.last.json["output_config"]["format"]["schema"]
    _closed(sent)
    assert sent["properties"]["city"] == {"type": "string"}
    assert isinstance(json.loads(r.text or ""), dict)
