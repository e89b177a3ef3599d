"""Gemini rules that run before a node's children are cleaned: they reshape JSON
Schema constructs (type lists, const, allOf, tuple items, null branches, bare property
maps) into what the OpenAPI 3.0 subset can say."""

from __future__ import annotations

import math
from typing import Any

from cliproxy.translate.schema._profile import Node, when
from cliproxy.translate.schema._walk import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONE, Walk

__all__ = [
    "const_to_enum",
    "examples_to_example",
    "exclusive_bounds",
    "normalize_type",
    "one_of_to_any_of",
    "promote_required_flags",
    "prune_union_branches",
    "tuple_items",
    "wrap_bare_properties",
]

TYPE_ALIASES = {
    "string": "STRING", "str": "STRING", "text": "STRING",
    "number": "NUMBER", "float": "NUMBER", "double": "NUMBER",
    "integer": "INTEGER", "int": "INTEGER",
    "boolean": "BOOLEAN", "bool": "BOOLEAN",
    "array": "ARRAY", "list": "ARRAY",
    "object": "OBJECT", "dict": "OBJECT", "map": "OBJECT",
    "null": "NULL", "none": "NULL",
}  # fmt: skip

SIMPLE_TYPES = {k: v for k, v in TYPE_ALIASES.items() if v != "NULL"} | {
    v: v for v in TYPE_ALIASES.values() if v != "NULL"
}

# Keywords that only constrain one kind of value, with the Gemini types they belong to.
TYPE_KEYWORDS: dict[str, frozenset[str]] = {
    **dict.fromkeys(("properties", "required", "minProperties", "maxProperties", "propertyOrdering"),
                    frozenset({"OBJECT"})),
    **dict.fromkeys(("items", "minItems", "maxItems"), frozenset({"ARRAY"})),
    **dict.fromkeys(("minLength", "maxLength", "pattern"), frozenset({"STRING"})),
    **dict.fromkeys(("minimum", "maximum"), frozenset({"NUMBER", "INTEGER"})),
    "format": frozenset({"STRING", "NUMBER", "INTEGER"}),
}  # fmt: skip

KEYWORDS = frozenset(
    {"type", "format", "title", "description", "nullable", "enum", "const", "default", "example",
     "examples", "required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
     "multipleOf", "minLength", "maxLength", "pattern", "minItems", "maxItems", "uniqueItems",
     "minProperties", "maxProperties", "propertyOrdering", "dependentRequired", "dependencies",
     "$ref", "$schema", "$id", "$anchor", "$dynamicRef", "$dynamicAnchor", "$vocabulary",
     "$comment", "contentMediaType", "contentEncoding", "readOnly", "writeOnly", "deprecated",
     "discriminator", "xml", "externalDocs", "enumDescriptions", "enumTitles", "minContains",
     "maxContains"}
) | SCHEMA_MAPS | SCHEMA_ONE | SCHEMA_LISTS  # fmt: skip
SHAPE_KEYS = frozenset(
    {"type", "$ref", "properties", "items", "prefixItems", "anyOf", "oneOf", "allOf", "enum", "const"}
)

SCHEMA_HINTS = SHAPE_KEYS | {"description"}


def wrap_bare_properties(node: Node, walk: Walk) -> Node:
    """Repair object nodes whose properties sit beside the keywords (as some MCP
    servers send them) and ``properties`` given as a list of named schemas."""
    props = node.get("properties")
    if props is not None and not isinstance(props, dict):
        node["properties"] = _props_from_list(props)
    if _declares_non_object(node.get("type")):
        return node
    # a child schema under a name that is no keyword, or under a keyword that only
    # takes a scalar (a property called "title" or "type"), is a property
    bare = [
        k
        for k, v in node.items()
        if not k.startswith("x-") and (k not in KEYWORDS or k in _SCALAR_KEYWORDS) and _is_schema(v)
    ]
    if bare:
        merged = dict(node.get("properties") or {})
        for key in bare:
            merged.setdefault(key, node.pop(key))
        node["properties"] = merged
        node.setdefault("type", "object")
    return node


def _props_from_list(props: Any) -> dict[str, Any]:
    if not isinstance(props, list):
        return {}
    named = (p for p in props if isinstance(p, dict) and isinstance(p.get("name"), str))
    return {p["name"]: {k: v for k, v in p.items() if k != "name"} for p in named}


def _declares_non_object(t: Any) -> bool:
    names = t if isinstance(t, list) else [t]
    known = [TYPE_ALIASES.get(n.lower()) for n in names if isinstance(n, str)]
    return bool(known) and "OBJECT" not in known


# keywords whose value is never a schema object
_SCALAR_KEYWORDS = frozenset({"type", "title", "description", "format", "pattern", "nullable", "required"})


def _is_schema(value: Any, depth: int = 0) -> bool:
    """A schema, or a bare map of named schemas (itself repaired into an object)."""
    if not isinstance(value, dict) or not value:
        return False
    if not SCHEMA_HINTS.isdisjoint(value) and not isinstance(value.get("type"), dict):
        return True
    return depth < 8 and all(_is_schema(v, depth + 1) for v in value.values())


