"""Antigravity tool rules (CPA ``CleanJSONSchemaForAntigravityTool`` without Claude's
VALIDATED placeholders): what Cloud Code's function declarations take.

The backend reads enum members only as strings, yet the declared type decides the JSON
type of the arguments the model writes. So types stay as declared (``integer`` stays
``integer``) and every enum leaves the schema for a description hint (``Allowed: 1, 2``),
as do the constraints the backend ignores or refuses. Unions keep their strongest branch;
``null`` becomes ``nullable`` (properties stay required). Type names are JSON Schema's.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import orjson

from cliproxy.translate.schema._gemini_shape import TYPE_ALIASES
from cliproxy.translate.schema._hints import add_hint, hint_text
from cliproxy.translate.schema._profile import Node, when
from cliproxy.translate.schema._walk import Walk

__all__ = [
    "ANTIGRAVITY_RESPONSE_KEYS",
    "ANTIGRAVITY_TOOL_KEYS",
    "closed_object_hint",
    "closed_object_only",
    "const_to_enum",
    "constraint_hints",
    "enum_hints",
    "flatten_type_list",
    "flatten_union",
    "lower_type",
    "merge_conditionals",
    "not_hint",
    "object_root",
    "response_enum",
]

ANTIGRAVITY_TOOL_KEYS = frozenset(
    {"type", "description", "nullable", "properties", "required", "items", "anyOf", "oneOf",
     "example", "minProperties", "maxProperties", "propertyOrdering"}
)  # fmt: skip
# A structured answer's schema also keeps its enums, title and ``additionalProperties: false``,
# which the backend enforces there (CPA ``CleanJSONSchemaForAntigravityResponse``).
ANTIGRAVITY_RESPONSE_KEYS = ANTIGRAVITY_TOOL_KEYS | {"enum", "title", "additionalProperties"}
# Keywords said as hints (``minLength: 3``) and removed, in the order the hints are written.
CONSTRAINTS = (
    "minLength", "maxLength", "exclusiveMinimum", "exclusiveMaximum", "pattern", "minItems",
    "maxItems", "uniqueItems", "format", "default", "examples", "minimum", "maximum", "multipleOf",
)  # fmt: skip
# Enums this long are dropped without a hint (CPA's addEnumHints).
MAX_ENUM_HINT = 10
_TYPE_NAMES = {k: v.lower() for k, v in TYPE_ALIASES.items()} | {v: v.lower() for v in TYPE_ALIASES.values()}


@when("then", "else", "allOf")
def merge_conditionals(node: Node, walk: Walk) -> Node:
    """Properties a ``then``/``else`` branch adds join the node's (its own win); the same
    inside each ``allOf`` branch, before the branches are merged."""
    _fold_conditionals(node)
    branches = node.get("allOf")
    if isinstance(branches, list):
        node["allOf"] = [_folded(b) for b in branches]
    return node


def _folded(branch: Any) -> Any:
    if not isinstance(branch, dict) or ("then" not in branch and "else" not in branch):
        return branch
    out = {k: v for k, v in branch.items() if k != "if"}
    _fold_conditionals(out)
    return out


def _fold_conditionals(node: Node) -> None:
    for key in ("then", "else"):
        branch = node.pop(key, None)
        extra = branch.get("properties") if isinstance(branch, dict) else None
        if isinstance(extra, dict):
            own = node.get("properties")
            props = dict(own) if isinstance(own, dict) else {}
            for name, schema in extra.items():
                props.setdefault(name, schema)
            node["properties"] = props


@when("type")
def lower_type(node: Node, walk: Walk) -> Node:
    """Type names in JSON Schema's spelling (``OBJECT``, ``int`` -> ``object``, ``integer``);
    a name no schema knows (``datetime``) goes, as the backend refuses it."""
    kind = node["type"]
    names = [
        _TYPE_NAMES.get(t.lower()) for t in (kind if isinstance(kind, list) else [kind]) if isinstance(t, str)
    ]
    known = [n for n in names if n is not None]
    if isinstance(kind, list):
        node["type"] = known
    elif known:
        node["type"] = known[0]
    else:
        del node["type"]
    return node


@when("const")
def const_to_enum(node: Node, walk: Walk) -> Node:
    const = node.pop("const")
    node.setdefault("enum", [const])
    return node


@when("enum")
def enum_hints(node: Node, walk: Walk) -> Node:
    """The enum leaves the schema; up to ten members stay as ``Allowed: a, b``."""
    enum = node.pop("enum")
    if isinstance(enum, list) and 0 < len(enum) <= MAX_ENUM_HINT:
        add_hint(node, "Allowed: " + ", ".join(hint_text(v) for v in enum))
    return node


@when("enum")
def response_enum(node: Node, walk: Walk) -> Node:
    """A structured answer's enum stays, its members as strings (all the backend reads), and
    the declared type stays too: it decides the JSON type of the answer (``0.5``, not
    ``"0.5"``). A boolean's enum is ignored there, so it leaves for a hint."""
    enum = node["enum"]
    if not isinstance(enum, list):
        del node["enum"]
        return node
    values = [hint_text(v) for v in enum]
    if node.get("type") == "boolean":
        del node["enum"]
        if 0 < len(values) <= MAX_ENUM_HINT:
            add_hint(node, "Allowed: " + ", ".join(values))
        return node
    node["enum"] = values
    if 1 < len(values) <= MAX_ENUM_HINT:
        add_hint(node, "Allowed: " + ", ".join(values))
    return node


