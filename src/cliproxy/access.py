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

import asyncio
import hashlib
import ipaddress
import logging
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import bcrypt
from multidict import istr

from cliproxy.errors import AccessError

__all__ = [
    "EXAMPLE_API_KEYS",
    "KEY_POLICY",
    "AccessPolicy",
    "HashCheckNeeded",
    "Principal",
    "Refusal",
    "extract_key",
    "forwarded_clients",
    "forwarded_remote",
    "hostname",
    "is_loopback",
    "is_loopback_ip",
    "open_proxy_refusal",
]

EXAMPLE_API_KEYS = frozenset({"your-api-key-1", "your-api-key-2", "your-api-key-3"})

MISSING = "Missing API key"
INVALID = "Invalid API key"
_HASH_CACHE = 4096  # presented keys remembered after a bcrypt check, each way
# bcrypt checks of presented keys: how many run at once (threads of the shared pool), and
# how many may wait for one; a caller beyond that is told to retry (a flood of made-up
# keys costs a bounded share of the CPU and of the pool, and no queue grows without end)
_HASH_CHECKS = 2
_HASH_WAITING = 64
BUSY = "too many API keys are being checked at once; retry shortly"
_AUTH_CACHE = 1024  # Authorization values remembered with the caller they let in
_AUTHORIZATION = istr("Authorization")  # folded once: the server's CIMultiDict finds it faster

log = logging.getLogger(__name__)

# the policy (cliproxy.policies.KeyRule) of the key this request came with; set only for a
# key that has one (aiohttp serves each request in a task of its own, so it never leaks)
KEY_POLICY: ContextVar[Any] = ContextVar("cliproxy_key_policy", default=None)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the key they used (``None`` on an open proxy) and where it was;
    ``policy``: the key's compiled policy (``None`` for a plain key)."""

    key: str | None
    source: str
    policy: Any = None


