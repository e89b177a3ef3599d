"""What one process set on its own while it could not reach Redis (a partition: Redis kept
its data and served the other processes) is merged into Redis when it reconnects the way one
process would have ordered the same events, not dropped in favour of whatever Redis held.

The outage is a TCP relay between that process and a real ``redis-server``: cutting it drops
the process's connections and refuses new ones while the other processes talk to Redis
directly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from cliproxy.state.base import CooldownRecord, Headroom

redis_state = pytest.importorskip("cliproxy.state.redis")
RedisState = redis_state.RedisState


class Relay:
    """Forwards 127.0.0.1 connections to Redis; ``cut()`` drops them and refuses new ones,
    ``mend()`` lets them through again."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.open = True
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.open:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.target), 2
            )
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        try:
            await asyncio.gather(
                self._pump(reader, up_writer, self.upward), self._pump(up_reader, writer, self.downward)
            )
        finally:
            self._pairs.discard(pair)

    @staticmethod
    async def _pump(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        forward: Callable[[bytes, asyncio.StreamWriter], Awaitable[bool]],
    ) -> None:
        try:
            while data := await reader.read(65536):
                if not await forward(data, writer):
                    return
        except OSError:
            pass
        finally:
            writer.transport.abort()

    async def upward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        """Pass ``data`` on toward Redis (False: end this connection); subclasses hook here."""
        writer.write(data)
        await writer.drain()
        return True

    async def downward(self, data: bytes, writer: asyncio.StreamWriter) -> bool:
        """Pass Redis's ``data`` on to the worker (False: end this connection)."""
        writer.write(data)
        await writer.drain()
        return True

    def cut(self) -> None:
        self.open = False
        for a, b in list(self._pairs):
            a.transport.abort()
            b.transport.abort()

    def mend(self) -> None:
        self.open = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def relay(redis_server: Any) -> AsyncIterator[Relay]:
    relay = Relay(redis_server.port)
    await relay.start()
    yield relay
    await relay.close()


@pytest.fixture
async def workers(redis_server: Any, relay: Relay) -> AsyncIterator[Callable[..., Any]]:
    """``await workers(cut_off=True)``: a started ``RedisState`` of the shared prefix, through
    the relay (``cut_off``) or straight to Redis; cache off, so reads see Redis as it is."""
    opened: list[Any] = []

    async def open_one(*, cut_off: bool = False) -> Any:
        url = f"redis://127.0.0.1:{relay.port}/0" if cut_off else redis_server.url
        state = RedisState(url, "ro:", cache_ttl=0.0, timeout=0.5)
        await state.start()
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        await asyncio.wait_for(state.close(), 5)


async def _cut(relay: Relay, *states: Any) -> None:
    relay.cut()
    for state in states:
        await state.next_cursor("k")  # notices the outage
        assert not state.available


async def _mend(relay: Relay, *states: Any) -> None:
    relay.mend()
    async with asyncio.timeout(10):
        while not all(s.available for s in states):
            await asyncio.sleep(0.02)


def _quota(cid: str, now: float, *, at: float, seconds: float) -> CooldownRecord:
    """A 429 whose quota returns in ``seconds`` (as next_record writes one)."""
    until = at + seconds
    return CooldownRecord(
        cid, "m", "claude", next_retry_after=until, reason="quota", quota_exceeded=True,
        quota_reason="quota", next_recover_at=until, backoff_level=1, updated_at=at,
    )  # fmt: skip


def _failed(
    cid: str, *, at: float, seconds: float, reason: str = "transient upstream error"
) -> CooldownRecord:
    return CooldownRecord(cid, "m", "claude", next_retry_after=at + seconds, reason=reason, updated_at=at)


async def test_a_quota_set_during_the_outage_beats_an_expired_record_in_redis(workers, relay):
    """The bug: Redis kept the account's old, expired cooldown; the hour-long quota the cut-off
    worker recorded was dropped on reconnect (HSETNX), so the others offered the account again."""
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await b.set_cooldown(_failed("acct", at=now - 300, seconds=60))  # ended four minutes ago
    await _cut(relay, a)
    await a.set_cooldown(_quota("acct", now, at=now, seconds=3600))
    await _mend(relay, a)
    got = (await b.get_cooldowns("m"))["acct"]
    assert got.quota_exceeded and got.blocks(now + 3500)
    assert got == _quota("acct", now, at=now, seconds=3600)


async def test_a_running_quota_outlives_a_later_failure_another_worker_wrote(workers, relay):
    """Worker B's later 500 (a minute) and worker A's earlier 429 (an hour): as one worker's
    next_record would, the later failure is the record and the quota it did not end stays."""
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    await a.set_cooldown(_quota("acct", now, at=now - 5, seconds=3600))
    await b.set_cooldown(_failed("acct", at=now, seconds=60))
    await _mend(relay, a)
    got = (await b.get_cooldowns("m"))["acct"]
    assert got.reason == "transient upstream error" and got.updated_at == now
    assert got.quota_exceeded and got.next_recover_at == now - 5 + 3600
    assert got.until() == now - 5 + 3600 and got.backoff_level == 1


