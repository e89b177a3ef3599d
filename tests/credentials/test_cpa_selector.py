"""CPA's selector and scheduler cases (sdk/cliproxy/auth/selector_test.go and
scheduler_test.go) on the credential pool: strategies, weights, priority tiers, cooldown
filtering and thinking suffixes. CPA hands its selectors a list of auths with their state
attached; here the same facts are set up through the pool's own calls (``replace``,
``mark_failure``) and read back through ``pick``."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.errors import CooldownError
from cliproxy.state.base import smooth_weighted_pick
from cliproxy.state.memory import MemoryState

from .conftest import cred


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


async def counts(pool: Pool, n: int, model: str = "model", **kw) -> Counter[str]:
    return Counter([(await pool.pick(model, **kw)).id for _ in range(n)])


async def test_fill_first_selector_pick_deterministic(clock):
    """TestFillFirstSelectorPick_Deterministic / TestSchedulerPick_FillFirstSticksToFirstReady:
    fill-first takes the first id in sorted order, every time."""
    pool = make_pool(clock, [cred("b"), cred("a"), cred("c")], strategy="fill-first")
    assert await counts(pool, 3) == {"a": 3}


async def test_round_robin_selector_pick_cycles_deterministic(clock):
    """TestRoundRobinSelectorPick_CyclesDeterministic: a, b, c, a, b over ids given as b, a, c."""
    pool = make_pool(clock, [cred("b"), cred("a"), cred("c")])
    assert [(await pool.pick("gemini-model")).id for _ in range(5)] == ["a", "b", "c", "a", "b"]


async def test_weighted_round_robin_distributes_and_skips_non_positive_weights(clock):
    """TestWeightedRoundRobinSelectorPick_DistributesAndSkipsNonPositiveWeights and
    TestSchedulerPick_WeightedRoundRobin: weights 5, 3, 2 and 0 give exactly 50, 30 and 20
    picks of 100; the weight-0 credential none."""
    creds = [cred("a", weight=5), cred("b", weight=3), cred("c", weight=2), cred("zero", weight=0)]
    pool = make_pool(clock, creds, strategy="weighted-round-robin")
    assert await counts(pool, 100) == {"a": 50, "b": 30, "c": 20}


async def test_weighted_round_robin_resets_credits_when_weights_change(clock):
    """TestWeightedRoundRobinSelectorPick_ResetsCreditsWhenWeightsChange (and the scheduler's
    TestSchedulerPick_WeightedRoundRobinResetsCreditsWhenWeightsChange): after 1000 picks at
    weights 1000000:1, a reload to 1:1 splits the next 20 picks 10:10 (no credit carried)."""
    pool = make_pool(clock, [cred("a", weight=1_000_000), cred("b", weight=1)], strategy="wrr")
    await counts(pool, 1000)
    pool.replace([cred("a", weight=1), cred("b", weight=1)])
    assert await counts(pool, 20) == {"a": 10, "b": 10}


async def test_weighted_round_robin_mixed_providers(clock):
    """TestSchedulerPick_MixedProvidersWeightedRoundRobin and
    TestSchedulerPick_MixedProvidersResetsCreditsWhenWeightsChange: weights hold across
    providers in a mixed pool, and a weight change starts the sequence over."""
    creds = [cred("gemini-a", "gemini", weight=5), cred("claude-b", weight=3), cred("claude-c", weight=2)]
    pool = make_pool(clock, creds, strategy="wrr")
    assert await counts(pool, 100, providers=["gemini", "claude"]) == {
        "gemini-a": 50,
        "claude-b": 30,
        "claude-c": 20,
    }
    pool.replace([cred("gemini-a", "gemini", weight=1), cred("claude-b", weight=1)])
    assert await counts(pool, 20, providers=["gemini", "claude"]) == {"gemini-a": 10, "claude-b": 10}


async def test_weighted_round_robin_rebalances_when_highest_weight_unavailable(clock):
    """TestWeightedRoundRobinSelectorPick_RebalancesWhenHighestWeightUnavailable: with the
    weight-5 credential disabled, weights 3 and 2 share 100 picks 60:40."""
    creds = [cred("a", weight=5, disabled=True), cred("b", weight=3), cred("c", weight=2)]
    pool = make_pool(clock, creds, strategy="wrr")
    assert await counts(pool, 100) == {"b": 60, "c": 40}


async def test_weighted_round_robin_skips_unavailable_and_credential_quota(clock):
    """TestWeightedRoundRobinSelectorPick_SkipsUnavailableAndQuotaExceededWithoutRecovery:
    a credential cooling for the model and one under a credential-wide quota are never
    picked. (CPA also blocks a state with no recovery time at all; every cooldown here has
    a deadline, so that state does not exist.)
    TestIsAuthBlockedForModel_UnavailableWithoutNextRetryIsBlocked and
    TestIsAuthBlockedForModel_AuthQuotaExceededWithoutRecoveryIsBlocked are that state: n.a. here."""
    pool = make_pool(clock, [cred("model-cooling"), cred("quota"), cred("available")], strategy="wrr")
    await pool.mark_failure(pool.get("model-cooling"), "test-model", 500)
    await pool.mark_failure(pool.get("quota"), "other", 429, retry_after=3600, credential_scoped=True)
    assert await counts(pool, 4, model="test-model") == {"available": 4}
    assert set(await counts(pool, 4, model="any-model")) == {"model-cooling", "available"}


async def test_weighted_round_robin_recovered_auth_returns_without_accumulated_credit(clock):
    """TestWeightedRoundRobinSelectorPick_RecoveredAuthReturnsWithoutAccumulatedCredit: a
    weight-5 credential that cooled for a while comes back at 5:1, not with a burst of
    credit saved up while it was away."""
    pool = make_pool(clock, [cred("a", weight=5), cred("b", weight=1)], strategy="wrr")
    await counts(pool, 6)
    await pool.mark_failure(pool.get("a"), "model", 429, retry_after=60)
    assert await counts(pool, 6) == {"b": 6}
    clock.advance(61)
    assert await counts(pool, 6) == {"a": 5, "b": 1}


async def test_weighted_round_robin_default_weight_is_one(clock):
    """TestWeightedRoundRobinSelectorPick_DefaultWeightIsOne: no weight set means 1 each."""
    pool = make_pool(clock, [cred("a"), cred("b"), cred("c")], strategy="wrr")
    assert await counts(pool, 30) == {"a": 10, "b": 10, "c": 10}


async def test_weighted_round_robin_skips_non_positive_weight_priority_tier(clock):
    """TestSchedulerPick_WeightedRoundRobinSkipsNonPositiveWeightPriorityTier: a higher tier
    whose only credential weighs 0 does not hide the lower tier."""
    creds = [cred("excluded", priority=10, weight=0), cred("available", priority=0, weight=1)]
    pool = make_pool(clock, creds, strategy="wrr")
    assert (await pool.pick("model")).id == "available"


async def test_weighted_round_robin_keeps_state_per_model(clock):
    """TestManagerLegacyWeightedRoundRobinKeepsIndependentAliasPrefixedModelState: two models
    served by different credential pairs (3:1 each) keep their own smooth sequences when
    their requests interleave."""
    team_a = {"a-heavy", "a-light"}
    creds = [
        cred("a-heavy", weight=3),
        cred("a-light", weight=1),
        cred("b-light", weight=1),
        cred("b-heavy", weight=3),
    ]
    pool = make_pool(clock, creds, strategy="wrr")

    def team_a_only(c, model):
        return (c.id in team_a) == (model == "team-a/shared")

    seen: Counter[str] = Counter()
    for _ in range(40):
        for model in ("team-a/shared", "team-b/shared"):
            seen[(await pool.pick(model, supports=team_a_only)).id] += 1
    assert seen == {"a-heavy": 30, "a-light": 10, "b-light": 10, "b-heavy": 30}


async def test_round_robin_priority_buckets(clock):
    """TestRoundRobinSelectorPick_PriorityBuckets / TestSchedulerPick_RoundRobinHighestPriority:
    only the highest priority rotates (a, b, a, b); the priority-0 credential waits."""
    pool = make_pool(clock, [cred("c", priority=0), cred("a", priority=10), cred("b", priority=10)])
    assert [(await pool.pick("m")).id for _ in range(4)] == ["a", "b", "a", "b"]


async def test_mixed_providers_prefer_highest_priority_tier(clock):
    """TestSchedulerPick_MixedProvidersPrefersHighestPriorityTier: over three providers the
    two priority-7 credentials alternate and the priority-4 one is never used."""
    creds = [
        cred("low", "provider-low", priority=4),
        cred("high-a", "p-high-a", priority=7),
        cred("high-b", "p-high-b", priority=7),
    ]
    pool = make_pool(clock, creds)
    providers = ["provider-low", "p-high-a", "p-high-b"]
    assert [(await pool.pick("gpt-default", providers=providers)).id for _ in range(4)] == [
        "high-a",
        "high-b",
        "high-a",
        "high-b",
    ]


async def test_mixed_providers_share_by_ready_credentials(clock):
    """TestSchedulerPick_MixedProvidersUsesWeightedProviderRotationOverReadyCandidates and
    TestManager_PickNextMixed_UsesWeightedProviderRotationBeforeCredentialRotation: a mixed
    pool with two Gemini credentials and one Claude credential serves Gemini twice as often.

    Differs on purpose in the order only: CPA first rotates providers (weighted by their
    ready credentials, in the listed order: gemini, gemini, claude), then credentials within
    one; the pool rotates one cursor over all candidates sorted by id (claude-a, gemini-a,
    gemini-b), one step per request, which gives every credential the same share.
    The same order difference: TestManager_PickNextMixed_UsesSchedulerRotation and
    TestManagerPluginSchedulerDelegateRoundRobinUsesNativeMixedRotation."""
    pool = make_pool(clock, [cred("gemini-a", "gemini"), cred("gemini-b", "gemini"), cred("claude-a")])
    picks = [(await pool.pick("m", providers=["gemini", "claude"])).id for _ in range(6)]
    assert picks == ["claude-a", "gemini-a", "gemini-b"] * 2


async def test_fill_first_priority_fallback_cooldown(clock):
    """TestFillFirstSelectorPick_PriorityFallbackCooldown: a high-priority credential
    cooling on a quota leaves the pick to the low one."""
    pool = make_pool(clock, [cred("high", priority=10), cred("low", priority=0)], strategy="ff")
    await pool.mark_failure(pool.get("high"), "test-model", 429, retry_after=1800)
    assert (await pool.pick("test-model")).id == "low"


async def test_round_robin_concurrent(clock):
    """TestRoundRobinSelectorPick_Concurrent: 32 tasks of 100 picks each all get a
    credential, and the rotation stays exact (each of three ids 3200/3 times, rounded)."""
    pool = make_pool(clock, [cred("b"), cred("a"), cred("c")])

    async def worker() -> list[str]:
        return [(await pool.pick("gemini")).id for _ in range(100)]

    seen = Counter(i for ids in await asyncio.gather(*(worker() for _ in range(32))) for i in ids)
    assert sum(seen.values()) == 3200 and max(seen.values()) - min(seen.values()) <= 1


async def test_all_cooldown_returns_model_cooldown_error(clock):
    """TestSelectorPick_AllCooldownReturnsModelCooldownError: every candidate cooling gives a
    429 ``model_cooldown`` with a Retry-After; one provider names it, a mixed pool does not
    (its JSON shape with the field left out is in tests/server)."""
    pool = make_pool(clock, [cred("a", "gemini"), cred("b", "gemini")], strategy="ff")
    for c in pool.credentials():
        await pool.mark_failure(c, "test-model", 429, retry_after=60)
    for providers, name in ((None, ""), (["gemini"], "gemini")):
        with pytest.raises(CooldownError) as info:
            await pool.pick("test-model", providers=providers)
        err = info.value
        assert (err.status, err.code, err.provider, err.retry_after) == (429, "model_cooldown", name, 60)


async def test_expired_recovery_is_available(clock):
    """TestIsAuthBlockedForModel_ExpiredRecoveryIsAvailable and
    TestSchedulerPick_PromotesExpiredCooldownBeforePick: a cooldown whose time has passed
    blocks nothing, with no event needed to lift it."""
    pool = make_pool(clock, [cred("cooldown-expired", "gemini")])
    await pool.mark_failure(pool.get("cooldown-expired"), "gemini-2.5-pro", 500)
    with pytest.raises(CooldownError):
        await pool.pick("gemini-2.5-pro")
    clock.advance(61)
    assert (await pool.pick("gemini-2.5-pro")).id == "cooldown-expired"


async def test_thinking_suffix_falls_back_to_base_model_state(clock):
    """TestFillFirstSelectorPick_ThinkingSuffixFallsBackToBaseModelState: a cooldown of the
    base model blocks a request for ``model(high)``."""
    pool = make_pool(clock, [cred("high", priority=10), cred("low", priority=0)], strategy="ff")
    await pool.mark_failure(pool.get("high"), "test-model", 429, retry_after=1800)
    assert (await pool.pick("test-model(high)")).id == "low"


async def test_thinking_suffix_states_block_canonical_model(clock):
    """TestIsAuthBlockedForModel_ThinkingSuffixStatesBlockCanonicalModel: failures recorded
    under ``model(high)`` and ``model(low)`` block the model under every suffix, until the
    later of the two deadlines (one record per base model, the newest deadline kept).
    CPA: TestManager_SchedulerSharesThinkingSuffixCooldownAndRegistryState."""
    pool = make_pool(clock, [cred("a")])
    await pool.mark_failure(pool.get("a"), "test-model(high)", 429, retry_after=3600)
    await pool.mark_failure(pool.get("a"), "test-model(low)", 429, retry_after=7200)
    for model in ("test-model", "test-model(medium)", "test-model(low)"):
        with pytest.raises(CooldownError) as info:
            await pool.pick(model)
        assert info.value.reset_seconds == 7200


async def test_round_robin_thinking_suffix_shares_cursor(clock):
    """TestRoundRobinSelectorPick_ThinkingSuffixSharesCursor: ``model(high)`` then
    ``model(low)`` advance one cursor: a, then b."""
    pool = make_pool(clock, [cred("b", "gemini"), cred("a", "gemini")])
    picks = [(await pool.pick(m, providers=["gemini"])).id for m in ("test-model(high)", "test-model(low)")]
    assert picks == ["a", "b"]


async def test_round_robin_cursor_key_cap(clock):
    """TestRoundRobinSelectorPick_CursorKeyCap: the cursor table is bounded; a new key past
    the cap starts a fresh table holding only that key."""
    state = MemoryState(clock=clock, max_keys=2)
    pool = Pool(state=state, clock=clock)
    pool.replace([cred("a", "gemini")])
    for model in ("m1", "m2", "m3"):
        await pool.pick(model, providers=["gemini"])
    assert set(state.cursor_map) == {"gemini:m3"}


def test_smooth_weighted_pick_survives_extreme_state():
    """TestPickSmoothWeightedAuth_SaturatesCorruptState, a deliberate difference: CPA's int64
    credits saturate at the bounds, so a corrupt state of MaxInt64/MinInt64 ends at
    MaxInt64-2 and MinInt64+1. Python ints do not overflow, so the same state is plain
    arithmetic here: ``a`` still wins and pays the total weight, and nothing wraps negative."""
    top, bottom = 2**63 - 1, -(2**63)
    current = {"a": top, "b": bottom}
    assert smooth_weighted_pick(current, [("a", 1), ("b", 1)]) == "a"
    assert current == {"a": top + 1 - 2, "b": bottom + 1}


@pytest.mark.parametrize("strategy", ["round-robin", "weighted-round-robin", "fill-first"])
async def test_a_cooldown_error_names_the_requested_model(clock, strategy):
    """CPA: TestBuiltInSelectorCooldownErrorPreservesRouteModel: a credential cooling as a
    whole gives a ``model_cooldown`` naming the model as asked, thinking suffix included,
    whatever the strategy."""
    pool = make_pool(clock, [cred("cooling-auth")], strategy=strategy)
    await pool.mark_failure(
        pool.get("cooling-auth"), "other-model", 429, retry_after=3600, credential_scoped=True
    )
    with pytest.raises(CooldownError) as info:
        await pool.pick("client-opus(high)")
    assert info.value.model == "client-opus(high)" and "client-opus(high)" in info.value.message
