"""Selection, priority tiers, cooldowns and affinity of the credential pool."""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import ScopedErrorRule
from cliproxy.errors import CooldownError, NoCredentialError
from cliproxy.state.memory import MemoryState

from .conftest import cred


def make_pool(clock, creds, **kw) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, **kw)
    pool.replace(creds)
    return pool


async def picks(pool, n, model="m", **kw):
    return [(await pool.pick(model, **kw)).id for _ in range(n)]


async def test_round_robin_sorted_by_id_with_cursor_per_key(clock):
    pool = make_pool(clock, [cred("c"), cred("a"), cred("b"), cred("x", "codex")])
    assert await picks(pool, 4, providers=["claude"]) == ["a", "b", "c", "a"]
    # another model has its own cursor; the mixed pool has its own key
    assert await picks(pool, 1, model="other", providers=["claude"]) == ["a"]
    assert await picks(pool, 5) == ["a", "b", "c", "x", "a"]
    assert set(pool.state._cursors) == {"claude:m", "claude:other", "mixed:m"}


async def test_thinking_suffix_shares_the_model_key(clock):
    pool = make_pool(clock, [cred("a"), cred("b")])
    assert [(await pool.pick(m)).id for m in ("m", "m(high)", "m(8192)")] == ["a", "b", "a"]


async def test_weighted_round_robin_is_smooth_and_exact(clock):
    pool = make_pool(
        clock,
        [cred("a", weight=5), cred("b", weight=1), cred("c", weight=1), cred("z", weight=0)],
        strategy="weighted-round-robin",
    )
    seq = await picks(pool, 14)
    assert seq[:7] == ["a", "a", "b", "a", "c", "a", "a"]  # nginx's smooth sequence
    assert seq[7:] == seq[:7]
    assert "z" not in seq


async def test_fill_first_uses_first_until_it_cools(clock):
    pool = make_pool(clock, [cred("b"), cred("a")], strategy="ff")
    assert await picks(pool, 3) == ["a", "a", "a"]
    await pool.mark_failure(pool.get("a"), "m", 500)
    assert await picks(pool, 2) == ["b", "b"]


async def test_priority_tiers(clock):
    pool = make_pool(
        clock,
        [cred("lo1", priority=0), cred("hi1", priority=5), cred("hi2", priority=5), cred("neg", priority=-1)],
    )
    assert await picks(pool, 3) == ["hi1", "hi2", "hi1"]
    await pool.mark_failure(pool.get("hi1"), "m", 429, retry_after=10)
    await pool.mark_failure(pool.get("hi2"), "m", 429, retry_after=10)
    assert await picks(pool, 2) == ["lo1", "lo1"]
    assert await picks(pool, 1, tried={"lo1"}) == ["neg"]
    clock.advance(11)
    assert (await pool.pick("m")).id.startswith("hi")


async def test_cooldown_table(clock):
    cases = {401: 1800.0, 402: 1800.0, 403: 1800.0, 404: 43200.0, 408: 60.0, 500: 60.0, 503: 60.0, 418: 60.0}
    for status, seconds in cases.items():
        pool = make_pool(clock, [cred("a")])
        decision = await pool.mark_failure(pool.get("a"), "m", status)
        assert decision.cooldown_seconds == seconds, status
        assert decision.scope == "model" and not decision.request_fault and not decision.stop
    pool = make_pool(clock, [cred("a")])
    decision = await pool.mark_failure(
        pool.get("a"), "m", 400, body=b'{"error":{"code":"model_not_supported"}}'
    )
    assert (decision.cooldown_seconds, decision.reason) == (43200.0, "model_not_supported")
    decision = await pool.mark_failure(pool.get("a"), "n", 401, body='{"error":"invalid_grant"}')
    assert (decision.cooldown_seconds, decision.reason) == (1800.0, "invalid_grant")


async def test_transient_setting(clock):
    pool = make_pool(clock, [cred("a")], transient_cooldown=-1)
    assert (await pool.mark_failure(pool.get("a"), "m", 502)).cooldown_seconds == 0
    assert (await pool.pick("m")).id == "a"
    pool.configure(transient_cooldown=7)
    assert (await pool.mark_failure(pool.get("a"), "m", 502)).cooldown_seconds == 7


