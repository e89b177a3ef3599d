"""Function-tool schemas on the Codex wire, by the client format they came from.

Facts from CPA's Codex translators: a Claude client's ``input_schema`` reaches Codex
without ``$schema``, typed ``object`` when it names no type and with ``properties: {}``
when an object schema lists none (an empty schema becomes ``{"type": "object",
"properties": {}}``); a Gemini or Interactions client's declaration loses ``$schema`` and
gets ``additionalProperties: false``. A Claude tool goes with ``strict: false`` whatever
it said (a strict OpenAI function needs a schema Claude's strict does not ask for: every
property required). Chat and Responses clients' schemas go as they came.
Only the top level of a schema is touched; the client's own dicts are never changed.
"""

from __future__ import annotations

from typing import Any

__all__ = ["clean_codex_tool_schemas"]

_CLOSED_SOURCES = frozenset({"gemini", "interactions"})


def _claude(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out.pop("$schema", None)
    kind = out.get("type")
    if kind is None or kind == "":
        out["type"] = kind = "object"
    if kind == "object" and "properties" not in out:
        out["properties"] = {}
    return out


def _closed(params: dict[str, Any]) -> dict[str, Any]:
    out = dict(params)
    out.pop("$schema", None)
    if out.get("additionalProperties") is not False:
        out["additionalProperties"] = False
    return out


def clean_codex_tool_schemas(body: dict[str, Any], source: str) -> None:
    """Rewrite the ``parameters`` of ``body``'s function tools (in place) as CPA's
    translator for ``source`` writes them for Codex."""
    if source == "claude":
        fix = _claude
    elif source in _CLOSED_SOURCES:
        fix = _closed
    else:
        return
    tools = body.get("tools")
    if not isinstance(tools, list):
        return
    claude = source == "claude"
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "function":
            params = tool.get("parameters")
            if isinstance(params, dict):
                tool["parameters"] = fix(params)
            if claude:
                tool["strict"] = False  # CPA: a Claude tool's strict never reaches Codex
