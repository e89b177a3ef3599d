"""Function-tool schemas a Codex upstream receives, by client format (CPA's Codex
translators; audit of codex/gemini/noop_optimization_test.go,
codex/interactions/interactions_codex_test.go and codex_claude_request.go's tool loop).

- TestCleanGeminiCodexToolParametersNormalizesSchema: a Gemini declaration's ``$schema``
  goes and ``additionalProperties`` becomes ``false``.
- TestConvertInteractionsRequestToCodexFunctionDeclarations: an Interactions declaration
  reaches Codex without ``$schema`` (cleaned as Gemini's).
- Claude ``input_schema`` (codex_claude_request.go normalizeToolParameters and the
  ``parameters.$schema`` delete; no Go test names it): no ``$schema``, ``type: object``
  when none is named, ``properties: {}`` for an object that lists none. Claude Code sends
  ``$schema`` on every tool.
Chat and Responses clients' schemas go as they came (CPA copies them raw).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cliproxy.formats import Format

from ._run import CLAUDE, CODEX, GEMINI, OPENAI, RESPONSES, get, req

DRAFT = "http://json-schema.org/draft-07/schema#"


def _gemini(params: dict[str, Any], key: str = "parameters") -> dict[str, Any]:
    return {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [{"functionDeclarations": [{"name": "lookup", key: params}]}],
    }


@pytest.mark.parametrize("key", ["parameters", "parametersJsonSchema"])
def test_gemini_declaration_loses_schema_uri_and_is_closed(key: str) -> None:
    """TestCleanGeminiCodexToolParametersNormalizesSchema."""
    params = {"type": "object", "$schema": "draft", "additionalProperties": True}
    body = _gemini(params, key)
    sent = copy.deepcopy(body)
    out = req(GEMINI, CODEX, body, "gpt-5.1-codex")
    assert get(out, "tools.0.parameters") == {"type": "object", "additionalProperties": False}
    assert body == sent  # the client's body is not changed


def test_gemini_canonical_schema_is_kept() -> None:
    """TestCleanGeminiCodexToolParametersPreservesCanonicalSchema, through the translator."""
    params = {"type": "object", "properties": {"value": {"type": "string"}}, "additionalProperties": False}
    out = req(GEMINI, CODEX, _gemini(params, "parametersJsonSchema"), "gpt-5.1-codex")
    assert get(out, "tools.0.parameters") == params


def test_interactions_declaration_loses_schema_uri() -> None:
    """TestConvertInteractionsRequestToCodexFunctionDeclarations (its ``$schema`` check)."""
    body = {
        "model": "codex-test",
        "input": "hi",
        "tools": [
            {
                "function_declarations": [
                    {
                        "name": "lookup",
                        "description": "Lookup data",
                        "parameters": {
                            "type": "object",
                            "$schema": DRAFT,
                            "properties": {"q": {"type": "string"}},
                        },
                    }
                ]
            }
        ],
    }
    out = req(Format.INTERACTIONS, CODEX, body, "codex-test")
    assert get(out, "tools.0.type") == "function" and get(out, "tools.0.name") == "lookup"
    params = get(out, "tools.0.parameters")
    assert "$schema" not in params
    assert params["properties"] == {"q": {"type": "string"}}
    assert params["additionalProperties"] is False  # cleanedCodexToolParameters


@pytest.mark.parametrize(
    ("schema", "want"),
    [
        (
            {"$schema": DRAFT, "type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        ({}, {"type": "object", "properties": {}}),
        ({"type": "object"}, {"type": "object", "properties": {}}),
        (
            {"properties": {"a": {"type": "string"}}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
        ),
        (
            {"type": "object", "additionalProperties": True, "properties": {}},
            {"type": "object", "additionalProperties": True, "properties": {}},
        ),
    ],
    ids=["schema-uri", "empty", "no-properties", "no-type", "open-kept"],
)
def test_claude_input_schema_is_normalized(schema: dict[str, Any], want: dict[str, Any]) -> None:
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "lookup", "input_schema": schema}],
    }
    sent = copy.deepcopy(body)
    out = req(CLAUDE, CODEX, body, "gpt-5.1-codex")
    assert get(out, "tools.0.parameters") == want
    assert get(out, "tools.0.strict") is False
    assert body == sent


def test_chat_and_responses_schemas_go_as_they_came() -> None:
    """CPA copies a Chat function's ``parameters`` and a Responses body's tools raw."""
    params = {"$schema": DRAFT, "type": "object", "additionalProperties": True, "properties": {}}
    chat = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "parameters": params}}],
    }
    assert get(req(OPENAI, CODEX, chat, "gpt-5.1-codex"), "tools.0.parameters") == params
    responses = {
        "model": "m",
        "input": "hi",
        "tools": [{"type": "function", "name": "lookup", "parameters": params}],
    }
    assert get(req(RESPONSES, CODEX, responses, "gpt-5.1-codex"), "tools.0.parameters") == params


def test_claude_strict_tool_goes_non_strict() -> None:
    """codex_claude_request.go sets ``strict: false`` on every Claude tool it sends (it only
    keeps a ``false``): OpenAI's strict mode refuses a schema that does not list every
    property as required, which Anthropic's strict tools do not ask for."""
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [
            {
                "name": "lookup",
                "strict": True,
                "input_schema": {
                    "type": "object",
                    "properties": {"q": {"type": "string"}, "n": {"type": "integer"}},
                    "required": ["q"],
                    "additionalProperties": False,
                },
            }
        ],
    }
    assert get(req(CLAUDE, CODEX, body, "gpt-5.1-codex"), "tools.0.strict") is False


def test_claude_strict_tool_reaches_chat_without_strict() -> None:
    """openai_claude_request.go writes a Claude tool's name, description and parameters only:
    a ``strict`` Claude tool reaches an OpenAI-compatible upstream without ``strict`` (a strict
    OpenAI function refuses a schema that does not list every property as required)."""
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "lookup", "strict": True, "input_schema": {"type": "object", "properties": {}}}],
    }
    fn = get(req(CLAUDE, OPENAI, body, "gpt-5"), "tools.0.function")
    assert fn == {"name": "lookup", "parameters": {"type": "object", "properties": {}}}
    chat = {
        "model": "m",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "lookup", "strict": True, "parameters": {}}}],
    }
    assert get(req(OPENAI, OPENAI, chat, "gpt-5"), "tools.0.function.strict") is True  # a Chat client's own
