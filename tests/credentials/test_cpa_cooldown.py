"""CPA's cooldown cases (sdk/cliproxy/auth/cooldown_backoff_test.go,
claude_ratelimit_cooldown_test.go, conductor_availability_test.go): the 429 back-off
ladder, credential-wide quotas, disable-cooling and the wait between retry rounds."""

from __future__ import annotations

import pytest

from cliproxy.credentials.cooldown import ROUND_JITTER_CAP, round_wait
from cliproxy.credentials.persist import CdsStore, restore
from cliproxy.credentials.pool import Pool
from cliproxy.errors import CooldownError
from cliproxy.state.memory import MemoryState

from .conftest import cred

WEEK = 7 * 24 * 3600.0


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


async def record(pool: Pool, cid: str, model: str):
    return await pool.state.get_cooldown(cid, model)


async def test_quota_backoff_escalates_once_per_window(clock):
    """TestMarkResultQuotaBackoffEscalatesOncePerWindow and
    TestApplyAuthFailureStateQuotaBackoffOncePerWindow: the first 429 without Retry-After
    cools 1 s at level 1; another inside that window keeps level and deadline; one after it
    climbs to level 2 (2 s); a Retry-After always applies, without climbing."""
    pool = make_pool(clock, [cred("a", "codex")])
    a, start = pool.get("a"), clock.now
    await pool.mark_failure(a, "gpt-5", 429)
    first = await record(pool, "a", "gpt-5")
    assert (first.backoff_level, first.next_recover_at) == (1, start + 1)
    clock.advance(0.1)
    await pool.mark_failure(a, "gpt-5", 429)
    second = await record(pool, "a", "gpt-5")
    assert (second.backoff_level, second.next_recover_at, second.next_retry_after) == (
        1,
        start + 1,
        start + 1,
    )
    clock.now = start + 2
    await pool.mark_failure(a, "gpt-5", 429)
    third = await record(pool, "a", "gpt-5")
    assert (third.backoff_level, third.next_recover_at) == (2, start + 4)
    clock.now = start + 3
    await pool.mark_failure(a, "gpt-5", 429, retry_after=10)
    hinted = await record(pool, "a", "gpt-5")
    assert (hinted.backoff_level, hinted.next_recover_at) == (2, start + 13)


async def test_quota_backoff_escalates_after_window_expiry(clock):
    """TestMarkResultQuotaBackoffEscalatesAfterWindowExpiry: a level-3 record whose window has
    passed goes to level 4 on the next 429."""
    pool = make_pool(clock, [cred("a", "codex")])
    a = pool.get("a")
    for _ in range(3):
        await pool.mark_failure(a, "gpt-5", 429)
        clock.advance(10)  # each window (1, 2, 4 s) over before the next
    assert (await record(pool, "a", "gpt-5")).backoff_level == 3
    await pool.mark_failure(a, "gpt-5", 429)
    state = await record(pool, "a", "gpt-5")
    assert state.backoff_level == 4 and state.next_recover_at > clock.now


@pytest.mark.parametrize("status", [0, 418, 500])
async def test_recoverable_unknown_failures_have_finite_cooldown(clock, status):
    """TestRecoverableUnknownFailuresHaveFiniteCooldown and
    TestSchedulerPromotesUnknownFailureAfterRetryDeadline: a failure with no status (a
    transport error) or an unknown one cools for the transient time, then the credential
    is picked again with nothing else happening."""
    pool = make_pool(clock, [cred("a", "codex")])
    decision = await pool.mark_failure(pool.get("a"), "gpt-5", status, body=b"connection reset")
    assert decision.cooldown_seconds == 60.0
    with pytest.raises(CooldownError):
        await pool.pick("gpt-5")
    clock.advance(60.001)
    assert (await pool.pick("gpt-5")).id == "a"


async def test_concurrent_success_does_not_clear_active_credential_cooldown(clock):
    """TestAuthManager_ConcurrentSuccessDoesNotClearActiveCredentialCooldown: a success on
    another model that lands after a credential-wide 7-day 429 keeps the account blocked
    for every model, until the reset."""
    pool = make_pool(clock, [cred("a")])
    a = pool.get("a")
    await pool.mark_failure(a, "claude-3-5-sonnet", 429, retry_after=WEEK, credential_scoped=True)
    await pool.mark_success(a, "claude-3-opus")
    for model in ("claude-3-5-sonnet", "claude-3-opus", "claude-3-7-sonnet"):
        with pytest.raises(CooldownError) as info:
            await pool.pick(model)
        assert info.value.reset_seconds >= WEEK - 60


