"""The Claude-compatible replay shared between workers (translate/kimi_replay_record.py):
a whole entry told as the answer to a worker's question must not undo a step that reached
the channel before it.

Workers A, B, C and D share one loop. B missed A's first step, so C's step is a gap for B
and B asks C for the whole entry. C answers (its entry of two turns), but A's third step
reached the channel first: every worker heard the third turn, then C's answer. Before,
every worker holding the loop (A, which made the third step, and D) took the answer for a
newer entry and went back to two turns, and B restored those two of three; the next step
on top of the third was then a gap everywhere. Now an answer is taken only by a worker
whose last heard change of the entry is the answer's version and that holds none of it.

Messages are delivered by hand in the order Redis would have put them on its channel (the
bus here is a stand-in for ``state.redis.RedisState``'s notification methods)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cliproxy.translate.kimi_replay import CompatReplayCache
from cliproxy.translate.kimi_replay_record import SharedReplay, compat_entry

KIND = "replay-compat"


class Bus:
    """One process's side of the notification channel: what it publishes is queued on the
    channel; a message reaches a process only when the test delivers it."""

    def __init__(self, node: str, channel: list[dict[str, Any]]) -> None:
        self.node, self.available, self.channel = node, True, channel
        self.handlers: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}

    def on_event(self, kind: str, handler: Callable[[dict[str, Any]], Any]) -> None:
        self.handlers.setdefault(kind, []).append(handler)

    def on_resubscribe(self, handler: Callable[[], object]) -> None:
        pass

    async def publish(self, kind: str, **fields: Any) -> bool:
        self.channel.append({"k": kind, "n": self.node, **fields})
        return True

    def hear(self, message: dict[str, Any]) -> None:
        if message["n"] != self.node:
            for handler in self.handlers.get(message["k"], ()):
                handler(message)


def turn(i: int) -> list[Any]:
    return [
        {"type": "thinking", "thinking": f"step {i}", "signature": f"sig-{i}"},
        {"type": "tool_use", "id": f"toolu_{i:04d}", "name": "Bash", "input": {"command": "ls"}},
    ]


class Loop:
    def __init__(self, names: str) -> None:
        self.channel: list[dict[str, Any]] = []
        self.buses = {n: Bus(n, self.channel) for n in names}
        self.caches: dict[str, CompatReplayCache] = {}
        for name, bus in self.buses.items():
            self.caches[name] = CompatReplayCache()
            SharedReplay(bus, self.caches[name], KIND, compat_entry)

    async def sent(self) -> dict[str, Any]:
        """The next message published (the sender task runs first)."""
        for _ in range(20):
            if self.channel:
                return self.channel.pop(0)
            await asyncio.sleep(0)
        raise AssertionError("nothing was published")

    def deliver(self, message: dict[str, Any], to: str) -> None:
        for name in to:
            self.buses[name].hear(message)

    def step(self, name: str, i: int) -> None:
        cache = self.caches[name]
        assert cache.replace("m", "s", cache.snapshot("m", "s"), turn(i))

    def held(self, name: str) -> list[Any] | None:
        return self.caches[name].get("m", "s")


async def test_an_answer_told_after_a_newer_step_undoes_nothing() -> None:
    loop = Loop("abcd")
    loop.step("a", 1)
    first = await loop.sent()
    loop.deliver(first, "cd")  # B missed it
    loop.step("c", 2)
    second = await loop.sent()
    assert "turn" in second  # one turn on top of A's version
    loop.deliver(second, "adb")
    question = await loop.sent()  # B: a gap, it asks C
    assert question["k"] == KIND + "?" and question["n"] == "b"
    loop.deliver(question, "acd")
    answer = await loop.sent()  # C's whole entry: turns 1 and 2
    assert answer["n"] == "c" and answer["v"] == [turn(1), turn(2)]
    loop.step("a", 3)  # ...but A's third step reaches the channel before it
    third = await loop.sent()
    loop.deliver(third, "dbc")
    full = [turn(1), turn(2), turn(3)]
    assert loop.held("a") == loop.held("c") == loop.held("d") == full
    loop.deliver(answer, "abd")
    # before: A and D went back to turns 1 and 2, and B restored those two of three
    assert loop.held("a") == loop.held("c") == loop.held("d") == full
    assert loop.held("b") in (None, full)
    loop.step("a", 4)  # and the loop goes on everywhere it went on before
    fourth = await loop.sent()
    loop.deliver(fourth, "bcd")
    assert loop.held("c") == loop.held("d") == [*full, turn(4)]


async def test_an_answer_still_reaches_the_worker_that_asked() -> None:
    """The question's ordinary case: B asked, nothing came between, B holds C's entry."""
    loop = Loop("abc")
    loop.step("a", 1)
    loop.deliver(await loop.sent(), "c")  # B missed it
    loop.step("c", 2)
    loop.deliver(await loop.sent(), "ab")
    question = await loop.sent()
    loop.deliver(question, "ac")
    answer = await loop.sent()
    loop.deliver(answer, "ab")
    assert loop.held("a") == loop.held("b") == loop.held("c") == [turn(1), turn(2)]
    loop.step("b", 3)  # B's step on the entry it was told goes as one turn, applied by both
    third = await loop.sent()
    assert "turn" in third
    loop.deliver(third, "ac")
    assert loop.held("a") == loop.held("c") == [turn(1), turn(2), turn(3)]
