"""Ported from CPA internal/runtime/executor/antigravity_schema_sanitize_test.go: the tool schemas of
a body sent to Antigravity are cleaned, and nothing else (the conversation's call arguments
are data, not schemas). Cases go through ``AntigravityProvider.build``.

Documented differences: one cleaner (CPA's Antigravity tool rules without Claude's VALIDATED
placeholders) serves every Antigravity model, where CPA adds placeholders and keeps titles
for Claude and Gemini 3 Pro models; ``responseJsonSchema`` is left as the client wrote it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.antigravity import AntigravityProvider

from ._run import get

CPA = "antigravity_schema_sanitize_test.go"

PAYLOAD: dict[str, Any] = {
    "contents": [
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "name": "manage_todo_list",
                        "args": {
                            "operation": "write",
                            "todoList": [
                                {"id": 1, "title": "output 1", "description": "d1", "status": "not-started"},
                                {"id": 2, "title": "output 2", "description": "d2", "status": "not-started"},
                            ],
                        },
                    }
                }
            ],
        },
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {
                        "name": "write_file",
                        "args": {
                            "path": "a.md",
                            "format": "markdown",
                            "default": "x",
                            "pattern": "p",
                            "const": "c",
                            "deprecated": False,
                            "nullable": "n",
                            "examples": "e",
                            "additionalProperties": "ap",
                            "x-custom": "keepme",
                            "propertyNames": {"type": "string"},
                        },
                    }
                }
            ],
        },
    ],
    "tools": [
        {
            "functionDeclarations": [
                {
                    "name": "manage_todo_list",
                    "parametersJsonSchema": {
                        "type": "object",
                        "required": ["todoList"],
                        "properties": {
                            "todoList": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "title"],
                                    "title": "TodoItem",
                                    "properties": {
                                        "id": {"type": "number"},
                                        "title": {"type": "string", "minLength": 3},
                                    },
                                },
                            }
                        },
                    },
                }
            ]
        }
    ],
}


def _sent(body: dict[str, Any], model: str = "claude-sonnet-4-5") -> dict[str, Any]:
    cred = Credential(id="a", provider="antigravity", metadata={"access_token": "t", "project_id": "p"})
    up = AntigravityProvider().build(cred, body, model=model, stream=False, client_headers={})
    return orjson.loads(up.body)["request"]  # type: ignore[no-any-return]


def _copy(obj: Any) -> Any:
    return orjson.loads(orjson.dumps(obj))


@pytest.mark.parametrize("model", ["gemini-3-pro", "claude-sonnet-4-5"], ids=["gemini", "antigravity"])
def test_preserves_history(model: str) -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasPreservesHistory.
    A Gemini model's first call gets its answer (a call left unanswered before the next one
    is refused, as CPA's pairing check refuses it)."""
    body = _copy(PAYLOAD)
    client_tools = body["tools"]
    if "claude" not in model:
        answer = {"functionResponse": {"name": "manage_todo_list", "response": {"result": "ok"}}}
        body["contents"].insert(1, {"role": "user", "parts": [answer]})
    got = _sent(body, model)
    calls = [c for c in got["contents"] if any("functionCall" in p for p in c["parts"])]
    assert calls == PAYLOAD["contents"]
    assert client_tools == PAYLOAD["tools"]  # the client's own objects are not altered


def test_still_cleans_schemas() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasStillCleansSchemas."""
    decl = get(_sent(_copy(PAYLOAD)), "tools.0.functionDeclarations.0")
    assert "parametersJsonSchema" not in decl
    items = get(decl, "parameters.properties.todoList.items")
    assert items["type"] == "object"  # CPA's Antigravity tool cleaner: JSON Schema's names
    assert "title" in items["properties"]  # a property named title stays
    assert items["required"] == ["id", "title"]
    # the keyword title goes, minLength moves into the description (as CPA)
    assert "title" not in items and "minLength" not in items["properties"]["title"]


def test_cleans_result_schemas() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasCleansResultSchemas
    (``parameters`` and ``response``)."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "t",
                        "parameters": {
                            "type": "object",
                            "$id": "drop-a",
                            "properties": {"a": {"type": "string"}},
                        },
                        "response": {
                            "type": "object",
                            "$comment": "drop-b",
                            "properties": {"b": {"type": "string"}},
                        },
                    }
                ]
            }
        ],
    }
    decl = get(_sent(body), "tools.0.functionDeclarations.0")
    assert "$id" not in decl["parameters"] and "$comment" not in decl["response"]
    assert "a" in decl["parameters"]["properties"] and "b" in decl["response"]["properties"]


def test_strips_property_names_everywhere() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasStripsPropertyNamesEverywhere."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "t",
                        "parametersJsonSchema": {
                            "type": "object",
                            "propertyNames": {"type": "string"},
                            "properties": {
                                "properties": {"type": "object", "propertyNames": {"type": "string"}},
                                "nested": {
                                    "type": "array",
                                    "items": {"type": "object", "propertyNames": {"pattern": "^a"}},
                                },
                            },
                        },
                    }
                ]
            }
        ],
    }
    got = _sent(body)
    assert b"propertyNames" not in orjson.dumps(got["tools"])
    assert "properties" in get(got, "tools.0.functionDeclarations.0.parameters.properties")


def test_keeps_property_names_in_history() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasKeepsPropertyNamesInHistory."""
    got = _sent(_copy(PAYLOAD))
    assert get(got, "contents.1.parts.0.functionCall.args.propertyNames") == {"type": "string"}


def test_is_idempotent() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasIsIdempotent."""
    once = _sent(_copy(PAYLOAD))
    twice = _sent(_copy(once))
    assert once["tools"] == twice["tools"]


def test_strips_encrypted_metadata() -> None:
    """antigravity_schema_sanitize_test.go TestSanitizeAntigravityRequestSchemasStripsEncryptedMetadata."""
    body = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "t",
                        "parameters": {
                            "type": "object",
                            "properties": {"key": {"type": "string", "encrypted": True, "description": "k"}},
                        },
                    }
                ]
            }
        ],
    }
    schema = get(_sent(body), "tools.0.functionDeclarations.0.parameters")
    assert "encrypted" not in schema["properties"]["key"]
    assert schema["properties"]["key"]["description"] == "k"
