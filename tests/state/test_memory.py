"""The in-memory state backend honours the StateBackend contract."""

from __future__ import annotations

from typing import Any

from cliproxy.state.base import CooldownRecord, StateBackend, binding_group, smooth_weighted_pick
from cliproxy.state.memory import MemoryState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_is_a_state_backend():
    assert isinstance(MemoryState(), StateBackend)


async def test_cooldown_records():
    state = MemoryState()
    await state.set_cooldown(CooldownRecord("a", "m", next_retry_after=5))
    await state.set_cooldown(CooldownRecord("a", "", next_retry_after=7))
    await state.set_cooldown(CooldownRecord("b", "m", next_retry_after=9))
    assert set(await state.get_cooldowns("m")) == {"a", "b"}
    assert (await state.get_cooldown("a", "")).next_retry_after == 7
    assert len(await state.credential_cooldowns("a")) == 2
    assert await state.delete_cooldown("b", "m") and not await state.delete_cooldown("b", "m")
    assert await state.clear_cooldowns("a") == ["a"]
    assert await state.get_cooldowns("m") == {}
    assert not CooldownRecord("x", quota_exceeded=True, next_recover_at=3).blocks(3)
    assert CooldownRecord("x", quota_exceeded=True, next_recover_at=4).blocks(3)


async def test_cursor_wraps_and_map_is_capped():
    state = MemoryState(max_keys=3)
    assert [await state.next_cursor("k") for _ in range(3)] == [0, 1, 2]
    await state.next_cursor("k2")
    await state.next_cursor("k3")
    assert await state.next_cursor("k4") == 0  # the map was reset at the cap
    assert await state.next_cursor("k") == 0
    state._cursors["k"] = 2_147_483_640
    assert await state.next_cursor("k") == 0


async def test_weighted_state_restarts_when_weights_change():
    state = MemoryState()
    weights = [("a", 2), ("b", 1)]
    assert [await state.weighted_pick("k", weights) for _ in range(3)] == ["a", "b", "a"]
    assert await state.weighted_pick("k", [("a", 1), ("b", 1)]) == "a"
    current: dict[str, int] = {"gone": 4}
    assert smooth_weighted_pick(current, [("a", 1), ("b", 0)]) == "a" and "gone" not in current


async def test_bindings_ttl_refresh_and_groups():
    clock = Clock()
    state = MemoryState(clock=clock)
    await state.set_binding(("p", "f"), "a", 10)
    clock.now += 8
    assert await state.get_binding("p", 10) == "a"  # refreshed to now + 10
    clock.now += 8
    assert await state.get_binding("f", 10, refresh=False) == "a"
    assert not await state.delete_binding("p", "b")
    assert await state.delete_binding("p", "a")
    clock.now += 20
    assert await state.get_binding("f", 10) is None
    await alias_facts(state, clock)


async def alias_facts(state: Any, clock: Any) -> None:
    """How one session's binding keys (aliases) move and are capped, as CPA's
    SessionCache.SetAliases (sdk/cliproxy/auth/session_cache.go); every backend holds them."""
    await state.set_binding(("p", "f"), "a", 10)
    await state.set_binding(("p",), "b", 10)  # a rebinding takes the session's other keys along
    assert await state.get_binding("f", 10) == "b"
    # TestSessionCacheSharedPromptKeyCapsStableAliasesByRecency
    pck = "openai::pck:shared::gpt-test"
    for i in range(128):
        await state.set_binding((pck, f"openai::conv:c-{i:03}::gpt-test"), "a", 60)
    assert await state.get_binding("openai::conv:c-127::gpt-test", 60, refresh=False) == "a"
    assert await state.get_binding("openai::conv:c-064::gpt-test", 60, refresh=False) == "a"
    assert await state.get_binding("openai::conv:c-063::gpt-test", 60, refresh=False) is None
    assert await state.get_binding(pck, 60, refresh=False) == "a"
    # TestSessionCacheRotatingPrimaryEvictsObsoleteAliases: one prompt-cache key a group
    conv = "openai::conv:session::gpt-test"
    for i in range(16):
        await state.set_binding((f"openai::pck:cache-{i:02}::gpt-test", conv), "c", 60)
    assert await state.get_binding("openai::pck:cache-15::gpt-test", 60, refresh=False) == "c"
    assert await state.get_binding("openai::pck:cache-14::gpt-test", 60, refresh=False) is None
    assert await state.get_binding(conv, 60, refresh=False) == "c"
    # an expired group's keys do not come back with a new binding
    await state.set_binding(("x", "y"), "a", 5)
    clock.now += 6
    await state.set_binding(("x",), "b", 5)
    assert await state.get_binding("y", 5, refresh=False) is None