class HashCheckNeeded(AccessError):
    """The key may match a bcrypt-hashed entry: ``AccessPolicy.verify`` decides (off the loop)."""

    def __init__(self, key: str, source: str) -> None:
        super().__init__(INVALID)
        self.key, self.source = key, source


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
    """An immutable view of ``api-keys``; rebuilt whole on every config reload.

    ``policies`` maps a plain key to its policy; ``hashed`` lists (stored hash, policy)
    for keys kept only as a hash: ``sha256:<hex>`` is looked up directly, a bcrypt hash
    is checked once per presented key (in a thread) and the answer cached both ways."""

    __slots__ = (
        "_bcrypt",
        "_by_auth",
        "_checks",
        "_denied",
        "_principals",
        "_sha",
        "_verified",
        "_waiting",
        "example_keys",
        "keys",
        "policies",
        "required",
        "safe_mode",
    )

    def __init__(
        self,
        keys: Iterable[str],
        *,
        policies: Mapping[str, Any] | None = None,
        hashed: Sequence[tuple[str, Any]] = (),
    ) -> None:
        cleaned = [k.strip() for k in keys if k and k.strip()]
        self.keys = frozenset(cleaned)
        self.example_keys = sorted(self.keys & EXAMPLE_API_KEYS)
        self.policies = dict(policies or {})
        self._sha = {h[7:].lower(): p for h, p in hashed if h.lower().startswith("sha256:")}
        self._bcrypt = [(h.encode(), p) for h, p in hashed if h.startswith("$2")]
        for stored, _ in hashed:
            if not stored.lower().startswith("sha256:") and not stored.startswith("$2"):
                log.warning("api-keys: a key-hash is neither sha256:<hex> nor bcrypt ($2b$...): ignored")
        self._verified: dict[str, Any] = {}
        self._denied: dict[str, None] = {}
        self._checks = asyncio.Semaphore(_HASH_CHECKS)
        self._waiting = 0
        # the callers already let in (a Principal is immutable: one each, made once), by
        # (key, source) for plain keys and by the whole Authorization value for any key
        # taken from it, so that a known caller costs one look-up; both go with this policy
        self._principals: dict[tuple[str, str], Principal] = {}
        self._by_auth: dict[str, Principal] = {}
        self.required = bool(self.keys or self._sha or self._bcrypt)
        self.safe_mode = bool(self.example_keys)  # template keys: proxy routes answer 403

    @property
    def open(self) -> bool:
        return not self.required

    def check(self, headers: Mapping[str, str], query: Mapping[str, str]) -> Principal:
        """The caller, or ``AccessError`` (401) when the key is missing or wrong;
        ``HashCheckNeeded`` when only a bcrypt check can tell (see :meth:`verify`)."""
        if not self.required:
            return OPEN
        auth = headers.get(_AUTHORIZATION)
        if auth is not None:  # Authorization comes first (extract_key): its caller, if known
            principal = self._by_auth.get(auth)
            if principal is not None:
                if principal.policy is not None:
                    KEY_POLICY.set(principal.policy)
                return principal
        found = extract_key(headers, query)
        if found is None:
            raise AccessError(MISSING)
        principal = self._principals.get(found)
        if principal is None:
            key, source = found
            if key in self.keys:
                policy = self.policies.get(key) if self.policies else None
                principal = self._principals[found] = Principal(key, source, policy)
            elif self._sha or self._bcrypt:
                principal = self._hashed(key, source)
            else:
                raise AccessError(INVALID)
        if principal.policy is not None:
            KEY_POLICY.set(principal.policy)
        if auth is not None and principal.source == "authorization":
            if len(self._by_auth) >= _AUTH_CACHE:
                self._by_auth.clear()
            self._by_auth[auth] = principal
        return principal

    def _hashed(self, key: str, source: str) -> Principal:
        policy = self._sha.get(hashlib.sha256(key.encode()).hexdigest()) if self._sha else None
        if policy is None:
            policy = self._verified.get(key)
        if policy is not None:
            return Principal(key, source, policy)  # check() sets KEY_POLICY
        if not self._bcrypt or key in self._denied:
            raise AccessError(INVALID)
        raise HashCheckNeeded(key, source)

    async def verify(self, needed: HashCheckNeeded) -> Principal:
        """Check a key against the bcrypt entries in a thread; the answer is cached. At most
        :data:`_HASH_CHECKS` run at once and :data:`_HASH_WAITING` wait: past that, 503."""
        key = needed.key
        if self._waiting >= _HASH_WAITING:
            busy = AccessError(BUSY, status=503)
            busy.response_headers = {"Retry-After": "1"}
            raise busy
        self._waiting += 1
        try:
            async with self._checks:
                if key in self._verified or key in self._denied:  # checked while this one waited
                    policy = self._verified.get(key)
                else:
                    policy = await asyncio.to_thread(self._bcrypt_match, key.encode())
        finally:
            self._waiting -= 1
        self._remember(key, policy)
        if policy is None:
            raise AccessError(INVALID)
        KEY_POLICY.set(policy)
        return Principal(key, needed.source, policy)

    def holds(self, key: str) -> bool | None:
        """Whether ``key`` is one of these ``api-keys`` (plain or sha256-hashed); ``None``:
        only a bcrypt check can tell (:meth:`confirm`). Sets no request state."""
        if key in self.keys or key in self._verified:
            return True
        if self._sha and self._sha.get(hashlib.sha256(key.encode()).hexdigest()) is not None:
            return True
        return None if self._bcrypt and key not in self._denied else False

    async def confirm(self, key: str) -> bool:
        """:meth:`holds`, a bcrypt-hashed key checked in a thread. The proxy's own check waits
        its turn however many presented keys queue (their 503 says nothing of this key)."""
        held = self.holds(key)
        if held is not None:
            return held
        async with self._checks:
            policy = await asyncio.to_thread(self._bcrypt_match, key.encode())
        self._remember(key, policy)
        return policy is not None

    def _remember(self, key: str, policy: Any) -> None:
        cache: dict[str, Any] = self._verified if policy is not None else self._denied
        if len(cache) >= _HASH_CACHE:
            cache.clear()
        cache[key] = policy

    def _bcrypt_match(self, key: bytes) -> Any:
        for stored, policy in self._bcrypt:
            try:
                if bcrypt.checkpw(key, stored):
                    return policy
            except ValueError:  # a malformed stored hash
                continue
        return None


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


