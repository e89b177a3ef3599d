"""Custom (free-form input) tools over JSON-only upstreams (Claude, OpenAI-compatible Chat).

Claude and most Chat upstreams have only JSON-input tools, so a client's custom tool
(Codex ``apply_patch``-style tools, Chat ``custom`` tools) is declared with
``{"input": string}`` (``CUSTOM_SCHEMA``) and a call's
``input`` field is the raw text. On the way back the call is a custom call again, its
arguments the raw text, so the client gets a ``custom_tool_call`` and not a JSON call.
"""

from __future__ import annotations

import orjson

from cliproxy.translate import ir

__all__ = ["CUSTOM_SCHEMA", "is_custom", "raw_input", "wrap_input"]

CUSTOM_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}


def wrap_input(raw: str) -> str:
    """The JSON arguments a replayed custom call is sent with."""
    return orjson.dumps({"input": raw}).decode()


def is_custom(name: str, namespace: str | None, request: ir.Request | None) -> bool:
    """Whether the client declared ``name`` (in ``namespace``) as a custom tool."""
    if request is None or not request.tools:
        return False
    return any(t.kind == "custom" and t.name == name and t.namespace == namespace for t in request.tools)


def raw_input(arguments: str) -> str:
    """The raw text of a custom call from the JSON ``input`` Claude sent: its ``input``
    string (``{}``: no input); any other JSON is handed over as it came."""
    if not arguments:
        return ""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("input"), str):
        return value["input"]
    return "" if value == {} else arguments
