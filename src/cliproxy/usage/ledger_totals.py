"""Running totals beside the ledger's rows, so a start reads one row per credential and key.

Table ``usage_totals`` holds one row per credential ``auth_index`` (kind ``auth``) and per
client key id (kind ``key``, ``''`` included): what the rows kept add up to, as
:func:`cliproxy.usage.restore.restore_counters` counts them. A row's credential gets its
outcome and tokens, its key the same plus the greatest masked key seen (``label``), and
each credential named in its ``failed_auths`` one failure. A tool's usage row (``attempts``
:data:`TOOL_ATTEMPTS`, :mod:`cliproxy.usage.tool_usage`) is no request: it adds its tokens
only, as the live counters count it (CPA counts a credential's requests once each, its
``PublishAdditionalModel`` record is no request there). ``Store.insert`` adds a batch's
totals in the transaction that adds its rows; ``Store.prune`` subtracts those of the rows it
deletes in the transaction that deletes them. A ledger written before this table existed
has its totals built once from the rows when it opens; the ``totals_built`` row in
``usage_meta`` says that was done (a build that did not finish left no mark: it runs again).

Every function here takes an open connection or cursor inside a transaction the store
began; SQL is written with ``{p}`` for the placeholder (:class:`Dialect`).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "BUILD_LOCK",
    "META",
    "POSTGRES",
    "READ_SQL",
    "ROWS",
    "SQLITE",
    "TOKENS",
    "TOKEN_SUMS",
    "TOOL_ATTEMPTS",
    "TOTALS",
    "TOTALS_DDL",
    "Db",
    "Dialect",
    "Totals",
    "add",
    "ensure_built",
    "grouped_sql",
    "subtract",
]

ROWS = "usage_requests"  # ledger_store.TABLE (which imports this module)
TOTALS = "usage_totals"
META = "usage_meta"
BUILT = "totals_built"  # the ``usage_meta`` row that says the totals match the rows
TOKENS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "cache_creation_tokens",
    "reasoning_tokens",
    "total_tokens",
)
# ``attempts`` of a tool's usage row: no request of its own (a request that made no upstream
# call, no credential could serve it, has 0: it is a request)
TOOL_ATTEMPTS = -1
TOKEN_SUMS = ", ".join(f"SUM({name})" for name in TOKENS)  # the token columns summed, in order
SUMS = ("success", "failed", *TOKENS)  # a totals row after (kind, id, label)
# Postgres: the transaction that opens a ledger (tables, the totals build) holds this
# advisory lock, so proxies opening one database at once build its totals once
BUILD_LOCK = int.from_bytes(b"cliproxy", "big")

TOTALS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TOTALS} (kind TEXT NOT NULL, id TEXT NOT NULL, "
    "label TEXT NOT NULL DEFAULT '', "
    + ", ".join(f"{n} BIGINT NOT NULL DEFAULT 0" for n in SUMS)
    + ", PRIMARY KEY (kind, id))",
    f"CREATE TABLE IF NOT EXISTS {META} (name TEXT PRIMARY KEY, value TEXT NOT NULL DEFAULT '')",
)

# every totals row: kind, id, label, success, failed, *tokens
READ_SQL = f"SELECT kind, id, label, {', '.join(SUMS)} FROM {TOTALS} ORDER BY kind, id"

Key = tuple[str, str]  # (kind, id)


class Db(Protocol):
    """An ``sqlite3.Connection`` or a psycopg cursor, inside a transaction."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, parameters: Any, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Dialect:
    """What differs between the stores' SQL here."""

    p: str  # the placeholder
    greatest: str  # the two-argument maximum


SQLITE = Dialect("?", "MAX")
POSTGRES = Dialect("%s", "GREATEST")


class Totals:
    """Totals by (kind, id) of some rows: ``by[kind, id]`` is ``[label, success, failed, *tokens]``."""

    __slots__ = ("_by", "_failed", "rows")

    def __init__(self) -> None:
        self._by: dict[Key, list[Any]] = {}
        self._failed: dict[str, int] = {}  # failed_auths -> rows: split once, when ``by`` is read
        self.rows = 0

    @property
    def by(self) -> dict[Key, list[Any]]:
        for failed_auths, rows in self._failed.items():
            for index in failed_auths.split(","):
                if index:
                    self._merge(("auth", index), "", (0, rows, 0, 0, 0, 0, 0, 0))
        self._failed.clear()
        return self._by

    def add(self, kid: str, index: str, rows: int, sums: Sequence[int], label: str, tools: int = 0) -> None:
        """``rows`` rows of key ``kid`` and credential ``index`` (``''``: none), whose
        ``failed`` and token columns add up to ``sums``, greatest ``api_key`` ``label``;
        ``tools`` of them tool usage rows (tokens, no request)."""
        self.key(kid, rows, sums, label, tools)
        if index:
            self.auth(index, rows, sums, tools)

    def key(self, kid: str, rows: int, sums: Sequence[int], label: str, tools: int = 0) -> None:
        """``rows`` rows of key ``kid``, whatever their credential (the rest as :meth:`add`)."""
        self.rows += rows
        self._merge(("key", kid), label, (rows - tools - sums[0], *sums))

    def auth(self, index: str, rows: int, sums: Sequence[int], tools: int = 0) -> None:
        """``rows`` rows of credential ``index`` (not ``''``), whatever their key (their keys'
        share goes in through :meth:`key`)."""
        self._merge(("auth", index), "", (rows - tools - sums[0], *sums))

    def fail(self, failed_auths: str, rows: int) -> None:
        """``rows`` rows whose ``failed_auths`` is this: one failure each on every credential named."""
        self._failed[failed_auths] = self._failed.get(failed_auths, 0) + rows

    def _merge(self, key: Key, label: str, delta: Sequence[int]) -> None:
        found = self._by.get(key)
        if found is None:
            self._by[key] = [label, *delta]
            return
        if label > found[0]:
            found[0] = label
        found[1:] = map(operator.add, found[1:], delta)

    @classmethod
    def of_grouped(cls, grouped: Iterable[Sequence[Any]]) -> Totals:
        """From the rows of :func:`grouped_sql`."""
        totals = cls()
        for kid, index, failed_auths, rows, tools, *sums, label in grouped:
            n = int(rows)
            totals.add(
                str(kid), str(index), n, [int(v or 0) for v in sums], str(label or ""), int(tools or 0)
            )
            if failed_auths:
                totals.fail(str(failed_auths), n)
        return totals

    def params(self) -> list[tuple[Any, ...]]:
        """One ``(kind, id, label, *sums)`` per key, in key order (two Postgres writers
        then lock the rows they share in the same order: no deadlock)."""
        by = self.by
        return [(*key, *by[key]) for key in sorted(by)]


