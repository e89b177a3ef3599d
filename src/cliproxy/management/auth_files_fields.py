"""``PATCH /auth-files/fields``: merge fields into an auth file's JSON, CPA's rules.

Field names may be dotted paths (``"a.b"`` sets a nested key); CPA's legacy kebab-case
root names are read as their snake_case form. ``weight`` must be an integer up to
1,000,000, ``request_retry`` an integer (negative or null removes it), ``headers`` is
merged name by name (an empty value removes that header). ``null`` removes a field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.credentials.files import CANONICAL_METADATA_KEYS, parse_weight
from cliproxy.management.types import ApiError

__all__ = ["apply_fields", "normalize_fields"]


def normalize_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field paths with canonical roots; a canonical spelling beats a legacy one."""
    out: dict[str, Any] = {}
    originals: dict[str, tuple[str, bool]] = {}
    for key, value in fields.items():
        parts = [p.strip() for p in key.strip().split(".")]
        if not parts[0]:
            raise ApiError(400, "field name is required")
        root = CANONICAL_METADATA_KEYS.get(parts[0], parts[0])
        canonical = root == parts[0]
        path = ".".join([root, *parts[1:]])
        if path in originals:
            first, first_canonical = originals[path]
            if first_canonical == canonical:
                raise ApiError(400, f'auth file fields "{first}" and "{key}" refer to the same field')
            if not canonical:
                continue
        out[path] = value
        originals[path] = (key, canonical)
    return out


def apply_fields(meta: dict[str, Any], fields: Mapping[str, Any]) -> None:
    """Apply normalised ``fields`` to ``meta`` in place; ``ApiError(400)`` on a bad value."""
    if not fields:
        raise ApiError(400, "no fields to update")
    for path, value in fields.items():
        root = path.split(".", 1)[0]
        if root in ("weight", "request_retry") and path != root:
            raise ApiError(400, f"{root} does not support nested fields")
        if path == "weight":
            _set_weight(meta, value)
        elif path == "request_retry":
            _set_retry(meta, value)
        elif path == "headers":
            _merge_headers(meta, value)
        else:
            _set_path(meta, path, value)


def _set_weight(meta: dict[str, Any], value: Any) -> None:
    if value is None:
        meta.pop("weight", None)
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ApiError(400, "weight must be an integer")
    try:
        meta["weight"] = parse_weight(value)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc


def _set_retry(meta: dict[str, Any], value: Any) -> None:
    if value is None:
        meta.pop("request_retry", None)
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ApiError(400, "request_retry must be an integer or null")
    if value < 0:
        meta.pop("request_retry", None)
    else:
        meta["request_retry"] = int(value)


def _merge_headers(meta: dict[str, Any], value: Any) -> None:
    if value is None:
        meta.pop("headers", None)
        return
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        meta["headers"] = value
        return
    current = meta.get("headers")
    merged = {k: v for k, v in current.items() if isinstance(v, str)} if isinstance(current, dict) else {}
    for name, text in value.items():
        name, text = name.strip(), text.strip()
        if not name:
            continue
        if text:
            merged[name] = text
        else:
            merged.pop(name, None)
    if merged:
        meta["headers"] = merged
    else:
        meta.pop("headers", None)


def _set_path(meta: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if any(not p for p in parts):
        raise ApiError(400, f"invalid field path: {path}")
    node = meta
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value