async def test_update_preserves_active_credential_cooldown(clock):
    """TestAuthManager_UpdatePreservesActiveCredentialCooldown: a reload that changes the
    key under the same id keeps the credential-wide quota."""
    pool = make_pool(clock, [cred("a", api_key="test-key")])
    await pool.mark_failure(pool.get("a"), "claude-3-5-sonnet", 429, retry_after=WEEK, credential_scoped=True)
    pool.replace([cred("a", api_key="test-key-updated")])
    wide = await record(pool, "a", "")
    assert (
        wide is not None
        and wide.quota_reason == "credential_quota"
        and wide.next_recover_at > clock.now + 6 * 86400
    )
    with pytest.raises(CooldownError):
        await pool.pick("claude-3-5-sonnet")


async def test_disable_cooling_does_not_block(clock):
    """TestAuthManager_DisableCoolingDoesNotPermanentlyBlock: with cooling off, even a
    credential-wide 7-day 429 blocks no model."""
    pool = make_pool(clock, [cred("a")], disable_cooling=True)
    await pool.mark_failure(pool.get("a"), "claude-3-5-sonnet", 429, retry_after=WEEK, credential_scoped=True)
    for model in ("claude-3-5-sonnet", "claude-3-opus"):
        assert (await pool.pick(model)).id == "a"


async def test_model_429_does_not_block_sibling_models(clock):
    """TestAuthManager_NonClaudeProvider_Model429DoesNotBlockSiblingModels: a 429 that is
    not credential-wide cools only its model."""
    pool = make_pool(clock, [cred("a", "openai")])
    await pool.mark_failure(pool.get("a"), "gpt-4o", 429)
    with pytest.raises(CooldownError):
        await pool.pick("gpt-4o")
    assert (await pool.pick("gpt-4o-mini")).id == "a"


async def test_credential_cooldown_persists_across_restore(clock, tmp_path):
    """TestAuthManager_CooldownPersistenceAcrossRestore: the credential-wide record is saved
    (save-cooldown-status) and a new pool restores it, still a week long."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace([cred("claude:apikey:k", api_key="k")])
    await pool.mark_failure(
        pool.get("claude:apikey:k"), "claude-3-5-sonnet", 429, retry_after=WEEK, credential_scoped=True
    )
    fresh = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    fresh.replace([cred("claude:apikey:k", api_key="k")])
    assert await restore(fresh, tmp_path) >= 1
    wide = await record(fresh, "claude:apikey:k", "")
    assert wide is not None and wide.quota_exceeded and wide.next_recover_at >= clock.now + 6 * 86400


async def test_available_providers_exclude_disabled(clock):
    """TestManager_AvailableProvidersAndHasProviderAuth_ExcludeDisabled: a provider whose
    only credential is disabled is not listed."""
    pool = make_pool(clock, [cred("a", "gemini"), cred("b", "claude", disabled=True)])
    assert pool.providers() == ["gemini"]


async def test_reset_quota_clears_runtime_state(clock):
    """TestManager_ResetQuotaClearsRuntimeAndRegistryState: a reset lifts a credential's
    model and credential-wide cooldowns at once."""
    pool = make_pool(clock, [cred("a")])
    a = pool.get("a")
    await pool.mark_failure(a, "m", 429, retry_after=600)
    await pool.mark_failure(a, "n", 429, retry_after=600, credential_scoped=True)
    assert await pool.reset_quota("a") == ["a"]
    assert (await pool.pick("m")).id == "a" and (await pool.pick("n")).id == "a"


@pytest.mark.parametrize(
    ("wait", "limit", "spread"),
    [(1.0, 0.0, 0.25), (8.0, 0.0, 2.0), (30.0, 0.0, 2.0), (1.0, 30.0, 0.25), (29.0, 30.0, 1.0)],
)
def test_jittered_cooldown_wait_bounds(wait, limit, spread):
    """TestJitteredCooldownWaitBounds: the wait grows by less than a quarter of itself, at
    most 2 s, and never past max-retry-interval. Differs on purpose with no limit (0): CPA
    computes the jitter but its caller does not wait then; ``round_wait`` says no round
    (None) for any wait above 0 without a limit, as that caller decides."""
    assert ROUND_JITTER_CAP == 2.0
    for _ in range(200):
        got = round_wait(wait, limit or 1e9)
        assert got is not None and wait <= got <= wait + spread
    if not limit:
        assert round_wait(wait, 0) is None
    else:
        assert all((round_wait(wait, limit) or 0) <= limit for _ in range(200))


def test_round_wait_edges():
    """TestJitteredCooldownWaitBounds' edges: a wait equal to the limit is not spread; a
    credential free now (0 or less) is retried at once, whatever the limit."""
    assert all(round_wait(30.0, 30.0) == 30.0 for _ in range(50))
    assert round_wait(0.0, 60.0) == 0.0 and round_wait(-1.0, 60.0) == 0.0 and round_wait(0.0, 0.0) == 0.0
    assert round_wait(31.0, 30.0) is None
