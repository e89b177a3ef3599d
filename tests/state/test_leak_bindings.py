"""Session-affinity bindings of sessions that never come back are forgotten.

A binding expires after its TTL, but one that is never read again (every client session
ends some time; a client may also send a new session id on each request) used to stay in
the in-memory backend for good: its size grew with every distinct session id the proxy
ever saw. CPA's SessionCache (sdk/cliproxy/auth/session_cache.go) sweeps expired entries
every half TTL; ours sweeps when the bindings reach a size (amortized, no timer task).
"""

from __future__ import annotations

from cliproxy.state.memory import MemoryState


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_expired_session_bindings_do_not_pile_up() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    sessions = 0
    for _ in range(20):  # 20 TTLs, each with its own sessions (one key and an alias each)
        for _ in range(500):
            await state.set_binding((f"s{sessions}", f"alias-{sessions}"), "cred-a", 60)
            sessions += 1
        clock.now += 61
    assert sessions * 2 == 20_000
    # the live ones (1,000 keys of the last TTL) and a sweep's slack, not all 20,000
    assert len(state._bindings) <= 2_048


async def test_a_sweep_keeps_live_bindings_and_their_groups() -> None:
    clock = Clock()
    state = MemoryState(clock=clock)
    await state.set_binding(("kept", "kept-alias"), "cred-a", 10_000)
    for n in range(4_000):
        await state.set_binding((f"gone-{n}",), "cred-b", 5)
        clock.now += 0.01
    clock.now += 10
    for n in range(4_000):  # new sessions: sweeps drop the expired ones
        await state.set_binding((f"new-{n}",), "cred-b", 5)
    assert await state.get_binding("kept-alias", 10_000, refresh=False) == "cred-a"
    assert await state.get_binding("new-0", 5, refresh=False) == "cred-b"
    assert not any(key.startswith("gone-") for key in state._bindings)
    await state.set_binding(("kept",), "cred-c", 10_000)  # the group moves together
    assert await state.get_binding("kept-alias", 10_000) == "cred-c"