def test_binding_group_keeps_one_prompt_key_and_64_others():
    """compactSessionAliases: the first prompt-cache key only (also a bare ``pck:`` key),
    at most 64 others in order; a conversation id that contains ``::pck:`` is no prompt key
    (TestSessionAffinitySelectorConversationIDContainingPromptMarkerRemainsStable)."""
    keys = ["n::pck:a::m", "n::conv:0::m", "pck:b", "n::pck:c::m"] + [f"n::conv:{i}::m" for i in range(1, 70)]
    group = binding_group(keys)
    assert group[:2] == ("n::pck:a::m", "n::conv:0::m") and len(group) == 65
    assert not any(k.startswith("pck:") or "::pck:c" in k for k in group)
    assert binding_group(["n::conv:a::pck:b::m", "n::pck:x::m"]) == ("n::conv:a::pck:b::m", "n::pck:x::m")


async def test_in_flight_counters():
    state = MemoryState()
    assert await state.add_in_flight("a", 1) == 1
    assert await state.add_in_flight("a", 1) == 2
    assert await state.add_in_flight("a", -5) == 0
    assert await state.in_flight("a") == 0


async def test_precomputed_cycle_matches_the_stateful_algorithm():
    small = (("a", 3), ("b", 7), ("c", 2))
    big = (("a", 5000), ("b", 3))
    for weights in (small, big):
        state = MemoryState()
        reference: dict[str, int] = {}
        got = [await state.weighted_pick("k", weights) for _ in range(30)]
        assert got == [smooth_weighted_pick(reference, weights) for _ in range(30)]


async def secret_facts(a: Any, b: Any, clock: Any) -> None:
    """Short-lived secrets as CPA's clientSecretStore keeps them (internal/client/codex/live/
    client_secret.go): until their expiry (TestClientSecretStoreRejectsExpiredToken), at most
    ``most`` live (clientSecretMaxEntries) and ``most_per_owner`` of one owner
    (clientSecretMaxEntriesPerIssuer); an expired one no longer counts. What ``a`` stores,
    ``b`` reads (two processes on a shared backend)."""
    assert await a.put_secret("n1", b"v\0\xff1", 60, "o", 3, 2)
    assert await b.get_secret("n1") == b"v\0\xff1"
    assert await b.get_secret("unknown") is None
    assert await b.put_secret("n2", b"v2", 30, "o", 3, 2)
    assert not await a.put_secret("n3", b"v3", 60, "o", 3, 2)  # the owner's cap
    assert await a.put_secret("n3", b"v3", 60, "", 3, 2)  # no owner: only the total counts
    assert not await b.put_secret("n4", b"v4", 60, "p", 3, 2)  # the total cap, any owner
    assert await a.get_secret("n3") == b"v3"
    clock.now += 30  # n2 expires: exactly at its expiry, as CPA's !expiresAt.After(now)
    assert await a.get_secret("n2") is None and await b.get_secret("n1") == b"v\0\xff1"
    assert await b.put_secret("n4", b"v4", 60, "o", 3, 2)  # n2 no longer counts, for o either
    clock.now += 30
    assert await a.get_secret("n1") is None and await b.get_secret("n4") == b"v4"
    assert await a.put_secret("n5", b"v5", 10, "o", 3, 2) and await a.put_secret("n6", b"", 10, "p", 3, 2)


async def test_secrets_expire_and_are_capped():
    clock = Clock()
    state = MemoryState(clock=clock)
    await secret_facts(state, state, clock)
    clock.now += 100  # everything expired: the next store forgets it all
    assert await state.put_secret("n7", b"v", 10, "o", 3, 2)
    assert list(state._secrets) == ["n7"] and state._secret_owners == {"o": 1}