@when("additionalProperties")
def closed_object_only(node: Node, walk: Walk) -> Node:
    """``additionalProperties`` stays only as ``false``: an open map or a value schema
    is more than the backend takes."""
    if node["additionalProperties"] is not False:
        del node["additionalProperties"]
    return node


@when("additionalProperties")
def closed_object_hint(node: Node, walk: Walk) -> Node:
    if node["additionalProperties"] is False:
        add_hint(node, "No extra properties allowed")
    return node


@when(*CONSTRAINTS)
def constraint_hints(node: Node, walk: Walk) -> Node:
    for key in CONSTRAINTS:
        if key in node and not isinstance(node[key], (dict, list)):
            add_hint(node, f"{key}: {hint_text(node[key])}")
    return node


@when("not")
def not_hint(node: Node, walk: Walk) -> Node:
    with suppress(TypeError):  # not JSON: no hint
        add_hint(node, "not: " + orjson.dumps(node["not"]).decode())
    return node


@when("type")
def flatten_type_list(node: Node, walk: Walk) -> Node:
    """A type list keeps its first type that is not ``null`` (``string`` if none);
    the others are hinted (``Accepts: string | integer``), ``null`` becomes nullable."""
    kind = node["type"]
    if not isinstance(kind, list) or not kind:
        return node
    names = [t for t in kind if isinstance(t, str) and t and t != "null"]
    node["type"] = names[0] if names else "string"
    if len(names) > 1:
        add_hint(node, "Accepts: " + " | ".join(names))
    if "null" in kind:
        node["nullable"] = True
        add_hint(node, "(nullable)")
    return node


@when("anyOf", "oneOf")
def flatten_union(out: Node, walk: Walk) -> Node:
    """A union becomes its strongest branch (an object, else an array, else the first
    typed one), nullable if a branch is ``null``; the node's description leads the
    branch's, and the branches' types are hinted."""
    branches = out.get("anyOf") if "anyOf" in out else out.get("oneOf")
    if not isinstance(branches, list) or not branches:
        out.pop("anyOf", None)
        out.pop("oneOf", None)
        return out
    best, best_score, types = 0, -1, []
    for i, branch in enumerate(branches):
        kind, score = _branch_kind(branch)
        types.append(kind)
        if score > best_score:
            best, best_score = i, score
    chosen = dict(branches[best])
    if "null" in (b.get("type") for b in branches) and chosen.get("type") != "null":
        chosen["nullable"] = True
    lead = out.get("description")
    if isinstance(lead, str) and lead:
        own = chosen.get("description")
        chosen["description"] = lead if not own else own if own == lead else f"{lead} ({own})"
    if len(types) > 1:
        add_hint(chosen, "Accepts: " + " | ".join(types))
    return chosen


def _branch_kind(branch: Node) -> tuple[str, int]:
    kind = branch.get("type")
    kind = kind if isinstance(kind, str) else ""
    if kind == "object" or "properties" in branch:
        return kind or "object", 3
    if kind == "array" or "items" in branch:
        return kind or "array", 2
    if kind and kind != "null":
        return kind, 1
    return kind or "null", 0


def object_root(out: Node, walk: Walk) -> Node:
    """Parameters without a type are an object."""
    out.setdefault("type", "object")
    return out
