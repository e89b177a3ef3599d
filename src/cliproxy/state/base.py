"""The contract for shared runtime state, and the records it stores.

All cross-request mutable state of the credential pool goes through a
:class:`StateBackend`: cooldown records per ``(credential_id, model)``, round-robin
cursors, smooth weighted round-robin weights, session-affinity bindings and in-flight
counters. The in-memory backend (:mod:`cliproxy.state.memory`) is the default; a
Redis backend can implement the same methods so several processes share one view.

Times are wall-clock seconds (``time.time()``): deadlines must mean the same thing in
every process and host that shares a backend, and in ``.cds`` files after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "CooldownRecord",
    "StateBackend",
    "smooth_weighted_pick",
]


@dataclass(slots=True)
class CooldownRecord:
    """One cooldown (or quota back-off memory) for a credential and a model.

    ``model`` is ``""`` for a record that covers the whole credential (a
    credential-scoped 429, or a failure with no model). ``next_retry_after`` is 0
    when the record only remembers the back-off level. ``last_error`` keeps CPA's
    ``{code, message, retryable, http_status}`` shape.
    """

    credential_id: str
    model: str = ""
    provider: str = ""
    next_retry_after: float = 0.0
    reason: str = ""
    status_message: str = ""
    quota_exceeded: bool = False
    quota_reason: str = ""
    next_recover_at: float = 0.0
    backoff_level: int = 0
    last_error: dict[str, Any] | None = None
    updated_at: float = 0.0
    extras: dict[str, Any] = field(default_factory=dict)

    def until(self) -> float:
        """The moment this record stops blocking (0 when it never blocks)."""
        if self.quota_exceeded and self.next_recover_at > self.next_retry_after:
            return self.next_recover_at
        return self.next_retry_after

    def blocks(self, now: float) -> bool:
        """Whether the credential is cooling for this record's model at ``now``."""
        return self.until() > now


@runtime_checkable
class StateBackend(Protocol):
    """Shared mutable state of the pool. Every method may be called concurrently.

    Implementations must make each method atomic on its own (a Redis backend uses
    one command or one Lua script per method).
    """

    async def get_cooldowns(self, model: str) -> Mapping[str, CooldownRecord]:
        """Records for ``model`` keyed by credential id (``""`` = credential-wide ones).

        The mapping is read-only for callers; an empty mapping means nothing cools.
        """
        ...

    async def get_cooldown(self, credential_id: str, model: str) -> CooldownRecord | None:
        """The record for one credential and model, or None."""
        ...

    async def set_cooldown(self, record: CooldownRecord) -> None:
        """Store ``record`` under ``(record.credential_id, record.model)``."""
        ...

    async def delete_cooldown(self, credential_id: str, model: str) -> bool:
        """Remove one record; True when something was removed."""
        ...

    async def credential_cooldowns(self, credential_id: str) -> list[CooldownRecord]:
        """Every record of one credential (all models and the credential-wide one)."""
        ...

    async def clear_cooldowns(self, credential_id: str | None = None) -> list[str]:
        """Remove every record of one credential (None: of all); returns the ids touched."""
        ...

    async def next_cursor(self, key: str) -> int:
        """Fetch-and-increment the round-robin cursor ``key`` (starts at 0)."""
        ...

    async def weighted_pick(self, key: str, weights: Sequence[tuple[str, int]]) -> str:
        """One smooth-weighted round-robin step over ``weights`` (see :func:`smooth_weighted_pick`)."""
        ...

    async def get_binding(self, key: str, ttl: float, *, refresh: bool = True) -> str | None:
        """The credential bound to a session key; ``refresh`` extends it by ``ttl``."""
        ...

    async def set_binding(self, keys: Sequence[str], credential_id: str, ttl: float) -> None:
        """Bind every key in ``keys`` to ``credential_id`` for ``ttl`` seconds."""
        ...

    async def delete_binding(self, key: str, credential_id: str) -> bool:
        """Remove the binding of ``key`` when it still points to ``credential_id``."""
        ...

    async def add_in_flight(self, credential_id: str, delta: int) -> int:
        """Add ``delta`` to the credential's in-flight counter and return the new value."""
        ...

    async def in_flight(self, credential_id: str) -> int:
        """The credential's current in-flight count."""
        ...


def smooth_weighted_pick(current: dict[str, int], weights: Sequence[tuple[str, int]]) -> str | None:
    """One step of nginx's smooth weighted round-robin, updating ``current`` in place.

    Every candidate gains its weight; the largest current value wins (the first one
    on ties, so callers pass candidates sorted by id) and loses the total weight.
    Entries of ``current`` that are no longer candidates are dropped. This is the
    reference every backend reproduces.
    """
    picked: str | None = None
    best = total = active_count = 0
    for cid, weight in weights:
        if weight <= 0:
            continue
        value = current.get(cid, 0) + weight
        current[cid] = value
        total += weight
        active_count += 1
        if picked is None or value > best:
            picked, best = cid, value
    if len(current) > active_count:
        active = {cid for cid, weight in weights if weight > 0}
        for cid in [c for c in current if c not in active]:
            del current[cid]
    if picked is not None:
        current[picked] -= total
    return picked
