"""In-flight counts and leases on Redis: the ``*_in_flight`` and ``*_lease`` methods of the
state contract.

In-flight counts are one hash, ``<prefix>inflight`` (a field per credential, changed by a Lua
script that never lets it go below zero). A lease is one key, ``<prefix>lease|<name>``, set
with NX and a time to live, and given back by a script only while its owner still holds it
(a refresh of one credential, a probe, a pull: one process at a time across every process
sharing the Redis). While Redis is away the process's local :class:`MemoryState` answers,
as for the rest of the pool.
"""

from __future__ import annotations

from typing import Any

from .memory import MemoryState
from .resp import DOWN as _DOWN

__all__ = ["RedisLeases"]


class RedisLeases:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``,
    ``_local`` and the ``_in_flight`` and ``_release`` scripts (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _local: MemoryState
    _in_flight: Any
    _release: Any

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    # in-flight -----------------------------------------------------------------

    async def add_in_flight(self, credential_id: str, delta: int) -> int:
        if not self._down:
            try:
                return int(await self._in_flight(keys=[self._k("inflight")], args=[credential_id, delta]))
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.add_in_flight(credential_id, delta)

    async def in_flight(self, credential_id: str) -> int:
        if not self._down:
            try:
                value = await self._redis.hget(self._k("inflight"), credential_id)
                return int(value) if value else 0
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.in_flight(credential_id)

    # leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take lease ``name`` for ``ttl`` seconds unless another owner holds it."""
        if not self._down:
            try:
                return bool(
                    await self._redis.set(self._k("lease|" + name), owner, nx=True, px=int(ttl * 1000))
                )
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.acquire_lease(name, owner, ttl)

    async def release_lease(self, name: str, owner: str) -> None:
        """Give lease ``name`` back when ``owner`` still holds it."""
        if not self._down:
            try:
                await self._release(keys=[self._k("lease|" + name)], args=[owner])
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.release_lease(name, owner)

    async def lease_holder(self, name: str) -> str | None:
        """Who holds lease ``name`` now (None: nobody)."""
        if not self._down:
            try:
                value = await self._redis.get(self._k("lease|" + name))
                return value.decode() if value else None
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.lease_holder(name)
