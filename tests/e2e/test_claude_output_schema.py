"""Structured output asked by an OpenAI client, answered by a Claude model.

A Chat Completions ``response_format`` json_schema (or a Responses ``text.format``) reaches
Anthropic as ``output_config.format``. Anthropic compiles the schema into a grammar and
refuses (400) an object without ``additionalProperties: false`` and the keywords its
compiler does not take (``minimum``, ``maxLength``, ``maxItems``, a ``format`` outside its
list...); the Claude fake refuses them with the same messages. The proxy fits the schema
the way the Anthropic SDK's ``transform_schema`` does: every object closed, the refused
constraints written into the node's ``description``, the rest kept; so the request
succeeds and the answer follows the schema. A schema no rewrite can make acceptable
(recursive) goes without a format.

Deliberate difference from CPA: its ``claude_openai_request.go`` and
``claude_openai-responses_request.go`` read neither ``response_format`` nor ``text.format``
(no CPA test covers them), so a Claude model answers free text and a client's ``.parse()``
fails on it; here structured output works. CPA's behaviour is kept where no schema can be
sent (the recursive case below).
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai
import pytest
from pydantic import BaseModel, Field

from tests.e2e.clients import KEY

MODEL = "claude-model"

# non-strict, as a hand-written client sends it: open objects and refused constraints
LOOSE = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "minLength": 2, "pattern": "^[A-Z]", "description": "capital"},
        "population": {"type": "integer", "minimum": 0, "maximum": 10**10},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
        "seen": {"type": "string", "format": "date"},
        "where": {"type": "object", "properties": {"lat": {"type": "number", "multipleOf": 0.5}}},
    },
    "required": ["city", "population"],
}


class Point(BaseModel):
    lat: float = Field(ge=-90, le=90)
    lon: float


class City(BaseModel):
    name: str = Field(min_length=1, max_length=40)
    rank: int = Field(ge=1)
    tags: list[str] = Field(max_length=3)
    at: Point
    note: str | None


def _sent_schema(matrix: Any) -> Any:
    return ((matrix.fakes.claude.last.json.get("output_config") or {}).get("format") or {}).get("schema")


def _closed_everywhere(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("type") == "object":
            assert node["additionalProperties"] is False, node
        for value in node.values():
            _closed_everywhere(value)
    elif isinstance(node, list):
        for value in node:
            _closed_everywhere(value)


def _client(matrix: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0, timeout=20)


@pytest.mark.parametrize("stream", [False, True])
async def test_chat_json_schema_is_fitted_for_claude(matrix: Any, stream: bool) -> None:
    """A loose Chat ``json_schema``: Claude gets it closed, with ``minimum``, ``minLength``,
    ``pattern``, ``maxItems`` and ``multipleOf`` said in the description, ``format: date``
    kept, and the answer is JSON that follows it, whole and streamed."""
    rf = {"type": "json_schema", "json_schema": {"name": "city", "schema": LOOSE}}
    messages = [{"role": "user", "content": "name a capital"}]
    async with _client(matrix) as client:
        if stream:
            chunks = await client.chat.completions.create(
                model=MODEL, messages=messages, response_format=rf, stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])
        else:
            done = await client.chat.completions.create(model=MODEL, messages=messages, response_format=rf)
            text = done.choices[0].message.content or ""
    answer = json.loads(text)
    assert isinstance(answer["city"], str) and isinstance(answer["population"], int)
    sent = _sent_schema(matrix)
    _closed_everywhere(sent)
    props = sent["properties"]
    assert props["city"] == {
        "type": "string",
        "description": "capital\n\n{minLength: 2, pattern: ^[A-Z]}",
    }
    assert props["population"]["description"] == "{minimum: 0, maximum: 10000000000}"
    assert props["tags"]["description"] == "{maxItems: 3, uniqueItems: true}"
    assert props["seen"] == {"type": "string", "format": "date"}
    assert sent["required"] == ["city", "population"]
    assert LOOSE["properties"]["city"]["minLength"] == 2  # the client's schema is not changed


async def test_chat_parse_with_a_pydantic_model(matrix: Any) -> None:
    """The openai SDK's ``.parse()`` sends a strict schema (closed objects, ``$defs``/``$ref``
    for the nested model, ``anyOf`` with null) that still holds pydantic's bounds
    (``minimum``, ``maxLength``, ``maxItems``); Claude gets them folded and the SDK parses
    the answer into the model, whole and through ``.stream()``."""
    messages = [{"role": "user", "content": "a city"}]
    async with _client(matrix) as client:
        done = await client.chat.completions.parse(model=MODEL, messages=messages, response_format=City)
        async with client.chat.completions.stream(model=MODEL, messages=messages, response_format=City) as s:
            streamed = await s.get_final_completion()
    for completion in (done, streamed):
        city = completion.choices[0].message.parsed
        assert isinstance(city, City) and isinstance(city.at, Point)
    sent = _sent_schema(matrix)
    _closed_everywhere(sent)
    assert sent["properties"]["at"] == {"$ref": "#/$defs/Point"}
    assert "minimum: -90" in sent["$defs"]["Point"]["properties"]["lat"]["description"]
    assert "maxItems: 3" in sent["properties"]["tags"]["description"]


@pytest.mark.parametrize("stream", [False, True])
async def test_responses_text_format_is_fitted_for_claude(matrix: Any, stream: bool) -> None:
    """A Responses ``text.format`` json_schema, whole and streamed: fitted the same way."""
    fmt = {"type": "json_schema", "name": "city", "schema": LOOSE}
    async with _client(matrix) as client:
        if stream:
            events = await client.responses.create(
                model=MODEL, input="name a capital", text={"format": fmt}, stream=True
            )
            text = "".join([e.delta async for e in events if e.type == "response.output_text.delta"])
        else:
            done = await client.responses.create(model=MODEL, input="name a capital", text={"format": fmt})
            text = done.output_text
    assert set(json.loads(text)) == set(LOOSE["properties"])
    _closed_everywhere(_sent_schema(matrix))


async def test_responses_parse_with_a_pydantic_model(matrix: Any) -> None:
    async with _client(matrix) as client:
        done = await client.responses.parse(model=MODEL, input="a city", text_format=City)
    assert isinstance(done.output_parsed, City)
    _closed_everywhere(_sent_schema(matrix))


async def test_a_recursive_schema_goes_without_a_format(matrix: Any) -> None:
    """Anthropic refuses recursive definitions and no rewrite removes the recursion: the
    request goes without ``output_config.format`` (as CPA sends every one) and Claude
    answers as the prompt asks, instead of a certain 400."""
    tree = {
        "type": "object",
        "properties": {"root": {"$ref": "#/$defs/Node"}},
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }
    rf = {"type": "json_schema", "json_schema": {"name": "tree", "schema": tree}}
    async with _client(matrix) as client:
        done = await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], response_format=rf
        )
    assert done.choices[0].message.content
    assert "output_config" not in matrix.fakes.claude.last.json


async def test_a_claude_client_gets_anthropics_refusal_as_is(matrix: Any) -> None:
    """A Claude client's own ``output_config.format`` is its choice and goes as sent (no
    fitting): an open object gets Anthropic's 400, relayed in Anthropic's format."""
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    async with anthropic.AsyncAnthropic(
        base_url=matrix.url, api_key=KEY, max_retries=0, timeout=20
    ) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                output_config={"format": {"type": "json_schema", "schema": schema}},
            )
    assert caught.value.status_code == 400
    assert caught.value.body["error"]["message"] == (  # type: ignore[index]
        "output_config.format.schema: For 'object' type, 'additionalProperties' must be explicitly set to false"
    )