async def test_a_newer_record_in_redis_is_not_replaced_by_an_older_local_one(workers, relay):
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    await a.set_cooldown(_failed("acct", at=now - 30, seconds=60))
    newer = _failed("acct", at=now, seconds=1800, reason="unauthorized")
    await b.set_cooldown(newer)
    await _mend(relay, a)
    assert (await b.get_cooldowns("m"))["acct"] == newer


async def test_the_later_of_two_quota_resets_wins_either_way(workers, relay):
    """Two 429s: a newer one with a shorter stated reset keeps the older one's later reset; an
    older local one with the shorter reset does not cut Redis's short."""
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a)
    await a.set_cooldown(_quota("x", now, at=now - 10, seconds=7200))
    await b.set_cooldown(_quota("x", now, at=now, seconds=600))
    await a.set_cooldown(_quota("y", now, at=now - 10, seconds=600))
    await b.set_cooldown(_quota("y", now, at=now, seconds=7200))
    await _mend(relay, a)
    got = await b.get_cooldowns("m")
    assert got["x"].updated_at == now and got["x"].until() == now - 10 + 7200
    assert got["y"] == _quota("y", now, at=now, seconds=7200)


async def test_what_the_worker_only_knew_from_redis_is_not_written_back(workers, relay):
    """The worker keeps honouring the records it had cached when Redis went away, but they are
    Redis's, not its own: one another worker cleared meanwhile (a success) stays cleared. One the
    cut-off worker cleared itself is cleared in Redis too, unless another worker wrote it anew."""
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    for cid in ("gone", "cleared", "rewritten"):
        await b.set_cooldown(_failed(cid, at=now - 5, seconds=600))
    assert set(await a.get_cooldowns("m")) == {"gone", "cleared", "rewritten"}
    await _cut(relay, a)
    assert set(await a.get_cooldowns("m")) == {"gone", "cleared", "rewritten"}  # still honoured
    assert await b.delete_cooldown("gone", "m")
    assert await a.delete_cooldown("cleared", "m") and await a.delete_cooldown("rewritten", "m")
    anew = _failed("rewritten", at=now, seconds=900)
    await b.set_cooldown(anew)
    await _mend(relay, a)
    assert dict(await b.get_cooldowns("m")) == {"rewritten": anew}


async def test_workers_reconnecting_at_once_merge_rather_than_race(workers, relay):
    """Two cut-off workers come back together: neither record is lost to the other's write."""
    a1, a2, b = await workers(cut_off=True), await workers(cut_off=True), await workers()
    now = time.time()
    await _cut(relay, a1, a2)
    for i in range(20):
        await a1.set_cooldown(_quota(f"c{i}", now, at=now - 5, seconds=3600))
        await a2.set_cooldown(_failed(f"c{i}", at=now, seconds=60))
    await _mend(relay, a1, a2)
    got = await b.get_cooldowns("m")
    assert len(got) == 20
    for i in range(20):
        record = got[f"c{i}"]
        assert record.updated_at == now and record.until() == now - 5 + 3600, i


async def test_a_lease_taken_during_the_outage_is_held_in_redis_after_it(workers, relay):
    """A token refresh's lease the cut-off worker took stays its own once Redis is back: no
    other worker starts the same refresh while it runs."""
    a, b = await workers(cut_off=True), await workers()
    await _cut(relay, a)
    assert await a.acquire_lease("refresh:acct", "A", 30)
    await _mend(relay, a)
    assert await b.lease_holder("refresh:acct") == "A"
    assert not await b.acquire_lease("refresh:acct", "B", 30)
    await a.release_lease("refresh:acct", "A")
    assert await b.acquire_lease("refresh:acct", "B", 30)


async def test_a_lease_another_worker_holds_is_left_to_it(workers, relay):
    a, b = await workers(cut_off=True), await workers()
    await _cut(relay, a)
    assert await a.acquire_lease("probe|acct", "A", 30)
    assert await b.acquire_lease("probe|acct", "B", 30)
    await _mend(relay, a)
    assert await b.lease_holder("probe|acct") == "B"


async def test_headroom_estimates_from_the_outage_reach_the_others(workers, relay):
    """Quota steering's estimates the cut-off worker read from its answers are not forgotten;
    one for a window Redis already knows a later one of (or a fuller one) does not replace it."""
    a, b = await workers(cut_off=True), await workers()
    now = time.time()
    await b.set_headroom("later", Headroom(10.0, now + 7200, "primary", "codex"))
    await b.set_headroom("fuller", Headroom(90.0, now + 600, "primary", "codex"))
    await _cut(relay, a)
    await a.set_headroom("new", Headroom(80.0, now + 600, "primary", "codex"))
    await a.set_headroom("later", Headroom(95.0, now + 600, "primary", "codex"))
    await a.set_headroom("fuller", Headroom(40.0, now + 600, "primary", "codex"))
    await _mend(relay, a)
    got = await b.get_headroom()
    assert got["new"] == Headroom(80.0, now + 600, "primary", "codex")
    assert got["later"] == Headroom(10.0, now + 7200, "primary", "codex")
    assert got["fuller"] == Headroom(90.0, now + 600, "primary", "codex")
