"""Client access: which API keys may use the proxy (pipeline stage 1).

Keys come from the config's ``api-keys``. A request's key is taken, in CPA's order, from
``Authorization: Bearer <k>`` (a non-Bearer Authorization value is taken whole),
``X-Goog-Api-Key``, ``X-Api-Key``, ``?key=`` and ``?auth_token=``. An empty key list
lets every request through. Template keys from CPA's example config switch on "safe
mode": proxy routes answer 403 until they are replaced.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from cliproxy.errors import AccessError

__all__ = ["EXAMPLE_API_KEYS", "AccessPolicy", "Principal", "extract_key"]

EXAMPLE_API_KEYS = frozenset({"your-api-key-1", "your-api-key-2", "your-api-key-3"})

MISSING = "Missing API key"
INVALID = "Invalid API key"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key they used (``None`` on an open proxy) and where it was."""

    key: str | None
    source: str


OPEN = Principal(None, "open")


def extract_key(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, source) from a request, or ``None`` when it carries none."""
    auth = headers.get("Authorization")
    if auth:
        auth = auth.strip()
        if auth[:7].lower() == "bearer ":
            token = auth[7:].strip()
            if token:
                return token, "authorization"
        elif auth:
            return auth, "authorization"
    for header, source in (("X-Goog-Api-Key", "x-goog-api-key"), ("X-Api-Key", "x-api-key")):
        value = headers.get(header)
        if value and value.strip():
            return value.strip(), source
    for name, source in (("key", "query-key"), ("auth_token", "query-auth-token")):
        value = query.get(name)
        if value and value.strip():
            return value.strip(), source
    return None


class AccessPolicy:
    """An immutable view of ``api-keys``; rebuilt whole on every config reload."""

    __slots__ = ("example_keys", "keys")

    def __init__(self, keys: Iterable[str]) -> None:
        cleaned = [k.strip() for k in keys if k and k.strip()]
        self.keys = frozenset(cleaned)
        self.example_keys = sorted(self.keys & EXAMPLE_API_KEYS)

    @property
    def open(self) -> bool:
        return not self.keys

    @property
    def safe_mode(self) -> bool:
        return bool(self.example_keys)

    def check(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Principal:
        """The caller, or ``AccessError`` (401) when the key is missing or wrong."""
        if not self.keys:
            return OPEN
        found = extract_key(headers, query)
        if found is None:
            raise AccessError(MISSING)
        key, source = found
        if key in self.keys:
            return Principal(key, source)
        raise AccessError(INVALID)
