"""Uploads into auth-dir: multipart forms, raw JSON, and Vertex service-account import."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import orjson

from cliproxy.credentials.rs256 import load_pem_private_key
from cliproxy.management.api import ApiError
from cliproxy.management.auth_files_store import parse_object, read_object, write_atomic, write_object

__all__ = [
    "FormPart",
    "VertexImportError",
    "is_multipart",
    "parse_form",
    "save_vertex",
    "service_account_json",
    "store_auth_file",
    "vertex_record",
]

DEFAULT_VERTEX_LOCATION = "us-central1"


@dataclass(frozen=True, slots=True)
class FormPart:
    field: str
    filename: str | None
    data: bytes


def is_multipart(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == "multipart/form-data"


def parse_form(content_type: str, body: bytes) -> list[FormPart]:
    """The parts of a ``multipart/form-data`` body; ``ApiError(400)`` when malformed."""
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    msg = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(msg, EmailMessage) or not msg.is_multipart() or msg.defects:
        raise ApiError(400, "invalid multipart form: malformed body or missing boundary")
    parts = []
    for part in msg.iter_parts():
        if not isinstance(part, EmailMessage):
            continue
        field = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(field, str) or not isinstance(payload, bytes):
            continue
        parts.append(FormPart(field, part.get_filename(), payload))
    return parts


def store_auth_file(auth_dir: Path, name: str, data: bytes) -> str:
    """Validate ``data`` as a JSON object and write it as ``auth_dir/<base name>`` (0600).

    ``name`` is reduced to its last path component, as CPA does for uploaded files."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    if not base.lower().endswith(".json") or base == ".json":
        raise ApiError(400, "file must be .json")
    parse_object(data)
    write_atomic(auth_dir / base, data)
    return base


def service_account_json(data: bytes) -> dict[str, Any]:
    """An uploaded service-account file as a JSON object, or :class:`VertexImportError`."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise VertexImportError("invalid json", str(exc)) from exc
    if not isinstance(value, dict):
        raise VertexImportError("invalid json", "not a JSON object")
    return value


def vertex_record(service_account: dict[str, Any], location: str) -> tuple[str, dict[str, Any]]:
    """(file name, auth JSON) for a Vertex service account, as CPA writes it."""
    key = service_account.get("private_key")
    if not isinstance(key, str) or not key.strip():
        raise VertexImportError("invalid service account", "service account missing private_key")
    try:
        load_pem_private_key(key)
    except ValueError as exc:
        raise VertexImportError("invalid service account", str(exc)) from exc
    project = _text(service_account.get("project_id"))
    if not project:
        raise ApiError(400, "project_id missing")
    email = _text(service_account.get("client_email"))
    location = location.strip() or DEFAULT_VERTEX_LOCATION
    record = {
        "service_account": service_account,
        "project_id": project,
        "email": email,
        "location": location,
        "type": "vertex",
        "label": _label(project, email),
    }
    return f"vertex-{_file_part(project)}.json", record


def save_vertex(auth_dir: Path, name: str, record: dict[str, Any]) -> Path:
    """Write ``record`` over (merged into) any existing file of that name."""
    path = auth_dir / name
    existing = read_object(path) if path.exists() else {}
    write_object(path, {**existing, **record})
    return path


class VertexImportError(ApiError):
    """CPA answers some import errors as ``{"error": ..., "message": ...}``."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(400, error)
        self.detail = message


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value).strip()


def _label(project: str, email: str) -> str:
    if project and email:
        return f"{project} ({email})"
    return project or email or "vertex"


def _file_part(project: str) -> str:
    out = project.strip().replace("/", "_").replace("\\", "_").replace(":", "_").replace(" ", "-")
    return out or "vertex"
