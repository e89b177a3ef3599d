"""Budgets after a restart: the current period's spend of each policy key, from the ledger.

The memory state backend starts empty; the usage ledger (SQLite or Postgres) holds every
finished request with its key id, model and token split. At start the proxy sums each
budgeted key's rows of the current period per model, prices them, and charges the totals
to the key, so a restart does not hand out a fresh budget. The Redis backend keeps its
counters across restarts; when Redis itself lost them (:mod:`cliproxy.state.redis_loss`),
:func:`restore_shared_budgets` adds to each key what its hash misses: the rows of requests
that ended (and were charged) before the hash's ``since``, its first write since the loss
(all of the period's rows for a key no request has charged since), so a request charged
since the loss is not charged twice. Keys stored only hashed cannot be matched to
their rows (the ledger's key id is a hash of the key itself) and start from zero.

The keys whose periods began at the same moment are summed by one query, grouped by key
and model: one pass over the period's rows for all of them. A ``total`` period has no time
condition at all: a range from 0 on the ``ts`` index would visit every row through the
index, which measured 3.5 s a key on 2M rows (SQLite); one plain scan for all keys took
0.64 s. ``QUERY_KEYS`` keys at most a query (a placeholder each).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

from cliproxy.formats import ir
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.rules import KeyRule, period_tag, rules_of
from cliproxy.state.base import StateBackend
from cliproxy.usage.ledger_totals import ROWS, TOKEN_SUMS
from cliproxy.usage.restore import ENDED, SLACK, restore_shared_counters
from cliproxy.usage.shared import SharedCounters

if TYPE_CHECKING:
    from cliproxy.state.redis_loss import Restorer

__all__ = [
    "QUERY_KEYS",
    "SharedBudgets",
    "period_start",
    "restore_after_loss",
    "restore_budgets",
    "restore_shared_budgets",
    "spent_since",
]

log = logging.getLogger(__name__)

QUERY_KEYS = 400  # key ids a query names (SQLite before 3.32 takes 999 placeholders)


def period_start(period: str, now: float) -> float:
    """When the budget period holding ``now`` began (0 for ``total``)."""
    tag = period_tag(period, now)[0]
    if tag == "total":
        return 0.0
    day = dt.date.fromisoformat(tag[2:])
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def spent_since(
    ledger: Any, ids: Sequence[str], since: float, prices: PriceTable, until: float | None = None
) -> dict[str, tuple[int, float]]:
    """Tokens and priced cost of each of the key ``ids`` in the ledger's rows from ``since``
    (0: all of them) on, of requests that ended before ``until`` when given; a key with no
    rows is left out."""
    where = " AND ts >= {p}" if since > 0 else ""
    bounds: list[Any] = [since] if since > 0 else []
    if until is not None:  # requests that ended before ``until`` (and so began before it)
        where += f" AND ts < {{p}} AND {ENDED} < {{p}}"
        bounds += [until, until - SLACK]
    out: dict[str, tuple[int, float]] = {}
    for start in range(0, len(ids), QUERY_KEYS):
        part = list(ids[start : start + QUERY_KEYS])
        sql = (
            f"SELECT api_key_id, model, {TOKEN_SUMS} FROM {ROWS} "
            f"WHERE api_key_id IN ({', '.join(['{p}'] * len(part))}){where} GROUP BY api_key_id, model"
        )
        for kid, model, *sums in ledger.query(sql, [*part, *bounds]):
            n = [int(v or 0) for v in sums]
            usage = ir.Usage(n[0], n[1], n[2], n[3], n[4], n[5])
            tokens, cost = out.get(kid, (0, 0.0))
            out[kid] = (tokens + usage.total, cost + prices.cost(str(model or ""), usage))
    return out


async def restore_budgets(
    ledger: Any, config: Any, state: StateBackend, prices: PriceTable, now: float
) -> int:
    """Charge each budgeted key's spend of the current period from ``ledger``; how many keys
    had some. Blocking reads (once, at start)."""
    if ledger is None:
        return 0
    ledger.flush()
    by_start: defaultdict[float, list[KeyRule]] = defaultdict(list)
    for _, rule in rules_of(config):
        if not rule.hashed and (rule.budget_tokens or rule.budget_cost):
            by_start[period_start(rule.period, now)].append(rule)
    restored = 0
    for since, rules in by_start.items():
        spent = spent_since(ledger, list(dict.fromkeys(rule.id for rule in rules)), since, prices)
        for rule in rules:
            tokens, cost = spent.get(rule.id, (0, 0.0))
            if tokens or cost:
                # the spend only: a period's tokens charged to the tpm bucket at once would
                # refuse the key for tokens / tpm minutes after every restart
                limits = replace(rule.limits(now), tpm=0)
                await state.key_settle(rule.id, limits, now, tokens=tokens, cost=cost, release=False)
                restored += 1
    return restored


class SharedBudgets(Protocol):
    """What :func:`restore_shared_budgets` needs of the Redis backend
    (:class:`cliproxy.state.redis_keys.RedisKeyPolicies`)."""

    async def key_since(self, key_ids: list[str]) -> dict[str, str]: ...

    async def key_restore(self, key_id: str, period: str, tokens: int, cost: float, since: str) -> bool: ...


TRIES = 3  # reads of a key whose hash a request began meanwhile


async def restore_shared_budgets(
    ledger: Any, config: Any, state: SharedBudgets, prices: PriceTable, now: float
) -> int:
    """After Redis lost its data: add to each budgeted key's current period what its hash
    misses (the ledger's rows of requests that ended before its ``since``); how many keys
    got some. The ledger's reads run in a thread (this runs while the proxy serves)."""
    if ledger is None:
        return 0
    await asyncio.to_thread(ledger.flush)
    rules = {r.id: r for _, r in rules_of(config) if not r.hashed and (r.budget_tokens or r.budget_cost)}
    restored = 0
    pending = list(rules)
    for _ in range(TRIES):
        if not pending:
            break
        marks = await state.key_since(pending)
        # '' (nothing charged since the loss): every row of the period; '0': restored already
        groups: defaultdict[tuple[float, float | None], list[str]] = defaultdict(list)
        for kid in pending:
            if marks[kid] != "0":
                until = float(marks[kid]) if marks[kid] else None
                groups[(period_start(rules[kid].period, now), until)].append(kid)
        pending = []
        for (since, until), ids in groups.items():
            spent = await asyncio.to_thread(spent_since, ledger, ids, since, prices, until)
            for kid in ids:
                tokens, cost = spent.get(kid, (0, 0.0))
                if not (tokens or cost):
                    continue
                period = rules[kid].limits(now).period
                if await state.key_restore(kid, period, tokens, cost, marks[kid]):
                    restored += 1
                else:
                    pending.append(kid)
    if pending:
        log.warning(
            "budgets: %d key(s) kept changing while being restored; left as Redis holds them", len(pending)
        )
    return restored


def restore_after_loss(
    stats: Any, config: Callable[[], Any], state: Any, prices: Callable[[], PriceTable]
) -> Restorer:
    """The restorer the service gives :class:`cliproxy.state.redis_loss.LossWatch`: budgets
    and usage counters from ``stats``' ledger (read when it runs, as ``config()`` and
    ``prices()``), with one WARNING when that ledger is this host's only."""

    async def restore(now: float) -> str:
        ledger = stats.ledger
        if ledger is None:
            return ""
        keys = await restore_shared_budgets(ledger, config(), state, prices(), now)
        auths = counted = 0
        if isinstance(stats.counters, SharedCounters):
            auths, counted = await restore_shared_counters(ledger, stats.counters.sync, now)
        if not (keys or auths or counted):
            return ""
        where = ledger.store.name
        if not where.startswith("postgres"):
            log.warning(
                "budgets and usage counters restored from %s count only this host's requests: "
                "set usage-ledger.postgres-url for a ledger every host writes to",
                where,
            )
        return (
            f"the current period's spend of {keys} client key(s) and the usage counters of "
            f"{auths} credential(s) and {counted} client key(s) from the usage ledger ({where})"
        )

    return restore
