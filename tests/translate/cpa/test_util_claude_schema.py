"""CPA internal/util/claude_schema_test.go TestNormalizeClaudeToolInputSchema: a Claude
``input_schema`` is an object without root unions (issue 15 defect 3).

Each case runs through ``clean_schema_for_claude`` (the cleaner the Claude builder
calls) and through a Chat request translated for Claude."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.translate.schema import clean_schema_for_claude
from tests.translate.cpa._run import CLAUDE, OPENAI, req

CASES: list[tuple[str, Any, dict[str, Any]]] = [
    (
        "root anyOf without type",
        {
            "anyOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}},
                {"type": "object", "properties": {"b": {"type": "integer"}}},
            ]
        },
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "integer"}}},
    ),
    (
        "root oneOf keeps nested union",
        {
            "type": "object",
            "properties": {"nested": {"oneOf": [{"type": "string"}, {"type": "number"}]}},
            "oneOf": [
                {"properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "string"}}, "required": ["b"]},
            ],
        },
        {
            "type": "object",
            "properties": {
                "nested": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                "a": {"type": "string"},
                "b": {"type": "string"},
            },
        },
    ),
    (
        "root anyOf drops alternative required fields",
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}},
    ),
    (
        "root allOf merges properties and required fields",
        {
            "type": "object",
            "properties": {"base": {"type": "boolean"}},
            "required": ["base"],
            "allOf": [
                {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}, "required": ["a", "b"]},
            ],
        },
        {
            "type": "object",
            "properties": {"base": {"type": "boolean"}, "a": {"type": "string"}, "b": {"type": "integer"}},
            "required": ["base", "a", "b"],
        },
    ),
    (
        "ordinary object schema",
        {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
            "additionalProperties": False,
        },
    ),
    ("boolean schema", True, {"type": "object", "properties": {}}),
]


@pytest.mark.parametrize(("name", "schema", "want"), CASES, ids=[c[0] for c in CASES])
def test_normalize_claude_tool_input_schema(name: str, schema: Any, want: dict[str, Any]) -> None:
    """TestNormalizeClaudeToolInputSchema."""
    before = orjson.dumps(schema)
    assert clean_schema_for_claude(schema) == want
    assert orjson.dumps(schema) == before  # the client's schema is not changed


@pytest.mark.parametrize(("name", "schema", "want"), CASES[:5], ids=[c[0] for c in CASES[:5]])
def test_chat_tool_schema_reaches_claude_normalized(name: str, schema: Any, want: dict[str, Any]) -> None:
    """TestNormalizeClaudeToolInputSchema, through the Chat -> Claude request builder."""
    body = {
        "model": "gpt",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "t", "parameters": schema}}],
    }
    assert req(OPENAI, CLAUDE, body, "claude-x")["tools"][0]["input_schema"] == want


def test_invalid_schema_is_refused() -> None:
    """TestNormalizeClaudeToolInputSchema/"invalid schema": CPA gets unparsable JSON text
    and sends an empty object schema; our clients' bodies are parsed JSON, where a
    non-object ``parameters`` is the client's mistake: a 400 naming the field."""
    body = {
        "model": "gpt",
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "t", "parameters": '{"type":'}}],
    }
    with pytest.raises(RequestError, match="parameters"):
        req(OPENAI, CLAUDE, body, "claude-x")
