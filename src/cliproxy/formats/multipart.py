"""``multipart/form-data`` bodies that go upstream as forms: the parts a client sent, kept
as they came, and the form written anew with some fields replaced (an Images API edit for
an ``openai-compatibility`` image model goes to its upstream as a form, as in CPA).

A :class:`Form` rides in a request body under :data:`FORM_KEY`. It is a ``dict`` whose
items only describe the parts (what a plugin sees when the body is written as JSON); the
parts themselves are its ``parts`` attribute, so nothing copies or encodes file bytes
until the upstream form is written.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["FORM_KEY", "Form", "Part", "encode"]

FORM_KEY = "multipart_form"  # the body member holding a Form (a JSON body never holds one)
_CRLF = b"\r\n"
_OCTETS = "application/octet-stream"


@dataclass(slots=True, frozen=True)
class Part:
    """One part of a form: a field (``filename`` ``None``) or a file with its own
    ``Content-Type`` (empty: none given)."""

    name: str
    data: bytes
    filename: str | None = None
    content_type: str = ""


class Form(dict[str, Any]):
    """The client's parts (``parts``), in the order they came; the dict's items list
    them without their bytes."""

    __slots__ = ("parts",)

    def __init__(self, parts: Iterable[Part]) -> None:
        self.parts = tuple(parts)
        super().__init__(parts=[_summary(part) for part in self.parts])


def _summary(part: Part) -> dict[str, Any]:
    out: dict[str, Any] = {"name": part.name, "size": len(part.data)}
    if part.filename is not None:
        out["filename"] = part.filename
        out["content_type"] = part.content_type or _OCTETS
    return out


def encode(
    first: Iterable[tuple[str, str]], parts: Iterable[Part], skip: frozenset[str]
) -> tuple[bytes, str]:
    """The form of the fields ``first`` (name, value) followed by ``parts`` (those named
    in ``skip`` left out): its bytes and its ``Content-Type``. A file keeps its file
    name and its ``Content-Type`` (``application/octet-stream`` when it had none)."""
    boundary = secrets.token_hex(16)
    sep = b"--" + boundary.encode() + _CRLF
    out: list[bytes] = []
    for name, value in first:
        out += (sep, _disposition(name, None), _CRLF, value.encode(), _CRLF)
    for part in parts:
        if part.name in skip:
            continue
        out += (sep, _disposition(part.name, part.filename))
        if part.filename is not None or part.content_type:
            out.append(b"Content-Type: " + (part.content_type or _OCTETS).encode() + _CRLF)
        out += (_CRLF, part.data, _CRLF)
    out.append(b"--" + boundary.encode() + b"--" + _CRLF)
    return b"".join(out), f"multipart/form-data; boundary={boundary}"


def _disposition(name: str, filename: str | None) -> bytes:
    head = f'Content-Disposition: form-data; name="{_quoted(name)}"'
    if filename is not None:
        head += f'; filename="{_quoted(filename)}"'
    return head.encode() + _CRLF


def _quoted(value: str) -> str:
    """A name or file name inside quotes, escaped as HTML forms do (no header break)."""
    return value.replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
