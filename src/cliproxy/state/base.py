"""The contract for shared runtime state, and the records it stores.

All cross-request mutable state of the credential pool goes through a
:class:`StateBackend`: cooldown records per ``(credential_id, model)``, round-robin
cursors, smooth weighted round-robin weights, session-affinity bindings, in-flight
counters and short-lived secrets. The in-memory backend (:mod:`cliproxy.state.memory`) is
the default; a Redis backend implements the same methods so several processes share one
view.

Times are wall-clock seconds (``time.time()``): deadlines must mean the same thing in
every process and host that shares a backend, and in ``.cds`` files after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = [
    "MAX_STABLE_ALIASES",
    "RATE_WINDOW",
    "CooldownRecord",
    "Headroom",
    "KeyAdmission",
    "KeyLimits",
    "StateBackend",
    "binding_group",
    "gcra",
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


@dataclass(frozen=True, slots=True)
class Headroom:
    """How much of its rate limits a credential has used, as its last answer told it
    (``routing.quota-steering``, :mod:`cliproxy.credentials.headroom`).

    ``used_percent`` (0-100) is the fullest of the answer's windows; the estimate stops
    counting at ``resets_at`` (epoch seconds), when that window starts over. ``window``
    names it (``5h``, ``7d``, ``requests``...), ``source`` the header family it came from.
    """

    used_percent: float
    resets_at: float
    window: str = ""
    source: str = ""


@dataclass(frozen=True, slots=True)
class KeyLimits:
    """A client key's limits, as the state backend applies them (0 = no such limit).

    ``rpm`` and ``tpm`` are GCRA buckets over a 60 s window (a burst of up to the limit,
    then a steady refill); ``period`` names the current budget period (``"d:2026-12-03"``,
    ``"total"``): spend recorded under another period reads as zero.
    """

    rpm: int = 0
    tpm: int = 0
    max_concurrency: int = 0
    budget_tokens: int = 0
    budget_cost: float = 0.0
    period: str = "total"


@dataclass(slots=True)
class KeyAdmission:
    """The answer of ``key_admit`` (and ``key_usage``, which changes nothing).

    ``reason`` is ``""`` when admitted, else ``"concurrency"``, ``"rpm"``, ``"tpm"``,
    ``"budget_tokens"`` or ``"budget_cost"``. ``*_reset`` are seconds until the bucket
    is full again; ``retry_after`` the seconds until a refused request could pass.
    """

    reason: str = ""
    rpm_remaining: int = 0
    rpm_reset: float = 0.0
    tpm_remaining: int = 0
    tpm_reset: float = 0.0
    retry_after: float = 0.0
    in_flight: int = 0
    tokens_used: int = 0
    cost_used: float = 0.0
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.reason


RATE_WINDOW = 60.0  # seconds: rpm and tpm are per minute


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

    async def peek_cursor(self, key: str) -> int:
        """What :meth:`next_cursor` would return now, without moving it (a dry run)."""
        ...

    async def weighted_pick(self, key: str, weights: Sequence[tuple[str, int]]) -> str:
        """One smooth-weighted round-robin step over ``weights`` (see :func:`smooth_weighted_pick`)."""
        ...

    async def get_binding(self, key: str, ttl: float, *, refresh: bool = True) -> str | None:
        """The credential bound to a session key; ``refresh`` extends it by ``ttl``."""
        ...

    async def set_binding(self, keys: Sequence[str], credential_id: str, ttl: float) -> None:
        """Bind every key in ``keys`` to ``credential_id`` for ``ttl`` seconds, with the
        other keys of their live groups (one session's aliases), as :func:`binding_group`."""
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

    # per-credential concurrency slots (cliproxy.credentials.concurrency)

    async def try_acquire_slot(self, credential_id: str, limit: int, holder: str, ttl: float) -> bool:
        """Take one of the credential's ``limit`` slots for ``holder`` (a unique id), atomically
        (False: all taken). A slot not renewed within ``ttl`` seconds expires, so the slots of
        a process that died come back by themselves."""
        ...

    async def release_slot(self, credential_id: str, holder: str) -> None:
        """Give ``holder``'s slot of the credential back (nothing when it is not held)."""
        ...

    async def renew_slots(self, held: Sequence[tuple[str, str]], ttl: float) -> None:
        """Extend each (credential id, holder) slot still held to ``ttl`` seconds from now."""
        ...

    async def slots_in_use(self, credential_id: str) -> int:
        """How many unexpired slots of the credential are held now."""
        ...

    async def acquire_lease(self, name: str, owner: str, ttl: float) -> bool:
        """Take lease ``name`` for ``ttl`` seconds unless another owner holds it (True: taken)."""
        ...

    async def release_lease(self, name: str, owner: str) -> None:
        """Give lease ``name`` back when ``owner`` still holds it."""
        ...

    async def lease_holder(self, name: str) -> str | None:
        """The owner of lease ``name`` now (None: nobody holds it)."""
        ...

    # rate-limit headroom per credential (routing.quota-steering)

    async def set_headroom(self, credential_id: str, headroom: Headroom) -> None:
        """Store the credential's latest estimate (it expires at ``headroom.resets_at``)."""
        ...

    async def get_headroom(self, credential_ids: Sequence[str] | None = None) -> Mapping[str, Headroom]:
        """The unexpired estimates of ``credential_ids`` (None: of every credential), by id;
        credentials with none are left out."""
        ...

    # the models each credential has answered (the panel's ``unavailable``: credentials/served.py)

    async def add_served(self, credential_id: str, model: str) -> None:
        """Note that the credential answered ``model`` (its model key) for the processes
        sharing this backend; the memory backend keeps nothing (the pool's table is all)."""
        ...

    async def served_models(self, credential_id: str) -> frozenset[str]:
        """The models any process sharing this backend noted for the credential."""
        ...

    async def forget_served(self, credential_id: str) -> None:
        """Forget the credential's noted models (it was disabled, re-enabled or removed)."""
        ...

    # client key policies (cliproxy.policies): one call per request to admit, one to settle

    async def key_admit(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        """Admit one request of client key ``key_id`` or say why not, atomically: checks
        concurrency, rpm, tpm (any capacity left) and the budget; when all pass, takes one
        request from the rpm bucket and one in-flight slot. A refusal changes nothing."""
        ...

    async def key_settle(
        self, key_id: str, limits: KeyLimits, now: float, *, tokens: int, cost: float, release: bool
    ) -> None:
        """After a request: charge ``tokens`` to the tpm bucket, ``tokens`` and ``cost`` to
        the budget of ``limits.period``; ``release`` frees the in-flight slot."""
        ...

    async def key_usage(self, key_id: str, limits: KeyLimits, now: float) -> KeyAdmission:
        """The key's counters against ``limits`` now (changes nothing; ``reason`` is empty)."""
        ...

    async def key_reset(self, key_id: str) -> None:
        """Forget every counter of the key (buckets and budget; in-flight slots stay)."""
        ...

    # short-lived secrets (Realtime client secrets, cliproxy.providers.codex_realtime_secrets)

    async def put_secret(
        self, name: str, value: bytes, ttl: float, owner: str, most: int, most_per_owner: int
    ) -> bool:
        """Keep ``value`` under ``name`` for ``ttl`` seconds, atomically refused (False, nothing
        stored) when ``most`` unexpired secrets are kept already, or ``most_per_owner`` of
        ``owner`` (no per-owner cap for ``""`` or 0). ``name`` and ``owner`` should not be
        secrets themselves (a hash of them): a shared backend keeps them in the clear."""
        ...

    async def get_secret(self, name: str) -> bytes | None:
        """The value of an unexpired secret ``name``, or None."""
        ...


MAX_STABLE_ALIASES = 64  # CPA's maxStableSessionAliases


def binding_group(keys: Sequence[str]) -> tuple[str, ...]:
    """The keys one session binding holds (CPA's compactSessionAliases): ``keys`` in order
    (the new ones first, then their groups' older ones), each once, keeping only the first
    prompt-cache key (``<ns>::pck:...``, which many sessions may share) and at most
    :data:`MAX_STABLE_ALIASES` others, so the oldest aliases go first."""
    group: list[str] = []
    prompt = False
    stable = 0
    for key in dict.fromkeys(k for k in keys if k):
        _, sep, session = key.partition("::")
        if (session if sep else key).startswith("pck:"):
            if prompt:
                continue
            prompt = True
        elif stable >= MAX_STABLE_ALIASES:
            continue
        else:
            stable += 1
        group.append(key)
    return tuple(group)


def gcra(
    tat: float, now: float, limit: int, cost: float, window: float = RATE_WINDOW
) -> tuple[float, int, float]:
    """One GCRA step that always charges: (new theoretical arrival time, remaining, reset).

    The bucket holds ``limit`` units refilled evenly over ``window``; ``tat`` is when it
    would be full again in "emission" terms. Every backend uses this arithmetic."""
    interval = window / limit
    new = max(tat, now) + cost * interval
    ahead = new - now
    return new, max(0, int((window - ahead) / interval + 1e-6)), max(0.0, ahead)


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