def grouped_sql(source: str = ROWS, where: str = "") -> str:
    """The grouped sums :meth:`Totals.of_grouped` reads, over ``source``: the rows, the
    tool usage rows among them, the failed ones, the tokens."""
    return (
        f"SELECT api_key_id, auth_index, failed_auths, COUNT(*), "
        f"SUM(CASE WHEN attempts = {TOOL_ATTEMPTS} THEN 1 ELSE 0 END), SUM(failed), {TOKEN_SUMS}, MAX(api_key) "
        f"FROM {source}"
        f"{where} GROUP BY api_key_id, auth_index, failed_auths"
    )


@functools.cache
def _upsert_sql(d: Dialect) -> str:
    names = ("kind", "id", "label", *SUMS)
    sets = ", ".join(f"{n} = {TOTALS}.{n} + excluded.{n}" for n in SUMS)
    return (
        f"INSERT INTO {TOTALS} ({', '.join(names)}) VALUES ({', '.join([d.p] * len(names))}) "
        f"ON CONFLICT (kind, id) DO UPDATE SET label = {d.greatest}({TOTALS}.label, excluded.label), {sets}"
    )


def add(db: Db, d: Dialect, totals: Totals) -> None:
    """Add ``totals`` (rows just inserted) to the table."""
    if totals.by:
        db.executemany(_upsert_sql(d), totals.params())


def subtract(db: Db, d: Dialect, gone: Totals) -> None:
    """Take ``gone`` (rows just deleted) off the table: a key or credential no row counts
    any more loses its row, a key whose greatest label went with them gets the next one."""
    if not gone.by:
        return
    sets = ", ".join(f"{n} = {n} - {d.p}" for n in SUMS)
    db.executemany(
        f"UPDATE {TOTALS} SET {sets} WHERE kind = {d.p} AND id = {d.p}",
        [(*sums, kind, name) for (kind, name), (_, *sums) in sorted(gone.by.items())],
    )
    # nothing left: no request (success + failed) and no tool usage row's tokens
    db.execute(f"DELETE FROM {TOTALS} WHERE {' + '.join(SUMS)} = 0")
    _relabel(db, d, gone)


def _relabel(db: Db, d: Dialect, gone: Totals) -> None:
    """The keys whose stored label was the greatest of the rows deleted: still a row with
    it? (nearly always: a key's label is the same on all its rows), else the next greatest.
    The ``''`` key's label is never read: left alone."""
    pruned = {name: v[0] for (kind, name), v in gone.by.items() if kind == "key" and name}
    if not pruned:
        return
    stored = dict(db.execute(f"SELECT id, label FROM {TOTALS} WHERE kind = 'key' AND id != ''").fetchall())
    for kid in sorted(pruned):
        label = stored.get(kid)
        if label is None or pruned[kid] != label:
            continue
        found = db.execute(
            f"SELECT 1 FROM {ROWS} WHERE api_key_id = {d.p} AND api_key = {d.p} LIMIT 1", (kid, label)
        ).fetchone()
        if found is None:
            db.execute(
                f"UPDATE {TOTALS} SET label = COALESCE((SELECT MAX(api_key) FROM {ROWS} "
                f"WHERE api_key_id = {d.p}), '') WHERE kind = 'key' AND id = {d.p}",
                (kid, kid),
            )


def ensure_built(db: Db, d: Dialect) -> bool:
    """Build the totals from every row unless ``usage_meta`` says they were; whether a
    build ran. The caller holds the lock that makes one opener at a time (SQLite's
    ``BEGIN IMMEDIATE``, Postgres's :data:`BUILD_LOCK`), so the mark read here is the last
    word, and the build is in its transaction: a crash half-way leaves no mark and no half
    sums. One grouped scan (one statement: one snapshot of the rows); a new ledger's is empty."""
    if db.execute(f"SELECT 1 FROM {META} WHERE name = {d.p}", (BUILT,)).fetchone() is not None:
        return False
    db.execute(f"DELETE FROM {TOTALS}")  # sums in a table never marked built are not trusted
    add(db, d, Totals.of_grouped(db.execute(grouped_sql()).fetchall()))
    db.execute(f"INSERT INTO {META} (name, value) VALUES ({d.p}, '1')", (BUILT,))
    return True
