"""Masking of secrets in logged headers, query strings and usage records.

A secret keeps at most a quarter of its characters, and never more than four: two at
each end of a key of 16 characters or more (``sk...yz``), one at each end from 8 to 15,
and nothing (``***``) below 8. That tells keys apart in a log or in the control panel
without giving away enough of a short key to guess the rest. (CPA keeps 4 + 4.)
"""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus

__all__ = ["hide_key", "mask_header", "mask_query"]

# X-Oai-Attestation as CPA; cookies (Cookie, Set-Cookie) carry sessions: CPA logs them whole
_SECRET_PARTS = ("api-key", "apikey", "token", "secret", "attestation", "cookie")
_MAX_END = 2  # characters kept at each end of a long key


def hide_key(key: str) -> str:
    """``sk...yz`` for long keys, ``s...z`` for short ones, ``***`` for very short ones."""
    if not key:
        return ""
    end = min(_MAX_END, len(key) // 8)
    if end == 0:
        return "***"
    return f"{key[:end]}...{key[-end:]}"


def mask_header(name: str, value: str) -> str:
    """The value to log for header ``name``: Authorization keeps its scheme word."""
    lower = name.strip().lower()
    if "authorization" in lower:
        scheme, sep, secret = value.strip().partition(" ")
        return f"{scheme} {hide_key(secret)}" if sep else hide_key(value)
    if any(part in lower for part in _SECRET_PARTS):
        return hide_key(value)
    return value


def _secret_param(key: str) -> bool:
    key = key.strip().lower().removesuffix("[]")
    if not key:
        return False
    return (
        key == "key"
        or "api-key" in key
        or "apikey" in key
        or "api_key" in key
        or "token" in key
        or "secret" in key
    )


def mask_query(raw: str) -> str:
    """A raw query string with secret parameters (``key``, ``auth_token``...) masked."""
    if not raw:
        return ""
    parts = raw.split("&")
    changed = False
    for i, part in enumerate(parts):
        key, _, value = part.partition("=")
        if part and _secret_param(unquote_plus(key)):
            parts[i] = f"{key}={quote_plus(hide_key(unquote_plus(value).strip()))}"
            changed = True
    return "&".join(parts) if changed else raw
