"""Short-lived secrets on Redis: the ``*_secret`` methods of the state contract, so a
Realtime client secret minted by one process opens a socket on any other.

- ``<prefix>secret|<name>``: the value, as ``<expiry>\\0<value>``, with a ``PX`` TTL of the
  secret's lifetime (a reader also checks the expiry against its own clock, as the memory
  backend does);
- ``<prefix>secrets``: a sorted set of every kept name, scored by its expiry (the cap on all
  secrets), and ``<prefix>secrets|<owner>``: the same for one owner (the per-owner cap).

Storing is one Lua script (drop the expired members, count, add), so the caps hold across
every process sharing the Redis. The sets expire with their longest-lived member. While
Redis is away the process's local :class:`MemoryState` keeps them (a secret stored in Redis
before is unknown there until Redis returns).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from .memory import MemoryState
from .resp import DOWN as _DOWN

__all__ = ["RedisSecrets"]


# KEYS: every secret (set), the owner's (set), the secret;
# ARGV: now, expiry, most, most per owner (0: no owner), ttl ms, value, name
_PUT = """
local now, ttl, per = ARGV[1], tonumber(ARGV[5]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
if per > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  if redis.call('ZCARD', KEYS[2]) >= per then return 0 end
end
local function keep(key)
  redis.call('ZADD', key, ARGV[2], ARGV[7])
  if redis.call('PTTL', key) < ttl then redis.call('PEXPIRE', key, ttl) end
end
keep(KEYS[1])
if per > 0 then keep(KEYS[2]) end
redis.call('SET', KEYS[3], ARGV[2] .. '\\0' .. ARGV[6], 'PX', ttl)
return 1
"""


class RedisSecrets:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``,
    ``_clock`` and ``_local`` (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _clock: Callable[[], float]
    _local: MemoryState
    _put_script: Any = None

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    async def put_secret(
        self, name: str, value: bytes, ttl: float, owner: str, most: int, most_per_owner: int
    ) -> bool:
        if not self._down:
            if self._put_script is None:
                self._put_script = self._redis.register_script(_PUT)
            now = self._clock()
            keys = [self._k("secrets"), self._k("secrets|" + owner), self._k("secret|" + name)]
            per = most_per_owner if owner else 0
            args = [repr(now), repr(now + ttl), most, per, max(1, math.ceil(ttl * 1000)), value, name]
            try:
                return bool(await self._put_script(keys=keys, args=args))
            except _DOWN as exc:
                self._went_down(exc)
        return await self._local.put_secret(name, value, ttl, owner, most, most_per_owner)

    async def get_secret(self, name: str) -> bytes | None:
        if not self._down:
            try:
                raw = await self._redis.get(self._k("secret|" + name))
            except _DOWN as exc:
                self._went_down(exc)
            else:
                if raw is None:
                    return None
                expiry, _, value = raw.partition(b"\0")
                return value if float(expiry) > self._clock() else None
        return await self._local.get_secret(name)
