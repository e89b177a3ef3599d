"""Budgets after a restart: the current period's spend of each policy key, from the ledger.

The memory state backend starts empty; the usage ledger (SQLite or Postgres) holds every
finished request with its key id, model and token split. At start the proxy sums each
budgeted key's rows of the current period per model, prices them, and charges the totals
to the key, so a restart does not hand out a fresh budget. (The Redis backend keeps its
counters, so nothing is restored there.) Keys stored only hashed cannot be matched to
their rows (the ledger's key id is a hash of the key itself) and start from zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from cliproxy.formats import ir
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.rules import KeyRule, period_tag, rules_of
from cliproxy.state.base import StateBackend

__all__ = ["period_start", "restore_budgets"]

_SQL = (
    "SELECT model, SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(cache_creation_tokens), SUM(reasoning_tokens), SUM(total_tokens) FROM usage_requests "
    "WHERE api_key_id = {p} AND ts >= {p} GROUP BY model"
)


def period_start(period: str, now: float) -> float:
    """When the budget period holding ``now`` began (0 for ``total``)."""
    tag = period_tag(period, now)[0]
    if tag == "total":
        return 0.0
    day = dt.date.fromisoformat(tag[2:])
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _spent(ledger: Any, rule: KeyRule, now: float, prices: PriceTable) -> tuple[int, float]:
    tokens, cost = 0, 0.0
    for model, *sums in ledger.query(_SQL, (rule.id, period_start(rule.period, now))):
        n = [int(v or 0) for v in sums]
        usage = ir.Usage(n[0], n[1], n[2], n[3], n[4], n[5])
        tokens += usage.total
        cost += prices.cost(str(model or ""), usage)
    return tokens, cost


async def restore_budgets(
    ledger: Any, config: Any, state: StateBackend, prices: PriceTable, now: float
) -> int:
    """Charge each budgeted key's spend of the current period from ``ledger``; how many keys
    had some. Blocking reads (once, at start)."""
    if ledger is None:
        return 0
    ledger.flush()
    restored = 0
    for _, rule in rules_of(config):
        if rule.hashed or not (rule.budget_tokens or rule.budget_cost):
            continue
        tokens, cost = _spent(ledger, rule, now, prices)
        if tokens or cost:
            limits = rule.limits(now)
            await state.key_settle(rule.id, limits, now, tokens=tokens, cost=cost, release=False)
            restored += 1
    return restored
