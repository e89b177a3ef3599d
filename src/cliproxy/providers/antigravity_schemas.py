"""The JSON schemas of an Antigravity request, cleaned for Google's backend (CPA
``sanitizeAntigravityRequestSchemas``).

A Gemini client's body reaches Antigravity as it came, and the Cloud Code backend rejects
JSON Schema keywords (``$schema``, ``$id``, ``propertyNames``, ``patternProperties``...)
that Gemini's own API ignores; an OpenAI client's structured output arrives as the JSON
Schema the client wrote. Only the places that hold a schema are cleaned, never the
history's call arguments, whose keys (``title``, ``format``, ``default``...) are data:

* every function declaration, under ``functionDeclarations`` or ``function_declarations``
  (the backend reads proto JSON and takes both spellings): ``parameters``, with
  ``parametersJsonSchema`` / ``parameters_json_schema`` sent as ``parameters``, and the
  result schemas ``response``, ``responseJsonSchema`` / ``response_json_schema`` where they
  are, all with the ``antigravity-tool`` profile, as CPA cleans every declaration schema
  for every model (``CleanJSONSchemaForAntigravityTool``): declared types kept, so an
  integer parameter's arguments stay integers, enums and refused constraints moved into
  the description;
* the structured-output schemas of ``generationConfig`` / ``generation_config``:
  ``responseSchema``, ``responseJsonSchema`` and their snake_case spellings, each where
  the client put it, with the ``antigravity-response`` profile (CPA
  ``CleanJSONSchemaForAntigravityResponse``). These keep their top-level type (an answer
  may be a list), nullable, title, ``required``, ``additionalProperties: false`` and their
  declared types: a number enum stays a number (its members strings), a boolean's enum
  becomes a hint. The JSON Schema ones keep JSON Schema's lower-case type names,
  ``responseSchema`` takes Google's upper-case ones.

Changed tools and configs are new objects: the client's request is never altered.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from cliproxy.translate.schema import PROFILES, clean_schema, clean_schema_for_antigravity

__all__ = ["clean_request_schemas"]

DECLARATION_LISTS = ("functionDeclarations", "function_declarations")
# spellings of a declaration's parameters given as JSON Schema: sent as ``parameters``
PARAMETER_ALIASES = ("parametersJsonSchema", "parameters_json_schema")
JSON_SCHEMA_KEYS = ("responseJsonSchema", "response_json_schema")
RESULT_KEYS = ("response", *JSON_SCHEMA_KEYS)
_DECLARATION_KEYS = (*PARAMETER_ALIASES, "parameters", *RESULT_KEYS)

CONFIGS = ("generationConfig", "generation_config")
CONFIG_SCHEMA_KEYS = ("responseSchema", "response_schema", *JSON_SCHEMA_KEYS)

# Without the rule that makes the top an object: that is for parameters
_RESULT_PROFILE = dataclasses.replace(PROFILES["antigravity-tool"], name="antigravity-tool-result", root=())


def clean_request_schemas(body: dict[str, Any]) -> None:
    """Clean every schema of a Gemini request for Antigravity, in place on ``body``
    (a request without tools or a structured-output schema is left as it is)."""
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        body["tools"] = [_clean_tool(tool) for tool in tools]
    for name in CONFIGS:
        config = body.get(name)
        if isinstance(config, dict) and any(key in config for key in CONFIG_SCHEMA_KEYS):
            body[name] = _clean_config(config)


def _clean_tool(tool: Any) -> Any:
    if not isinstance(tool, dict) or not any(key in tool for key in DECLARATION_LISTS):
        return tool
    out = dict(tool)
    for key in DECLARATION_LISTS:
        decls = out.get(key)
        if isinstance(decls, list):
            out[key] = [_clean_declaration(decl) for decl in decls]
    return out


def _clean_declaration(decl: Any) -> Any:
    if not isinstance(decl, dict) or not any(key in decl for key in _DECLARATION_KEYS):
        return decl
    out = dict(decl)
    for alias in PARAMETER_ALIASES:
        if alias in out:
            schema = out.pop(alias)
            out.setdefault("parameters", schema)
    if isinstance(out.get("parameters"), dict):
        out["parameters"] = clean_schema_for_antigravity(out["parameters"])
    for key in RESULT_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = clean_schema(out[key], _RESULT_PROFILE)
    return out


def _clean_config(config: dict[str, Any]) -> dict[str, Any]:
    out = dict(config)
    for key in CONFIG_SCHEMA_KEYS:
        if isinstance(out.get(key), dict):
            out[key] = clean_response_schema(out[key], json_schema=key in JSON_SCHEMA_KEYS)
    return out


def clean_response_schema(schema: dict[str, Any], *, json_schema: bool) -> dict[str, Any]:
    """A structured-output schema the backend takes, any type at the top; type names in
    JSON Schema's lower case with ``json_schema``, else in Google's upper case."""
    out = clean_schema(schema, "antigravity-response")
    return out if json_schema else _upper_types(out)


def _upper_types(node: dict[str, Any]) -> dict[str, Any]:
    """``node`` (a cleaned schema, changed in place: the walker's own copy) with its type
    names upper-cased, down through ``properties``, ``items`` and ``anyOf``."""
    kind = node.get("type")
    if isinstance(kind, str):
        node["type"] = kind.upper()
    props = node.get("properties")
    if isinstance(props, dict):
        node["properties"] = {
            name: _upper_types(dict(sub)) for name, sub in props.items() if isinstance(sub, dict)
        }
    items = node.get("items")
    if isinstance(items, dict):
        node["items"] = _upper_types(dict(items))
    branches = node.get("anyOf")
    if isinstance(branches, list):
        node["anyOf"] = [_upper_types(dict(b)) if isinstance(b, dict) else b for b in branches]
    return node