async def test_429_retry_after_and_backoff_growth_and_reset(clock):
    pool = make_pool(clock, [cred("a"), cred("b")])
    a = pool.get("a")
    assert (await pool.mark_failure(a, "m", 429, retry_after=42)).cooldown_seconds == 42
    clock.advance(43)
    ladder = []
    for _ in range(4):
        ladder.append((await pool.mark_failure(a, "m", 429)).cooldown_seconds)
        # a second 429 inside the same window does not climb the ladder
        assert (await pool.mark_failure(a, "m", 429)).cooldown_seconds <= ladder[-1]
        clock.advance(ladder[-1] + 0.5)
    assert ladder == [1.0, 2.0, 4.0, 8.0]
    await pool.mark_success(a, "m")
    assert (await pool.mark_failure(a, "m", 429)).cooldown_seconds == 1.0


async def test_request_faults_and_scoped_rules_never_cool(clock):
    rules = (
        ScopedErrorRule(403, ("policy",), (), "stop"),
        ScopedErrorRule(500, ("flaky",), (), "continue"),
        ScopedErrorRule(400, ("quota",), (), "continue-and-cooldown"),
    )
    pool = make_pool(clock, [cred("a", request_scoped_errors=rules)], disable_cooling=True)
    a = pool.get("a")
    for status in (400, 409, 413, 422):
        decision = await pool.mark_failure(a, "m", status, body=b"bad")
        assert decision.request_fault and decision.stop and decision.cooldown_seconds == 0
    decision = await pool.mark_failure(a, "m", 403, body=b"policy violation")
    assert decision.stop and not decision.request_fault and decision.action == "stop"
    decision = await pool.mark_failure(a, "m", 500, body=b"flaky")
    assert not decision.stop and decision.cooldown_seconds == 0
    assert (await pool.pick("m")).id == "a"
    # "*-and-cooldown" cools even with cooling disabled
    decision = await pool.mark_failure(a, "m", 400, body=b"quota gone")
    assert decision.cooldown_seconds == 60.0 and not decision.request_fault
    with pytest.raises(CooldownError):
        await pool.pick("m")


async def test_disable_cooling_global_and_per_credential(clock):
    """CPA: TestManagerMarkResultUsesCredentialCoolingPrecedence (a credential's own
    true or false beats the global setting; unset inherits it)."""
    pool = make_pool(
        clock,
        [cred("a"), cred("b", disable_cooling=False), cred("c", disable_cooling=True)],
        disable_cooling=True,
    )
    assert (await pool.mark_failure(pool.get("a"), "m", 429)).cooldown_seconds == 0
    assert (await pool.mark_failure(pool.get("b"), "m", 429)).cooldown_seconds == 1.0
    pool.configure(disable_cooling=False)
    assert (await pool.mark_failure(pool.get("c"), "m", 401)).cooldown_seconds == 0
    assert sorted(c.id for c in [await pool.pick("m") for _ in range(4)]) == ["a", "a", "c", "c"]


async def test_credential_scoped_429_cools_every_model(clock):
    pool = make_pool(clock, [cred("a"), cred("b")])
    a = pool.get("a")
    decision = await pool.mark_failure(a, "m1", 429, retry_after=30, credential_scoped=True)
    assert decision.scope == "credential"
    assert await picks(pool, 2, model="m2") == ["b", "b"]
    await pool.mark_success(a, "m2")  # an active account-wide quota survives a success
    assert await picks(pool, 1, model="m3") == ["b"]
    clock.advance(31)
    assert "a" in await picks(pool, 2, model="m2")


async def test_errors_when_nothing_is_available(clock):
    """CPA: TestEnrichAuthSelectionError_DefaultsTo503WithContext (a 503 naming the providers
    and the model, with the management hint when Claude is among them) and
    TestEnrichAuthSelectionError_PreservesExplicitStatus (every candidate cooling is the 429
    of CooldownError, not this 503)."""
    pool = make_pool(clock, [cred("a"), cred("b"), cred("d", disabled=True)])
    with pytest.raises(NoCredentialError) as missing:
        await pool.pick("m", providers=["codex"])
    assert (
        missing.value.status == 503 and str(missing.value) == "no auth available (providers=codex, model=m)"
    )
    with pytest.raises(NoCredentialError) as missing:
        await pool.pick("claude-sonnet-4-6", providers=["gemini", "claude"], tried={"a", "b"})
    message = str(missing.value)
    assert "providers=gemini,claude" in message and "model=claude-sonnet-4-6" in message
    assert "/v0/management/auth-files" in message
    assert "providers=unknown" in str(NoCredentialError("m"))
    await pool.mark_failure(pool.get("a"), "m", 429, retry_after=50)
    await pool.mark_failure(pool.get("b"), "m", 429, retry_after=20)
    with pytest.raises(CooldownError) as info:
        await pool.pick("m", providers=["claude"])
    assert info.value.reset_seconds == 20 and info.value.provider == "claude" and info.value.status == 429
    with pytest.raises(CooldownError) as info:
        await pool.pick("m")
    assert info.value.provider == ""
    assert await pool.next_available_in("m") == 20
    assert await pool.next_available_in("other") == 0
    assert await pool.next_available_in("m", providers=["codex"]) is None
    clock.advance(5)
    await pool.mark_success(pool.get("b"), "m")
    assert await picks(pool, 1) == ["b"]
    with pytest.raises(NoCredentialError):
        await pool.pick("x", tried={"a", "b"})  # every candidate already tried this round


