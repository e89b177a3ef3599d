"""Auth-dir files for the management API: safe names, atomic writes, look-ups.

Every name that reaches the file system passes :func:`safe_name` first: a bare file
name, never a path, so no request can read or write outside ``auth-dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.credentials.storage import write_atomic
from cliproxy.management.types import ApiError, json_depth

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.management.ports import ManagementService

__all__ = [
    "find_credential",
    "json_name",
    "parse_object",
    "read_object",
    "safe_name",
    "write_atomic",
    "write_object",
]


def safe_name(name: str) -> str:
    """``name`` trimmed, or ``ApiError(400)`` when it is empty or could leave the directory."""
    name = (name or "").strip()
    if not name or "/" in name or "\\" in name or "\x00" in name or name in (".", ".."):
        raise ApiError(400, "invalid name")
    return name


def json_name(name: str) -> str:
    """A safe name that ends with ``.json`` (CPA's rule for downloads and raw uploads)."""
    name = safe_name(name)
    if not name.lower().endswith(".json"):
        raise ApiError(400, "name must end with .json")
    return name


def parse_object(data: bytes) -> dict[str, Any]:
    """The bytes as a JSON object, or ``ApiError(400)``."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"invalid auth file: {exc}") from exc
    if not isinstance(value, dict):
        raise ApiError(400, "invalid auth file: not a JSON object")
    json_depth(data, value)
    return value


def read_object(path: Path) -> dict[str, Any]:
    """The JSON object stored at ``path``; ``ApiError(404)`` when missing."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ApiError(404, "auth file not found") from exc
    except OSError as exc:
        raise ApiError(500, f"failed to read file: {exc.strerror}") from exc
    return parse_object(raw) if raw.strip() else {}


def write_object(path: Path, data: dict[str, Any]) -> None:
    write_atomic(path, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")


def find_credential(service: ManagementService, name: str, auth_index: str = "") -> Credential | None:
    """A credential by id or file name (and ``auth_index`` when given), as CPA looks up."""
    name, auth_index = name.strip(), auth_index.strip()
    if not name:
        return None
    creds = service.pool.credentials()
    if not auth_index:
        found = service.pool.get(name)
        if found is not None and found.id == name:
            return found
        return next((c for c in creds if c.path is not None and c.path.name == name), None)
    return next(
        (
            c
            for c in creds
            if c.index == auth_index and (c.id == name or (c.path is not None and c.path.name == name))
        ),
        None,
    )
