"""Gemini rules that run once a node's children are clean: settle unions, enums,
types and keyword values so every node fits Google's ``Schema`` object."""

from __future__ import annotations

import math
from typing import Any

import orjson

from cliproxy.translate.schema._gemini_shape import TYPE_KEYWORDS
from cliproxy.translate.schema._merge import merge_object_union
from cliproxy.translate.schema._profile import Node, when
from cliproxy.translate.schema._walk import Walk

__all__ = [
    "array_items",
    "collapse_any_of",
    "drop_empty_properties",
    "drop_foreign_keywords",
    "filter_format",
    "fix_name_lists",
    "infer_type",
    "root_object",
    "sanitize_values",
    "stringify_enum",
]

FORMATS = {
    "STRING": frozenset({"enum", "date-time"}),
    "NUMBER": frozenset({"float", "double"}),
    "INTEGER": frozenset({"int32", "int64"}),
}
# The first keyword found decides the type of an untyped node.
INFER_TYPE = (
    ("properties", "OBJECT"), ("items", "ARRAY"), ("enum", "STRING"), ("minItems", "ARRAY"),
    ("maxItems", "ARRAY"), ("minProperties", "OBJECT"), ("maxProperties", "OBJECT"),
    ("minLength", "STRING"), ("maxLength", "STRING"), ("pattern", "STRING"),
    ("minimum", "NUMBER"), ("maximum", "NUMBER"),
)  # fmt: skip
# What a schema that allows anything becomes: Gemini needs a type on every node.
ANY_TYPE = "STRING"
ENUM_KEYS = frozenset({"type", "enum", "title", "description"})
COUNT_KEYS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")
TEXT_KEYS = ("description", "title", "pattern", "format")


@when("anyOf")
def collapse_any_of(out: Node, walk: Walk) -> Node:
    """Drop duplicate branches; one branch merges into the node; branches that are
    all string enums become one enum; a shared branch type becomes the node's type."""
    branches = out.get("anyOf")
    if branches is None:
        return out
    unique: list[Node] = []
    for branch in branches:
        if branch not in unique:
            unique.append(branch)
    del out["anyOf"]
    if len(unique) == 1:
        return {**unique[0], **out}
    if all(b.get("enum") and b.keys() <= ENUM_KEYS for b in unique):
        return _merge_enums(out, unique)
    out["anyOf"] = unique
    types = {b.get("type") for b in unique}
    if len(types) == 1 and None not in types:
        out.setdefault("type", types.pop())
    return out


def _merge_enums(out: Node, branches: list[Node]) -> Node:
    values: list[Any] = []
    notes = []
    for branch in branches:
        values.extend(v for v in branch["enum"] if v not in values)
        doc = branch.get("description") or branch.get("title")
        if doc:
            notes.append(f"{'/'.join(branch['enum'])}: {doc}")
    out["type"] = "STRING"
    out["enum"] = values
    if notes:
        lead = out.get("description")
        out["description"] = "\n".join([lead, *notes] if isinstance(lead, str) and lead else notes)
    return out


@when("enum")
def stringify_enum(out: Node, walk: Walk) -> Node:
    """Gemini enums are strings on a STRING node; ``null`` in an enum -> nullable."""
    if "enum" not in out:
        return out
    enum = out["enum"]
    if out.get("type") == "BOOLEAN" and isinstance(enum, list) and True in enum and False in enum:
        del out["enum"]  # says nothing the type does not; strings would change the argument type
        return out
    values: list[str] = []
    for value in enum if isinstance(enum, list) else ():
        if value is None:
            out["nullable"] = True
        elif (text := as_text(value)) not in values:
            values.append(text)
    if not values:
        del out["enum"]
        return out
    out["enum"] = values
    out["type"] = "STRING"
    out.pop("anyOf", None)
    for key in ("default", "example"):
        if key in out and out[key] is not None:
            out[key] = as_text(out[key])
    return out


def as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def infer_type(out: Node, walk: Walk) -> Node:
    if "type" in out or "anyOf" in out:
        return out
    for key, name in INFER_TYPE:
        if key in out:
            out["type"] = name
            return out
    out["type"] = ANY_TYPE
    return out


def array_items(out: Node, walk: Walk) -> Node:
    """Gemini rejects an ARRAY without ``items``."""
    if out.get("type") == "ARRAY" and not isinstance(out.get("items"), dict):
        out["items"] = {"type": ANY_TYPE}
    return out


@when(*TYPE_KEYWORDS)
def drop_foreign_keywords(out: Node, walk: Walk) -> Node:
    """Keywords that constrain another type than the node's own are removed."""
    kind = out.get("type")
    for key in [k for k in out if k in TYPE_KEYWORDS]:
        if kind not in TYPE_KEYWORDS[key]:
            del out[key]
    return out


@when("format")
def filter_format(out: Node, walk: Walk) -> Node:
    fmt, kind = out.get("format"), out.get("type")
    if fmt is not None and fmt not in (FORMATS.get(kind, ()) if isinstance(kind, str) else ()):
        del out["format"]
    return out


@when("properties")
def drop_empty_properties(out: Node, walk: Walk) -> Node:
    """Gemini says "properties: should be non-empty for OBJECT type"."""
    if "properties" in out and not out["properties"]:
        del out["properties"]
    return out


@when("required", "propertyOrdering")
def fix_name_lists(out: Node, walk: Walk) -> Node:
    """``required`` and ``propertyOrdering`` keep only names of existing properties."""
    props = out.get("properties")
    for key in ("required", "propertyOrdering"):
        if key not in out:
            continue
        names = out.pop(key)
        if not isinstance(props, dict) or not isinstance(names, list):
            continue
        kept = list(dict.fromkeys(n for n in names if isinstance(n, str) and n in props))
        if kept:
            out[key] = kept
    return out


@when(*COUNT_KEYS, *TEXT_KEYS, "minimum", "maximum", "nullable")
def sanitize_values(out: Node, walk: Walk) -> Node:
    """Keyword values of the wrong JSON type are dropped (or made whole numbers)."""
    for key in COUNT_KEYS:
        if key in out and (count := _count(out[key])) is None:
            del out[key]
        elif key in out:
            out[key] = count
    for key in ("minimum", "maximum"):
        if key in out and not _finite(out[key]):
            del out[key]
    for key in TEXT_KEYS:
        if key in out and not isinstance(out[key], str):
            del out[key]
    if "nullable" in out and out["nullable"] is not True:
        del out["nullable"]
    return out


def _count(value: Any) -> int | None:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if _finite(value) and value >= 0 and float(value).is_integer():
        return int(value)
    return None


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def root_object(out: Node, walk: Walk) -> Node:
    """Function parameters are an OBJECT: a union of objects becomes one object
    (required = what every branch requires); anything else becomes an empty object."""
    branches = out.get("anyOf") or []
    if out.get("type") == "OBJECT" and not branches:
        out.pop("nullable", None)
        return out
    if branches and all(b.get("type") == "OBJECT" for b in branches):
        root = merge_object_union(branches, "OBJECT")
    else:
        root = {"type": "OBJECT"}
    for key in ("title", "description"):
        if key in out:
            root[key] = out[key]
    return fix_name_lists(drop_empty_properties(root, walk), walk)
