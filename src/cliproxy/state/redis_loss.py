"""Noticing that Redis lost its data, and having one process put back what the ledger holds.

A Redis restarted without persistence, a ``FLUSHALL`` or an eviction leaves the shared state
empty: budgets' spend, usage counters. The key :data:`~cliproxy.state.redis_keys.MARKER`
(``<prefix>alive``, no TTL) says the state is whole. It is checked (one ``EXISTS``) when the
service starts, when a connection to Redis opens again (the state backend's probe, the
pipelined link) and every :data:`CHECK_INTERVAL` seconds on a task of its own, off the
request path, since a ``FLUSHALL`` drops no connection. When it is absent, one process of
all those sharing the Redis takes the lease ``lease|restore`` (``SET NX PX``), looks once
more, waits (when it had seen the marker: a loss while serving) :data:`SETTLE` seconds for
the counts other processes still hold to reach Redis (after a restart each reconnects
within a probe's interval and flushes within a tenth of a second; read before, those counts
were restored from the ledger and then flushed again), runs the restorers the service
registered (:meth:`LossWatch.on_loss`), sets the marker and logs one WARNING; the others
go on serving meanwhile. What a restorer puts back is guarded against requests charged
since the loss (``since`` in :mod:`cliproxy.state.redis_keys` and
:mod:`cliproxy.usage.shared`), so a restore that runs late, or again after a process died
in the middle of one, adds nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from redis.exceptions import ResponseError

from .redis_keys import MARKER
from .resp import DOWN

if TYPE_CHECKING:
    from .redis import RedisState

__all__ = ["CHECK_INTERVAL", "LEASE", "LossWatch", "Restorer", "check_eviction"]

log = logging.getLogger(__name__)

CHECK_INTERVAL = 5.0  # seconds between two looks at the marker
LEASE = "restore"
LEASE_TTL = 120.0  # seconds: a restorer that died leaves the restore to another process after this
SETTLE = 1.0  # seconds the restorer waits for other processes' late flushes before it reads

# ``restorer(now)`` puts back what it can and says what (``""``: nothing)
Restorer = Callable[[float], Awaitable[str]]


class LossWatch:
    """The marker's watcher of one process (``RedisState.loss``)."""

    def __init__(self, state: RedisState, interval: float | None = None) -> None:
        self.state = state
        self.interval = CHECK_INTERVAL if interval is None else interval
        self.restores = 0  # restores this process ran (tests, logs)
        self._restorers: list[Restorer] = []
        self._seen = False  # this process found the marker once: an absence now is a loss
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def on_loss(self, restorer: Restorer) -> None:
        self._restorers.append(restorer)

    def start(self) -> None:
        """Look at the marker now, then every ``interval`` seconds and after a reconnect."""
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(self._run())

    def poke(self) -> None:
        """A connection to Redis opened again: look at the marker soon."""
        self._wake.set()

    async def close(self) -> None:
        self._closing = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)

    async def _run(self) -> None:
        while not self._closing:
            self._wake.clear()
            try:
                await self.check()
            except Exception:  # a restorer's bug must not end the watch
                log.exception("state: checking Redis for a loss of its data failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._wake.wait()

    async def check(self) -> bool:
        """True when this process found the marker gone and restored."""
        state = self.state
        if not state.available:
            return False
        redis, marker = state.client, state.prefix + MARKER
        try:
            if await redis.exists(marker):
                self._seen = True
                return False
            if not await state.acquire_lease(LEASE, state.node, LEASE_TTL) or not state.available:
                return False
        except DOWN:
            return False
        try:
            if await redis.exists(marker):  # another process restored before we took the lease
                self._seen = True
                return False
            if self._seen:  # a loss while serving (not a first start): others may hold counts
                await asyncio.sleep(SETTLE)  # (the lease is held: no one else restores meanwhile)
            done = await self._restore()
            await redis.set(marker, state.node)
        except DOWN:
            return False  # Redis went away in between: the marker stays absent, looked at again
        finally:
            with contextlib.suppress(*DOWN):
                await state.release_lease(LEASE, state.node)
        self.restores += 1
        self._report(done)
        self._seen = True
        return True

    async def _restore(self) -> list[str]:
        now = time.time()
        done: list[str] = []
        for restorer in self._restorers:
            try:
                said = await restorer(now)
            except DOWN:
                raise
            except Exception:
                log.exception("state: restoring after a loss of Redis's data failed")
                continue
            if said:
                done.append(said)
        return done

    def _report(self, done: list[str]) -> None:
        what = "restored " + "; ".join(done) if done else "the usage ledger had nothing to restore"
        if self._seen or done:
            log.warning(
                "state: Redis lost its data (key %s%s was gone: a restart without persistence, a flush "
                "or an eviction; cooldowns, cursors and session affinity start over); %s",
                self.state.prefix,
                MARKER,
                what,
            )
        else:
            log.info("state: Redis holds no state of this deployment yet; %s", what)


async def check_eviction(redis: Any) -> None:
    """Warn when Redis may evict keys: only the loss of the marker is noticed (and restored
    from the ledger), so a budget's spend or a counter evicted alone would start over
    unnoticed. ``INFO memory`` (allowed where ``CONFIG`` often is not); a Redis that refuses
    it is not judged. ``redis``: a redis-py client; a connection failure goes up."""
    try:
        info = await redis.info("memory")
    except ResponseError as exc:
        log.debug("state: Redis refused INFO memory (%s); its eviction policy is not checked", exc)
        return
    policy = str(info.get("maxmemory_policy") or "noeviction")
    if int(info.get("maxmemory") or 0) > 0 and policy != "noeviction":
        log.warning(
            "state: Redis may evict keys (maxmemory %s bytes, maxmemory-policy %s): a client key's "
            "budget spend or a usage counter evicted alone starts over unnoticed; set "
            "maxmemory-policy noeviction (or maxmemory 0) for cliproxy's database",
            info.get("maxmemory"),
            policy,
        )
