"""``usage_totals``: the per-credential and per-key sums the counters are restored from.

Each test compares with the computation a start made before the table existed (three
scans over every row, kept below as ``old_restore_counters``), on SQLite files and on a
real Postgres: after writes, a retention sweep, an import, the build of an older ledger,
and a write that failed. Some rows are a tool's usage rows (``attempts`` ``TOOL_ATTEMPTS``,
``usage.tool_usage``): the reference counts their tokens and no request for them.
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cliproxy.usage import ledger_totals
from cliproxy.usage.counters import BUCKET_SECONDS, BUCKETS, Counter, UsageCounters
from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import (
    COLUMNS,
    INT_COLUMNS,
    SCHEMA,
    TABLE,
    PostgresStore,
    SqliteStore,
    Store,
)
from cliproxy.usage.restore import restore_counters

NOW = time.time()
DAY = 86400.0
OLD_DDL = (  # the table as a ledger written before usage_totals has it
    f"CREATE TABLE {TABLE} (" + ", ".join(f"{n} {t}" for n, t in SCHEMA) + ")",
    f"CREATE INDEX {TABLE}_ts ON {TABLE} (ts)",
)


# -- the reference: restore as it was, three scans over every row


def _old_apply(c: Counter, row: tuple[object, ...]) -> None:
    n = [int(v or 0) for v in row]  # type: ignore[call-overload]
    c.success += n[0]
    c.failed += n[1]
    c.add_tokens((n[2], n[3], n[4], n[5], n[6], n[7]))


def old_restore_counters(ledger: Ledger, counters: UsageCounters, labels: dict[str, str], now: float) -> None:
    tool = ledger_totals.TOOL_ATTEMPTS  # a tool's usage row: its tokens, no request
    sums = (
        f"SUM(CASE WHEN attempts = {tool} THEN 0 ELSE 1 - failed END), SUM(failed), SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
        "SUM(cache_creation_tokens), SUM(reasoning_tokens), SUM(total_tokens)"
    )
    from_table = " FROM usage_requests"
    for index, *rest in ledger.query(
        f"SELECT auth_index, {sums}{from_table} WHERE auth_index != '' GROUP BY auth_index"
    ):
        _old_apply(counters.auth(str(index)), tuple(rest))
    for kid, label, *rest in ledger.query(
        f"SELECT api_key_id, MAX(api_key), {sums}{from_table} GROUP BY api_key_id"
    ):
        _old_apply(counters.key(str(kid)), tuple(rest))
        if kid:
            labels[str(kid)] = str(label or "")
    for (failed_auths,) in ledger.query(f"SELECT failed_auths{from_table} WHERE failed_auths != ''"):
        for index in str(failed_auths).split(","):
            if index:
                counters.auth(index).failed += 1
    since = (int(now) // BUCKET_SECONDS - BUCKETS + 1) * BUCKET_SECONDS
    recent = ledger.query(
        f"SELECT ts, api_key_id, auth_index, failed, failed_auths{from_table} "
        f"WHERE ts >= {{p}} AND attempts != {tool} ORDER BY ts",
        (float(since),),
    )
    for ts, kid, index, failed, failed_auths in recent:
        when, ok = float(ts), not failed
        counters.key(str(kid)).bump(ok, when)
        if index:
            counters.auth(str(index)).bump(ok, when)
        for other in str(failed_auths or "").split(","):
            if other:
                counters.auth(other).bump(False, when)


Snapshot = tuple[dict[str, Any], dict[str, Any], dict[str, str]]


def _snapshot(store: Store, restore: Any) -> Snapshot:
    counters, labels = UsageCounters(), {}
    restore(Ledger(store), counters, labels, NOW)
    return (
        {k: c.entry(NOW) for k, c in counters.by_auth.items()},
        {k: c.entry(NOW) for k, c in counters.by_key.items()},
        labels,
    )


def _table(store: Store) -> dict[tuple[str, str], tuple[Any, ...]]:
    """``usage_totals`` as it is (the ``''`` key's label is never read: left out)."""
    return {
        (kind, name): (label if kind == "key" and name else "", *map(int, sums))
        for kind, name, label, *sums in store.query(ledger_totals.READ_SQL)
    }


def _expected_table(old: Snapshot) -> dict[tuple[str, str], tuple[Any, ...]]:
    by_auth, by_key, labels = old
    fields = ("success", "failed", *ledger_totals.TOKENS)
    table = {("auth", k): ("", *(e[f] for f in fields)) for k, e in by_auth.items()}
    table.update({("key", k): (labels.get(k, ""), *(e[f] for f in fields)) for k, e in by_key.items()})
    return table


def assert_parity(store: Store) -> Snapshot:
    """``restore_counters`` gives what the old scans give, and the table holds just that."""
    old = _snapshot(store, old_restore_counters)
    assert _snapshot(store, restore_counters) == old
    assert _table(store) == _expected_table(old)
    return old


# -- rows and databases


def row(uid: str, ts: float, **values: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = {"uid": uid, "ts": ts, "status": 200, "attempts": 1, **values}
    return tuple(base.get(c, 0 if c in INT_COLUMNS else "") for c in COLUMNS)


KEYS = {"k1": ("sk-a...01",), "k2": ("sk-a...02",), "k3": ("sk-a...03", "sk-b...03"), "": ("", "cpa-api")}
AUTHS = ("a1", "a2", "a3", "a4", "")
ELSEWHERE = ("a2", "a5", "x9")  # x9, a5: credentials only ever named in failed_auths


def mixed_rows(n: int, seed: int = 1, prefix: str = "r", oldest: float = 5 * DAY) -> list[tuple[Any, ...]]:
    """Successes and failures over several keys (the empty one too) and credentials, rows
    naming 1-3 failed credentials before theirs, tokens; spread over ``oldest`` seconds
    up to now (the last ones in the recent buckets). Every ninth is a tool's usage row
    (tokens, no request, never failed)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        kid = rnd.choice(sorted(KEYS))
        failed = int(rnd.random() < 0.2)
        failed_auths = ""
        if rnd.random() < 0.3:
            failed_auths = ",".join(rnd.choice(AUTHS[:4] + ELSEWHERE) for _ in range(rnd.randint(1, 3)))
        tokens = [rnd.randrange(0, 5000) for _ in range(5)]
        out.append(
            row(
                f"{prefix}{i}",
                NOW - oldest + oldest * i / n,
                api_key_id=kid,
                api_key=rnd.choice(KEYS[kid]),
                auth_index=rnd.choice(AUTHS),
                status=500 if failed else 200,
                failed=failed,
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                cached_tokens=tokens[2],
                cache_creation_tokens=tokens[3],
                reasoning_tokens=tokens[4],
                total_tokens=sum(tokens[:2]),
                failed_auths=failed_auths,
            )
        )
        if i % 9 == 4:
            tool = {"status": 200, "failed": 0, "attempts": ledger_totals.TOOL_ATTEMPTS, "failed_auths": ""}
            out[-1] = tuple(tool.get(c, v) for c, v in zip(COLUMNS, out[-1], strict=True))
    return out


@dataclass
class Db:
    """One test database: stores on it, and raw SQL beside them (``{p}``: a placeholder)."""

    kind: str
    where: str
    stores: list[Store] = field(default_factory=list)

    def store(self, opened: bool = True) -> Store:
        store: Store = SqliteStore(Path(self.where)) if self.kind == "sqlite" else PostgresStore(self.where)
        self.stores.append(store)
        if opened:
            store.open()
        return store

    def run(self, sql: str, params: Any = (), many: bool = False) -> list[tuple[Any, ...]]:
        text = sql.format(p="?" if self.kind == "sqlite" else "%s")
        if self.kind == "sqlite":
            with sqlite3.connect(self.where) as conn:
                cur = conn.executemany(text, params) if many else conn.execute(text, params)
                return cur.fetchall()
        import psycopg

        with psycopg.connect(self.where, autocommit=True) as conn, conn.cursor() as cur:
            if many:
                cur.executemany(text, params)
                return []
            cur.execute(text, params)
            return cur.fetchall() if cur.description else []

    def old_ledger(self, rows: list[tuple[Any, ...]]) -> None:
        """The rows table as an older version left it: no totals."""
        for ddl in OLD_DDL:
            self.run(ddl)
        marks = ", ".join(["{p}"] * len(COLUMNS))
        self.run(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})", rows, many=True)

    def count(self) -> int:
        return int(self.run(f"SELECT COUNT(*) FROM {TABLE}")[0][0])


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    if request.param == "postgres":
        found = Db("postgres", request.getfixturevalue("postgres_url"))
    else:
        found = Db("sqlite", str(tmp_path / "usage.sqlite"))
    try:
        yield found
    finally:
        for store in found.stores:
            store.close()


# -- the tests


def test_the_modules_name_the_same_rows_table():
    assert ledger_totals.ROWS == TABLE


def test_writes_keep_the_totals_the_old_scans_gave(db):
    """Batches of every size through the store and rows through the ledger's writer thread."""
    store = db.store(opened=False)
    ledger = Ledger(store)
    ledger.start()
    rows = mixed_rows(1500)
    start = 0
    for size in (1, 2, 37, 256, 257, 300):
        assert store.insert(rows[start : start + size]) == size
        start += size
    # a batch all of one key and one credential (summed whole), some naming failed credentials
    one = [(*r[:3], "k2", "sk-a...02", "a3", *r[6:]) for r in mixed_rows(300, seed=4, prefix="one")]
    assert store.insert(one) == 300
    for r in rows[start:]:
        ledger.add(r[1:])  # (its uid is the writer's to give)
    assert ledger.flush() and ledger.failed_batches == 0
    assert db.count() == 1800
    by_auth, by_key, labels = assert_parity(store)
    assert {"x9", "a5"} <= by_auth.keys() and by_auth["x9"]["success"] == 0  # named in failed_auths only
    assert labels["k3"] == "sk-b...03" and "" in by_key and "" not in labels
    assert sum(b["success"] + b["failed"] for b in by_auth["a1"]["recent_requests"]) > 0


def test_a_retention_sweep_takes_off_exactly_what_it_deleted(db):
    store = db.store()
    old = [
        row(f"old{i}", NOW - 10 * DAY + i, api_key_id="gone", api_key="sk-g...1", auth_index="a9")
        for i in range(5)
    ]
    # k3's greatest label only on rows the sweep deletes: the next one takes its place
    relabel = [row("old-k3", NOW - 9 * DAY, api_key_id="k3", api_key="sk-z...03", auth_index="a1", failed=1)]
    named = [
        row("old-x", NOW - 9 * DAY, api_key_id="k1", api_key="sk-a...01", failed_auths="x8,a1", failed=1)
    ]
    store.insert(old + relabel + named + mixed_rows(800, oldest=4 * DAY))
    before = _snapshot(store, restore_counters)
    assert before[2]["k3"] == "sk-z...03" and "gone" in before[1] and "a9" in before[0] and "x8" in before[0]

    ledger = Ledger(store, retention_days=2)
    removed = ledger.prune()
    assert removed > 400 and db.count() == 807 - removed
    assert db.run(f"SELECT COUNT(*) FROM {TABLE} WHERE ts < {{p}}", (NOW - 2 * DAY,)) == [(0,)]
    by_auth, by_key, labels = assert_parity(store)
    assert "gone" not in by_key and "a9" not in by_auth and "x8" not in by_auth  # no row counts them now
    assert labels["k3"] == "sk-b...03"
    ledger.prune()  # again: nothing (or a row just past the cutoff) to take off
    assert_parity(store)


def test_an_import_adds_to_the_totals(db):
    store = db.store(opened=False)
    ledger = Ledger(store)
    ledger.start()
    rows = mixed_rows(600)
    store.insert(rows[:200])
    # 100 already there, 400 new, one repeated within the import
    assert ledger.import_rows([*rows[100:], rows[-1]]) == 400
    assert db.count() == 600
    assert_parity(store)


def test_an_older_ledger_gets_its_totals_built_once(db):
    db.old_ledger(mixed_rows(700))
    store = db.store()
    assert_parity(store)
    assert db.run(f"SELECT value FROM {ledger_totals.META} WHERE name = 'totals_built'") == [("1",)]
    store.close()
    again = db.store()  # a second open: built already, nothing added twice
    assert_parity(again)
    again.insert(mixed_rows(50, seed=2, prefix="new"))
    assert_parity(again)


def test_a_totals_table_never_marked_built_is_rebuilt(db):
    """A build cut short leaves no mark (its transaction rolled back); a table filled some
    other way without the mark is not trusted either."""
    db.old_ledger(mixed_rows(300))
    for ddl in ledger_totals.TOTALS_DDL:
        db.run(ddl)
    db.run(
        f"INSERT INTO {ledger_totals.TOTALS} (kind, id, success) VALUES ('auth', 'a1', 999), ('key', 'zz', 5)"
    )
    assert_parity(db.store())


def test_a_new_ledger_is_marked_built_with_nothing_to_add(db):
    store = db.store()
    assert db.run(f"SELECT name FROM {ledger_totals.META}") == [("totals_built",)]
    assert store.query(ledger_totals.READ_SQL) == []
    assert _snapshot(store, restore_counters) == ({}, {}, {})


def test_restore_reads_the_totals_not_the_rows(db):
    """Rows deleted behind the store's back (no sweep): the totals, not a scan, are what
    a start restores; only the recent buckets come from the rows."""
    store = db.store()
    store.insert(mixed_rows(400, oldest=2 * DAY))
    expected = _snapshot(store, old_restore_counters)
    db.run(f"DELETE FROM {TABLE}")
    by_auth, by_key, labels = _snapshot(store, restore_counters)
    assert labels == expected[2]
    fields = ("success", "failed", *ledger_totals.TOKENS)
    for got, want in ((by_auth, expected[0]), (by_key, expected[1])):
        assert {k: [e[f] for f in fields] for k, e in got.items()} == {
            k: [e[f] for f in fields] for k, e in want.items()
        }


BAD_ROWS = {
    "null-in-a-not-null-column": [row("bad", NOW, api_key_id="k1", auth_index="a1", source=None)],
    "wrong-arity": [(*row("bad", NOW, api_key_id="k1"), "extra")],
    # each row fits a BIGINT, their sum does not: the rows go in, then the totals fail
    "totals-overflow": [row(f"bad{i}", NOW, api_key_id="k1", input_tokens=2**62) for i in range(2)],
}


@pytest.mark.parametrize("bad", sorted(BAD_ROWS))
def test_a_failed_write_leaves_rows_and_totals_as_they_were(db, bad):
    store = db.store()
    store.insert(mixed_rows(100))
    before = _table(store)
    good = mixed_rows(10, seed=3, prefix="b")
    with pytest.raises(Exception):  # noqa: B017 (each database says it its own way)
        store.insert([*good, *BAD_ROWS[bad]])
    assert db.count() == 100 and _table(store) == before
    assert_parity(store)
    store.insert(good)  # and the store writes on
    assert db.count() == 110
    assert_parity(store)


def test_proxies_opening_an_older_ledger_at_once_build_it_once(db):
    """Several processes (here: threads, each with its own connection) open the same
    ledger at once; one builds, the others find it built."""
    db.old_ledger(mixed_rows(3000))
    stores = [db.store(opened=False) for _ in range(4)]
    errors: list[BaseException] = []
    gate = threading.Barrier(len(stores))

    def open_one(store: Store) -> None:
        gate.wait()
        try:
            store.open()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert_parity(stores[0])


def test_an_open_waits_out_another_openers_switch_to_wal(tmp_path: Path) -> None:
    """While another connection holds the write lock of a file still in rollback-journal
    mode (another proxy switching it to WAL at the same moment), SQLite refuses our switch
    at once (SQLITE_BUSY, no busy wait: both would wait for each other's lock). The open
    tries again until the lock goes, instead of failing with 'database is locked': the
    intermittent failure of ``...build_it_once[sqlite]`` above, made deterministic."""
    path = tmp_path / "usage.sqlite"
    with sqlite3.connect(path) as setup:
        setup.execute("CREATE TABLE other (a)")
    setup.close()
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    timer = threading.Timer(0.1, other.execute, ("COMMIT",))
    timer.start()
    store = SqliteStore(path)
    try:
        store.open()
        assert other.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        timer.join(5)
        other.close()
        store.close()
