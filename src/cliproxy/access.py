"""Client access: which API keys may use the proxy (pipeline stage 1).

Keys come from the config's ``api-keys``. A request's key is taken, in CPA's order, from
``Authorization: Bearer <k>`` (a non-Bearer Authorization value is taken whole),
``X-Goog-Api-Key``, ``X-Api-Key``, ``?key=`` and ``?auth_token=``. An empty key list
asks for no key. Template keys from CPA's example config switch on "safe mode": proxy
routes answer 403 until they are replaced.

A proxy that asks for no key (no api-keys, no frontend-auth plugin) spends the owner's
credentials for whoever reaches it, so ``open_proxy_refusal`` narrows "whoever": socket
peers on loopback only (unless ``allow-unauthenticated-remote``), and no web page of
another origin, since a browser sends a cross-origin "simple" POST without asking first
(and a DNS-rebinding page arrives with a foreign Host header).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from cliproxy.errors import AccessError

__all__ = [
    "EXAMPLE_API_KEYS",
    "AccessPolicy",
    "Principal",
    "Refusal",
    "extract_key",
    "hostname",
    "is_loopback",
    "is_loopback_ip",
    "open_proxy_refusal",
]

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


# -- an open proxy (no key asked): who may still use it


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an open proxy refuses a request: HTTP status, error code, message for the client."""

    status: int
    code: str
    message: str


@lru_cache(maxsize=512)
def is_loopback_ip(address: str | None) -> bool:
    """True for an IP address on loopback (127.0.0.0/8, ::1, IPv4-mapped 127.x); names are not addresses."""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


@lru_cache(maxsize=512)
def is_loopback(host: str | None) -> bool:
    """True for a loopback host name: ``localhost``, ``*.localhost`` (browsers pin both to
    loopback) or a loopback IP, with or without brackets."""
    if not host:
        return False
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):
        return True
    return is_loopback_ip(name.removeprefix("[").removesuffix("]"))


def hostname(authority_or_url: str) -> str | None:
    """The host part of a URL (``//host:port`` for a bare authority); ``None`` when unparsable."""
    try:
        return urlsplit(authority_or_url).hostname
    except ValueError:
        return None


_OPEN = "this proxy has no api-keys configured"


def open_proxy_refusal(
    peer: str | None, origin: str | None, host: str | None, *, allow_remote: bool
) -> Refusal | None:
    """``None`` when an open proxy may serve a request from socket address ``peer`` with
    these ``Origin`` and ``Host`` headers; else why not. Never looks at X-Forwarded-For."""
    if not allow_remote and not is_loopback_ip(peer):
        return Refusal(
            401,
            "remote_access_refused",
            (
                f"{_OPEN}, so it serves clients on its own machine only (this request came from {peer}). "
                "Add api-keys to the config and send one, or set allow-unauthenticated-remote: true "
                "to let anyone who can reach the proxy use it."
            ),
        )
    if origin is not None and not is_loopback(hostname(origin)):
        return Refusal(
            403,
            "cross_origin_refused",
            (
                f"{_OPEN}, so web pages may call it only from localhost; a page at {origin} may not. "
                "Add api-keys to the config (the page must then send one) to allow it."
            ),
        )
    if (
        host is not None
        and (origin is not None or not allow_remote)
        and not is_loopback(hostname("//" + host))
    ):
        return Refusal(
            403,
            "host_refused",
            (
                f"{_OPEN} and the Host header {host!r} is not a loopback name: refused, as a page "
                "rebinding its own name to this machine would send it. Reach the proxy as localhost "
                "or 127.0.0.1, or add api-keys to the config."
            ),
        )
    return None
