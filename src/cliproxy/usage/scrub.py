"""Scrubbing rules for recordings: what ``cliproxy record`` removes before anything
touches the disk.

Every rule replaces a secret or a person's detail with a fixed stand-in, so a recording can
be shared and a replay of it still matches (the same input always scrubs to the same text):

- headers: ``authorization``, ``x-api-key``, ``x-goog-api-key``, ``api-key``, ``cookie``,
  ``set-cookie``, ``proxy-authorization`` and every header whose name holds ``key``,
  ``token``, ``secret`` or ``auth`` -> ``<redacted>``; ``chatgpt-account-id`` -> a
  placeholder account;
- query parameters ``key``, ``api_key``, ``token`` (and any holding ``token`` or
  ``secret``) -> ``<redacted>``;
- JSON fields ``access_token``, ``refresh_token``, ``id_token``, ``api_key``,
  ``client_secret`` -> ``<redacted>``; ``account_id`` fields -> the placeholder account;
  Claude's ``metadata.user_id`` -> a fixed user;
- anywhere in text: e-mail addresses -> ``user@example.invalid``, JWT-shaped strings ->
  ``<jwt>``, ``sk-...`` keys -> ``<key>``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote_plus

import orjson

__all__ = [
    "ACCOUNT",
    "EMAIL",
    "REDACTED",
    "USER_ID",
    "scrub_body",
    "scrub_headers",
    "scrub_json",
    "scrub_query",
    "scrub_sse",
    "scrub_text",
    "scrub_url",
    "secret_header",
]

REDACTED = "<redacted>"
EMAIL = "user@example.invalid"
ACCOUNT = "00000000-0000-4000-8000-000000000000"
USER_ID = "user_recorded"

_SECRET_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-goog-api-key", "api-key", "cookie", "set-cookie", "proxy-authorization"}
)
_SECRET_HEADER_PARTS = ("key", "token", "secret", "auth", "attestation")
_ACCOUNT_HEADERS = frozenset({"chatgpt-account-id"})
_SECRET_PARAMS = frozenset({"key", "api_key", "api-key", "apikey", "token"})
_SECRET_FIELDS = frozenset({"access_token", "refresh_token", "id_token", "api_key", "client_secret"})
_ACCOUNT_FIELDS = frozenset({"account_id", "chatgpt_account_id"})

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+\.eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*")
_SK_KEY = re.compile(r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{8,}")


def scrub_text(text: str) -> str:
    """``text`` with e-mail addresses, JWTs and ``sk-`` keys replaced."""
    if "@" in text:
        text = _EMAIL.sub(EMAIL, text)
    if "eyJ" in text:
        text = _JWT.sub("<jwt>", text)
    if "sk-" in text:
        text = _SK_KEY.sub("<key>", text)
    return text


def secret_header(name: str) -> bool:
    lower = name.strip().lower()
    return lower in _SECRET_HEADERS or any(part in lower for part in _SECRET_HEADER_PARTS)


def scrub_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """A plain dict of ``headers`` with every secret replaced (repeated names are joined)."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, raw in pairs:
        name, value = str(key), str(raw)  # plain str: multidict keys are an str subclass
        lower = name.lower()
        if secret_header(lower):
            clean = REDACTED
        elif lower in _ACCOUNT_HEADERS:
            clean = ACCOUNT
        else:
            clean = scrub_text(value)
        out[name] = f"{out[name]}, {clean}" if name in out and clean != REDACTED else clean
    return out


def _secret_param(name: str) -> bool:
    lower = name.strip().lower().removesuffix("[]")
    return lower in _SECRET_PARAMS or "token" in lower or "secret" in lower


def scrub_query(raw: str) -> str:
    """A raw query string with its secret parameters redacted."""
    if not raw:
        return ""
    parts = raw.split("&")
    for i, part in enumerate(parts):
        name, eq, value = part.partition("=")
        if _secret_param(unquote_plus(name)):
            parts[i] = f"{name}={quote(REDACTED)}"
        elif eq:
            parts[i] = f"{name}={quote(scrub_text(unquote_plus(value)), safe='')}" if _dirty(value) else part
    return "&".join(parts)


def _dirty(value: str) -> bool:
    text = unquote_plus(value)
    return scrub_text(text) != text


def scrub_url(url: str) -> str:
    """``url`` (absolute, or a path with its query) with secret query parameters redacted."""
    base, sep, query = url.partition("?")
    base = scrub_text(base)
    return f"{base}?{scrub_query(query)}" if sep else base


def scrub_json(value: Any, _parent: str = "") -> Any:
    """A scrubbed copy of a parsed JSON value (the input is left as it was)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        lower = key.lower() if isinstance(key, str) else key
        if lower in _SECRET_FIELDS and item not in (None, ""):
            out[key] = REDACTED
        elif lower in _ACCOUNT_FIELDS and item not in (None, ""):
            out[key] = ACCOUNT
        elif _parent == "metadata" and lower == "user_id" and isinstance(item, str):
            out[key] = USER_ID
        else:
            out[key] = scrub_json(item, lower if isinstance(lower, str) else "")
    return out


def scrub_body(data: bytes) -> Any:
    """A body as a recording stores it: parsed JSON (scrubbed) when it is JSON, scrubbed
    text otherwise, ``None`` when empty."""
    if not data:
        return None
    try:
        return scrub_json(orjson.loads(data))
    except orjson.JSONDecodeError:
        return scrub_text(data.decode("utf-8", "replace"))


def scrub_sse(text: str) -> str:
    """Complete SSE lines with each ``data:`` JSON payload scrubbed field by field."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("data:"):
            payload = line[5:].strip()
            if payload[:1] in ("{", "["):
                try:
                    clean = scrub_json(orjson.loads(payload))
                except orjson.JSONDecodeError:
                    lines[i] = scrub_text(line)
                    continue
                lines[i] = "data: " + orjson.dumps(clean).decode()
                continue
        lines[i] = scrub_text(line)
    return "\n".join(lines)
