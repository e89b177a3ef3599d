"""Per-credential concurrency slots (both state backends), the fair queue and the gate."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from cliproxy.calls import Reply, StreamReply
from cliproxy.config.model import Config
from cliproxy.config.sections import ConcurrencyQueueConfig, RoutingConfig
from cliproxy.credentials.concurrency import FairQueue, Gate, _Waiter
from cliproxy.credentials.explain import NOTES, Explain
from cliproxy.credentials.files import load_auth_file
from cliproxy.credentials.record import Credential
from cliproxy.credentials.sources import from_config
from cliproxy.errors import ConcurrencyLimitError
from cliproxy.state.memory import MemoryState
from cliproxy.state.redis import RedisState
from tests.credentials.conftest import Clock
from tests.state.redis_server import hold_busy


@pytest.fixture(params=["memory", "redis"])
async def backend(request) -> Any:
    """Both backends on one settable clock (``backend.clock``)."""
    clock = Clock()
    if request.param == "memory":
        state: Any = MemoryState(clock=clock)
        state.clock = clock
        yield state
        return
    state = RedisState(request.getfixturevalue("redis_server").url, "cc:", clock=clock)
    await state.start()
    state.clock = clock
    yield state
    await state.close()


def routing(kinds: dict[str, int] | None = None, *, length: int = 64, wait: str = "5s") -> RoutingConfig:
    return RoutingConfig(
        max_concurrency=kinds or {},
        concurrency_queue=ConcurrencyQueueConfig(max_length=length, max_wait=wait),
    )


def headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def nothing_else(busy: Any) -> Credential | None:
    return None


# ------------------------------------------------------------------ the state backends


async def test_slots_stop_at_the_limit_and_come_back_on_release(backend):
    assert await backend.try_acquire_slot("c", 2, "h1", 30)
    assert await backend.try_acquire_slot("c", 2, "h2", 30)
    assert not await backend.try_acquire_slot("c", 2, "h3", 30)
    assert await backend.try_acquire_slot("other", 2, "h3", 30)  # per credential
    assert await backend.slots_in_use("c") == 2
    await backend.release_slot("c", "h1")
    await backend.release_slot("c", "h1")  # twice: nothing more
    assert await backend.slots_in_use("c") == 1
    assert await backend.try_acquire_slot("c", 2, "h3", 30)
    assert not await backend.try_acquire_slot("c", 2, "h4", 30)


async def test_a_slot_nobody_renews_expires_and_a_renewed_one_does_not(backend):
    """A worker that died stops renewing: its slots come back after their TTL."""
    assert await backend.try_acquire_slot("c", 2, "dead", 10)
    assert await backend.try_acquire_slot("c", 2, "alive", 10)
    backend.clock.advance(8)
    await backend.renew_slots([("c", "alive")], 10)
    backend.clock.advance(3)  # "dead" is 11 s old, "alive" was renewed 3 s ago
    assert await backend.slots_in_use("c") == 1
    assert await backend.try_acquire_slot("c", 2, "new", 10)
    assert not await backend.try_acquire_slot("c", 2, "more", 10)
    await backend.renew_slots([("c", "dead")], 10)  # an expired slot is not revived
    assert await backend.slots_in_use("c") == 2


async def test_two_redis_processes_share_one_limit(redis_server):
    a, b = RedisState(redis_server.url, "cc2:"), RedisState(redis_server.url, "cc2:")
    await a.start()
    await b.start()
    try:
        taken = await asyncio.gather(
            *[s.try_acquire_slot("c", 3, f"h{i}", 30) for i, s in enumerate([a, b] * 4)]
        )
        assert sum(taken) == 3
        assert await a.slots_in_use("c") == await b.slots_in_use("c") == 3
    finally:
        await a.close()
        await b.close()


# ------------------------------------------------------------------ the fair queue


def _waiter(loop: asyncio.AbstractEventLoop, client: str) -> _Waiter:
    return _Waiter(client, loop.create_future())


async def test_fair_queue_alternates_clients_and_keeps_each_clients_order():
    loop = asyncio.get_running_loop()
    queue = FairQueue()
    waiters = [_waiter(loop, c) for c in ("a", "a", "a", "b", "b", "c")]
    names = {id(w): f"{w.client}{i}" for i, w in enumerate(waiters)}
    for w in waiters:
        queue.push(w)
    assert len(queue) == 6
    order = [names[id(queue.pop())] for _ in range(6)]
    assert order == ["a0", "b3", "c5", "a1", "b4", "a2"]
    assert len(queue) == 0 and queue.head() is None


async def test_fair_queue_drops_waiters_that_gave_up():
    loop = asyncio.get_running_loop()
    queue = FairQueue()
    first, second, third = _waiter(loop, "a"), _waiter(loop, "a"), _waiter(loop, "b")
    for w in (first, second, third):
        queue.push(w)
    first.future.cancel()
    assert queue.head() is second  # the one that gave up is skipped and dropped
    queue.remove(third)
    queue.remove(third)  # twice: nothing more
    assert len(queue) == 1
    assert queue.pop() is second and len(queue) == 0


async def test_a_client_that_joins_late_waits_for_its_turn_only():
    """A key arriving after others waits one turn, not behind everyone."""
    loop = asyncio.get_running_loop()
    queue = FairQueue()
    for _ in range(3):
        queue.push(_waiter(loop, "a"))
    assert queue.pop().client == "a"
    queue.push(_waiter(loop, "b"))
    assert [queue.pop().client for _ in range(3)] == ["a", "b", "a"]


# ------------------------------------------------------------------ the gate


async def test_a_credential_without_limit_takes_no_slot():
    gate = Gate(MemoryState())
    cred = Credential(id="c", provider="claude")
    got, slot = await gate.enter(cred, nothing_else, {}, {})
    assert got is cred and slot is None
    gate.configure(routing({"codex": 1}))
    assert gate.kinds == {"codex": 1}
    got, slot = await gate.enter(cred, nothing_else, {}, {})
    assert slot is None  # another kind's default


async def test_own_limit_wins_over_the_kind_default():
    assert Gate.limit(Credential(id="c", provider="claude", max_concurrency=3), {"claude": 1}) == 3
    assert Gate.limit(Credential(id="c", provider="claude"), {"claude": 1}) == 1
    compat = Credential(id="c", provider="openai-compatible-x", compat_name="x")
    assert Gate.limit(compat, {"openai-compatibility": 4}) == 4


async def test_a_busy_credential_is_passed_over_for_a_free_one_and_noted():
    gate = Gate(MemoryState())
    a = Credential(id="a", provider="claude", max_concurrency=1)
    b = Credential(id="b", provider="claude", max_concurrency=1)
    _, held = await gate.enter(a, nothing_else, {}, {})
    offered: list[list[str]] = []

    async def pick(busy: Any) -> Credential | None:
        offered.append(list(busy))
        return b

    notes = Explain()
    NOTES.set(notes)
    got, slot = await gate.enter(a, pick, {}, {})
    assert got is b and slot is not None
    assert offered == [["a"]]
    assert [(s.credential, s.reason) for s in notes.skips] == [("a", "over-concurrency")]
    NOTES.set(None)
    assert held is not None
    await held.release()
    await slot.release()


async def test_the_queue_hands_slots_over_in_turn_and_gives_up_on_time():
    state = MemoryState()
    gate = Gate(state)
    cred = Credential(id="c", provider="claude", max_concurrency=1)
    _, first = await gate.enter(cred, nothing_else, headers("k-a"), {})
    assert first is not None
    served: list[str] = []

    async def request(key: str, name: str) -> None:
        _, slot = await gate.enter(cred, nothing_else, headers(key), {})
        served.append(name)
        await asyncio.sleep(0)
        assert slot is not None
        await slot.release()

    tasks = []
    for key, name in (("k-a", "a1"), ("k-a", "a2"), ("k-b", "b1"), ("k-b", "b2")):
        tasks.append(asyncio.create_task(request(key, name)))
        await asyncio.sleep(0)
    assert gate.waiting() == 4
    await first.release()
    await asyncio.gather(*tasks)
    assert served == ["a1", "b1", "a2", "b2"]
    assert await state.slots_in_use("c") == 0 and gate.waiting() == 0


async def test_queue_full_and_max_wait_are_429_with_retry_after():
    gate = Gate(MemoryState())
    cred = Credential(id="c", provider="claude", max_concurrency=1)
    _, held = await gate.enter(cred, nothing_else, {}, {})
    gate.configure(routing(length=1, wait="5s"))
    waiting = asyncio.create_task(gate.enter(cred, nothing_else, {}, {}))
    await asyncio.sleep(0)
    with pytest.raises(ConcurrencyLimitError) as full:
        await gate.enter(cred, nothing_else, {}, {})
    assert full.value.status == 429 and full.value.response_headers == {"Retry-After": "1"}
    assert "max-length 1" in full.value.message
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    loop = asyncio.get_running_loop()
    started = loop.time()
    gate.configure(routing(wait="100ms"))
    with pytest.raises(ConcurrencyLimitError) as late:
        await gate.enter(cred, nothing_else, {}, {})
    assert 0.09 < loop.time() - started < 1.0
    assert "max-wait" in late.value.message and late.value.status == 429
    assert gate.waiting() == 0
    assert held is not None
    await held.release()


async def test_a_waiter_cancelled_as_it_is_handed_a_slot_gives_it_back():
    state = MemoryState()
    gate = Gate(state)
    cred = Credential(id="c", provider="claude", max_concurrency=1)
    _, held = await gate.enter(cred, nothing_else, {}, {})
    waiting = asyncio.create_task(gate.enter(cred, nothing_else, {}, {}))
    await asyncio.sleep(0)
    assert held is not None
    await held.release()  # the dispatcher runs in a task of its own...
    await asyncio.sleep(0)
    waiting.cancel()  # ...and the client goes away at the same moment
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await asyncio.sleep(0.01)
    assert await state.slots_in_use("c") == 0


async def test_a_stream_holds_its_slot_until_it_ends_or_is_closed():
    state = MemoryState()
    gate = Gate(state)
    cred = Credential(id="c", provider="claude", max_concurrency=2)

    async def chunks() -> Any:
        for part in (b"b", b"c"):
            yield part

    _, slot = await gate.enter(cred, nothing_else, {}, {})
    assert slot is not None
    reply = slot.keep(StreamReply({}, b"a", chunks()))
    await slot.done()  # the attempt is over, the stream is not
    assert await state.slots_in_use("c") == 1
    assert isinstance(reply, StreamReply)
    assert [c async for c in reply.rest] == [b"b", b"c"]
    assert await state.slots_in_use("c") == 0

    _, slot = await gate.enter(cred, nothing_else, {}, {})
    assert slot is not None
    reply = slot.keep(StreamReply({}, b"a", chunks()))
    await slot.done()
    assert isinstance(reply, StreamReply)
    await reply.rest.__anext__()
    await reply.rest.aclose()  # type: ignore[attr-defined]  # the client went away
    await reply.rest.aclose()  # type: ignore[attr-defined]  # and the server closes it too
    assert await state.slots_in_use("c") == 0

    _, slot = await gate.enter(cred, nothing_else, {}, {})
    assert slot is not None
    assert slot.keep(Reply(200, b"{}", {})) is not None
    await slot.done()  # a whole answer: given back at once
    assert await state.slots_in_use("c") == 0


async def test_a_crashed_workers_slot_expires_and_the_waiter_gets_it(redis_server):
    """Worker A holds the only slot and dies (stops renewing); B's waiter gets the slot
    once it expires, while a slot B keeps renewing outlives its TTL."""
    a_state, b_state = RedisState(redis_server.url, "crash:"), RedisState(redis_server.url, "crash:")
    await a_state.start()
    await b_state.start()
    try:
        a, b = (
            Gate(a_state, routing(wait="0s"), slot_ttl=0.3),
            Gate(b_state, routing(wait="3s"), slot_ttl=0.3),
        )
        cred = Credential(id="c", provider="claude", max_concurrency=1)
        _, dead = await a.enter(cred, nothing_else, {}, {})
        assert dead is not None
        assert a._renewer is not None
        a._renewer.cancel()  # the worker dies: nothing renews or releases its slot
        loop = asyncio.get_running_loop()
        started = loop.time()
        _, got = await b.enter(cred, nothing_else, {}, {})
        assert got is not None
        assert 0.2 < loop.time() - started < 2.0
        await asyncio.sleep(0.6)  # twice the TTL: B renews its slot, so it stays
        assert await a_state.slots_in_use("c") == 1
        with pytest.raises(ConcurrencyLimitError):
            await a.enter(cred, nothing_else, {}, {})
        await got.release()
        assert await a_state.slots_in_use("c") == 0
    finally:
        await a_state.close()
        await b_state.close()


def test_auth_files_and_config_entries_carry_max_concurrency(tmp_path):
    path = tmp_path / "claude-a.json"
    path.write_text('{"type": "claude", "access_token": "t", "max-concurrency": 2}')
    found = load_auth_file(path, tmp_path)
    assert found is not None and found.max_concurrency == 2
    path.write_text('{"type": "claude", "access_token": "t", "max_concurrency": "x"}')
    found = load_auth_file(path, tmp_path)
    assert found is not None and found.max_concurrency == 0


def test_config_key_entries_carry_max_concurrency():
    cfg = Config.model_validate(
        {
            "claude-api-key": [{"api-key": "a", "max-concurrency": 2}, {"api-key": "b"}],
            "gemini-api-key": [{"api-key": "g", "max-concurrency": 3}],
            "codex-api-key": [{"api-key": "c", "base-url": "http://x", "max-concurrency": 1}],
            "vertex-api-key": [{"api-key": "v", "base-url": "http://v", "max-concurrency": 5}],
            "openai-compatibility": [
                {
                    "name": "local",
                    "base-url": "http://l",
                    "api-key-entries": [{"api-key": "k1", "max-concurrency": 4}, {"api-key": "k2"}],
                }
            ],
        }
    )
    limits = {c.api_key: c.max_concurrency for c in from_config(cfg)}
    assert limits == {"a": 2, "b": 0, "g": 3, "c": 1, "v": 5, "k1": 4, "k2": 0}


async def test_a_request_cancelled_while_redis_takes_its_slot_leaves_nothing_held(redis_server):
    """The client goes away while the slot script is on its way (a busy Redis holds the reply
    back): the request ends cancelled, and the slot the script takes once Redis runs it is given
    back then, not held until its TTL (30 s; before, the cancel cut the call off and nobody
    knew of the slot)."""
    state = RedisState(redis_server.url, "cxl:")
    await state.start()
    try:
        gate = Gate(state)
        cred = Credential(id="c", provider="claude", max_concurrency=1)
        _, warm = await gate.enter(cred, nothing_else, {}, {})  # the script is loaded: EVALSHA runs it
        assert warm is not None
        await warm.release()
        busy = await hold_busy(redis_server.url, 0.4)
        entering = asyncio.create_task(gate.enter(cred, nothing_else, {}, {}))
        await asyncio.sleep(0.05)
        entering.cancel()
        with pytest.raises(asyncio.CancelledError):
            await entering
        await busy
        async with asyncio.timeout(2):
            while await state.slots_in_use("c"):
                await asyncio.sleep(0.01)
        assert state.available and not gate._held
    finally:
        await state.close()


async def test_a_release_cancelled_before_it_reaches_redis_still_gives_the_slot_back(redis_server):
    """A stream's end gives its slot back and is cancelled again meanwhile (its one pooled
    connection is busy, so the ``ZREM`` has not left yet): the slot is still given back, not
    held until its TTL."""
    state = RedisState(redis_server.url, "cxr:", max_connections=1)
    await state.start()
    try:
        gate = Gate(state)
        _, slot = await gate.enter(
            Credential(id="c", provider="claude", max_concurrency=1), nothing_else, {}, {}
        )
        assert slot is not None
        busy = await hold_busy(redis_server.url, 0.4)
        looking = asyncio.create_task(state.slots_in_use("c"))  # holds the one connection
        releasing = asyncio.create_task(slot.release())
        await asyncio.sleep(0.05)
        releasing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await releasing
        await busy
        assert await looking == 1
        async with asyncio.timeout(2):
            while await state.slots_in_use("c"):
                await asyncio.sleep(0.01)
    finally:
        await state.close()
