"""Uploads into auth-dir: multipart forms, raw JSON, and Vertex service-account import."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from cliproxy.credentials.files import parse_weight
from cliproxy.credentials.login.vertex import (
    VertexImportError,
    save_vertex,
    service_account_json,
    vertex_record,
)
from cliproxy.management.auth_files_store import parse_object, safe_name, write_atomic
from cliproxy.management.types import ApiError

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
    base = safe_name(name.replace("\\", "/").rsplit("/", 1)[-1])
    if not base.lower().endswith(".json") or base == ".json":
        raise ApiError(400, "file must be .json")
    obj = parse_object(data)
    if "weight" in obj:  # a file the loader would skip is refused, not stored (CPA's Save)
        try:
            parse_weight(obj["weight"])
        except ValueError as exc:
            raise ApiError(400, f"invalid auth file: {exc}") from exc
    try:
        write_atomic(auth_dir / base, data)
    except OSError as exc:
        raise ApiError(500, f"failed to write file: {exc.strerror}") from exc
    return base
