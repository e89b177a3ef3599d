"""The in-memory state backend: one process, plain dicts, no locks needed.

Every method is ``async`` to honour :class:`~cliproxy.state.base.StateBackend`, but
none ever suspends, so each call is atomic under asyncio (one event loop thread).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from .base import CooldownRecord, smooth_weighted_pick

__all__ = ["MAX_CURSOR_KEYS", "MemoryState"]

MAX_CURSOR_KEYS = 4096  # CPA resets its cursor map when a new key would exceed this
MAX_SCHEDULE = 4096  # weight vectors whose total is at most this replay a precomputed cycle
_CURSOR_WRAP = 2_147_483_640
_EMPTY: Mapping[str, CooldownRecord] = MappingProxyType({})


class _Weighted:
    __slots__ = ("current", "position", "schedule", "vector")

    def __init__(self, vector: tuple[tuple[str, int], ...], schedule: tuple[str, ...]) -> None:
        self.vector = vector
        self.schedule = schedule
        self.position = 0
        self.current: dict[str, int] = {}


class MemoryState:
    """Default :class:`~cliproxy.state.base.StateBackend` (the process's own memory)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = MAX_CURSOR_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._cooldowns: dict[str, dict[str, CooldownRecord]] = {}  # model -> cred id -> record
        self._cursors: dict[str, int] = {}
        self._weighted: dict[str, _Weighted] = {}
        self._schedules: dict[tuple[tuple[str, int], ...], tuple[str, ...]] = {}
        self._bindings: dict[str, tuple[str, float, tuple[str, ...]]] = {}  # key -> (id, expiry, group)
        self._in_flight: dict[str, int] = {}

    # cooldowns -----------------------------------------------------------------

    async def get_cooldowns(self, model: str) -> Mapping[str, CooldownRecord]:
        return self._cooldowns.get(model) or _EMPTY

    async def get_cooldown(self, credential_id: str, model: str) -> CooldownRecord | None:
        bucket = self._cooldowns.get(model)
        return bucket.get(credential_id) if bucket else None

    async def set_cooldown(self, record: CooldownRecord) -> None:
        self._cooldowns.setdefault(record.model, {})[record.credential_id] = record

    async def delete_cooldown(self, credential_id: str, model: str) -> bool:
        bucket = self._cooldowns.get(model)
        if not bucket or bucket.pop(credential_id, None) is None:
            return False
        if not bucket:
            del self._cooldowns[model]
        return True

    async def credential_cooldowns(self, credential_id: str) -> list[CooldownRecord]:
        found = (bucket.get(credential_id) for bucket in self._cooldowns.values())
        return [record for record in found if record is not None]

    async def clear_cooldowns(self, credential_id: str | None = None) -> list[str]:
        touched: set[str] = set()
        for model in list(self._cooldowns):
            bucket = self._cooldowns[model]
            if credential_id is None:
                touched.update(bucket)
                bucket.clear()
            elif bucket.pop(credential_id, None) is not None:
                touched.add(credential_id)
            if not bucket:
                del self._cooldowns[model]
        return sorted(touched)

    # rotation ------------------------------------------------------------------

    async def next_cursor(self, key: str) -> int:
        cursors = self._cursors
        index = cursors.get(key)
        if index is None:
            if len(cursors) >= self._max_keys:
                cursors.clear()
            index = 0
        elif index >= _CURSOR_WRAP:
            index = 0
        cursors[key] = index + 1
        return index

    async def weighted_pick(self, key: str, weights: Sequence[tuple[str, int]]) -> str:
        vector = weights if isinstance(weights, tuple) else tuple(weights)
        entry = self._weighted.get(key)
        if entry is None or (entry.vector is not vector and entry.vector != vector):
            # CPA starts the smooth sequence over whenever the weight vector changes.
            if entry is None and len(self._weighted) >= self._max_keys:
                self._weighted.clear()
            entry = self._weighted[key] = _Weighted(vector, self._schedule(vector))
        if entry.schedule:
            picked = entry.schedule[entry.position % len(entry.schedule)]
            entry.position += 1
            return picked
        found = smooth_weighted_pick(entry.current, vector)
        if found is None:
            raise ValueError("weighted_pick needs at least one positive weight")
        return found

    def _schedule(self, vector: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
        """The whole smooth cycle for a small vector (it repeats every total-weight picks)."""
        cached = self._schedules.get(vector)
        if cached is not None:
            return cached
        total = sum(w for _, w in vector if w > 0)
        if not total or total > MAX_SCHEDULE:
            return ()
        current: dict[str, int] = {}
        cycle = tuple(smooth_weighted_pick(current, vector) or "" for _ in range(total))
        if len(self._schedules) >= 256:
            self._schedules.clear()
        self._schedules[vector] = cycle
        return cycle

    # session affinity ----------------------------------------------------------

    async def get_binding(self, key: str, ttl: float, *, refresh: bool = True) -> str | None:
        entry = self._bindings.get(key)
        if entry is None:
            return None
        now = self._clock()
        if entry[1] <= now:
            self._drop_group(entry)
            return None
        if refresh:
            self._store_group(entry[0], now + ttl, entry[2])
        return entry[0]

    async def set_binding(self, keys: Sequence[str], credential_id: str, ttl: float) -> None:
        group = dict.fromkeys(k for k in keys if k)
        for key in list(group):
            previous = self._bindings.get(key)
            if previous is not None:
                self._drop_group(previous)
        if group:
            self._store_group(credential_id, self._clock() + ttl, tuple(group))

    async def delete_binding(self, key: str, credential_id: str) -> bool:
        entry = self._bindings.get(key)
        if entry is None or entry[0] != credential_id:
            return False
        del self._bindings[key]
        return True

    def _store_group(self, credential_id: str, expiry: float, group: tuple[str, ...]) -> None:
        entry = (credential_id, expiry, group)
        for key in group:
            self._bindings[key] = entry

    def _drop_group(self, entry: tuple[str, float, tuple[str, ...]]) -> None:
        for key in entry[2]:
            if self._bindings.get(key) is entry:
                del self._bindings[key]

    # in-flight -----------------------------------------------------------------

    async def add_in_flight(self, credential_id: str, delta: int) -> int:
        value = max(0, self._in_flight.get(credential_id, 0) + delta)
        if value:
            self._in_flight[credential_id] = value
        else:
            self._in_flight.pop(credential_id, None)
        return value

    async def in_flight(self, credential_id: str) -> int:
        return self._in_flight.get(credential_id, 0)
