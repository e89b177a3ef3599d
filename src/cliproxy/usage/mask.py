"""Masking of secrets in logged headers, query strings and usage records (CPA's rules).

A secret keeps a few characters at each end (``sk-a...wxyz``) so an operator can tell
keys apart without the log holding a usable key.
"""

from __future__ import annotations

from urllib.parse import quote_plus, unquote_plus

__all__ = ["hide_key", "mask_header", "mask_query"]

_SECRET_PARTS = ("api-key", "apikey", "token", "secret")


def hide_key(key: str) -> str:
    """``abcd...wxyz`` for long keys, shorter ends for short ones."""
    n = len(key)
    if n > 8:
        return f"{key[:4]}...{key[-4:]}"
    if n > 4:
        return f"{key[:2]}...{key[-2:]}"
    if n > 2:
        return f"{key[0]}...{key[-1]}"
    return key


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
    return key == "key" or "api-key" in key or "apikey" in key or "api_key" in key or "token" in key \
        or "secret" in key


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
