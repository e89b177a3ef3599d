"""Connection pools of their own, one per account: Antigravity's accounts never share one.

Cloud Code sees the TCP and TLS connections a request arrives on. Sent through the shared
client, the requests of several Antigravity accounts take turns on the same keep-alive
connections, which ties the accounts together; the native client runs one account per
process. So, as CPA does (``antigravityHTTP11Transport``), each account gets its own pool:
its own :class:`~cliproxy.providers.http.HttpClient` (made by ``spawn``: the shared client's
timeouts and ``upstream-http``, kept in step on a reload, closed at shutdown), one per
account and proxy setting. The requests of one account reuse their connections; two
accounts never meet on one. A pool's TLS hello offers no ALPN, as the native client's and
CPA's (``cloneTransportWithHTTP11`` clears ``NextProtos``); the shared client offers
``http/1.1``. A pool writes its request heads as Go's ``net/http`` does (``go_wire``,
:mod:`~cliproxy.providers.gowire`): the native client's and CPA's transport, which send no
``Accept`` and offer ``Accept-Encoding: gzip``, on the direct and the proxied path alike.

Which account a request belongs to is its *scope* (:func:`scope_of`, CPA's
``antigravityTransportScope``): ``id:<id>`` for a credential with an id, else its file's
path, else its source, else a short SHA-256 digest of its refresh token (it survives the
access token's rotation), else of its access token; a credential with none of these shares
the ``anonymous`` pool. The label never counts (two accounts may share one), and no secret
is ever part of a scope.

:class:`AccountPools` is the transport at the bottom of the Antigravity provider's chain.
The provider's ``build`` names the scope of the request it builds (:func:`use`, a context
variable read by the next ``request`` of the same task and of tasks it starts): nothing
about it reaches the upstream. Calls made outside ``build`` (the project lookup, the list
of models, the token refresh) take :meth:`AccountPools.bound`, a client fixed to one
credential's pools.

At most :data:`CAPACITY` pools are kept (CPA's 8192: a pool costs next to nothing until it
holds connections); the least recently used one beyond that is let go: its idle
connections close at once (:meth:`~cliproxy.providers.http.HttpClient.retire`). Each pool
keeps up to :data:`MAX_IDLE` idle connections per host for :data:`KEEPALIVE` seconds (CPA's
100 and 10 minutes, from what the native client does: it reuses connections after idle
gaps of several minutes).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING

from cliproxy.credentials.record import Credential
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import UpstreamClient, UpstreamResponse

if TYPE_CHECKING:
    from cliproxy.providers.registry import Providers

__all__ = [
    "ANONYMOUS",
    "CAPACITY",
    "KEEPALIVE",
    "MAX_IDLE",
    "AccountPools",
    "clients_of",
    "scope_of",
    "use",
]

CAPACITY = 8192
MAX_IDLE = 100
KEEPALIVE = 600.0
ANONYMOUS = "anonymous"

# the scope of the request this task's provider built last
_SCOPE: ContextVar[str] = ContextVar("account_pool_scope", default=ANONYMOUS)


def scope_of(cred: Credential | None) -> str:
    """The pool ``cred``'s requests use (see the module's docstring)."""
    if cred is None:
        return ANONYMOUS
    if ident := cred.id.strip():
        return "id:" + ident
    path = cred.attributes.get("path", "").strip() or (str(cred.path) if cred.path is not None else "")
    if path:
        return "path:" + path
    if source := (cred.attributes.get("source", "") or cred.source).strip():
        return "source:" + source
    if refresh := cred.refresh_token.strip():
        return _digest("refresh:", refresh)
    if access := cred.access_token.strip():
        return _digest("token:", access)
    return ANONYMOUS


def _digest(prefix: str, secret: str) -> str:
    """A short digest of ``secret``: a scope never reveals the credential."""
    return prefix + hashlib.sha256(secret.encode()).hexdigest()[:16]


def use(scope: str) -> None:
    """The next requests of this task (and of tasks it starts) go through ``scope``'s pools."""
    _SCOPE.set(scope)


class AccountPools:
    """An ``UpstreamClient`` that sends each request through its account's own client.

    ``request`` takes the scope :func:`use` set; :meth:`bound` gives a client fixed to one
    credential. Pools are made on first use from ``base`` (``HttpClient.spawn``) and keyed by
    scope and proxy, so a proxy change makes a new pool and the old one ages out."""

    def __init__(self, base: HttpClient, *, capacity: int = CAPACITY) -> None:
        self.base = base
        self.capacity = max(1, capacity)
        self._pools: OrderedDict[tuple[str, str], HttpClient] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pools)

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]:
        key = (_SCOPE.get(), proxy)
        client = self._pools.get(key)
        if client is None:
            client = self._open(key)
        else:
            self._pools.move_to_end(key)
        return client.request(method, url, headers=headers, body=body, proxy=proxy)

    def pool(self, scope: str, proxy: str = "") -> HttpClient:
        """The client of ``scope`` for ``proxy`` (made when missing; now the most recent)."""
        key = (scope, proxy)
        client = self._pools.get(key)
        if client is None:
            return self._open(key)
        self._pools.move_to_end(key)
        return client

    def bound(self, cred: Credential) -> UpstreamClient:
        """A client whose requests go through ``cred``'s pools."""
        return _Bound(self, scope_of(cred))

    def _open(self, key: tuple[str, str]) -> HttpClient:
        # no ALPN in the TLS hello, as the native client (CPA cloneTransportWithHTTP11), and
        # heads as Go's net/http writes them (no Accept; Accept-Encoding: gzip), as CPA's
        client = self._pools[key] = self.base.spawn(
            keepalive=KEEPALIVE, max_idle=MAX_IDLE, alpn=False, go_wire=True
        )
        while len(self._pools) > self.capacity:
            _, oldest = self._pools.popitem(last=False)
            oldest.retire()
        return client

    async def close(self) -> None:
        """Close every pool (the shared client's ``close`` does too: they are its children)."""
        pools = list(self._pools.values())
        self._pools.clear()
        for client in pools:
            await client.close()


class _Bound:
    """``AccountPools.request`` for one scope, whatever the task's last ``build`` was."""

    __slots__ = ("pools", "scope")

    def __init__(self, pools: AccountPools, scope: str) -> None:
        self.pools, self.scope = pools, scope

    def request(
        self, method: str, url: str, *, headers: Mapping[str, str], body: bytes | None, proxy: str = ""
    ) -> Awaitable[UpstreamResponse]:
        client = self.pools.pool(self.scope, proxy)
        return client.request(method, url, headers=headers, body=body, proxy=proxy)


def clients_of(providers: Providers) -> Callable[[Credential], UpstreamClient | None]:
    """For the token refresh: the client of a credential whose provider keeps pools per
    account (its ``pools``), else None (the refresher's own client)."""

    def client(cred: Credential) -> UpstreamClient | None:
        pools = getattr(providers.get(cred.provider), "pools", None)
        return pools.bound(cred) if isinstance(pools, AccountPools) else None

    return client
