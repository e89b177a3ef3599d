"""The in-memory state backend: one process, plain dicts, no locks needed.

Every method is ``async`` to honour :class:`~cliproxy.state.base.StateBackend`, but
none ever suspends, so each call is atomic under asyncio (one event loop thread).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType

from .base import (
    RATE_WINDOW,
    CooldownRecord,
    Headroom,
    KeyAdmission,
    KeyLimits,
    binding_group,
    gcra,
    smooth_weighted_pick,
)

__all__ = ["MAX_CURSOR_KEYS", "MemoryState"]

MAX_CURSOR_KEYS = 4096  # CPA resets its cursor map when a new key would exceed this
# session bindings are swept of expired ones when they reach this many, then at twice as
# many as the sweep left (CPA's session cache sweeps on a timer, every half TTL)
BINDINGS_SWEEP_AT = 1024
MAX_SCHEDULE = 4096  # weight vectors whose total is at most this replay a precomputed cycle
_CURSOR_WRAP = CURSOR_WRAP = 2_147_483_640  # a cursor at this value starts over at 0
_EMPTY: Mapping[str, CooldownRecord] = MappingProxyType({})
_NO_HEADROOM: Mapping[str, Headroom] = MappingProxyType({})


class _Weighted:
    __slots__ = ("current", "position", "schedule", "vector")

    def __init__(self, vector: tuple[tuple[str, int], ...], schedule: tuple[str, ...]) -> None:
        self.vector = vector
        self.schedule = schedule
        self.position = 0
        self.current: dict[str, int] = {}


class _KeyCounters:
    """One client key's counters (``cliproxy.policies``)."""

    __slots__ = ("cost", "in_flight", "period", "requests", "rpm_tat", "tokens", "tpm_tat")

    def __init__(self) -> None:
        self.rpm_tat = self.tpm_tat = self.cost = 0.0
        self.in_flight = self.tokens = self.requests = 0
        self.period = ""

    def roll(self, period: str) -> None:
        if self.period != period:  # a new budget period: spend starts over
            self.period, self.tokens, self.cost, self.requests = period, 0, 0.0, 0


def key_view(c: _KeyCounters, limits: KeyLimits, now: float, *, take: bool) -> KeyAdmission:
    """Evaluate ``limits`` on ``c``; ``take``: admit (charge rpm, take a slot) when all pass.
    The arithmetic is :func:`~cliproxy.state.base.gcra`'s, inlined (this runs per request)."""
    if c.period != limits.period:
        c.roll(limits.period)
    reason = ""
    rpm_rem = tpm_rem = 0
    rpm_reset = tpm_reset = retry = 0.0
    rpm_tat = c.rpm_tat
    if limits.rpm:
        interval = RATE_WINDOW / limits.rpm
        rpm_tat = (rpm_tat if rpm_tat > now else now) + (interval if take else 0.0)
        ahead = rpm_tat - now
        if take and ahead > RATE_WINDOW + 1e-6:
            reason, retry = "rpm", ahead - RATE_WINDOW
            rpm_reset = c.rpm_tat - now if c.rpm_tat > now else 0.0
        else:
            rpm_rem, rpm_reset = int((RATE_WINDOW - ahead) / interval + 1e-6), ahead
    if limits.tpm:
        interval = RATE_WINDOW / limits.tpm
        ahead = c.tpm_tat - now if c.tpm_tat > now else 0.0
        tpm_rem, tpm_reset = max(0, int((RATE_WINDOW - ahead) / interval + 1e-6)), ahead
        if take and not reason and tpm_rem < 1:
            reason, retry = "tpm", ahead - RATE_WINDOW + interval
    if take and not reason:
        if limits.max_concurrency and c.in_flight >= limits.max_concurrency:
            reason = "concurrency"
        elif limits.budget_tokens and c.tokens >= limits.budget_tokens:
            reason = "budget_tokens"
        elif limits.budget_cost and c.cost >= limits.budget_cost:
            reason = "budget_cost"
        else:
            c.rpm_tat = rpm_tat
            c.in_flight += 1
            c.requests += 1
    return KeyAdmission(
        reason, rpm_rem, rpm_reset, tpm_rem, tpm_reset, retry, c.in_flight, c.tokens, c.cost, c.requests
    )


