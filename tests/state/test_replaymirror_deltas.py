"""What the Claude-compatible thinking replay (translate/kimi_replay_record.py) publishes for
a tool loop shared by two workers on a real Redis, and what a worker holds when it missed a
message.

Before, every step told the whole entry (every signed turn of the loop so far, up to
MAX_TURNS = 64 and MAX_BYTES = 8 MiB): a 100-step loop of 3.2 KB turns published 14 MB,
its messages reaching 208 KB (2.3 MB with 36 KB turns, 8 MiB at the bound) to every worker,
each decoding it on its event loop; Redis disconnects a subscriber whose output buffer
passes 32 MB, and every worker then drops all its entries. Now a step tells its turn
alone, on top of the version of the entry it extends; a worker that does not hold that
version (it missed a change) drops its entry instead of guessing, and asks for the whole
entry once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson

from cliproxy.translate.kimi_replay import MAX_BYTES, MAX_TURNS, CompatReplayCache
from cliproxy.translate.kimi_replay_record import SharedReplay, compat_entry
from tests.state.test_harden_resubscribe import _listening
from tests.state.test_replaymirror_compat import settled

KIND = "replay-compat"


def step(i: int, thinking: int = 2000, signature: int = 800, command: int = 300) -> list[Any]:
    """One signed tool-loop turn as Claude Code's (thinking, a signature, a tool call)."""
    return [
        {
            "type": "thinking",
            "thinking": f"step {i} " + "t" * thinking,
            "signature": f"{i}-" + "S" * signature,
        },
        {"type": "tool_use", "id": f"toolu_{i:020d}", "name": "Bash", "input": {"command": "x" * command}},
    ]


def worker(state: Any) -> CompatReplayCache:
    cache = CompatReplayCache()
    SharedReplay(state, cache, KIND, compat_entry)
    return cache


async def workers(redis_states: Any, prefix: str) -> tuple[Any, Any, CompatReplayCache, CompatReplayCache]:
    """Two workers' states and caches on one channel, both listening."""
    a_state, b_state = await redis_states(prefix), await redis_states(prefix)
    assert await _listening(a_state.client, prefix + "events", 2)
    return a_state, b_state, worker(a_state), worker(b_state)


async def agree(here: CompatReplayCache, there: CompatReplayCache) -> bool:
    """Whether ``there`` comes to hold what ``here`` holds."""
    return await settled(lambda: there.snapshot("m", "s") == here.snapshot("m", "s"))


def extend(cache: CompatReplayCache, content: Any) -> None:
    """A finished step of the loop in ``cache``'s worker (as ``Scope.keep``)."""
    cache.replace("m", "s", cache.snapshot("m", "s"), content)


@contextlib.asynccontextmanager
async def channel(state: Any, prefix: str) -> AsyncIterator[list[bytes]]:
    """Every message published on the notification channel of ``prefix``, as sent."""
    pubsub = state.client.pubsub()
    await pubsub.subscribe(prefix + "events")
    heard: list[bytes] = []

    async def follow() -> None:
        async for message in pubsub.listen():
            if message["type"] == "message":
                heard.append(message["data"])

    task = asyncio.create_task(follow())
    try:
        yield heard
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await pubsub.aclose()


async def test_a_100_step_loop_publishes_each_turn_once_and_both_workers_hold_the_same(
    redis_states: Any,
) -> None:
    a_state, _, a, b = await workers(redis_states, "rd:")
    async with channel(a_state, "rd:") as heard:
        assert await _listening(a_state.client, "rd:events", 3)
        turns = [step(i) for i in range(100)]
        for i, turn in enumerate(turns):  # a loop going A, B, A, B...
            here, there = (a, b) if i % 2 == 0 else (b, a)
            extend(here, turn)
            assert await agree(here, there), i
        assert await settled(lambda: len(heard) == 100)
    assert a.snapshot("m", "s") == b.snapshot("m", "s")
    assert a.get("m", "s") == turns[-MAX_TURNS:]
    turn_bytes = [len(orjson.dumps(turn)) for turn in turns]
    sizes = [len(message) for message in heard]
    # each message is one turn and its envelope; before, message i held min(i + 1, 64)
    # turns: 14.2 MB in all (44x the turns), the last ones 208 KB
    assert max(size - turn for size, turn in zip(sizes, turn_bytes, strict=True)) < 400, sizes
    assert sum(sizes) < sum(turn_bytes) + 100 * 400, (sum(sizes), sum(turn_bytes))


async def test_the_entry_trimmed_to_its_byte_bound_is_the_same_on_the_other_worker(redis_states: Any) -> None:
    """Turns of 200 KB: the entry keeps the last ~41 of them (MAX_BYTES); the worker told
    a turn keeps as many as the worker that recorded it, and counts the same size."""
    _, _, a, b = await workers(redis_states, "rt:")
    turns = [step(i, thinking=150_000, signature=50_000) for i in range(50)]
    for i, turn in enumerate(turns):
        here, there = (a, b) if i % 2 == 0 else (b, a)
        extend(here, turn)
        assert await agree(here, there), i
    kept = a.get("m", "s")
    assert kept is not None and len(kept) < 45 and kept == turns[-len(kept) :]
    held = b.snapshot("m", "s")
    assert held is not None and held[1] == sum(len(orjson.dumps(t)) for t in kept) <= MAX_BYTES
    assert b.size == a.size


