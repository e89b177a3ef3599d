"""Selection strategies over one priority tier of available credentials.

A strategy gets candidates sorted by id (all available, all of the highest
priority) and the rotation key (``provider:model``, or ``mixed:model`` over several
providers); its rotation state lives in the :class:`~cliproxy.state.base.StateBackend`.
Session affinity (:class:`SessionAffinity`) wraps any strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..state.base import StateBackend
from .record import Credential

__all__ = [
    "STRATEGIES",
    "FillFirst",
    "RoundRobin",
    "SessionAffinity",
    "Strategy",
    "WeightedRoundRobin",
    "strategy_for",
]


class Strategy(Protocol):
    """Chooses one credential from a non-empty, id-sorted candidate list."""

    #: credentials with a non-positive weight are left out before availability checks
    positive_weights_only: bool

    async def choose(self, state: StateBackend, key: str, candidates: Sequence[Credential]) -> Credential:
        """Return one of ``candidates`` (never empty)."""
        ...


class RoundRobin:
    """CPA's default: a cursor per rotation key, advanced on every pick."""

    positive_weights_only = False

    async def choose(self, state: StateBackend, key: str, candidates: Sequence[Credential]) -> Credential:
        if len(candidates) == 1:
            await state.next_cursor(key)
            return candidates[0]
        return candidates[await state.next_cursor(key) % len(candidates)]


class WeightedRoundRobin:
    """Smooth weighted round-robin (nginx): over a cycle each weight gets its share, spread out."""

    positive_weights_only = True

    def __init__(self) -> None:
        # the pool hands the same tuple back while nothing cools: reuse its weights
        self._last: Sequence[Credential] = ()
        self._last_weights: tuple[tuple[str, int], ...] = ()
        self._last_by_id: dict[str, Credential] = {}

    async def choose(self, state: StateBackend, key: str, candidates: Sequence[Credential]) -> Credential:
        if candidates is not self._last:
            self._last = candidates
            self._last_weights = tuple((c.id, c.weight) for c in candidates if c.weight > 0)
            self._last_by_id = {c.id: c for c in candidates}
        by_id = self._last_by_id
        return by_id[await state.weighted_pick(key, self._last_weights)]


class FillFirst:
    """Always the first available credential (by id): use one account up before the next."""

    positive_weights_only = False

    async def choose(self, state: StateBackend, key: str, candidates: Sequence[Credential]) -> Credential:
        return candidates[0]


STRATEGIES: dict[str, type[RoundRobin] | type[WeightedRoundRobin] | type[FillFirst]] = {
    "round-robin": RoundRobin,
    "rr": RoundRobin,
    "roundrobin": RoundRobin,
    "weighted-round-robin": WeightedRoundRobin,
    "wrr": WeightedRoundRobin,
    "weightedroundrobin": WeightedRoundRobin,
    "fill-first": FillFirst,
    "ff": FillFirst,
    "fillfirst": FillFirst,
}


def strategy_for(name: str) -> Strategy:
    """The strategy for a ``routing.strategy`` value (unknown values fall back to round-robin)."""
    return STRATEGIES.get(name.strip().lower(), RoundRobin)()


class SessionAffinity:
    """Keeps a session on the credential it was first given, for ``ttl`` seconds.

    Binding keys are ``<provider or mixed>::<session>::<model>``. A live binding wins
    over priority (a bound credential that is still available is reused even when a
    higher tier recovers); a binding to a cooling credential fails over through the
    wrapped strategy on the highest tier, and the session is rebound.
    """

    def __init__(self, inner: Strategy, ttl: float = 3600.0) -> None:
        self.inner = inner
        self.ttl = ttl if ttl > 0 else 3600.0

    @property
    def positive_weights_only(self) -> bool:
        return self.inner.positive_weights_only

    async def choose_bound(
        self,
        state: StateBackend,
        keys: tuple[str, str],
        available: Sequence[Credential],
        tier: Sequence[Credential],
        rotation_key: str,
    ) -> Credential:
        """Pick for a session: ``keys`` = (primary, fallback) binding keys (fallback may be "")."""
        primary, fallback = keys
        by_id = {c.id: c for c in available}
        bound = await state.get_binding(primary, self.ttl, refresh=True)
        if bound is None and fallback:
            bound = await state.get_binding(fallback, self.ttl, refresh=False)
        cred = by_id.get(bound) if bound is not None else None
        if cred is None:
            cred = await self.inner.choose(state, rotation_key, tier)
        await state.set_binding((primary, fallback), cred.id, self.ttl)
        return cred