def key_charge(
    c: _KeyCounters, limits: KeyLimits, now: float, tokens: int, cost: float, release: bool
) -> None:
    """Charge a finished request's tokens and cost; ``release`` frees its in-flight slot."""
    c.roll(limits.period)
    if tokens > 0:
        c.tokens += tokens
        if limits.tpm:
            c.tpm_tat = gcra(c.tpm_tat, now, limits.tpm, tokens)[0]
    if cost > 0:
        c.cost += cost
    if release and c.in_flight > 0:
        c.in_flight -= 1


class MemoryState:
    """Default :class:`~cliproxy.state.base.StateBackend` (the process's own memory)."""

    def __init__(self, clock: Callable[[], float] = time.time, max_keys: int = MAX_CURSOR_KEYS) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._cooldowns: dict[str, dict[str, CooldownRecord]] = {}  # model -> cred id -> record
        # the same dict, read-only for the pool: empty means no record at all, so a pick or a
        # success skips its cooldown reads (never rebound: cleared in place)
        self.cooldown_map: Mapping[str, Mapping[str, CooldownRecord]] = self._cooldowns
        self._cursors: dict[str, int] = {}
        # the same dict (never replaced): the pool advances a cursor that exists and is below
        # CURSOR_WRAP in place, as next_cursor_now does, and calls next_cursor_now otherwise
        self.cursor_map = self._cursors
        self._weighted: dict[str, _Weighted] = {}
        self._schedules: dict[tuple[tuple[str, int], ...], tuple[str, ...]] = {}
        self._bindings: dict[str, tuple[str, float, tuple[str, ...]]] = {}  # key -> (id, expiry, group)
        self._bindings_sweep_at = BINDINGS_SWEEP_AT
        self._in_flight: dict[str, int] = {}
        self._slots: dict[str, dict[str, float]] = {}  # cred id -> holder -> expiry (concurrency)
        self._keys: dict[str, _KeyCounters] = {}  # client key id -> counters (policies)
        self._leases: dict[str, tuple[str, float]] = {}  # name -> (owner, expiry)
        self._headroom: dict[str, Headroom] = {}  # cred id -> estimate (quota steering)
        self._secrets: dict[str, tuple[bytes, float, str]] = {}  # name -> (value, expiry, owner)
        self._secret_owners: dict[str, int] = {}  # owner -> secrets kept
        self._secret_expiries: list[tuple[float, str]] = []  # a heap: (expiry, name)

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
        return self.next_cursor_now(key)

    def next_cursor_now(self, key: str) -> int:
        """:meth:`next_cursor` without a coroutine (the pool's round-robin fast path)."""
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

    async def peek_cursor(self, key: str) -> int:
        index = self._cursors.get(key, 0)
        return 0 if index >= _CURSOR_WRAP else index

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
        merged = [k for k in keys if k]
        now = self._clock()
        for key in merged[:]:
            previous = self._bindings.get(key)
            if previous is not None:
                self._drop_group(previous)
                if previous[1] > now:  # the session's other aliases move with it (CPA)
                    merged += previous[2]
        if merged:
            self._store_group(credential_id, now + ttl, binding_group(merged))
            if len(self._bindings) >= self._bindings_sweep_at:
                self._sweep_bindings(now)

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

    def _sweep_bindings(self, now: float) -> None:
        """Forget the expired bindings: a session that never comes back is read no more, so
        only a sweep removes it (amortized: the next one waits until the live doubled)."""
        live = {key: entry for key, entry in self._bindings.items() if entry[1] > now}
        self._bindings.clear()
        self._bindings.update(live)
        self._bindings_sweep_at = max(BINDINGS_SWEEP_AT, 2 * len(live))

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

    # concurrency slots ---------------------------------------------------------

    def _live_slots(self, credential_id: str) -> dict[str, float]:
        held = self._slots.get(credential_id)
        if held is None:
            held = self._slots[credential_id] = {}
            return held
        now = self._clock()
        for holder in [h for h, until in held.items() if until <= now]:
            del held[holder]  # a holder that stopped renewing (cannot happen in one process)
        return held

    async def try_acquire_slot(self, credential_id: str, limit: int, holder: str, ttl: float) -> bool:
        held = self._live_slots(credential_id)
        if len(held) >= limit:
            return False
        held[holder] = self._clock() + ttl
        return True

    async def release_slot(self, credential_id: str, holder: str) -> None:
        held = self._slots.get(credential_id)
        if held is not None and held.pop(holder, None) is not None and not held:
            del self._slots[credential_id]

    async def renew_slots(self, held: Sequence[tuple[str, str]], ttl: float) -> None:
        until = self._clock() + ttl
        for credential_id, holder in held:
            slots = self._slots.get(credential_id)
            if slots is not None and holder in slots:
                slots[holder] = until

    async def slots_in_use(self, credential_id: str) -> int:
        return len(self._live_slots(credential_id)) if credential_id in self._slots else 0

    # leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        held = self._leases.get(name)
        now = self._clock()
        if held is not None and held[0] != owner and held[1] > now:
            return False
        self._leases[name] = (owner, now + ttl)
        return True

    async def release_lease(self, name: str, owner: str) -> None:
        held = self._leases.get(name)
        if held is not None and held[0] == owner:
            del self._leases[name]

    async def lease_holder(self, name: str) -> str | None:
        held = self._leases.get(name)
        if held is None or held[1] <= self._clock():
            return None
        return held[0]

    # rate-limit headroom -------------------------------------------------------

    async def set_headroom(self, credential_id: str, headroom: Headroom) -> None:
        self._headroom[credential_id] = headroom

    async def get_headroom(self, credential_ids: Sequence[str] | None = None) -> Mapping[str, Headroom]:
        marks = self._headroom
        if not marks:
            return _NO_HEADROOM
        now = self._clock()
        if credential_ids is None:
            for cid in [c for c, h in marks.items() if h.resets_at <= now]:
                del marks[cid]  # expired: the window has started over
            return dict(marks)
        found: dict[str, Headroom] = {}
        for cid in credential_ids:
            mark = marks.get(cid)
            if mark is not None and mark.resets_at > now:
                found[cid] = mark
        return found

    # models served (one process: the pool's own table holds them) ---------------

    async def add_served(self, credential_id: str, model: str) -> None:
        return None

    async def served_models(self, credential_id: str) -> frozenset[str]:
        return frozenset()

    async def forget_served(self, credential_id: str) -> None:
        return None

    # client key policies -------------------------------------------------------

    def _key(self, key_id: str) -> _KeyCounters:
        found = self._keys.get(key_id)
        if found is None:
            found = self._keys[key_id] = _KeyCounters()
        return found

    async def key_admit(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        return key_view(self._key(key_id), limits, now, take=True)

    def key_settle_now(
        self, key_id: str, limits: KeyLimits, now: float, *, tokens: int, cost: float, release: bool
    ) -> None:
        """``key_settle`` without a coroutine (the policy hook at a stream's end is synchronous)."""
        key_charge(self._key(key_id), limits, now, tokens, cost, release)

    async def key_settle(
        self, key_id: str, limits: KeyLimits, now: float, *, tokens: int, cost: float, release: bool
    ) -> None:
        key_charge(self._key(key_id), limits, now, tokens, cost, release)

    async def key_usage(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        return key_view(self._key(key_id), limits, now, take=False)

    async def key_reset(self, key_id: str) -> None:
        found = self._keys.get(key_id)
        if found is not None:
            fresh = _KeyCounters()
            fresh.in_flight = found.in_flight  # requests under way still end and release
            self._keys[key_id] = fresh

    # short-lived secrets -------------------------------------------------------

    async def put_secret(
        self, name: str, value: bytes, ttl: float, owner: str, most: int, most_per_owner: int
    ) -> bool:
        now = self._clock()
        expiries = self._secret_expiries
        while expiries and expiries[0][0] <= now:
            self._drop_secret(heapq.heappop(expiries)[1], now)
        per = most_per_owner if owner else 0
        if len(self._secrets) >= most or (per and self._secret_owners.get(owner, 0) >= per):
            return False
        self._drop_secret(name, None)
        self._secrets[name] = (value, now + ttl, owner)
        heapq.heappush(expiries, (now + ttl, name))
        if owner:
            self._secret_owners[owner] = self._secret_owners.get(owner, 0) + 1
        return True

    async def get_secret(self, name: str) -> bytes | None:
        entry = self._secrets.get(name)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            self._drop_secret(name, None)
            return None
        return entry[0]

    def _drop_secret(self, name: str, expired_by: float | None) -> None:
        """Forget ``name`` (only when it expired by then, when ``expired_by`` is given)."""
        entry = self._secrets.get(name)
        if entry is None or (expired_by is not None and entry[1] > expired_by):
            return  # gone already, or stored again since with a later expiry
        del self._secrets[name]
        if owner := entry[2]:
            left = self._secret_owners[owner] - 1
            if left:
                self._secret_owners[owner] = left
            else:
                del self._secret_owners[owner]
