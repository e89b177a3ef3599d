"""An independent checker for Gemini function-declaration ``parameters``.

Written from Google's documented ``Schema`` object (ai.google.dev/api/caching#Schema:
"a select subset of an OpenAPI 3.0 schema object") and from errors the API is known
to return, not from the cleaner. ``violations(schema)`` lists every problem found as
``"<path>: <message>"``; an empty list means the schema should be accepted.
"""

from __future__ import annotations

import json
import math
from typing import Any

# Every field of Google's Schema object, with the JSON kind its value must have.
FIELDS = {
    "type": "type", "format": "str", "title": "str", "description": "str", "nullable": "bool",
    "enum": "enum", "maxItems": "int64", "minItems": "int64", "properties": "schema_map",
    "required": "names", "minProperties": "int64", "maxProperties": "int64", "minLength": "int64",
    "maxLength": "int64", "pattern": "str", "example": "value", "anyOf": "schema_list",
    "propertyOrdering": "names", "default": "value", "items": "schema", "minimum": "number",
    "maximum": "number",
}  # fmt: skip
# Type enum minus TYPE_UNSPECIFIED (Gemini 3 / Vertex reject a node without a type) and
# NULL (expressed with nullable). We send the upper-case enum names.
TYPES = frozenset({"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"})
# "Supported formats: for NUMBER type: float, double; for INTEGER type: int32, int64;
# for STRING type: enum, date-time".
FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
# Fields that only make sense on one kind of node.
OWNERS = {
    "properties": {"OBJECT"}, "required": {"OBJECT"}, "minProperties": {"OBJECT"},
    "maxProperties": {"OBJECT"}, "propertyOrdering": {"OBJECT"}, "items": {"ARRAY"},
    "minItems": {"ARRAY"}, "maxItems": {"ARRAY"}, "minLength": {"STRING"}, "maxLength": {"STRING"},
    "pattern": {"STRING"}, "enum": {"STRING"}, "minimum": {"NUMBER", "INTEGER"},
    "maximum": {"NUMBER", "INTEGER"},
}  # fmt: skip


def violations(schema: Any) -> list[str]:
    """Problems in ``schema`` used as a function declaration's ``parameters``."""
    found: list[str] = []
    if not _json_ok(schema):
        found.append("$: not serializable as strict JSON")
    _check(schema, "$", found)
    if isinstance(schema, dict) and schema.get("type") != "OBJECT":
        found.append("$: parameters must be type OBJECT")
    return found


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def _check(node: Any, path: str, found: list[str]) -> None:
    if not isinstance(node, dict):
        found.append(f"{path}: schema must be an object, got {type(node).__name__}")
        return
    for key, value in node.items():
        kind = FIELDS.get(key)
        if kind is None:
            found.append(f"{path}: unknown field {key!r}")
        else:
            CHECKS[kind](value, f"{path}.{key}", found)
    _check_relations(node, path, found)


def _check_relations(node: dict[str, Any], path: str, found: list[str]) -> None:
    kind = node.get("type")
    if kind is None and "anyOf" not in node:
        found.append(f"{path}: type missing")
    for key, owners in OWNERS.items():
        if key in node and kind not in owners:
            found.append(f"{path}: {key} not allowed on type {kind}")
    if kind == "ARRAY" and "items" not in node:
        found.append(f"{path}: ARRAY without items")
    fmt = node.get("format")
    if fmt is not None and fmt not in FORMATS.get(kind, ()):
        found.append(f"{path}: format {fmt!r} not supported for {kind}")
    props = node.get("properties") if isinstance(node.get("properties"), dict) else {}
    for key in ("required", "propertyOrdering"):
        for name in node.get(key) or ():
            if name not in props:
                found.append(f"{path}.{key}: names missing property {name!r}")


def _type(value: Any, path: str, found: list[str]) -> None:
    if value not in TYPES:
        found.append(f"{path}: bad type {value!r}")


def _str(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, str):
        found.append(f"{path}: must be a string")


def _bool(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, bool):
        found.append(f"{path}: must be a boolean")


def _enum(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, list) or not value:
        found.append(f"{path}: enum must be a non-empty list")
    elif not all(isinstance(v, str) for v in value):
        found.append(f"{path}: enum values must all be strings")


def _int64(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, str) and value.isdigit():
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        found.append(f"{path}: must be a non-negative integer")


def _number(value: Any, path: str, found: list[str]) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        found.append(f"{path}: must be a finite number")


def _names(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        found.append(f"{path}: must be a list of strings")
    elif len(set(value)) != len(value):
        found.append(f"{path}: duplicate names")


def _value(value: Any, path: str, found: list[str]) -> None:
    return None


def _schema(value: Any, path: str, found: list[str]) -> None:
    _check(value, path, found)


def _schema_map(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, dict) or not value:
        # "properties: should be non-empty for OBJECT type"
        found.append(f"{path}: must be a non-empty map")
        return
    for name, child in value.items():
        _check(child, f"{path}[{name!r}]", found)


def _schema_list(value: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, list) or not value:
        found.append(f"{path}: must be a non-empty list")
        return
    for i, child in enumerate(value):
        _check(child, f"{path}[{i}]", found)


CHECKS = {
    "type": _type, "str": _str, "bool": _bool, "enum": _enum, "int64": _int64, "number": _number,
    "names": _names, "value": _value, "schema": _schema, "schema_map": _schema_map,
    "schema_list": _schema_list,
}  # fmt: skip