async def test_supports_filter_is_cached_per_function(clock):
    calls = []

    def supports(c, model):
        calls.append(c.id)
        return c.id != "a"

    pool = make_pool(clock, [cred("a"), cred("b")])
    assert await picks(pool, 3, supports=supports) == ["b", "b", "b"]
    assert calls == ["a", "b"]


async def test_session_affinity_sticks_expires_and_fails_over(clock):
    pool = make_pool(clock, [cred("a"), cred("b"), cred("c")], session_affinity=True, affinity_ttl=100)
    first = (await pool.pick("m", session_key="s1")).id
    assert [(await pool.pick("m", session_key="s1")).id for _ in range(3)] == [first] * 3
    other = (await pool.pick("m", session_key="s2")).id
    assert other != first
    await pool.mark_failure(pool.get(first), "m", 429, retry_after=500)
    moved = (await pool.pick("m", session_key="s1")).id
    assert moved != first
    assert (await pool.pick("m", session_key="s1")).id == moved
    clock.advance(101)  # binding expired: a new one is made through the strategy
    assert (await pool.pick("m", session_key="s1")).id in {"a", "b", "c"}
    assert await pool.state.get_binding("mixed::s1::m", 100) is not None


async def test_affinity_binding_outranks_recovered_priority(clock):
    pool = make_pool(clock, [cred("hi", priority=1), cred("lo")], session_affinity=True)
    await pool.mark_failure(pool.get("hi"), "m", 500)
    assert (await pool.pick("m", session_key="s")).id == "lo"
    clock.advance(61)
    assert (await pool.pick("m", session_key="s")).id == "lo"
    assert (await pool.pick("m")).id == "hi"


async def test_replace_keeps_state_for_stable_ids(clock):
    pool = make_pool(clock, [cred("a"), cred("b")])
    await pool.mark_failure(pool.get("a"), "m", 401)
    pool.replace([cred("a"), cred("b"), cred("c")])
    assert "a" not in await picks(pool, 4)
    pool.replace([cred("a")])
    with pytest.raises(CooldownError):
        await pool.pick("m")


async def test_reset_quota(clock):
    pool = make_pool(clock, [cred("a", index="00aa"), cred("b", index="00bb")])
    for c in pool.credentials():
        await pool.mark_failure(c, "m", 403)
    assert await pool.reset_quota("00aa") == ["a"]
    assert await picks(pool, 2) == ["a", "a"]
    assert await pool.reset_quota("nope") == []
    assert await pool.reset_quota(None) == ["b"]
    assert sorted(await picks(pool, 2)) == ["a", "b"]


async def test_new_tokens_forget_refusals_but_not_quota(clock):
    # beyond CPA: a re-login (new tokens under the same id) revives an account that was
    # cooled down for refusing its old token; a quota cooldown is the account's and stays
    old = {"access_token": "at-old", "refresh_token": "rt-old"}
    new = {"access_token": "at-new", "refresh_token": "rt-new"}
    pool = make_pool(clock, [cred("a", metadata=old), cred("b", metadata=old)])
    await pool.mark_failure(pool.get("a"), "m", 401)
    await pool.mark_failure(pool.get("b"), "m", 429, retry_after=600)
    # same tokens: nothing renewed, the refusal holds
    assert pool.replace([cred("a", metadata=dict(old)), cred("b", metadata=old)]) == []
    with pytest.raises(CooldownError):
        await pool.pick("m")
    renewed = pool.replace([cred("a", metadata=new), cred("b", metadata=new)])
    assert sorted(renewed) == ["a", "b"]
    assert await pool.forget_refusals(renewed) == ["a"]
    assert await picks(pool, 3) == ["a", "a", "a"]  # b still waits out its quota
