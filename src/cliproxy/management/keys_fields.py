"""Field rules for provider key entries: what a PATCH may change and how a value is read.

A PATCH ``value`` is a partial entry in YAML spelling. Unknown fields are ignored and a
``null`` leaves a field alone (CPA's pointer fields), except ``weight`` and
``disable-cooling`` where ``null`` clears the setting. Values come out trimmed and
normalised; an empty value removes the key from the file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cliproxy.config import normalize_excluded_models, normalize_headers
from cliproxy.management.config_edit import bool_or_null, invalid_body
from cliproxy.management.types import ApiError

__all__ = ["EMPTY", "clean_field", "is_empty", "strip_panel_fields"]

EMPTY = object()  # "remove this key": what a cleared field becomes


def _text(value: Any, field: str) -> Any:
    if not isinstance(value, str):
        raise invalid_body()
    return value.strip()


def _flag(value: Any, field: str) -> Any:
    if not isinstance(value, bool):
        raise invalid_body()
    return value


def _number(value: Any, field: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_body()
    return value


def _weight(value: Any, field: str) -> Any:
    if value is None:
        return EMPTY
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "weight must be an integer")
    return value


def _tristate(value: Any, field: str) -> Any:
    cleared = bool_or_null(value, field)
    return EMPTY if cleared is None else cleared


def _headers(value: Any, field: str) -> Any:
    if not isinstance(value, dict):
        raise invalid_body()
    return normalize_headers(value)


def _excluded(value: Any, field: str) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid_body()
    return normalize_excluded_models(value)


def _objects(value: Any, field: str) -> Any:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise invalid_body()
    return [strip_panel_fields(v) for v in value]


_KINDS: dict[str, Callable[[Any, str], Any]] = {
    "api-key": _text,
    "name": _text,
    "prefix": _text,
    "base-url": _text,
    "proxy-url": _text,
    "fingerprint-profile": _text,
    "priority": _number,
    "request-retry": _number,
    "weight": _weight,
    "disable-cooling": _tristate,
    "rebuild-mid-system-message": _flag,
    "websockets": _flag,
    "alpha-search": _flag,
    "disabled": _flag,
    "support-prompt-cache-key": _flag,
    "headers": _headers,
    "excluded-models": _excluded,
    "models": _objects,
    "request-scoped-errors": _objects,
    "api-key-entries": _objects,
}

_PROFILES = {"": "", "claude-code-cli": "claude-code-cli", "oauth-cli": "claude-code-cli"}


def clean_field(field: str, value: Any) -> Any:
    """The value to store for ``field`` (``EMPTY`` to remove it); 400 on a wrong type."""
    value = _KINDS[field](value, field)
    if field == "fingerprint-profile":
        value = check_profile(value, field)
    return EMPTY if is_empty(value) else value


def check_profile(value: str, field: str) -> str:
    """Claude ``fingerprint-profile``: CPA refuses values the request path would ignore."""
    normalized = _PROFILES.get(value.strip().lower())
    if normalized is None:
        raise ApiError(
            400,
            f"{field}: unsupported fingerprint-profile {value.strip()!r} "
            "(supported: 'claude-code-cli' or empty)",
        )
    return normalized


def is_empty(value: Any) -> bool:
    return value is EMPTY or (not isinstance(value, bool) and value in ("", [], {}))


def strip_panel_fields(entry: dict[str, Any]) -> dict[str, Any]:
    """Drop what GET answers add (``auth-index``) before an entry goes back into the file."""
    return {k: v for k, v in entry.items() if k not in ("auth-index", "auth_index")}
