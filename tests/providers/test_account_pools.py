"""Each Antigravity account's own connection pool (providers.account_pools), ported from CPA's
internal/runtime/executor/antigravity_executor_transport_test.go. CPA compares Go transports
by identity; here the pool of a scope and proxy is one ``HttpClient``, and a fake Cloud Code
server counts the TCP connections it accepted (one client port each)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.credentials.refresh import Refresher
from cliproxy.providers.account_pools import (
    ANONYMOUS,
    KEEPALIVE,
    MAX_IDLE,
    AccountPools,
    clients_of,
    scope_of,
    use,
)
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.antigravity_hosts import install
from cliproxy.providers.http import HttpClient
from cliproxy.providers.registry import Providers
from cliproxy.providers.transport import UpstreamClient, read_body
from tests.fakes.gemini import GeminiFake
from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401


def account(ident: str = "", *, label: str = "", path: str = "", source: str = "", **meta: str) -> Credential:
    attributes = {k: v for k, v in (("path", path), ("source", source)) if v}
    return Credential(
        id=ident, provider="antigravity", kind=KIND_OAUTH, label=label, attributes=attributes, metadata=meta
    )


def digest(prefix: str, secret: str) -> str:
    return prefix + hashlib.sha256(secret.encode()).hexdigest()[:16]


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient()
    yield client
    await client.close()


@pytest.fixture
async def cloud() -> AsyncIterator[GeminiFake]:
    async with GeminiFake() as fake:
        yield fake


async def get(client: UpstreamClient, url: str, token: str, proxy: str = "") -> int:
    resp = await client.request(
        "GET", url, headers={"Authorization": f"Bearer {token}"}, body=None, proxy=proxy
    )
    await read_body(resp)
    return resp.status


# -- the scope


@pytest.mark.parametrize(
    ("cred", "want"),
    [
        (None, ANONYMOUS),
        (account(), ANONYMOUS),
        (account(" \t "), ANONYMOUS),
        (account(" auth-1 "), "id:auth-1"),
        (account("auth-1", path="/a.json"), "id:auth-1"),
        (account(path=" /auths/a.json "), "path:/auths/a.json"),
        (account(source="/auths/b.json"), "source:/auths/b.json"),
        (account(label="account-c"), ANONYMOUS),
        (account(refresh_token="r-1", access_token="a-1"), digest("refresh:", "r-1")),
        (account(access_token="secret-token"), digest("token:", "secret-token")),
    ],
    ids=[
        "nil auth",
        "empty auth",
        "blank id",
        "stable id",
        "id wins over path",
        "path fallback",
        "source fallback",
        "label alone is not an identity",
        "refresh token preferred over access token",
        "access token fallback",
    ],
)
def test_scope_falls_back_to_stable_markers(cred: Credential | None, want: str) -> None:
    """CPA TestAntigravityTransportScopeFallsBackToStableMarkers."""
    assert scope_of(cred) == want


def test_a_file_path_is_a_scope_too() -> None:
    """CPA's path attribute is our record's ``path``: a credential read from a file without an
    id keeps to that file's pool."""
    cred = account()
    cred.path = Path("/auths/c.json")
    assert scope_of(cred) == "path:/auths/c.json"


def test_scope_ignores_a_shared_label(http: HttpClient) -> None:
    """CPA TestAntigravityTransportScopeIgnoresNonUniqueLabel."""
    first = account(label="shared-label", refresh_token="refresh-a")
    second = account(label="shared-label", refresh_token="refresh-b")
    assert scope_of(first) != scope_of(second)
    pools = AccountPools(http)
    assert pools.pool(scope_of(first)) is not pools.pool(scope_of(second))


def test_scope_survives_access_token_rotation() -> None:
    """CPA TestAntigravityTransportScopeSurvivesAccessTokenRotation."""
    want = scope_of(account(refresh_token="stable-refresh"))
    assert scope_of(account(refresh_token="stable-refresh", access_token="access-1")) == want
    assert scope_of(account(refresh_token="stable-refresh", access_token="access-2")) == want


@pytest.mark.parametrize(
    ("cred", "secret", "prefix"),
    [
        (account(access_token="ya29.super-secret-access-token"), "ya29.super-secret-access-token", "token:"),
        (account(refresh_token="1//super-secret-refresh-token"), "1//super-secret-refresh-token", "refresh:"),
    ],
    ids=["access token", "refresh token"],
)
def test_scope_never_leaks_a_token(cred: Credential, secret: str, prefix: str) -> None:
    """CPA TestAntigravityTransportScopeNeverLeaksToken."""
    scope = scope_of(cred)
    assert secret not in scope
    assert scope.startswith(prefix) and len(scope) == len(prefix) + 16


# -- which pool


