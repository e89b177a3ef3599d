"""Per-credential concurrency slots on Redis: the ``*_slot*`` methods of the state contract.

One sorted set per credential, ``<prefix>slot|<credential id>``: a member per holder (one
request's slot), scored by the wall-clock millisecond at which it expires. Taking a slot is
one Lua script (drop expired members, count, add when below the limit), so the limit holds
across every process sharing the Redis. A holder's process renews its slots while they are
held (:class:`cliproxy.credentials.concurrency.Gate`); the slots of a process that died stop
being renewed and expire after the slot TTL, so they are never lost for good. While Redis
is away the process's local :class:`MemoryState` counts instead (as for the rest of the pool).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .memory import MemoryState
from .resp import DOWN as _DOWN

__all__ = ["RedisSlots"]


# KEYS: the slot set; ARGV: now ms, limit, holder, expiry ms, key lifetime ms
_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


class RedisSlots:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``,
    ``_clock`` and ``_local`` (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _clock: Callable[[], float]
    _local: MemoryState
    _slot_script: Any = None

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def try_acquire_slot(self, credential_id: str, limit: int, holder: str, ttl: float) -> bool:
        if not self._down:
            if self._slot_script is None:
                self._slot_script = self._redis.register_script(_ACQUIRE)
            now = self._now_ms()
            expiry = now + int(ttl * 1000)
            try:
                taken = await self._slot_script(
                    keys=[self._k("slot|" + credential_id)],
                    args=[now, limit, holder, expiry, int(ttl * 1000) + 60_000],
                )
                return bool(taken)
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.try_acquire_slot(credential_id, limit, holder, ttl)

    async def release_slot(self, credential_id: str, holder: str) -> None:
        if not self._down:
            try:
                await self._redis.zrem(self._k("slot|" + credential_id), holder)
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.release_slot(credential_id, holder)  # one taken while Redis was away

    async def renew_slots(self, held: Sequence[tuple[str, str]], ttl: float) -> None:
        if not held:
            return
        if not self._down:
            expiry = self._now_ms() + int(ttl * 1000)
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for credential_id, holder in held:
                        key = self._k("slot|" + credential_id)
                        pipe.zadd(key, {holder: expiry}, xx=True)  # an expired slot is not revived
                        pipe.pexpire(key, int(ttl * 1000) + 60_000)
                    await pipe.execute()
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.renew_slots(held, ttl)

    async def slots_in_use(self, credential_id: str) -> int:
        if not self._down:
            try:
                return int(
                    await self._redis.zcount(self._k("slot|" + credential_id), self._now_ms() + 1, "+inf")
                )
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.slots_in_use(credential_id)