async def test_a_worker_that_missed_a_step_holds_nothing_until_a_whole_entry_is_told(
    redis_states: Any,
) -> None:
    """A's messages are relayed to B one by one, leaving one step out: B never holds a loop
    with a turn missing (nor the one left out). Its question for the whole entry goes to its
    own channel, where A does not listen: without an answer it holds the loop again from
    the loop's next start."""
    a_state, b_state = await redis_states("ra:"), await redis_states("rb:")
    a, b = worker(a_state), worker(b_state)
    relayed = 0

    async def relay(heard: list[bytes], *, skip: bool = False) -> None:
        nonlocal relayed
        assert await settled(lambda: len(heard) > relayed)
        if not skip:
            await a_state.client.publish("rb:events", heard[relayed])
        relayed += 1

    async with channel(a_state, "ra:") as heard:
        assert await _listening(a_state.client, "ra:events", 2)
        assert await _listening(a_state.client, "rb:events", 1)
        turns = [step(i) for i in range(8)]
        for turn in turns[:2]:
            extend(a, turn)
            await relay(heard)
        assert await settled(lambda: b.get("m", "s") == turns[:2])
        extend(a, turns[2])
        await relay(heard, skip=True)  # lost on its way to B
        extend(a, turns[3])
        await relay(heard)
        assert await settled(lambda: b.snapshot("m", "s") is None), b.get("m", "s")
        extend(a, turns[4])
        await relay(heard)
        other = b._key("m", "other")  # a notice after it: once B holds this, it read the step
        notice = {"k": KIND, "n": "relay", "key": other, "v": [turns[0]], "ver": "relay.1"}
        await a_state.client.publish("rb:events", orjson.dumps(notice))
        assert await settled(lambda: b.get("m", "other") == [turns[0]])
        assert b.snapshot("m", "s") is None, b.get("m", "s")
        extend(a, [{"type": "text", "text": "done"}])  # the loop's end clears the entry
        await relay(heard)
        assert await settled(lambda: b.snapshot("m", "s") == ([], 0))
        for turn in turns[5:]:  # the next loop is shared again from its first step
            extend(a, turn)
            await relay(heard)
        assert await settled(lambda: b.get("m", "s") == turns[5:])
    assert b.snapshot("m", "s") == a.snapshot("m", "s")


async def test_two_workers_extending_one_entry_at_once_agree_on_nothing(redis_states: Any) -> None:
    """Two requests of one session finishing at once on A and B, each on the entry both
    held: neither keeps a loop made of its own steps and the other's (before, A held B's
    step and B held A's, each restoring the other's turn)."""
    _, _, a, b = await workers(redis_states, "rc:")
    first = step(0)
    extend(a, first)
    assert await settled(lambda: b.get("m", "s") == [first])
    extend(a, step(1))
    extend(b, step(2))
    assert await settled(lambda: a.snapshot("m", "s") is None and b.snapshot("m", "s") is None), (
        a.get("m", "s"),
        b.get("m", "s"),
    )


async def test_workers_started_mid_loop_ask_for_the_whole_entry_once(redis_states: Any) -> None:
    """C and D start after five steps: the next step's turn is no use to them, so they ask
    the worker that made it for the whole entry (one answer serves both), and hold the loop
    from then on (with whole entries each step they did at once; with turns alone they
    would hold nothing until the loop ended). B, which held the entry already, keeps its
    own object: a request B serves meanwhile still records its step (the ``snapshot``
    rule)."""
    a_state, _, a, b = await workers(redis_states, "rj:")
    turns = [step(i) for i in range(8)]
    for i, turn in enumerate(turns[:5]):
        here, there = (a, b) if i % 2 == 0 else (b, a)
        extend(here, turn)
        assert await agree(here, there), i
    async with channel(a_state, "rj:") as heard:
        c, d = worker(await redis_states("rj:")), worker(await redis_states("rj:"))
        assert await _listening(a_state.client, "rj:events", 5)
        extend(a, turns[5])
        assert await agree(a, b)
        held_by_b = b.snapshot("m", "s")
        assert await agree(a, c) and await agree(a, d), (c.get("m", "s"), d.get("m", "s"))
        assert b.snapshot("m", "s") is held_by_b
        assert await settled(lambda: len(heard) == 4)  # the turn, two questions, the whole entry
        whole = len(orjson.dumps(turns[:6])) + len(orjson.dumps(turns[5]))  # (the answer, the turn)
        assert sum(len(message) for message in heard) < whole + 4 * 400
        extend(c, turns[6])  # and C's own step is a turn again
        assert await agree(c, a) and await agree(c, b) and await agree(c, d)
        assert len(heard) == 5 and len(heard[-1]) < len(orjson.dumps(turns[6])) + 400
    assert a.get("m", "s") == turns[:7]