def test_pools_without_an_id_are_shared_only_by_the_same_credential(http: HttpClient) -> None:
    """CPA TestAntigravityHTTP11TransportReusesPoolWithoutAuthID: an account with no identity
    at all shares one pool (a pool per request would leak); an access token keeps its own."""
    pools = AccountPools(http)
    first = pools.pool(scope_of(account()))
    assert pools.pool(scope_of(account())) is first
    assert pools.pool(scope_of(None)) is first
    token_a = pools.pool(scope_of(account(access_token="token-a")))
    token_b = pools.pool(scope_of(account(access_token="token-b")))
    assert first is not token_a and first is not token_b and token_a is not token_b
    assert pools.pool(scope_of(account(access_token="token-a"))) is token_a
    identified = account("stable-identity")
    assert pools.pool(scope_of(identified)) is pools.pool(scope_of(identified))


@pytest.mark.parametrize(
    "proxy",
    ["", "http://127.0.0.1:18080", "socks5://127.0.0.1:18081"],
    ids=["direct", "auth http proxy", "auth socks5 proxy"],
)
def test_the_same_account_shares_its_pool(http: HttpClient, proxy: str) -> None:
    """CPA TestNewAntigravityHTTPClientSharesTransport: the same account and proxy setting
    get the same pool every time (its config-proxy case is the same here: the pipeline hands
    the proxy in force, the account's or the global one, as ``proxy``). The pool keeps CPA's
    limits: 100 idle connections per host for 10 minutes (the shared client: 64 for 60 s).
    Not ported: CPA's checks that HTTP/2 is off (our clients speak HTTP/1.1 only)."""
    pools = AccountPools(http)
    scope = scope_of(account("antigravity-test"))
    first = pools.pool(scope, proxy)
    assert pools.pool(scope, proxy) is first and len(pools) == 1
    assert first is not http
    assert first.fast is not None
    assert first.fast.max_idle >= MAX_IDLE >= 100 and first.fast.keepalive >= KEEPALIVE >= 600


def test_distinct_proxies_use_distinct_pools(http: HttpClient) -> None:
    """CPA TestNewAntigravityHTTPClientDistinctProxiesUseDistinctPools."""
    pools = AccountPools(http)
    scope = scope_of(account("antigravity-test"))
    assert pools.pool(scope, "http://127.0.0.1:18090") is not pools.pool(scope, "http://127.0.0.1:18091")


def test_pools_are_scoped_by_account(http: HttpClient) -> None:
    """CPA TestNewAntigravityHTTPClientScopesPoolsByAuthIdentity."""
    pools = AccountPools(http)
    proxy = "http://127.0.0.1:18092"
    a1 = pools.pool(scope_of(account("auth-a")), proxy)
    assert pools.pool(scope_of(account("auth-a")), proxy) is a1
    assert pools.pool(scope_of(account("auth-b")), proxy) is not a1
    assert pools.pool(scope_of(account("direct-a"))) is not pools.pool(scope_of(account("direct-b")))


async def test_the_cache_is_bounded_and_evicted_pools_close_their_idle_connections(
    http: HttpClient, cloud: GeminiFake
) -> None:
    """CPA TestAntigravityTransportCacheEvictsStalePools: a credential whose proxy rotates 40
    times leaves at most the capacity's pools. Its second half (a base transport per request
    from the request context) has no counterpart: our pools are made from the one shared
    client. Added: an evicted pool's idle connection is closed at once, its in-flight answer
    still finishes (then its connection closes too), and the next request of that account
    opens a new pool."""
    pools = AccountPools(http, capacity=4)
    for i in range(40):
        pools.pool("id:rotating-auth", f"http://127.0.0.1:{19000 + i}")
    assert len(pools) <= 4

    pools = AccountPools(http, capacity=2)
    url = cloud.url("/v1beta/models")
    use("id:a")
    assert await get(pools, url, "tok-a") == 200
    evicted = pools.pool("id:a")
    assert evicted.fast is not None and evicted.fast.idle_count(url) == 1
    cloud.delay_next(0.2, key="tok-a")
    use("id:a")
    pending = asyncio.ensure_future(get(pools, url, "tok-a"))  # takes the idle connection
    await asyncio.sleep(0.05)
    pools.pool("id:b")
    pools.pool("id:c")  # one more than the capacity: id:a goes
    assert len(pools) == 2 and await pending == 200
    assert evicted.fast.idle_count(url) == 0  # not kept after its answer
    use("id:a")
    assert await get(pools, url, "tok-a") == 200
    assert pools.pool("id:a") is not evicted
    assert len(cloud.connections("tok-a")) == 2


async def test_concurrent_requests_reuse_pooled_connections(http: HttpClient, cloud: GeminiFake) -> None:
    """CPA TestAntigravityConcurrentRequestsReusePooledConnections: three waves of eight
    requests at once on one account open eight connections, the later waves reuse them (the
    fake holds each answer a little, so each wave does need eight)."""
    pools = AccountPools(http)
    cloud.delay_next(0.05, times=None)
    use(scope_of(account("concurrent-reuse")))
    url = cloud.url("/v1beta/models")
    for _ in range(3):
        statuses = await asyncio.gather(*(get(pools, url, "tok") for _ in range(8)))
        assert statuses == [200] * 8
    assert len(cloud.connections("tok")) == 8


