"""Stable credential ids and ``auth_index`` values, computed exactly as CPA does.

- Config credentials get ``<kind>:<12 hex>``: sha256 over the kind and the trimmed
  parts, each part preceded by a NUL byte; a repeated id gets ``-1``, ``-2``...
- File credentials use their path relative to the auth dir.
- ``auth_index`` is the first 8 bytes (16 hex) of sha256 over a seed:
  ``<type>:<absolute path>`` for ``*.json`` files, ``<list>-api-key:<base>+<key>``
  for API keys, else ``id:<id>``.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping

__all__ = [
    "StableIDGenerator",
    "auth_index",
    "auth_index_seed",
    "compat_provider_key",
    "format_sorted_headers",
]

_COMPAT_PREFIX = "openai-compatible-"
_API_KEY_LISTS = {
    "gemini": "gemini-api-key",
    "gemini-interactions": "interactions-api-key",
    "codex": "codex-api-key",
    "xai": "xai-api-key",
    "claude": "claude-api-key",
}


class StableIDGenerator:
    """Deterministic ids for config credentials; one generator per synthesis pass."""

    def __init__(self) -> None:
        self._counters: dict[str, int] = {}

    def next(self, kind: str, *parts: str) -> tuple[str, str]:
        """Return ``(id, short)`` for ``kind`` and ``parts`` (short = the hash token)."""
        hasher = hashlib.sha256(kind.encode())
        for part in parts:
            hasher.update(b"\x00")
            hasher.update(part.strip().encode())
        short = hasher.hexdigest()[:12]
        key = f"{kind}:{short}"
        seen = self._counters.get(key, 0)
        self._counters[key] = seen + 1
        if seen:
            short = f"{short}-{seen}"
        return f"{kind}:{short}", short


def format_sorted_headers(headers: Mapping[str, str] | None) -> str:
    """Headers as ``name NUL value NUL`` pairs sorted by name (part of a config id)."""
    if not headers:
        return ""
    return "".join(f"{name}\x00{headers[name]}\x00" for name in sorted(headers))


def compat_provider_key(name: str) -> str:
    """CPA's provider key for an ``openai-compatibility`` entry: ``openai-compatible-<name>``."""
    name = name.strip().lower()
    if not name:
        return "openai-compatibility"
    if name == "openai-compatibility" or name.startswith(_COMPAT_PREFIX):
        return name
    return _COMPAT_PREFIX + name


def auth_index_seed(
    *,
    provider: str,
    cred_id: str,
    path: str = "",
    source: str = "",
    api_key: str = "",
    base_url: str = "",
    compat_name: str = "",
    file_type: str = "",
    seed: str = "",
) -> str:
    """The seed CPA hashes into ``auth_index`` (``Auth.indexSeed``)."""
    if seed.strip():
        return "auth_index_seed:" + seed.strip()
    provider = provider.strip().lower()
    file_path = path.strip() or source.strip() or cred_id.strip()
    if file_path and file_path.lower().endswith(".json"):
        file_path = os.path.normpath(os.path.abspath(file_path))
        auth_type = (file_type.strip() or provider).lower()
        if auth_type:
            return f"{auth_type}:{file_path}"
    api_key, base_url = api_key.strip(), base_url.strip()
    if api_key:
        if compat_name.strip() or provider == "openai-compatibility":
            prefix = "openai-compatibility"
        else:
            prefix = _API_KEY_LISTS.get(provider, "")
        if prefix:
            return f"{prefix}:{base_url}+{api_key}"
    return f"id:{cred_id.strip()}" if cred_id.strip() else ""


def auth_index(seed: str) -> str:
    """16 hex chars: the first 8 bytes of sha256(seed); ``""`` for an empty seed."""
    seed = seed.strip()
    if not seed:
        return ""
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
