"""Key budgets restored from the ledger at start (cliproxy.policies.restore): the spend of
each budgeted key in its current period, one query for all keys whose periods began at once.

The reference is the restore as it was: one query per key, grouped by model, with a
``ts >= start`` condition (for a ``total`` period a range from 0, which SQLite answered
through the ``ts`` index row by row: 3.5 s a key on 2M rows)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from cliproxy.config import Config
from cliproxy.formats import ir
from cliproxy.policies import restore
from cliproxy.policies.prices import PriceTable
from cliproxy.policies.rules import rule_id, rules_of
from cliproxy.state.memory import MemoryState
from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import COLUMNS, INT_COLUMNS, PostgresStore, SqliteStore, Store

DAY = 86400.0
NOW = 1_780_000_000.0  # Thursday 2026-05-28, 20:26 UTC
MODELS = ("claude-sonnet-4-5", "gpt-4o", "no-such-model", "")
POLICIES: list[dict[str, Any]] = [
    {"key": "sk-day", "budget": {"tokens": 10**9, "period": "day"}},
    {"key": "sk-week", "budget": {"cost": 1000.0, "period": "week"}},
    {"key": "sk-month", "budget": {"tokens": 10**9, "cost": 1000.0, "period": "month"}},
    {"key": "sk-total-a", "budget": {"tokens": 10**9, "period": "total"}},
    {"key": "sk-total-b", "budget": {"cost": 1000.0, "period": "total"}},
    {"key": "sk-total-c", "budget": {"tokens": 10**9, "period": "total"}},
    {"key": "sk-idle", "budget": {"tokens": 10**9, "period": "total"}},  # no rows
    {"key": "sk-free", "rpm": 100},  # no budget: nothing restored
    {"key-hash": "sha256:" + "ab" * 32, "budget": {"tokens": 5, "period": "total"}},  # hashed: no rows match
]


def _row(uid: str, ts: float, kid: str, model: str, tokens: list[int]) -> tuple[Any, ...]:
    values: dict[str, Any] = {
        "uid": uid,
        "ts": ts,
        "api_key_id": kid,
        "model": model,
        "status": 200,
        "attempts": 1,
        "input_tokens": tokens[0],
        "output_tokens": tokens[1],
        "cached_tokens": tokens[2],
        "cache_creation_tokens": tokens[3],
        "reasoning_tokens": tokens[4],
        "total_tokens": tokens[0] + tokens[1],
    }
    return tuple(values.get(c, 0 if c in INT_COLUMNS else "") for c in COLUMNS)


def _rows(kids: list[str], n: int = 1200) -> list[tuple[Any, ...]]:
    """Rows of every key over the last 70 days (some today), every model."""
    rnd = random.Random(7)
    return [
        _row(
            f"u{i}",
            NOW - rnd.random() * 70 * DAY if i % 5 else NOW - rnd.random() * 3600,
            rnd.choice(kids),
            rnd.choice(MODELS),
            [rnd.randrange(0, 4000) for _ in range(5)],
        )
        for i in range(n)
    ]


def _old_spent(ledger: Any, rule: Any, prices: PriceTable) -> tuple[int, float]:
    """The restore as it was, one key at a time (the reference)."""
    sql = (
        "SELECT model, SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
        "SUM(cache_creation_tokens), SUM(reasoning_tokens), SUM(total_tokens) FROM usage_requests "
        "WHERE api_key_id = {p} AND ts >= {p} GROUP BY model"
    )
    tokens, cost = 0, 0.0
    for model, *sums in ledger.query(sql, (rule.id, restore.period_start(rule.period, NOW))):
        n = [int(v or 0) for v in sums]
        usage = ir.Usage(n[0], n[1], n[2], n[3], n[4], n[5])
        tokens += usage.total
        cost += prices.cost(str(model or ""), usage)
    return tokens, cost


class Reads:
    """A ledger's reads, each query's SQL written down."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.sql: list[str] = []

    def flush(self) -> bool:
        return self.ledger.flush()

    def query(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        self.sql.append(sql)
        return self.ledger.query(sql, params)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    opened: Store
    if request.param == "postgres":
        opened = PostgresStore(request.getfixturevalue("postgres_url"))
    else:
        opened = SqliteStore(tmp_path / "usage.sqlite")
    opened.open()
    try:
        yield opened
    finally:
        opened.close()


async def test_each_budget_gets_its_periods_spend_by_one_query_a_period(store, monkeypatch):
    monkeypatch.setattr(restore, "QUERY_KEYS", 2)  # the four total-period keys take two queries
    config = Config.model_validate({"api-keys": POLICIES})
    rules = [rule for _, rule in rules_of(config)]
    kids = [rule_id(p["key"]) for p in POLICIES if "key" in p and p["key"] != "sk-idle"]
    store.insert(_rows(kids))
    ledger = Ledger(store)  # not started: the reads go straight to the store
    prices = PriceTable()
    expected = {rule.id: _old_spent(ledger, rule, prices) for rule in rules}

    reads, state = Reads(ledger), MemoryState()
    restored = await restore.restore_budgets(reads, config, state, prices, NOW)

    budgeted = [r for r in rules if (r.budget_tokens or r.budget_cost) and not r.hashed]
    assert restored == sum(1 for r in budgeted if expected[r.id] != (0, 0.0)) == 6
    for rule in rules:
        got = await state.key_usage(rule.id, rule.limits(NOW), NOW)
        tokens, cost = expected[rule.id] if rule in budgeted else (0, 0.0)
        assert got.tokens_used == tokens, rule.name
        assert got.cost_used == pytest.approx(cost), rule.name
    # day, week, month: one query each; total: four keys, two to a query, with no time condition
    assert len(reads.sql) == 5
    total = [sql for sql in reads.sql if "ts >=" not in sql]
    assert len(total) == 2 and all(sql.count("{p}") == 2 for sql in total)


async def test_no_ledger_and_no_budgets_restore_nothing(tmp_path):
    state = MemoryState()
    config = Config.model_validate({"api-keys": [{"key": "sk-free", "rpm": 5}]})
    assert await restore.restore_budgets(None, config, state, PriceTable(), NOW) == 0
    ledger = Ledger(SqliteStore(tmp_path / "u.sqlite"))
    ledger.store.open()
    try:
        reads = Reads(ledger)
        assert await restore.restore_budgets(reads, config, state, PriceTable(), NOW) == 0
        assert reads.sql == []  # no budgeted key: no query at all
    finally:
        ledger.store.close()


def test_a_total_period_starts_at_zero_and_others_at_their_first_day():
    assert restore.period_start("total", NOW) == 0.0
    assert restore.period_start("day", NOW) == NOW - NOW % DAY
    month = restore.period_start("month", NOW)
    assert 0 < NOW - month < 31 * DAY and restore.period_start("week", NOW) >= month - 7 * DAY
