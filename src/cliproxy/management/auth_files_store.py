"""Auth-dir files for the management API: safe names, atomic writes, look-ups.

Every name that reaches the file system passes :func:`safe_name` first: a bare file
name, never a path, so no request can read or write outside ``auth-dir``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.credentials.listing import file_name
from cliproxy.credentials.storage import write_atomic
from cliproxy.management.types import ApiError, bare_name, json_depth
from cliproxy.plugins.models import VIRTUAL, VIRTUAL_SOURCE

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.management.ports import ManagementService

__all__ = [
    "file_name",
    "find_credential",
    "json_name",
    "parse_object",
    "read_object",
    "refuse_shared",
    "safe_name",
    "shared_source",
    "write_atomic",
    "write_object",
]


def safe_name(name: str) -> str:
    """``name`` trimmed, or ``ApiError(400)`` when it is empty, could leave the directory,
    holds a control character or is too long for the file system."""
    name = (name or "").strip()
    if not bare_name(name):
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


def shared_source(cred: Credential) -> Path | None:
    """The file ``cred`` shares with the other credentials a plugin's ``auth.parse``
    read out of it (CPA's plugin virtual auths), or None for any other credential."""
    if cred.attributes.get(VIRTUAL, "").strip().lower() != "true":
        return None
    source = cred.attributes.get(VIRTUAL_SOURCE, "").strip()
    return Path(source) if source else cred.path


def refuse_shared(cred: Credential, name: str = "") -> None:
    """``ApiError(409)`` when ``cred`` shares its file with others, unless ``name`` is that
    file's own name: the file is changed or deleted as a whole, never through one of
    its credentials (CPA's ``isPluginVirtualSourceDelete``)."""
    source = shared_source(cred)
    if source is None or (name and name.strip().lower() == source.name.lower()):
        return
    raise ApiError(
        409,
        f"credential {cred.id} is one of several a plugin reads from the auth file {source.name}; "
        f"change or delete {source.name} itself",
    )


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
        return next((c for c in creds if file_name(c) == name), None)
    return next((c for c in creds if c.index == auth_index and name in (c.id, file_name(c))), None)