async def test_a_proxied_account_reuses_one_connection(http: HttpClient, cloud: GeminiFake) -> None:
    """CPA TestAntigravityProxiedRequestsReuseOneConnection: eight requests of an account
    whose proxy is the fake itself (an HTTP proxy gets the whole URL) come on one connection."""
    pools = AccountPools(http)
    bound = pools.bound(account("antigravity-test"))
    for _ in range(8):
        assert (
            await get(bound, "http://antigravity.invalid/v1beta/models", "tok", proxy=cloud.base_url) == 200
        )
    assert len(cloud.connections("tok")) == 1 and len(cloud.requests) == 8


async def test_two_accounts_never_share_a_connection(http: HttpClient, cloud: GeminiFake) -> None:
    """Requests of two accounts taking turns: each account reuses its one connection, and
    none is the other's (the shared client would carry all of them on one)."""
    pools = AccountPools(http)
    url = cloud.url("/v1beta/models")
    for _ in range(4):
        for name in ("a", "b"):
            use(scope_of(account(f"antigravity-{name}.json")))
            assert await get(pools, url, f"tok-{name}") == 200
    a, b = cloud.connections("tok-a"), cloud.connections("tok-b")
    assert len(a) == 1 and len(b) == 1 and not a & b
    assert http.fast is not None and http.fast.connections_made == 0  # the shared client: untouched


async def test_pools_follow_the_shared_client_and_close_with_it(cloud: GeminiFake) -> None:
    """Each pool keeps the shared client's limits and ``upstream-http`` when a reload changes
    them, and closes at shutdown with it."""
    http = HttpClient()
    pools = AccountPools(http)
    child = pools.pool("id:a")
    http.set_timeouts(connect=1.0, first_byte=2.0, idle=3.0)
    assert (child.connect_timeout, child.first_byte_timeout, child.idle_timeout) == (1.0, 2.0, 3.0)
    assert child.fast is not None and child.fast.idle_timeout == 3.0
    http.set_upstream_http("aiohttp")
    assert child.fast is None
    http.set_upstream_http("fast")
    use("id:a")
    url = cloud.url("/v1beta/models")
    assert await get(pools, url, "tok") == 200
    assert child.fast is not None and child.fast.idle_count(url) == 1
    await http.close()
    assert child.fast.idle_count(url) == 0


def test_install_gives_the_provider_pools_and_leaves_others_alone(http: HttpClient) -> None:
    """The Antigravity chain ends in the account pools; every other provider keeps the shared
    client with nothing in front (no cost added). A transport that is not the shared client (a
    test's, a plugin's) is kept as it is: CPA TestNewAntigravityHTTPClientKeepsForeignRoundTripper."""
    providers = Providers()
    fallback = install(providers, http)
    provider = providers.get("antigravity")
    assert isinstance(provider, AntigravityProvider) and isinstance(provider.pools, AccountPools)
    assert fallback is not None and fallback.inner is provider.pools and provider.pools.base is http
    assert all(p.transport is None for p in providers.all if p.key not in ("antigravity", "aistudio"))
    assert http.fast is not None and http.request == http.fast.request

    class Foreign:
        async def request(self, *args: object, **kw: object) -> object:
            raise AssertionError("not called")

    others = Providers()
    foreign = Foreign()
    kept = install(others, foreign)  # type: ignore[arg-type]
    assert kept is not None and kept.inner is foreign
    assert others.get("antigravity").pools is None  # type: ignore[union-attr]


async def test_a_refresh_goes_through_the_accounts_pool(
    tmp_path: Path,
    http: HttpClient,
    oauth_fake: OAuthFake,  # noqa: F811
) -> None:
    """CPA refreshTokenSingleFlight builds its client with newAntigravityHTTPClient: the token
    refresh of an Antigravity account uses that account's pool, not the shared client."""
    providers = Providers()
    install(providers, http)
    provider = providers.get("antigravity")
    assert isinstance(provider, AntigravityProvider) and provider.pools is not None
    cred = account("antigravity-a.json", access_token="old", refresh_token="rt-a", type="antigravity")
    pool = Pool()
    pool.replace([cred])

    refresher = Refresher(
        pool, http, token_urls={"antigravity": oauth_fake.url()}, own_client=clients_of(providers)
    )
    updated = await refresher.refresh_now(cred)
    assert updated.access_token.startswith("at-")
    own = provider.pools.pool(scope_of(cred))
    assert own.fast is not None and own.fast.connections_made == 1
    assert http.fast is not None and http.fast.connections_made == 0
