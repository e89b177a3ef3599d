"""Vertex AI: import a Google service-account key file as a ``vertex`` credential.

The same logic serves CPA's ``-vertex-import FILE [-vertex-import-prefix P]`` (here
:func:`import_vertex_file`) and ``POST /v0/management/vertex/import`` (the management
handler calls :func:`service_account_json`, :func:`vertex_record` and :func:`save_vertex`).
The auth file keeps the whole service account under ``service_account`` next to
``project_id``, ``email``, ``location`` (default ``us-central1``), ``type: "vertex"`` and a
``label``; the command line also writes ``prefix`` and puts it in the file name
(``vertex-<prefix>-<project>.json``), so one project imported under two prefixes gives
two credentials. The key is checked (a PEM RSA private key that parses) before anything
is written; the key text never appears in an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from cliproxy.credentials.files import normalize_metadata
from cliproxy.credentials.storage import write_json
from cliproxy.errors import CliproxyError

from .base import Saved

__all__ = [
    "DEFAULT_VERTEX_LOCATION",
    "VertexImportError",
    "import_vertex_file",
    "save_vertex",
    "service_account_json",
    "vertex_record",
]

DEFAULT_VERTEX_LOCATION = "us-central1"


class VertexImportError(CliproxyError):
    """A service-account file that cannot be imported. ``message`` is CPA's short error
    (``"invalid json"``, ``"invalid service account"``, ``"project_id missing"``...) and
    ``detail`` the reason, if any; :meth:`payload` is CPA's management answer body."""

    status = 400

    def __init__(self, error: str, detail: str = "") -> None:
        super().__init__(error, status=400)
        self.detail = detail

    def payload(self) -> dict[str, str]:
        return {"error": self.message, "message": self.detail} if self.detail else {"error": self.message}

    def __str__(self) -> str:
        return f"{self.message}: {self.detail}" if self.detail else self.message


def service_account_json(data: bytes) -> dict[str, Any]:
    """A service-account file's bytes as a JSON object, or :class:`VertexImportError`."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise VertexImportError("invalid json", str(exc)) from exc
    if not isinstance(value, dict):
        raise VertexImportError("invalid json", "not a JSON object")
    return value


def vertex_record(
    service_account: dict[str, Any], location: str = "", *, prefix: str | None = None
) -> tuple[str, dict[str, Any]]:
    """``(file name, auth JSON)`` for a Vertex service account, as CPA writes it.

    ``prefix`` (the command line's ``-vertex-import-prefix``; ``None`` for the management
    upload, which writes none) is trimmed of spaces and ``/`` and must be one segment."""
    key = service_account.get("private_key")
    if not isinstance(key, str) or not key.strip():
        raise VertexImportError("invalid service account", "service account missing private_key")
    from cliproxy.credentials.rs256 import load_pem_private_key  # cryptography: loaded when used

    try:
        load_pem_private_key(key)
    except ValueError as exc:
        raise VertexImportError("invalid service account", str(exc)) from exc
    project = _text(service_account.get("project_id"))
    if not project:
        raise VertexImportError("project_id missing")
    email = _text(service_account.get("client_email"))
    record: dict[str, Any] = {
        "service_account": service_account,
        "project_id": project,
        "email": email,
        "location": location.strip() or DEFAULT_VERTEX_LOCATION,
        "type": "vertex",
    }
    base = _file_part(project)
    if prefix is not None:
        prefix = prefix.strip().strip("/")
        if "/" in prefix:
            raise VertexImportError("invalid prefix", "prefix must be a single segment (no '/' allowed)")
        record["prefix"] = prefix
        if prefix:
            base = f"{_file_part(prefix)}-{base}"
    record["label"] = _label(project, email)
    return f"vertex-{base}.json", record


def save_vertex(auth_dir: Path, name: str, record: dict[str, Any]) -> Path:
    """Write ``record`` as ``auth_dir/name`` (atomic, 0600), merged over the keys of any
    existing file of that name."""
    path = auth_dir / name
    try:
        existing = orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):  # nothing to keep: write it whole
        existing = {}
    merged = {**(existing if isinstance(existing, dict) else {}), **record}
    normalize_metadata(merged)  # legacy kebab-case settings under their snake_case names (CPA)
    write_json(path, merged)
    return path


def import_vertex_file(
    key_file: str | Path, auth_dir: str | Path, *, prefix: str = "", location: str = ""
) -> Saved:
    """CPA's ``-vertex-import``: read ``key_file``, check it, write the credential into
    ``auth_dir``. Raises :class:`VertexImportError` (nothing is written then)."""
    path = Path(key_file).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VertexImportError("read failed", f"cannot read {path.name}: {exc.strerror or exc}") from exc
    name, record = vertex_record(service_account_json(data), location, prefix=prefix)
    saved = save_vertex(Path(auth_dir).expanduser(), name, record)
    return Saved(provider="vertex", path=saved, account=record["label"], record=record)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _label(project: str, email: str) -> str:
    if project and email:
        return f"{project} ({email})"
    return project or email or "vertex"


def _file_part(value: str) -> str:
    out = value.strip().replace("/", "_").replace("\\", "_").replace(":", "_").replace(" ", "-")
    return out or "vertex"
