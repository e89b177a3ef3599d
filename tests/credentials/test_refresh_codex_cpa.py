"""CPA internal/auth/codex/openai_auth_test.go: a Codex (ChatGPT) account's token refresh,
through :class:`Refresher` against the fake token endpoint: which proxy the call takes, a
refusal that is not retried, a bound on the call, and one call per refresh token."""

from __future__ import annotations

import asyncio

import orjson
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


def _twins(tmp_path, clock, *names: str):
    """Codex auth files of one account signed in twice: the same refresh token in each."""
    creds = [write(tmp_path, name, oauth("codex", clock, 60, email=f"{name}@example.com")) for name in names]
    pool = Pool(clock=clock)
    pool.replace(creds)
    return creds, pool


def _saved(tmp_path, name: str) -> tuple[str, str]:
    data = orjson.loads((tmp_path / name).read_bytes())
    return data["access_token"], data["refresh_token"]


async def test_files_sharing_a_refresh_token_share_one_call(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA TestRefreshTokens_DeduplicatesConcurrentRefreshAcrossInstances: two refreshes of
    one refresh token at once (two auth files of one account, both due) make one token
    call, and both credentials, and both files, get its new tokens. Before, each made its
    own call and the second was refused as ``refresh_token_reused`` (the fake refuses a
    spent token as OpenAI does)."""
    oauth_fake.refuse_reused, oauth_fake.delay = True, 0.05
    (a, b), pool = _twins(tmp_path, clock, "a.json", "b.json")
    r = refresher(pool, http, clock, oauth_fake.url())
    first, second = await asyncio.gather(r.refresh_now(a), r.refresh_now(b))
    assert (first.access_token, second.access_token) == ("at-1", "at-1")
    assert len(oauth_fake.requests) == 1
    assert _saved(tmp_path, "a.json") == _saved(tmp_path, "b.json") == ("at-1", "rt-1")
    assert r.due() == []


async def test_a_later_holder_of_the_spent_token_takes_the_new_tokens(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
) -> None:
    """One after the other (near-simultaneous, which CPA's single-flight does not cover):
    the refresh of one file hands its new tokens to the other file holding the same token,
    whose own refresh then makes no call; a third copy that turns up afterwards with the
    spent token takes the same answer instead of spending it again. One token call in all,
    no ``refresh_token_reused``."""
    oauth_fake.refuse_reused = True
    (a, b), pool = _twins(tmp_path, clock, "a.json", "b.json")
    r = refresher(pool, http, clock, oauth_fake.url())
    assert (await r.refresh_now(a)).access_token == "at-1"
    assert pool.get(b.id).access_token == "at-1" and _saved(tmp_path, "b.json") == ("at-1", "rt-1")
    assert (await r.refresh_now(b)).access_token == "at-1"  # b's stale record: nothing to do
    (c,), _ = _twins(tmp_path, clock, "c.json")
    pool.replace([*pool.credentials(), c])
    assert (await r.refresh_now(c)).refresh_token == "rt-1"
    assert _saved(tmp_path, "c.json") == ("at-1", "rt-1")
    assert len(oauth_fake.requests) == 1


async def test_a_refused_shared_token_blocks_every_holder(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """A refresh token the endpoint refuses is refused for every file holding it: the other
    holder's refresh fails at once, without a call, and names itself."""
    oauth_fake.fail_next(400, "refresh_token_reused")
    (a, b), pool = _twins(tmp_path, clock, "a.json", "b.json")
    r = refresher(pool, http, clock, oauth_fake.url())
    with pytest.raises(RefreshError):
        await r.refresh_now(a)
    with pytest.raises(RefreshError) as caught:
        await r.refresh_now(b)
    assert caught.value.revoked and caught.value.credential_id == b.id
    assert len(oauth_fake.requests) == 1 and r.due() == []