_FORWARDED_HEADERS = (istr("X-Forwarded-For"), istr("X-Real-IP"))
_FORWARDED = istr("Forwarded")


def forwarded_remote(headers: Mapping[str, str]) -> str | None:
    """The first client other than loopback that a reverse proxy says it forwarded this
    request for (``X-Forwarded-For``, ``X-Real-IP``, ``Forwarded: for=``), else ``None``.

    Used only to refuse, never to let in: behind a reverse proxy on this machine every
    request comes from a loopback socket, so "loopback" says nothing about who is calling.
    A client that sends such a header itself can only get itself refused."""
    for name in _FORWARDED_HEADERS:
        for part in (headers.get(name) or "").split(","):
            if (client := _forwarded_client(part)) is not None:
                return client
    for element in (headers.get(_FORWARDED) or "").split(","):
        for pair in element.split(";"):
            key, _, node = pair.partition("=")
            if key.strip().lower() == "for" and (client := _forwarded_client(node)) is not None:
                return client
    return None


def forwarded_clients(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The client the nearest reverse proxy saw, once per header it may have set: the last
    entry other than loopback of ``X-Forwarded-For``, of ``X-Real-IP`` and of the
    ``Forwarded`` ``for=`` list (an address without brackets or port); empty when none
    names a client other than loopback.

    Only meaningful for a request from a loopback socket (a reverse proxy on this
    machine). A proxy appends the peer it saw after whatever the client sent, so the last
    entry is the one a client cannot choose; loopback entries after it were appended by
    further proxies on this machine. Which header the operator's proxy sets is unknown,
    so each one's client is returned: a caller keys failures by all of them, and one the
    client made up cannot rotate it out of a ban keyed by the one the proxy set."""
    found: list[str] = []
    for name in _FORWARDED_HEADERS:
        nodes = (headers.get(name) or "").split(",")
        _last_client(reversed(nodes), found)
    fors = [
        node
        for element in (headers.get(_FORWARDED) or "").split(",")
        for pair in element.split(";")
        for key, _, node in (pair.partition("="),)
        if key.strip().lower() == "for"
    ]
    _last_client(reversed(fors), found)
    return tuple(dict.fromkeys(found))


def _last_client(nodes: Iterable[str], found: list[str]) -> None:
    for node in nodes:
        if (client := _forwarded_client(node)) is not None:
            found.append(_node_address(client).lower())
            return


def _node_address(node: str) -> str:
    if node.startswith("["):  # [v6]:port
        return node[1:].partition("]")[0]
    if node.count(":") == 1:  # v4:port
        return node.partition(":")[0]
    return node


def _forwarded_client(node: str) -> str | None:
    """``node`` (an address, maybe quoted, bracketed or with a port) when it is set and not
    loopback; an unknown or hidden name counts as not loopback."""
    node = node.strip().strip('"').strip()
    if not node:
        return None
    address = _node_address(node)
    return None if is_loopback_ip(address) or address.lower() == "localhost" else node[:64]


_OPEN = "this proxy has no api-keys configured"


def open_proxy_refusal(
    peer: str | None,
    origin: str | None,
    host: str | None,
    *,
    allow_remote: bool,
    forwarded: str | None = None,
) -> Refusal | None:
    """``None`` when an open proxy may serve a request from socket address ``peer`` with
    these ``Origin`` and ``Host`` headers; else why not. ``forwarded``: the remote client
    a reverse proxy says the request is for (:func:`forwarded_remote`), which only refuses."""
    if not allow_remote and (not is_loopback_ip(peer) or forwarded is not None):
        source = peer if forwarded is None else f"{forwarded}, through a reverse proxy at {peer}"
        return Refusal(
            401,
            "remote_access_refused",
            (
                f"{_OPEN}, so it serves clients on its own machine only (this request came from {source}). "
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
