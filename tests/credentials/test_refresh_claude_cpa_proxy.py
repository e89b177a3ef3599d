"""CPA's ``internal/auth/claude/anthropic_auth_proxy_test.go``: which proxy a Claude
account's token refresh takes (the account's ``proxy_url`` over the global ``proxy-url``,
``direct`` included), through :class:`Refresher` against the fake token endpoint."""

from __future__ import annotations

from cliproxy.credentials.pool import Pool
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.fakes.proxies import http_proxy  # noqa: F401

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens: a refresh through it fails


def _claude(tmp_path, clock, proxy_url: str):
    cred = write(tmp_path, "claude.json", oauth("claude", clock, 60, proxy_url=proxy_url))
    pool = Pool(clock=clock)
    pool.replace([cred])
    return cred, pool


async def test_direct_on_the_account_wins_over_the_global_proxy(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA: TestNewClaudeAuthWithProxyURL_OverrideDirectTakesPrecedence"""
    cred, pool = _claude(tmp_path, clock, "direct")
    r = refresher(pool, http, clock, oauth_fake.url(), global_proxy=DEAD_PROXY)
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1" and len(oauth_fake.requests) == 1


async def test_the_accounts_proxy_is_used_without_a_global_one(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
    http_proxy,  # noqa: F811
) -> None:
    """CPA: TestNewClaudeAuthWithProxyURL_OverrideProxyAppliedWithoutConfig"""
    cred, pool = _claude(tmp_path, clock, http_proxy.url)
    r = refresher(pool, http, clock, oauth_fake.url())
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1"
    assert http_proxy.connections == 1 and http_proxy.targets == [f"127.0.0.1:{oauth_fake.port}"]
