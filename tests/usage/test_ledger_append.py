"""``Store.append``: the writer's rows go in without their uid; the store gives each one.

SQLite makes each uid inside the insert statement from the ledger's prefix and a counter
(``ledger_store._sqlite_append``); Postgres builds it in Python. Either way every row keeps
every column, each gets the uid the writer used to build itself, and the totals are those
the rows add up to.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cliproxy.usage.ledger import Ledger
from cliproxy.usage.ledger_store import COLUMNS, TABLE, SqliteStore
from tests.usage import test_ledger_totals as totals_tests
from tests.usage.test_ledger_totals import Db, _table, assert_parity, mixed_rows, row

db = totals_tests.db  # the same fixture: an empty SQLite file or a throwaway Postgres


def _all(db: Db) -> list[tuple[Any, ...]]:
    return db.run(f"SELECT {', '.join(COLUMNS)} FROM {TABLE} ORDER BY uid")


# batch sizes across the statement shapes (128 rows a statement, then powers of two)
@pytest.mark.parametrize("count", [1, 3, 128, 129, 300, 2000])
def test_append_keeps_every_row_with_its_uid_and_totals(db: Db, count: int) -> None:
    """Every column as queued, each row's uid the prefix and its counter in hex, and the
    totals what the old scans over the rows give."""
    store = db.store()
    first = (1 << 40) + 7  # a counter past 32 bits: SQLite's printf('%x') writes it as Python does
    rows = [r[1:] for r in mixed_rows(count)]  # many keys and credentials: totals row by row
    assert store.append("ab12", first, rows) == count
    expected = sorted((f"ab12{first + i:x}", *r) for i, r in enumerate(rows))
    assert sorted(_all(db)) == expected
    assert_parity(store)
    # a second batch goes on the first's totals
    more = [r[1:] for r in mixed_rows(50, seed=2)]
    assert store.append("ab12", first + count, more) == 50
    assert db.count() == count + 50
    assert_parity(store)


@pytest.mark.parametrize("count", [1, 200, 2000])
def test_a_batch_of_one_key_and_one_credential_sums_the_same(tmp_path: Path, count: int) -> None:
    """One key and one credential: the totals are summed from the statements' parameter
    lists (``_tally_one_pair``), which hold the uids' prefix and counter in front."""
    store = SqliteStore(tmp_path / "one.sqlite")
    store.open()
    try:
        rows = [
            row(
                "",
                1000.0 + i,
                api_key_id="k1",
                api_key=f"sk-...{i % 3}",
                auth_index="a1",
                failed=i % 5 == 0,
                input_tokens=i,
                output_tokens=2 * i,
                cached_tokens=i % 7,
                cache_creation_tokens=i % 11,
                reasoning_tokens=i % 13,
                total_tokens=3 * i,
                failed_auths="a2,a3" if i % 4 == 0 else "",
            )[1:]
            for i in range(count)
        ]
        assert store.append("p", 1, rows) == count
        ok = sum(1 for i in range(count) if i % 5)
        sums = (
            sum(range(count)),
            2 * sum(range(count)),
            sum(i % 7 for i in range(count)),
            sum(i % 11 for i in range(count)),
            sum(i % 13 for i in range(count)),
            3 * sum(range(count)),
        )
        table = _table(store)
        assert table[("key", "k1")] == (max(f"sk-...{i % 3}" for i in range(count)), ok, count - ok, *sums)
        assert table[("auth", "a1")] == ("", ok, count - ok, *sums)
        failures = len(range(0, count, 4))
        assert table[("auth", "a2")] == table[("auth", "a3")] == ("", 0, failures, 0, 0, 0, 0, 0, 0)
        uids = [u for (u,) in store.query(f"SELECT uid FROM {TABLE} ORDER BY ts")]
        assert uids == [f"p{n:x}" for n in range(1, count + 1)]
    finally:
        store.close()


def test_a_failed_batch_leaves_nothing_and_its_uids_are_never_given_again(tmp_path: Path) -> None:
    """A batch SQLite refuses (a value it cannot bind) is rolled back whole, rows and totals;
    the ledger does not give its uids to the next batch (another proxy may have read them
    from a batch that was half written elsewhere; a uid stands for one row only)."""
    path = tmp_path / "f.sqlite"
    ledger = Ledger(SqliteStore(path), uid_prefix="u")
    ledger.start()
    try:
        ledger.add(row("", 1.0)[1:])
        assert ledger.flush() and ledger.written == 1
        ledger.add(row("", 2.0)[1:])
        ledger.add(row("", 3.0, model=object())[1:])  # not a value SQLite takes
        assert ledger.flush() and ledger.failed_batches == 1 and ledger.dropped == 2
        ledger.add(row("", 4.0)[1:])
        assert ledger.flush() and ledger.written == 2
    finally:
        ledger.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute(f"SELECT uid, ts FROM {TABLE} ORDER BY ts").fetchall() == [
            ("u1", 1.0),
            ("u4", 4.0),
        ]
        assert conn.execute("SELECT success FROM usage_totals WHERE kind = 'key'").fetchall() == [(2,)]
