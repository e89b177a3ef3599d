"""Anthropic's structured output, as the Claude fake plays it.

``format_problem`` refuses a ``output_config.format`` (or beta ``output_format``) schema the
way the Messages API does, with its messages: an object that does not say
``additionalProperties: false``; a keyword the grammar compiler does not take (numeric
bounds, string lengths, array bounds but ``minItems`` 0 or 1, object-size and conditional
keywords); a string ``format`` outside its list; an empty schema; a recursive ``$ref``.
``sample`` is the answer text for an accepted schema: one JSON value following it.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["format_problem", "output_schema", "sample"]

_UNSUPPORTED = {
    "integer": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "number": ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"),
    "string": ("minLength", "maxLength"),
    "array": ("maxItems", "uniqueItems", "contains", "prefixItems"),
    "object": (
        "minProperties",
        "maxProperties",
        "patternProperties",
        "if",
        "dependentRequired",
        "unevaluatedProperties",
    ),
}
_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}


def output_schema(body: dict[str, Any]) -> tuple[str, Any] | None:
    """(path, schema) of the request's JSON output format, or None without one."""
    config = body.get("output_config")
    fmt = config.get("format") if isinstance(config, dict) else None
    path = "output_config.format"
    if fmt is None and isinstance(body.get("output_format"), dict):
        fmt, path = body["output_format"], "output_format"
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return None
    return path + ".schema", fmt.get("schema")


def format_problem(body: dict[str, Any]) -> str | None:
    """Anthropic's 400 message for an output schema it refuses, or None."""
    found = output_schema(body)
    if found is None:
        return None
    path, schema = found
    problem = _problem(schema) or _cycle(schema)
    return None if problem is None else f"{path}: {problem}"


def _problem(node: Any) -> str | None:
    if not isinstance(node, dict):
        return "Schema must be an object"
    for key in ("$defs", "definitions"):
        for value in (node.get(key) or {}).values():
            if found := _problem(value):
                return found
    if "$ref" in node:
        return None if str(node["$ref"]).startswith("#") else "External references are not supported"
    kinds = node.get("type")
    kinds = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
    branches = [b for key in ("anyOf", "oneOf", "allOf") for b in node.get(key) or ()]
    if not kinds and not branches and "enum" not in node and "const" not in node:
        return "Empty schema ({}) that accepts any JSON value is not supported."
    for kind in kinds:
        bad = sorted(k for k in _UNSUPPORTED.get(kind, ()) if k in node)
        if kind == "array" and node.get("minItems", 0) not in (0, 1):
            return "For 'array' type, 'minItems' values other than 0 or 1 are not supported"
        if len(bad) == 1:
            return f"For '{kind}' type, property '{bad[0]}' is not supported"
        if bad:
            return f"For '{kind}' type, properties {', '.join(bad)} are not supported"
        if kind == "object" and node.get("additionalProperties") is not False:
            return "For 'object' type, 'additionalProperties' must be explicitly set to false"
        if kind == "string" and "format" in node and node["format"] not in _FORMATS:
            # the API's wording for this one is not on record; the refusal itself is documented
            return f"For 'string' type, format '{node['format']}' is not supported"
    children = [*branches, *(node.get("properties") or {}).values()]
    if isinstance(node.get("items"), dict):
        children.append(node["items"])
    for child in children:
        if found := _problem(child):
            return found
    return None


def _cycle(schema: dict[str, Any]) -> str | None:
    defs = schema.get("$defs") or schema.get("definitions") or {}
    prefix = "#/$defs/" if "$defs" in schema else "#/definitions/"

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for name, body in defs.items():
        seen, todo = set(), [r for r in refs(body)]
        while todo:
            ref = todo.pop()
            if ref == prefix + name or ref == "#":
                return f"Circular reference detected in schema definitions: {name} -> {name}"
            target = ref.removeprefix(prefix)
            if target in defs and target not in seen:
                seen.add(target)
                todo.extend(refs(defs[target]))
    return None


def sample(schema: dict[str, Any]) -> str:
    """One JSON text that follows ``schema`` (every property filled)."""
    defs = schema.get("$defs") or schema.get("definitions") or {}
    return orjson.dumps(_value(schema, defs)).decode()


def _value(node: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in node:
        return _value(defs[str(node["$ref"]).rsplit("/", 1)[-1]], defs)
    if "const" in node:
        return node["const"]
    if node.get("enum"):
        return node["enum"][0]
    for key in ("anyOf", "oneOf"):
        if node.get(key):
            branches = [b for b in node[key] if b.get("type") != "null"] or node[key]
            return _value(branches[0], defs)
    kind = node.get("type")
    kind = next((k for k in kind if k != "null"), "null") if isinstance(kind, list) else kind
    if kind == "object":
        return {name: _value(prop, defs) for name, prop in (node.get("properties") or {}).items()}
    if kind == "array":
        return [_value(node["items"], defs)] if isinstance(node.get("items"), dict) else []
    return {"string": "fake", "integer": 7, "number": 1.5, "boolean": True}.get(str(kind))