@when("oneOf")
def one_of_to_any_of(node: Node, walk: Walk) -> Node:
    """``oneOf`` -> ``anyOf`` (Gemini cannot say "exactly one")."""
    one = node.pop("oneOf", None)
    if isinstance(one, list) and "anyOf" not in node:
        node["anyOf"] = one
    return node


@when("const")
def const_to_enum(node: Node, walk: Walk) -> Node:
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return node


@when("examples")
def examples_to_example(node: Node, walk: Walk) -> Node:
    examples = node.pop("examples", None)
    if isinstance(examples, list) and examples and "example" not in node:
        node["example"] = examples[0]
    return node


@when("type")
def normalize_type(node: Node, walk: Walk) -> Node:
    """Upper-case Gemini type names; ``null`` in a type list becomes ``nullable``;
    several types become ``anyOf`` branches carrying their own keywords."""
    raw = node["type"]
    if isinstance(raw, str) and raw in SIMPLE_TYPES:
        node["type"] = SIMPLE_TYPES[raw]
        return node
    names: list[str] = []
    for item in raw if isinstance(raw, list) else [raw]:
        name = TYPE_ALIASES.get(item.lower()) if isinstance(item, str) else None
        if name == "NULL":
            node["nullable"] = True
        elif name is not None and name not in names:
            names.append(name)
    if set(names) == {"NUMBER", "INTEGER"}:
        names = ["NUMBER"]
    if not names:
        del node["type"]
    elif len(names) == 1 or "anyOf" in node:
        node["type"] = names[0]
    else:
        _split_types(node, names)
    return node


def _split_types(node: Node, names: list[str]) -> None:
    del node["type"]
    branches = [{"type": name} for name in names]
    for key in [k for k in node if k in TYPE_KEYWORDS]:
        value = node.pop(key)
        for branch in branches:
            if branch["type"] in TYPE_KEYWORDS[key]:
                branch[key] = value
    node["anyOf"] = branches


@when("exclusiveMinimum", "exclusiveMaximum")
def exclusive_bounds(node: Node, walk: Walk) -> Node:
    """``exclusiveMinimum``/``Maximum`` numbers -> ``minimum``/``maximum``: exact for
    integers (bound +/- 1), lossy for numbers (the bound itself becomes allowed)."""
    for key, bound, step, pick in (
        ("exclusiveMinimum", "minimum", 1, max),
        ("exclusiveMaximum", "maximum", -1, min),
    ):
        value = node.pop(key, None)
        if not _is_number(value):
            continue
        if node.get("type") == "INTEGER" and float(value).is_integer():
            value = int(value) + step
        current = node.get(bound)
        node[bound] = pick(current, value) if _is_number(current) else value
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@when("items", "prefixItems")
def tuple_items(node: Node, walk: Walk) -> Node:
    """Tuple arrays (``items`` as a list, or ``prefixItems``) -> one item schema,
    the union of the positions when they differ."""
    prefix = node.pop("prefixItems", None)
    items = node.get("items")
    seq = items if isinstance(items, list) else prefix if isinstance(prefix, list) else None
    if seq is None:
        if isinstance(items, bool) or items is None:
            node.pop("items", None)
        return node
    distinct: list[Any] = []
    for item in seq:
        if isinstance(item, (dict, str)) and item not in distinct:
            distinct.append(item)
    if not distinct:
        node.pop("items", None)
    else:
        node["items"] = distinct[0] if len(distinct) == 1 else {"anyOf": distinct}
    return node


@when("properties")
def promote_required_flags(node: Node, walk: Walk) -> Node:
    """``"required": true`` on a property (draft-3 style) -> the parent's list."""
    props = node.get("properties")
    if not isinstance(props, dict):
        return node
    flagged = [name for name, s in props.items() if isinstance(s, dict) and s.get("required") is True]
    if flagged:
        have = node.get("required")
        have = [n for n in have if isinstance(n, str)] if isinstance(have, list) else []
        node["required"] = have + [n for n in flagged if n not in have]
    return node


@when("anyOf")
def prune_union_branches(node: Node, walk: Walk) -> Node:
    """Null branches -> ``nullable``; branches that only refine a typed parent (such
    as ``{"required": [...]}``) cannot be said in Gemini and are dropped."""
    branches = node.get("anyOf")
    if branches is None:
        return node
    kept = []
    for branch in branches if isinstance(branches, list) else ():
        if _is_null(branch):
            node["nullable"] = True
        elif isinstance(branch, (dict, str, list)):
            kept.append(branch)
    if ("type" in node or "properties" in node) and all(_refines(b) for b in kept):
        kept = []
    if kept:
        node["anyOf"] = kept
    else:
        del node["anyOf"]
    return node


def _is_null(branch: Any) -> bool:
    if isinstance(branch, str):
        return branch.lower() == "null"
    if not isinstance(branch, dict):
        return False
    t = branch.get("type")
    if isinstance(t, list) and len(t) == 1:
        t = t[0]
    if isinstance(t, str):
        return t.lower() == "null"
    return t is None and (("const" in branch and branch["const"] is None) or branch.get("enum") == [None])


def _refines(branch: Any) -> bool:
    return isinstance(branch, dict) and SHAPE_KEYS.isdisjoint(branch)
