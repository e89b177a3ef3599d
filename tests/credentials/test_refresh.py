"""The token refresh loop: due times, the refresh call, write-back, failures, dedup."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.oauth_tokens import rfc3339
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import FAILURE_BACKOFF, Refresher, RefreshError
from cliproxy.providers.http import HttpClient
from tests.credentials.conftest import Clock
from tests.fakes.oauth import fake_jwt, oauth_fake  # noqa: F401

HOUR, DAY = 3600.0, 86400.0


@pytest.fixture
async def http():
    client = HttpClient()
    yield client
    await client.close()


def write(tmp_path: Path, name: str, data: dict) -> Credential:
    path = tmp_path / name
    path.write_bytes(orjson.dumps(data))
    cred = load_auth_file(path, tmp_path)
    assert cred is not None
    return cred


def oauth(provider: str, clock: Clock, expires_in: float | None, **extra) -> dict:
    data = {"type": provider, "email": "a@example.com", "access_token": "old-at", "refresh_token": "old-rt"}
    if expires_in is not None:
        data["expired"] = rfc3339(clock.now + expires_in)
    return {**data, **extra}


def refresher(pool: Pool, http: HttpClient, clock: Clock, url: str | None = None, **kw) -> Refresher:
    urls = {p: url for p in ("claude", "codex", "antigravity", "kimi", "xai")} if url else None
    return Refresher(pool, http, token_urls=urls, clock=clock, **kw)


@pytest.mark.parametrize(
    ("provider", "lead"),
    [("claude", 4 * HOUR), ("codex", 5 * DAY), ("antigravity", 300), ("kimi", 300), ("xai", 300)],
)
def test_due_time_is_expiry_minus_lead(tmp_path, clock, provider, lead) -> None:
    """CPA: TestNextRefreshCheckAt_ProviderLead_Expiry."""
    cred = write(tmp_path, f"{provider}.json", oauth(provider, clock, expires_in=10 * DAY))
    r = refresher(Pool(clock=clock), None, clock)
    assert r.due_at(cred) == pytest.approx(clock.now + 10 * DAY - lead, abs=1)


def test_due_time_without_expiry(tmp_path, clock) -> None:
    r = refresher(Pool(clock=clock), None, clock)
    never = write(tmp_path, "a.json", oauth("claude", clock, None))
    assert r.due_at(never) == 0.0  # no expiry, never refreshed: now (CPA)
    last = write(tmp_path, "b.json", oauth("kimi", clock, None, last_refresh=rfc3339(clock.now - 100)))
    assert r.due_at(last) == pytest.approx(clock.now - 100 + 300, abs=1)


def test_refresh_interval_seconds_wins(tmp_path, clock) -> None:
    """CPA: TestNextRefreshCheckAt_PreferredInterval_PicksEarliestCandidate (the earlier of
    expiry minus the interval and last refresh plus it)."""
    r = refresher(Pool(clock=clock), None, clock)
    cred = write(
        tmp_path,
        "a.json",
        oauth("codex", clock, 30 * DAY, refresh_interval_seconds=600, last_refresh=rfc3339(clock.now - 60)),
    )
    assert r.due_at(cred) == pytest.approx(clock.now + 540, abs=1)
    text = write(
        tmp_path,
        "b.json",
        oauth("codex", clock, 120, refresh_interval="10m", last_refresh=rfc3339(clock.now - 60)),
    )
    assert r.due_at(text) == pytest.approx(clock.now + 120 - 600, abs=1)  # expiry closer than the interval
    fresh = write(tmp_path, "c.json", oauth("codex", clock, 30 * DAY, refreshInterval="1h"))
    assert r.due_at(fresh) == 0.0  # never refreshed: now


def test_never_due(tmp_path, clock) -> None:
    """CPA: TestNextRefreshCheckAt_APIKeyUnschedule and TestNextRefreshCheckAt_DisabledUnschedule
    (CPA still schedules a check for a disabled credential, which then refreshes nothing;
    cliproxy schedules none: the same refreshes happen)."""
    r = refresher(Pool(clock=clock), None, clock)
    assert r.due_at(write(tmp_path, "v.json", {"type": "vertex", "service_account": {}})) is None
    assert r.due_at(write(tmp_path, "n.json", {"type": "claude", "access_token": "x"})) is None
    assert r.due_at(write(tmp_path, "d.json", oauth("claude", clock, 60, disabled=True))) is None
    assert r.due_at(Credential(id="k", provider="claude", api_key="sk")) is None


async def test_refresh_writes_the_file_atomically(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    data = oauth("claude", clock, 60, custom={"keep": 1}, prefix="team")
    cred = write(tmp_path, "claude-a.json", data)
    pool = Pool(clock=clock)
    pool.replace([cred, Credential(id="other", provider="gemini", api_key="g")])
    inode = os.stat(cred.path).st_ino
    r = refresher(pool, http, clock, oauth_fake.url("/v1/oauth/token"))
    assert [c.id for c in r.due()] == ["claude-a.json"]
    assert await r.tick() == 1
    rec = oauth_fake.requests[0]
    assert rec.content_type == "application/json"
    assert rec.fields["grant_type"] == "refresh_token" and rec.fields["refresh_token"] == "old-rt"
    assert rec.fields["client_id"] == "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
    saved = orjson.loads(cred.path.read_bytes())
    assert list(saved)[: len(data)] == list(data)  # order kept, new keys appended
    assert saved["access_token"] == "at-1" and saved["refresh_token"] == "rt-1"
    assert saved["custom"] == {"keep": 1} and saved["prefix"] == "team"
    assert saved["expired"] == rfc3339(clock.now + 3600) and saved["last_refresh"] == rfc3339(clock.now)
    assert os.stat(cred.path).st_ino != inode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["claude-a.json"]
    current = pool.get("claude-a.json")
    assert current is not None and current.access_token == "at-1" and current.path == cred.path
    assert pool.get("other") is not None
    assert r.due() == []
    assert load_auth_file(cred.path, tmp_path).access_token == "at-1"


async def test_codex_form_and_id_token(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    oauth_fake.id_token_claims = {
        "email": "new@example.com",
        "https://api.openai.com/auth": {"chatgpt_account_id": "acct-9"},
    }
    cred = write(tmp_path, "codex-a.json", oauth("codex", clock, DAY))
    pool = Pool(clock=clock)
    pool.replace([cred])
    updated = await refresher(pool, http, clock, oauth_fake.url()).refresh_now(cred)
    rec = oauth_fake.requests[0]
    assert rec.content_type == "application/x-www-form-urlencoded"
    assert (
        rec.fields["client_id"] == "app_EMoamEEZ73f0CkXaXp7hrann"
        and rec.fields["scope"] == "openid profile email"
    )
    assert updated.metadata["account_id"] == "acct-9" and updated.email == "new@example.com"
    assert updated.metadata["id_token"].count(".") == 2


async def test_antigravity_fields(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    cred = write(tmp_path, "ag.json", oauth("antigravity", clock, 60, project_id="p"))
    pool = Pool(clock=clock)
    pool.replace([cred])
    updated = await refresher(pool, http, clock, oauth_fake.url()).refresh_now(cred)
    assert oauth_fake.requests[0].fields["client_secret"].startswith("GOCSPX-")
    assert updated.metadata["expires_in"] == 3600 and updated.metadata["timestamp"] == int(clock.now * 1000)
    assert "last_refresh" not in updated.metadata and updated.metadata["project_id"] == "p"


@pytest.mark.parametrize(("status", "code"), [(400, "invalid_grant"), (401, "unauthorized")])
async def test_invalid_grant_marks_the_credential(tmp_path, clock, http, oauth_fake, status, code) -> None:  # noqa: F811
    """CPA: TestManager_RefreshAuthUnauthorizedFailureStopsAutoRefreshRetry (a refused
    refresh is recorded as a 401 and the credential leaves the refresh schedule)."""
    oauth_fake.fail_next(status, code)
    cred = write(tmp_path, "kimi.json", oauth("kimi", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    with pytest.raises(RefreshError) as info:
        await r.refresh_now(cred)
    assert info.value.revoked and info.value.status == 401 and info.value.cooldown_seconds == 1800
    assert r.due_at(cred) is None and await r.tick() == 0
    with pytest.raises(RefreshError):  # refused again without asking the server
        await r.refresh_now(cred)
    assert len(oauth_fake.requests) == 1
    assert orjson.loads(cred.path.read_bytes())["access_token"] == "old-at"
    relogged = write(tmp_path, "kimi.json", oauth("kimi", clock, 60, refresh_token="fresh-rt"))
    assert r.due_at(relogged) is not None


async def test_server_error_backs_off(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA: TestNextRefreshCheckAt_NextRefreshAfterGate (a backoff holds the next check back)."""
    oauth_fake.fail_next(500, "server_error")
    cred = write(tmp_path, "xai.json", oauth("xai", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    assert await r.tick() == 0
    assert r.due_at(cred) == clock.now + FAILURE_BACKOFF
    clock.advance(FAILURE_BACKOFF)
    assert await r.tick() == 1
    assert pool.get("xai.json").metadata["auth_kind"] == "oauth"


async def test_unreachable_endpoint_is_a_refresh_error(tmp_path, clock, http) -> None:
    cred = write(tmp_path, "c.json", oauth("claude", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    with pytest.raises(RefreshError) as info:
        await refresher(pool, http, clock, "http://127.0.0.1:9/token").refresh_now(cred)
    assert not info.value.revoked and info.value.status == 502


async def test_concurrent_refresh_now_shares_one_call(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """CPA: TestRefreshTokens_DeduplicatesConcurrentRefreshAcrossInstances (one process; two
    processes on a shared state backend: tests/state/test_redis_refresh.py)."""
    oauth_fake.delay = 0.05
    cred = write(tmp_path, "claude.json", oauth("claude", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    results = await asyncio.gather(*(r.refresh_now(cred) for _ in range(10)))
    assert {c.access_token for c in results} == {"at-1"}
    assert len(oauth_fake.requests) == 1
    again = await r.refresh_now(cred)  # a stale record: someone already refreshed it
    assert again.access_token == "at-1" and len(oauth_fake.requests) == 1


async def test_due_refreshes_run_at_most_workers_at_once(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """``auth-auto-refresh-workers`` (CPA's refresh worker pool): six due credentials, two
    workers: every one is refreshed, never more than two token calls at once."""
    oauth_fake.delay = 0.05
    creds = [
        write(tmp_path, f"c{i}.json", oauth("claude", clock, 60, email=f"u{i}@x", refresh_token=f"rt-{i}"))
        for i in range(6)
    ]
    pool = Pool(clock=clock)
    pool.replace(creds)
    r = refresher(pool, http, clock, oauth_fake.url(), workers=2)
    assert await r.tick() == 6
    assert len(oauth_fake.requests) == 6 and oauth_fake.peak == 2


async def test_env_override_and_explicit_override(tmp_path, clock, http, oauth_fake, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setenv("CLIPROXY_TOKEN_URL_KIMI", oauth_fake.url("/from-env"))
    cred = write(tmp_path, "kimi.json", oauth("kimi", clock, 60, device_id="dev-7"))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = Refresher(pool, http, clock=clock)
    assert r.token_url(cred) == oauth_fake.url("/from-env")
    await r.refresh_now(cred)
    assert oauth_fake.requests[0].path == "/from-env"
    assert oauth_fake.requests[0].headers["X-Msh-Device-Id"] == "dev-7"
    explicit = Refresher(pool, http, clock=clock, token_urls={"kimi": "http://x/explicit"})
    assert explicit.token_url(cred) == "http://x/explicit"
    xai = write(tmp_path, "xai.json", oauth("xai", clock, 60, token_endpoint="https://auth.x.ai/custom"))
    assert r.token_url(xai) == "https://auth.x.ai/custom"
    assert (
        Refresher(pool, http).token_url(write(tmp_path, "c.json", oauth("codex", clock, 1)))
        == "https://auth.openai.com/oauth/token"
    )


async def test_loop_refreshes_in_the_background(tmp_path, http, oauth_fake) -> None:  # noqa: F811
    import time

    clock = Clock(time.time())
    cred = write(tmp_path, "claude.json", oauth("claude", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    r.start()
    try:
        for _ in range(100):
            if pool.get("claude.json").access_token == "at-1":
                break
            await asyncio.sleep(0.01)
    finally:
        await r.stop()
    assert pool.get("claude.json").access_token == "at-1"
    assert fake_jwt({"a": 1}).count(".") == 2


async def test_the_config_key_sizes_the_services_refresher(start_proxy) -> None:
    proxy = await start_proxy("api-keys: [k]\nauth-auto-refresh-workers: 3\n")
    assert proxy.service.refresher.workers == 3
    default = await start_proxy("api-keys: [k]\n")
    assert default.service.refresher.workers == 16  # CPA's default pool


async def test_a_server_error_is_a_failed_refresh_not_a_refused_one(
    tmp_path,
    clock,
    http,
    oauth_fake,  # noqa: F811
) -> None:
    """A token endpoint's 500 is reported as a failure with its status (tried again later),
    never as a refusal, which means the refresh token is gone."""
    oauth_fake.fail_next(500, "server_error")
    cred = write(tmp_path, "xai.json", oauth("xai", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    with pytest.raises(RefreshError) as info:
        await refresher(pool, http, clock, oauth_fake.url()).refresh_now(cred)
    assert not info.value.revoked
    assert "refused" not in info.value.message and "failed (500)" in info.value.message
