"""The in-memory state backend honours the StateBackend contract."""

from __future__ import annotations

from cliproxy.state.base import CooldownRecord, StateBackend, smooth_weighted_pick
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
