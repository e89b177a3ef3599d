"""CPA's anthropic_auth_test.go, its refresh half: a Claude file we signed in refreshes
with Claude Code's body and headers, reads the OAuth profile after (one lookup however many
callers wait), keeps its identity when the profile says nothing, is not replayed after a
429, and finishes even when the caller that started it goes away. Against the fake
authorization server (token endpoint and profile), through the refresher the proxy runs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.core import save
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import Refresher, RefreshError
from cliproxy.providers.http import HttpClient
from tests.fakes.oauth import AuthServerFake, auth_server  # noqa: F401
from tests.login.conftest import authorize

CLIENT_ID = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
SCOPE = "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload"
AXIOS = {
    "Accept": "application/json, text/plain, */*",
    "Content-Type": "application/json",
    "User-Agent": "axios/1.15.2",
    "Connection": "close",
}


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(connect_timeout=5, first_byte_timeout=10, idle_timeout=10)
    yield client
    await client.close()


@pytest.fixture
def claude_at(auth_server: AuthServerFake, monkeypatch: pytest.MonkeyPatch) -> AuthServerFake:  # noqa: F811
    """The endpoint table's Claude URLs (token and profile) on the fake."""
    monkeypatch.setenv("CLIPROXY_OAUTH_CLAUDE_BASE", auth_server.base)
    monkeypatch.delenv("CLIPROXY_TOKEN_URL_CLAUDE", raising=False)
    auth_server.expires_in = 10 * 24 * 3600
    return auth_server


async def signed_in(http: HttpClient, fake: AuthServerFake, auth_dir: Path) -> tuple[Refresher, Credential]:
    started, code, state = await authorize(ClaudeLogin(http))
    name, record = await ClaudeLogin(http).finish(started, code=code, state=state)
    cred = load_auth_file(save(auth_dir, name, record).path, auth_dir)
    assert cred is not None
    pool = Pool()
    pool.replace([cred])
    fake.requests.clear()
    return Refresher(pool, http), cred


def on_disk(cred: Credential) -> dict:
    assert cred.path is not None
    return orjson.loads(cred.path.read_bytes())


async def test_a_refresh_sends_claude_codes_body_then_reads_the_profile(http, claude_at, tmp_path) -> None:
    """CPA: TestRefreshTokensUsesNative220ControlPlaneShape. The body's keys in Go's
    order, Claude Code's axios headers; an answer without a refresh token keeps the old
    one; the profile read with the new token names the account the file now carries."""
    refresher, cred = await signed_in(http, claude_at, tmp_path)
    claude_at.rotate = False
    claude_at.profile_email = "renamed@example.com"
    updated = await refresher.refresh_now(cred)

    token, profile = claude_at.requests
    assert (token.method, token.path, profile.method, profile.path) == (
        "POST",
        "/v1/oauth/token",
        "GET",
        "/api/oauth/profile",
    )
    assert token.raw.decode() == (
        f'{{"client_id":"{CLIENT_ID}","grant_type":"refresh_token",'
        f'"refresh_token":"{cred.refresh_token}","scope":"{SCOPE}"}}'
    )
    for seen in (token, profile):
        assert {k: seen.headers.get(k) for k in AXIOS} == AXIOS
    assert "Authorization" not in token.headers
    assert profile.headers["Authorization"] == f"Bearer {updated.access_token}"
    assert profile.headers["Cache-Control"] == "no-cache"
    saved = on_disk(cred)
    assert saved["refresh_token"] == cred.refresh_token and saved["access_token"] == updated.access_token
    assert saved["email"] == "renamed@example.com"
    assert saved["account_uuid"] == "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    assert updated.metadata["email"] == "renamed@example.com"


async def test_a_failed_profile_keeps_the_files_identity(http, claude_at, tmp_path) -> None:
    """CPA: TestUpdateTokenStoragePreservesAccountWhenRefreshOmitsIt. The new tokens are
    saved; email, account and organization stay as the sign-in wrote them."""
    refresher, cred = await signed_in(http, claude_at, tmp_path)
    before = on_disk(cred)
    claude_at.fail_profile = True
    updated = await refresher.refresh_now(cred)
    saved = on_disk(cred)
    assert saved["access_token"] == updated.access_token != before["access_token"]
    for key in ("email", "account_uuid", "organization_uuid", "organization_name", "claude_device_ids"):
        assert saved[key] == before[key], key


async def test_concurrent_refreshes_share_one_token_call_and_one_profile(http, claude_at, tmp_path) -> None:
    """CPA: TestRefreshTokens_DeduplicatesConcurrentRefresh."""
    refresher, cred = await signed_in(http, claude_at, tmp_path)
    claude_at.hold = asyncio.Event()
    callers = [asyncio.create_task(refresher.refresh_now(cred)) for _ in range(2)]
    await asyncio.wait_for(claude_at.holding.wait(), 5)
    await asyncio.sleep(0.02)
    claude_at.hold.set()
    first, second = await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert first.access_token == second.access_token
    assert first.metadata["account_uuid"] == "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    assert [r.path for r in claude_at.requests] == ["/v1/oauth/token", "/api/oauth/profile"]


async def test_a_429_blocks_the_next_refresh_until_retry_after(http, claude_at, tmp_path) -> None:
    """CPA: TestRefreshTokensWithRetry_429BlocksImmediateReplay. The token endpoint's 429
    with ``Retry-After: 60``: the next refresh of that token fails at once without a call
    (a 401 on the request path would otherwise ask again and again); after the minute it
    asks again."""
    refresher, cred = await signed_in(http, claude_at, tmp_path)
    clock = Clock()
    refresher.clock = clock
    claude_at.refresh_answer = (429, {"error": "rate_limited"}, {"Retry-After": "60"})
    with pytest.raises(RefreshError) as first:
        await refresher.refresh_now(cred)
    assert "rate_limited" in first.value.message
    with pytest.raises(RefreshError) as blocked:
        await refresher.refresh_now(cred)
    assert blocked.value.status == 429 and "rate limited for 60s" in blocked.value.message
    assert len(claude_at.seen("/v1/oauth/token")) == 1

    claude_at.refresh_answer = None
    clock.now += 61
    updated = await refresher.refresh_now(cred)
    assert updated.access_token != cred.access_token
    assert len(claude_at.seen("/v1/oauth/token")) == 2


async def test_a_refresh_outlives_the_caller_that_started_it(http, claude_at, tmp_path) -> None:
    """CPA: TestRefreshTokens_UsesIndependentTimeout. The client whose 401 started the
    refresh hangs up mid-call: the refresh goes on (bounded by its own 30 s limit, not
    the caller's) and the rotated token is saved, so the spent refresh token is not lost."""
    refresher, cred = await signed_in(http, claude_at, tmp_path)
    claude_at.hold = asyncio.Event()
    caller = asyncio.create_task(refresher.refresh_now(cred))
    await asyncio.wait_for(claude_at.holding.wait(), 5)
    caller.cancel()
    claude_at.hold.set()
    async with asyncio.timeout(5):
        while on_disk(cred)["refresh_token"] == cred.refresh_token:
            await asyncio.sleep(0.01)
    assert caller.cancelled()
    current = refresher.pool.get(cred.id)
    assert current is not None and current.refresh_token == on_disk(cred)["refresh_token"]
