"""CPA's ``internal/auth/kimi/kimi_proxy_test.go`` and ``kimi_refresh_test.go``: which proxy
a Kimi account's token refresh takes, and one token call for concurrent refreshes of one
refresh token, through :class:`Refresher` against the fake token endpoint."""

from __future__ import annotations

import asyncio

from cliproxy.credentials.pool import Pool
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.fakes.proxies import http_proxy  # noqa: F401

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens: a refresh through it fails


def _kimi(tmp_path, clock, *names: str, proxy_url: str | None = None):
    extra = {"proxy_url": proxy_url} if proxy_url is not None else {}
    creds = [write(tmp_path, name, oauth("kimi", clock, 60, **extra)) for name in names]
    pool = Pool(clock=clock)
    pool.replace(creds)
    return creds, pool


async def test_direct_on_the_account_disables_the_global_proxy(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA: TestNewDeviceFlowClientWithDeviceIDAndProxyURL_OverrideDirectDisablesProxy"""
    (cred,), pool = _kimi(tmp_path, clock, "kimi.json", proxy_url="direct")
    r = refresher(pool, http, clock, oauth_fake.url(), global_proxy=DEAD_PROXY)
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1" and len(oauth_fake.requests) == 1


async def test_the_accounts_proxy_takes_precedence(tmp_path, clock, http, oauth_fake, http_proxy) -> None:  # noqa: F811
    """CPA: TestNewDeviceFlowClientWithDeviceIDAndProxyURL_OverrideProxyTakesPrecedence"""
    (cred,), pool = _kimi(tmp_path, clock, "kimi.json", proxy_url=http_proxy.url)
    r = refresher(pool, http, clock, oauth_fake.url(), global_proxy=DEAD_PROXY)
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1"
    assert http_proxy.connections == 1 and http_proxy.targets == [f"127.0.0.1:{oauth_fake.port}"]


async def test_concurrent_refreshes_of_one_token_share_one_call(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA: TestRefreshToken_DeduplicatesConcurrentRefreshAcrossInstances: two Kimi files
    holding one refresh token, refreshed at once, make one token call and both get its
    tokens."""
    oauth_fake.delay = 0.05
    (a, b), pool = _kimi(tmp_path, clock, "a.json", "b.json")
    r = refresher(pool, http, clock, oauth_fake.url())
    first, second = await asyncio.gather(r.refresh_now(a), r.refresh_now(b))
    assert (first.access_token, second.access_token) == ("at-1", "at-1")
    assert first.refresh_token == second.refresh_token == "rt-1"
    assert len(oauth_fake.requests) == 1
