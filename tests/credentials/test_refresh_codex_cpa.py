"""CPA internal/auth/codex/openai_auth_test.go: a Codex (ChatGPT) account's token refresh,
through :class:`Refresher` against the fake token endpoint: which proxy the call takes, a
refusal that is not retried, and a bound on the call."""

from __future__ import annotations

import pytest

from cliproxy.credentials import refresh as refresh_module
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import RefreshError
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401
from tests.fakes.proxies import http_proxy  # noqa: F401

DEAD_PROXY = "http://127.0.0.1:9"  # nothing listens: a refresh through it fails


def _codex(tmp_path, clock, proxy_url: str | None = None):
    extra = {"proxy_url": proxy_url} if proxy_url is not None else {}
    cred = write(tmp_path, "codex.json", oauth("codex", clock, 60, **extra))
    pool = Pool(clock=clock)
    pool.replace([cred])
    return cred, pool


async def test_direct_on_the_account_bypasses_the_global_proxy(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA TestNewCodexAuthWithProxyURL_OverrideDirectDisablesProxy: the account's
    ``proxy-url: direct`` wins over the global ``proxy-url``: the token call goes straight
    to the endpoint."""
    cred, pool = _codex(tmp_path, clock, "direct")
    r = refresher(pool, http, clock, oauth_fake.url(), global_proxy=DEAD_PROXY)
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1" and len(oauth_fake.requests) == 1


async def test_the_accounts_proxy_takes_precedence(tmp_path, clock, http, oauth_fake, http_proxy) -> None:  # noqa: F811
    """CPA TestNewCodexAuthWithProxyURL_OverrideProxyTakesPrecedence: the account's own
    proxy carries the token call, not the global one."""
    cred, pool = _codex(tmp_path, clock, http_proxy.url)
    r = refresher(pool, http, clock, oauth_fake.url(), global_proxy=DEAD_PROXY)
    updated = await r.refresh_now(cred)
    assert updated.access_token == "at-1"
    assert http_proxy.connections == 1 and http_proxy.targets == [f"127.0.0.1:{oauth_fake.port}"]


async def test_a_reused_refresh_token_is_tried_once(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA TestRefreshTokensWithRetry_NonRetryableOnlyAttemptsOnce: OpenAI refusing a spent
    refresh token (``refresh_token_reused``) is final: one token call, an error naming the
    reason, and no further call for the same token."""
    cred, pool = _codex(tmp_path, clock)
    oauth_fake.fail_next(400, "refresh_token_reused")
    r = refresher(pool, http, clock, oauth_fake.url())
    with pytest.raises(RefreshError) as caught:
        await r.refresh_now(cred)
    assert caught.value.revoked and "refresh_token_reused" in caught.value.message
    with pytest.raises(RefreshError):
        await r.refresh_now(cred)
    assert len(oauth_fake.requests) == 1


async def test_a_token_call_that_never_answers_is_bounded(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
    monkeypatch,
) -> None:
    """CPA TestNewCodexAuthDoesNotSetRequestTimeout: CPA's sign-in client has no whole-request
    timeout, and the refresh call carries its own deadline instead. Ours differs in form,
    not intent: the client keeps cliproxy's connect and idle limits, and the whole token
    call is bounded by ``REFRESH_TIMEOUT`` (shortened here), after which the refresh fails
    as a transient error, not a revocation."""
    monkeypatch.setattr(refresh_module, "REFRESH_TIMEOUT", 0.2)
    oauth_fake.delay = 5.0
    cred, pool = _codex(tmp_path, clock)
    r = refresher(pool, http, clock, oauth_fake.url())
    with pytest.raises(RefreshError) as caught:
        await r.refresh_now(cred)
    assert not caught.value.revoked and "did not answer" in caught.value.message
