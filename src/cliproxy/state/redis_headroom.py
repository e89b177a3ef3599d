"""Rate-limit headroom on Redis: the ``*_headroom`` methods of the state contract.

One hash, ``<prefix>hr``: credential id -> ``[used_percent, resets_at, window, source]``
(JSON). A write is one script (``HSET``, then the hash's expiry pushed out to the latest
reset), so the hash goes away by itself once every window in it has started over;
expired fields are skipped on read. Quota steering reads headroom on every pick, so a
process reads the whole hash (one round trip) at most once per ``cache_ttl`` and serves
picks from that copy; its own writes go into the copy at once. Another process's
estimate is seen within ``cache_ttl`` (one second by default). While Redis is away the
process's local :class:`MemoryState` holds them instead (as for the rest of the pool).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import orjson

from .base import Headroom
from .memory import MemoryState
from .resp import DOWN as _DOWN

__all__ = ["RedisHeadroom"]

_NONE: Mapping[str, Headroom] = MappingProxyType({})
_MAX_KEEP_MS = 8 * 86400 * 1000  # no window is longer than a week (plus a day)

# KEYS: the hash; ARGV: credential id, value, lifetime ms
_SET = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


def _decode(raw: bytes) -> Headroom | None:
    try:
        used, resets_at, window, source = orjson.loads(raw)
        return Headroom(float(used), float(resets_at), str(window), str(source))
    except (orjson.JSONDecodeError, TypeError, ValueError):
        return None


class RedisHeadroom:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down``, ``_went_down``,
    ``_clock``, ``_cache_ttl`` and ``_local`` (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool
    _clock: Callable[[], float]
    _cache_ttl: float
    _local: MemoryState
    _hr_script: Any = None
    _hr_cache: dict[str, Headroom] | None = None
    _hr_read_at: float = 0.0  # monotonic time of the last read of the hash

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    async def set_headroom(self, credential_id: str, headroom: Headroom) -> None:
        if not self._down:
            if self._hr_script is None:
                self._hr_script = self._redis.register_script(_SET)
            keep = int((headroom.resets_at - self._clock()) * 1000) + 60_000
            value = orjson.dumps(
                [headroom.used_percent, headroom.resets_at, headroom.window, headroom.source]
            )
            try:
                await self._hr_script(
                    keys=[self._k("hr")], args=[credential_id, value, max(1000, min(keep, _MAX_KEEP_MS))]
                )
                if self._hr_cache is not None:
                    self._hr_cache[credential_id] = headroom
                return
            except _DOWN as exc:
                self._went_down(exc)
        await self._local.set_headroom(credential_id, headroom)

    async def get_headroom(self, credential_ids: Sequence[str] | None = None) -> Mapping[str, Headroom]:
        if self._down:
            return await self._local.get_headroom(credential_ids)
        marks = self._hr_cache
        if marks is None or time.monotonic() - self._hr_read_at >= self._cache_ttl:
            try:
                raw = await self._redis.hgetall(self._k("hr"))
            except _DOWN as exc:
                self._went_down(exc)
                return await self._local.get_headroom(credential_ids)
            marks = {}
            for cid, value in raw.items():
                if (mark := _decode(value)) is not None:
                    marks[cid.decode() if isinstance(cid, bytes) else str(cid)] = mark
            self._hr_cache, self._hr_read_at = marks, time.monotonic()
        if not marks:
            return _NONE
        now = self._clock()
        ids = marks if credential_ids is None else credential_ids
        found: dict[str, Headroom] = {}
        for cid in ids:
            mark = marks.get(cid)
            if mark is not None and mark.resets_at > now:
                found[cid] = mark
        return found
