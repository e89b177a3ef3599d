"""The pool's choice for a model, worked out without making it.

:func:`plan` lists every credential of a route with its state (:func:`.explain.classify`)
and the order in which :meth:`Pool.pick` would offer the available ones across a
request's failovers: a live session binding first, then each priority tier in turn,
rotated from the round-robin cursor as it stands (``StateBackend.peek_cursor``), or by id
for fill-first. Nothing is written: no cursor moves, no binding is refreshed or set.

Smooth weighted round-robin keeps its position inside the backend, so its order is the
weights' (heaviest first) and ``Plan.exact`` is ``False``; concurrent requests may move a
cursor between the plan and the next real request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..state.base import CooldownRecord
from .explain import Candidate, classify
from .pool import Pool, Supports
from .record import Credential, model_key
from .selectors import FillFirst, RoundRobin, WeightedRoundRobin

__all__ = ["Plan", "plan", "standing"]

PICKABLE = frozenset({"available", "lower-priority"})


@dataclass(slots=True)
class Plan:
    """``candidates``: every credential of the route (sorted by id) with its state;
    ``order``: the pickable ones in the order they would be tried; ``bound``: the
    credential a live session binding names, when there is one."""

    strategy: str
    candidates: list[Candidate]
    order: list[Candidate]
    exact: bool
    bound: Credential | None = None


async def standing(
    pool: Pool,
    model: str,
    providers: Sequence[str] | None,
    supports: Supports | None,
    gates: Mapping[str, tuple[str, str]] | None = None,
) -> tuple[list[Candidate], Mapping[str, CooldownRecord], Mapping[str, CooldownRecord], float]:
    """Every credential of ``model``'s route with its state now (:func:`.explain.classify`),
    with the cooldowns read for it (every model's, this model's) and the time it was read."""
    wide, own = await pool.state.get_cooldowns(""), await pool.state.get_cooldowns(model_key(model))
    now = pool.clock()
    found = classify(
        pool.credentials(),
        providers,
        model,
        supports,
        positive_only=pool.strategy.positive_weights_only,
        tried=(),
        cooldowns=(wide, own),
        now=now,
        gates=gates,
    )
    return found, wide, own, now


async def plan(
    pool: Pool,
    model: str,
    providers: Sequence[str] | None,
    supports: Supports | None,
    *,
    session_key: str | None = None,
    gates: Mapping[str, tuple[str, str]] | None = None,
) -> Plan:
    """What :meth:`Pool.pick` would do for ``model`` now, read-only."""
    mk = model_key(model)
    state = pool.state
    candidates = (await standing(pool, model, providers, supports, gates))[0]
    remaining = [c for c in candidates if c.state in PICKABLE]
    order: list[Candidate] = []
    bound = None
    if pool.affinity is not None and session_key and remaining:
        ns = pool._group(model, mk, providers, supports).rotation_key.split(":", 1)[0]
        bound_id = await state.get_binding(f"{ns}::{session_key}::{mk}", pool.affinity_ttl, refresh=False)
        hit = next((c for c in remaining if c.cred.id == bound_id), None)
        if hit is not None:
            bound = hit.cred
            order.append(hit)
            remaining.remove(hit)
    strategy = pool.strategy
    exact = not isinstance(strategy, WeightedRoundRobin)
    cursor = 0
    if isinstance(strategy, RoundRobin) and remaining:
        cursor = await state.peek_cursor(pool._group(model, mk, providers, supports).rotation_key)
    step = 0
    while remaining:
        best = max(c.cred.priority for c in remaining)
        tier = [c for c in remaining if c.cred.priority == best]
        if isinstance(strategy, FillFirst):
            choice = tier[0]
        elif isinstance(strategy, RoundRobin):
            choice = tier[(cursor + step) % len(tier)]
            step += 1
        else:  # weighted: heaviest first (the backend holds the smooth sequence's place)
            choice = max(tier, key=lambda c: c.cred.weight)
        order.append(choice)
        remaining.remove(choice)
    return Plan(pool.strategy_name, candidates, order, exact, bound)
