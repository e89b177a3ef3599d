"""A refused refresh token (``credentials.suspend``), with a settable clock: the account
serves with its access token until that token is due, the token endpoint is not asked
again (in this process, nor in another sharing a Redis state backend), and it leaves
service when its token is due or the upstream refuses it. Through a running proxy:
tests/e2e/test_refresh_refused_cpa.py."""

from __future__ import annotations

import logging

import pytest

from cliproxy.credentials.listing import auth_file_entry
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.presend import PRESEND_LEAD
from cliproxy.credentials.refresh import REVOKED_COOLDOWN, Refresher, RefreshError
from cliproxy.credentials.suspend import REFUSED, refusal
from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient
from tests.credentials.conftest import Clock
from tests.credentials.test_refresh import DAY, http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401


async def test_a_loop_refusal_serves_until_the_token_is_due(
    tmp_path,
    clock: Clock,
    http: HttpClient,  # noqa: F811
    oauth_fake: OAuthFake,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Codex token valid for a day is due for the loop (5-day lead); its refresh is
    refused. Nothing blocks it (CPA: unavailable at once) and it is sent as it is; the loop
    and the pre-send check never ask the token endpoint again; one WARNING names the account
    and the moment, no token. Once the token is due before sending, the refresh fails at
    once and the account gets CPA's credential-wide ``unauthorized`` record."""
    caplog.set_level(logging.INFO)
    oauth_fake.fail_next(400, "invalid_grant")
    cred = write(tmp_path, "codex.json", oauth("codex", clock, DAY))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    assert await r.tick() == 0
    assert await pool.cooldowns(cred) == []
    serves_until = clock.now + DAY - PRESEND_LEAD
    refused = await refusal(pool, cred)
    assert refused is not None and refused.until == serves_until
    assert r.due_at(cred) is None and not r.presend.stale(cred)
    assert await r.tick() == 0
    warnings = [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING]
    assert len(warnings) == 1 and "a@example.com" in warnings[0] and "invalid_grant" in warnings[0]
    assert "old-rt" not in warnings[0] and "old-at" not in warnings[0]

    clock.advance(DAY - PRESEND_LEAD - 1)
    assert not r.presend.stale(cred)
    clock.advance(1)
    assert r.presend.stale(cred)
    with pytest.raises(UpstreamError) as info:
        await r.presend.renew(cred)
    assert info.value.status == 401
    assert len(oauth_fake.requests) == 1
    [record] = await pool.cooldowns(cred)
    assert (record.model, record.reason, record.status_message) == ("", "unauthorized", "unauthorized")
    assert record.next_retry_after == clock.now + REVOKED_COOLDOWN  # its expiry is sooner


async def test_a_401_after_a_refusal_takes_the_account_out_at_once(
    tmp_path,
    clock: Clock,
    http: HttpClient,  # noqa: F811
    oauth_fake: OAuthFake,  # noqa: F811
) -> None:
    """The upstream refuses the still-valid token of an account whose refresh was refused:
    the refresh after the 401 fails without a call and the account leaves service until
    its token expires (at least 30 minutes), as CPA."""
    oauth_fake.fail_next(401, "refresh_token_reused")
    cred = write(tmp_path, "codex.json", oauth("codex", clock, 2 * DAY))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    assert await r.tick() == 0 and await pool.cooldowns(cred) == []
    with pytest.raises(RefreshError) as info:
        await r.refresh_now(cred)
    assert info.value.revoked and len(oauth_fake.requests) == 1
    [record] = await pool.cooldowns(cred)
    assert (record.model, record.reason) == ("", "unauthorized")
    assert record.next_retry_after == clock.now + 2 * DAY  # its expiry


async def test_a_new_token_clears_the_refusal(
    tmp_path,
    clock: Clock,
    http: HttpClient,  # noqa: F811
    oauth_fake: OAuthFake,  # noqa: F811
) -> None:
    """The file replaced with a new refresh token (a new sign-in): the refusal no longer
    applies (its record is of the old token and goes: ``Pool.forget_refusals``), the
    listing shows no warning and the account is due by its own times again."""
    oauth_fake.fail_next(400, "invalid_grant")
    cred = write(tmp_path, "codex.json", oauth("codex", clock, DAY))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    await r.tick()
    entry = auth_file_entry(cred, [], clock.now, refused=await refusal(pool, cred))
    assert entry is not None
    assert (entry["status"], entry["unavailable"]) == ("active", False)
    assert "refresh token refused" in entry["status_message"]

    relogged = write(tmp_path, "codex.json", oauth("codex", clock, DAY, refresh_token="new-rt"))
    assert await refusal(pool, relogged) is None  # another token: not refused
    await pool.forget_refusals(pool.replace([relogged]))
    assert await pool.state.get_cooldown(cred.id, REFUSED) is None
    assert r.due_at(relogged) <= clock.now
    assert await r.tick() == 1 and len(oauth_fake.requests) == 2


async def test_another_process_does_not_retry_a_refused_refresh(
    tmp_path,
    clock: Clock,
    redis_server,
    oauth_fake: OAuthFake,  # noqa: F811
) -> None:
    """Two processes on one Redis: the first one's loop is refused; the second one's loop
    then reads the refusal and does not call the token endpoint, its pre-send check sends
    the token as it is, and its listing shows the warning; once the token is due, the
    second process takes the account out of service without a call either."""
    redis_state = pytest.importorskip("cliproxy.state.redis")
    oauth_fake.fail_next(400, "invalid_grant")
    cred = write(tmp_path, "codex.json", oauth("codex", clock, DAY))
    states = [redis_state.RedisState(redis_server.url, "refused:", clock=clock) for _ in range(2)]
    clients = [HttpClient() for _ in range(2)]
    try:
        refreshers = []
        for state, client in zip(states, clients, strict=True):
            await state.start()
            pool = Pool(state=state, clock=clock)
            pool.replace([cred])
            refreshers.append(Refresher(pool, client, token_urls={"codex": oauth_fake.url()}, clock=clock))
        first, second = refreshers
        assert await first.tick() == 0 and len(oauth_fake.requests) == 1
        assert second.due_at(cred) <= clock.now  # it has not read the refusal yet
        assert await second.tick() == 0
        assert len(oauth_fake.requests) == 1
        assert second.due_at(cred) is None and not second.presend.stale(cred)
        refused = await refusal(second.pool, cred)
        entry = auth_file_entry(cred, await second.pool.cooldowns(cred), clock.now, refused=refused)
        assert entry is not None and (entry["status"], entry["unavailable"]) == ("active", False)
        assert entry["refresh_refused"]["message"].endswith("fake invalid_grant")

        clock.advance(DAY - PRESEND_LEAD)
        with pytest.raises(UpstreamError):
            await second.presend.renew(cred)
        assert len(oauth_fake.requests) == 1
        assert [r.reason for r in await first.pool.cooldowns(cred)] == ["unauthorized"]
    finally:
        for state in states:
            await state.close()
        for client in clients:
            await client.close()
