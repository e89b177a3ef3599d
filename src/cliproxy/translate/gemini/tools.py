"""Gemini ``tools`` <-> IR tools.

A Gemini tools entry holds ``functionDeclarations`` and/or provider tools
(``googleSearch``, ``codeExecution``, ``urlContext``...). Each declaration becomes an IR
function tool and each provider tool a ``builtin`` tool (raw, family ``gemini``); both
remember their entry (``extras["_group"]``) so a Gemini client's list comes back as sent.
A declaration remembers whether it used ``parameters`` or ``parametersJsonSchema``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import FAMILY, public_extras
from cliproxy.translate.gemini.wire import as_dict, as_list, camel, take
from cliproxy.translate.schema import clean_schema_for_antigravity, clean_schema_for_gemini

__all__ = ["CUSTOM_TOOL_SCHEMA", "as_json_schema", "build_tools", "read_tools"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NODES = (dict, list)

# Responses free-form tools have no Gemini equivalent: they are declared as a function
# taking one string, and the call's ``input`` becomes the free-form text again.
CUSTOM_TOOL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"input": {"type": "string"}},
    "required": ["input"],
}


def _read_decl(decl: Any, group: int, where: str) -> ir.Tool:
    rest = dict(as_dict(decl, where))
    name = take(rest, "name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: expected a non-empty string", param=where)
    description = take(rest, "description")
    extras: dict[str, Any] = {"_group": group}
    params = None
    for key in ("parametersJsonSchema", "parameters"):
        value = take(rest, key)
        if value is not None:
            params = as_dict(value, f"{where}.{key}")
            extras["_params_key"] = key
            # Gemini spells types OBJECT/STRING...; other formats want JSON Schema
            lowered = as_json_schema(params, proto=key == "parameters")
            if lowered is not params:
                extras["_params_raw"] = params
                params = lowered
            break
    for key, value in rest.items():
        extras[camel(key)] = value  # response, responseJsonSchema, behavior...
    return ir.Tool(name=name, description=description, parameters=params, extras=extras)


# Gemini ``Schema`` fields a pydantic ``model_dump()`` without ``by_alias`` writes by their
# proto names: the Gemini API reads protobuf JSON, which takes either spelling, while JSON
# Schema knows only the camelCase one (``any_of`` would be an unknown keyword there)
_PROTO_NAMES = {
    "any_of": "anyOf",
    "max_items": "maxItems",
    "min_items": "minItems",
    "max_length": "maxLength",
    "min_length": "minLength",
    "max_properties": "maxProperties",
    "min_properties": "minProperties",
    "property_ordering": "propertyOrdering",
    "additional_properties": "additionalProperties",
}
# members holding values or names, not schemas: never walked into
_VALUES = frozenset(
    ("enum", "example", "examples", "default", "const", "required", "propertyOrdering", "property_ordering")
)
# members mapping names (which may hold ``_`` or read ``type``) to schemas
_NAMED = frozenset(("properties", "$defs", "definitions"))


def as_json_schema(node: Any, proto: bool = True) -> Any:
    """A schema a Gemini client sent, as JSON Schema for another format: upper-case
    ``type`` names lowered (Gemini's ``Type.OBJECT``, which Gemini CLI also writes in a
    ``responseJsonSchema``). With ``proto`` (a Gemini ``Schema``: ``parameters``,
    ``responseSchema``), fields spelled by their proto names take their JSON Schema names
    and null members are left out (protobuf JSON reads null as unset, and a
    ``model_dump()`` writes every unset member as null; Anthropic and OpenAI refuse
    ``required: null``). The same object when nothing changes."""
    if isinstance(node, list):
        items = [as_json_schema(v, proto) for v in node]
        return node if all(a is b for a, b in zip(items, node, strict=True)) else items
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] | None = None
    for key, value in node.items():
        new = value
        if value is None and proto:
            if out is None:
                out = dict(node)
            del out[key]
            continue
        if key == "type" and isinstance(value, str) and not value.islower():
            new = value.lower()
        elif key in _NAMED and isinstance(value, dict):
            new = _named(value, proto)
        elif isinstance(value, _NODES) and key not in _VALUES:
            new = as_json_schema(value, proto)
        name = _PROTO_NAMES.get(key) if proto else None
        if name is not None and name not in node:
            if out is None:
                out = dict(node)
            del out[key]
            out[name] = new
        elif new is not value:
            if out is None:
                out = dict(node)
            out[key] = new
    return node if out is None else out


def _named(schemas: dict[str, Any], proto: bool) -> dict[str, Any]:
    out: dict[str, Any] | None = None
    for name, schema in schemas.items():
        new = as_json_schema(schema, proto)
        if new is not schema:
            if out is None:
                out = dict(schemas)
            out[name] = new
    return schemas if out is None else out


def read_tools(tools: list[Any]) -> list[ir.Tool]:
    out: list[ir.Tool] = []
    for i, entry in enumerate(tools):
        rest = dict(as_dict(entry, f"tools[{i}]"))
        decls = take(rest, "functionDeclarations")
        if decls is not None:
            where = f"tools[{i}].functionDeclarations"
            out.extend(_read_decl(d, i, f"{where}[{j}]") for j, d in enumerate(as_list(decls, where)))
        for key, value in rest.items():
            key = camel(key)
            out.append(
                ir.Tool(name=key, kind="builtin", extras={"raw": {key: value}, "family": FAMILY, "_group": i})
            )
    return out


def _native_decl(tool: ir.Tool) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        decl["description"] = tool.description
    extras = tool.extras or {}
    if tool.parameters is not None:
        decl[extras.get("_params_key", "parameters")] = extras.get("_params_raw", tool.parameters)
    decl.update(public_extras(extras))
    return decl


def _native_tools(tools: list[ir.Tool]) -> list[dict[str, Any]]:
    groups: dict[int, dict[str, Any]] = {}
    for tool in tools:
        extras = tool.extras or {}
        group = groups.setdefault(extras.get("_group", len(groups)), {})
        if tool.kind == "builtin":
            if extras.get("family") == FAMILY:
                group.update(extras.get("raw") or {})
        else:
            group.setdefault("functionDeclarations", []).append(_native_decl(tool))
    return [g for _, g in sorted(groups.items()) if g]


Cleaner = Callable[[dict[str, Any] | None], dict[str, Any]]


def _foreign_decl(tool: ir.Tool, names: NameMap, clean: Cleaner) -> dict[str, Any]:
    decl: dict[str, Any] = {"name": names.to_gemini(tool.name, tool.namespace)}
    if tool.description:
        decl["description"] = tool.description
    params = CUSTOM_TOOL_SCHEMA if tool.kind == "custom" else tool.parameters
    if params is not None:
        decl["parameters"] = clean(params)
    return decl


def build_tools(req: ir.Request, names: NameMap, antigravity: bool = False) -> list[dict[str, Any]]:
    """The ``tools`` list for ``req``; provider tools only when they are Gemini's.

    Another format's parameters are cleaned for Gemini's API, or with ``antigravity`` for
    Cloud Code, which keeps their declared types (an integer enum stays an integer, its
    members a description hint). A Gemini client's own tools go as sent.
    """
    if not req.tools:
        return []
    if req.source == FAMILY:
        return _native_tools(req.tools)
    clean = clean_schema_for_antigravity if antigravity else clean_schema_for_gemini
    decls: list[dict[str, Any]] = []
    builtins: list[dict[str, Any]] = []
    seen: set[str] = set()
    for tool in req.tools:
        if tool.kind != "builtin":
            decl = _foreign_decl(tool, names, clean)
            if decl["name"] not in seen:  # Gemini rejects a name declared twice; the first wins (CPA)
                seen.add(decl["name"])
                decls.append(decl)
        elif (tool.extras or {}).get("family") == FAMILY:
            builtins.append(dict(tool.extras["raw"]))  # type: ignore[index]
    return ([{"functionDeclarations": decls}] if decls else []) + builtins
