"""Where ledger rows live: an SQLite file (WAL) or a Postgres database, one table of rows
and their running totals (:mod:`cliproxy.usage.ledger_totals`).

Both stores speak the same SQL; they differ in the placeholder, how a time bucket is
computed and how a connection is opened. Every method blocks: the ledger's writer
thread calls ``insert`` / ``prune``, management queries run in ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import Any, Protocol

from cliproxy.usage import ledger_totals
from cliproxy.usage.ledger_totals import (
    BUILD_LOCK,
    POSTGRES,
    SQLITE,
    TOKENS,
    TOOL_ATTEMPTS,
    TOTALS_DDL,
    Totals,
)

__all__ = ["COLUMNS", "INT_COLUMNS", "TABLE", "PostgresStore", "SqliteStore", "Store", "open_store"]

TABLE = "usage_requests"

# column, SQL type; the order is the order of a row tuple
SCHEMA: tuple[tuple[str, str], ...] = (
    ("uid", "TEXT NOT NULL"),  # unique by construction; no index: an import checks (Ledger.import_rows)
    ("ts", "DOUBLE PRECISION NOT NULL"),
    ("request_id", "TEXT NOT NULL DEFAULT ''"),
    ("api_key_id", "TEXT NOT NULL DEFAULT ''"),
    ("api_key", "TEXT NOT NULL DEFAULT ''"),
    ("auth_index", "TEXT NOT NULL DEFAULT ''"),
    ("source", "TEXT NOT NULL DEFAULT ''"),
    ("provider", "TEXT NOT NULL DEFAULT ''"),
    ("endpoint", "TEXT NOT NULL DEFAULT ''"),
    ("alias", "TEXT NOT NULL DEFAULT ''"),
    ("model", "TEXT NOT NULL DEFAULT ''"),
    ("status", "INTEGER NOT NULL DEFAULT 0"),
    ("failed", "INTEGER NOT NULL DEFAULT 0"),
    ("stream", "INTEGER NOT NULL DEFAULT 0"),
    ("input_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("output_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("cached_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("cache_creation_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("reasoning_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("total_tokens", "BIGINT NOT NULL DEFAULT 0"),
    ("latency_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("ttfb_ms", "INTEGER NOT NULL DEFAULT 0"),
    ("attempts", "INTEGER NOT NULL DEFAULT 1"),
    ("failed_auths", "TEXT NOT NULL DEFAULT ''"),
)
COLUMNS: tuple[str, ...] = tuple(name for name, _ in SCHEMA)
INT_COLUMNS = frozenset(name for name, kind in SCHEMA if kind.startswith(("INTEGER", "BIGINT")))

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} (" + ", ".join(f"{n} {t}" for n, t in SCHEMA) + ")",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_ts ON {TABLE} (ts)",
    *TOTALS_DDL,  # usage_totals: per credential and per key sums of the rows; usage_meta
)

# where :func:`_tally` finds in a row what the totals add up: indexes in a row without its
# uid (the writer's rows); a row with its uid has each one further on
_KEY_AT, _AUTH_AT, _LABEL_AT, _FAILED_AUTHS_AT, _ATTEMPTS_AT = (
    COLUMNS.index(name) - 1 for name in ("api_key_id", "auth_index", "api_key", "failed_auths", "attempts")
)
_SUMMED_AT = tuple(COLUMNS.index(name) - 1 for name in ("failed", *TOKENS))
_FEW_PAIRS = 16  # (key, credential) pairs in a batch summed pair by pair


class Store(Protocol):
    """One ledger database."""

    name: str
    placeholder: str

    def open(self) -> None:
        """Connect, create the tables if needed, and build the totals of a ledger an
        older version wrote (once)."""

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add rows (an import's: their uids are not there yet) and their totals, in one
        transaction; returns how many rows."""

    def append(self, prefix: str, first: int, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add the writer's rows, each without its uid, and their totals, in one
        transaction; returns how many rows. Row ``i`` gets the uid ``prefix`` followed by
        ``first + i`` in lower-case hex (new: the ledger's prefix is its own)."""

    def present(self, uids: Sequence[str]) -> set[str]:
        """Those of ``uids`` already in the table (an import skips them): one scan, however
        many (uid has no index: the writer's rows never need one)."""

    def prune(self, before: float) -> int:
        """Delete rows older than ``before`` (Unix seconds) and take them off the totals,
        in one transaction; returns how many rows."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (``{p}`` marks a placeholder, ``{bucket}`` a time bucket)."""

    def close(self) -> None: ...


def _insert_sql(ph: str, rows: int = 1) -> str:
    one = f"({', '.join([ph] * len(COLUMNS))})"
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)}"


def _uid(prefix: str, n: int) -> str:
    """The uid :meth:`Store.append` gives (SQLite's ``printf('%x')`` writes the same)."""
    return f"{prefix}{n:x}"


# SQLite: one statement per 100 rows costs about a fifth less than one per 20 and a third less
# than one per row; a batch goes in as few statement shapes as are cached, all of a power-of-two
# size (``_parts``). Fewer rows a statement where the library allows fewer host parameters (999
# before 3.32). The writer holds the GIL while a statement's values are bound (about 1.5 us a
# row) and takes it back as soon as a step ends: an event loop woken meanwhile (a request's
# bytes) finds it taken again before it runs, statement after statement, for the whole batch.
# Measured at c=1 (passthrough, 5 rounds, medians): the writer took the proxy's p99 from 0.35
# (ledger off) to 0.97 ms. So a statement binds at most 128 rows and the writer then sleeps
# ``YIELD_SECONDS``, long enough for a waiting loop thread to wake up and take the GIL (a loop
# that is not waiting loses nothing): p99 0.57 ms; writer CPU 4.0 -> 4.8 us a row (64 rows a
# statement: p99 about the same, 6.0 us a row; 256 without the sleep: 0.97 ms, 4.0 us).
ROWS_PER_STATEMENT = 128
YIELD_SECONDS = 0.0001
BUSY_SECONDS = 10.0  # SQLite: how long a statement waits for another connection's write lock
# how long an open waits for another proxy opening the same ledger: it may be building the
# totals of a big ledger an older version wrote (about 1.5 s a million rows, SQLite)
OPEN_WAIT_SECONDS = 300.0


@functools.lru_cache(maxsize=32)
def _sqlite_insert(rows: int) -> str:
    return _insert_sql("?", rows)


@functools.lru_cache(maxsize=32)
def _sqlite_append(rows: int) -> str:
    """``rows`` rows without their uid, bound after the uids' prefix (``?1``) and first
    counter (``?2``): each row's uid is made by SQLite from those two, so the writer binds
    the rows as they were queued, never building a tuple with the uid in front (0.3 us a
    row of the writer's ~2.8, measured alone). An unnumbered ``?`` takes the number after
    the greatest used so far, so the rows' values are ``?3`` on, in order."""
    one = ", ".join(["?"] * (len(COLUMNS) - 1))
    values = ", ".join(f"(?1 || printf('%x', ?2 + {i}), {one})" for i in range(rows))
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {values}"


def _tally(rows: Sequence[tuple[Any, ...]], flats: Sequence[list[Any]] = (), *, uid: bool) -> Totals:
    """What a batch adds to the totals. ``rows``: with their uid first (``uid``, an
    import's) or without (the writer's). ``flats``: the parameter lists the SQLite
    statements were bound with: the rows' values one after the other, after the uids'
    prefix and first counter when the rows have no uid (``_sqlite_append``). A batch all of
    one key and one credential (a proxy serving one client through one credential) is
    summed from them column by column, each column sliced out in C; any other row by row."""
    shift = 1 if uid else 0
    found = _tally_one_pair(flats, shift, 0 if uid else 2) if flats else None
    return found if found is not None else _tally_rows(rows, shift)


def _tally_one_pair(flats: Sequence[list[Any]], shift: int, front: int) -> Totals | None:
    """The totals of rows given flat (``front`` values first, then ``len(COLUMNS) - 1 +
    shift`` a row), when they all have one key and one credential."""
    width = len(COLUMNS) - 1 + shift
    key_at, auth_at, label_at, failed_at = (
        front + shift + at for at in (_KEY_AT, _AUTH_AT, _LABEL_AT, _FAILED_AUTHS_AT)
    )
    kid, index = flats[0][key_at], flats[0][auth_at]
    for flat in flats:
        kids, auths = flat[key_at::width], flat[auth_at::width]
        if kids.count(kid) != len(kids) or auths.count(index) != len(auths):
            return None
    totals = Totals()
    n = sum(len(flat) - front for flat in flats) // width
    sums = [sum(sum(flat[front + shift + at :: width]) for flat in flats) for at in _SUMMED_AT]
    attempts_at = front + shift + _ATTEMPTS_AT
    tools = sum(flat[attempts_at::width].count(TOOL_ATTEMPTS) for flat in flats)  # (usage.tool_usage)
    totals.add(kid, index, n, sums, max(max(flat[label_at::width]) for flat in flats), tools)
    failed_auths = chain.from_iterable(flat[failed_at::width] for flat in flats)
    for names, count in Counter(filter(None, failed_auths)).items():
        totals.fail(names, count)
    return totals


def _tally_rows(rows: Sequence[tuple[Any, ...]], shift: int) -> Totals:
    """The totals of rows. They are grouped by key and credential (a dict append a
    row), each group's columns summed in C one column at a time (a pass touches one value a
    row; transposing the rows would touch all 24). Many pairs (many keys and credentials
    in one batch) are regrouped by key and by credential first: as many sums as keys plus
    credentials, not keys times credentials. ``shift``: 1 when the rows hold their uid."""
    key_at, auth_at = _KEY_AT + shift, _AUTH_AT + shift
    label, failed_auths = itemgetter(_LABEL_AT + shift), itemgetter(_FAILED_AUTHS_AT + shift)
    summed = [itemgetter(at + shift) for at in _SUMMED_AT]
    attempts = itemgetter(_ATTEMPTS_AT + shift)
    pairs: defaultdict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
    for row in rows:
        pairs[row[key_at], row[auth_at]].append(row)
    totals = Totals()
    # tool usage rows (tokens, no request: usage.tool_usage) are counted where the batch has any
    tools = _tools if TOOL_ATTEMPTS in map(attempts, rows) else _no_tools
    if len(pairs) <= _FEW_PAIRS:
        for (kid, index), part in pairs.items():
            totals.add(
                kid, index, len(part), _sums(part, summed), max(map(label, part)), tools(part, attempts)
            )
    else:
        by_key: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)
        by_auth: defaultdict[str, list[tuple[Any, ...]]] = defaultdict(list)
        for (kid, index), part in pairs.items():
            by_key[kid] += part
            if index:
                by_auth[index] += part
        for kid, part in by_key.items():
            totals.key(kid, len(part), _sums(part, summed), max(map(label, part)), tools(part, attempts))
        for index, part in by_auth.items():
            totals.auth(index, len(part), _sums(part, summed), tools(part, attempts))
    for names, count in Counter(filter(None, map(failed_auths, rows))).items():
        totals.fail(names, count)
    return totals


def _sums(rows: list[tuple[Any, ...]], summed: Sequence[itemgetter[Any]]) -> list[int]:
    return [sum(map(get, rows)) for get in summed]


def _tools(rows: list[tuple[Any, ...]], attempts: itemgetter[Any]) -> int:
    """How many of ``rows`` are a tool's usage rows (``attempts`` :data:`TOOL_ATTEMPTS`)."""
    return list(map(attempts, rows)).count(TOOL_ATTEMPTS)


def _no_tools(rows: list[tuple[Any, ...]], attempts: itemgetter[Any]) -> int:
    return 0


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str = "BEGIN") -> Iterator[sqlite3.Connection]:
    conn.execute(begin)
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def _wal(conn: sqlite3.Connection) -> None:
    """The file in WAL mode (the first opener switches it; it stays). Openers that switch it
    at the same time may be refused at once, without the busy wait: each statement holds a
    read lock and wants the write lock another holds, which SQLite answers SQLITE_BUSY at
    once rather than wait into a deadlock. Tried again, for ``BUSY_SECONDS`` at most."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
        time.sleep(0.005)


def _parts(n: int, top: int) -> Iterator[tuple[int, int]]:
    """``(start, size)`` of the statements that insert ``n`` rows, ``top`` (a power of two)
    at most each: as many full ones as fit, then one per power of two the rest is made of
    (1,250 rows at 256: 4 x 256, 128, 64, 32, 2). No more than log2(top) + 1 shapes, each
    prepared once and kept in the connection's statement cache, whatever the batch sizes."""
    start, size = 0, top
    while start < n:
        while size > n - start:
            size >>= 1
        yield start, size
        start += size


class SqliteStore:
    """The embedded default: one file, WAL mode, one writer connection (the writer
    thread's) and a fresh read connection per query."""

    placeholder = "?"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"sqlite:{path}"
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._per_statement = ROWS_PER_STATEMENT

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None)
        try:
            _wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout = {int(OPEN_WAIT_SECONDS * 1000)}")
            with _transaction(conn, "BEGIN IMMEDIATE"):  # the write lock: one opener builds the totals
                for ddl in _DDL:
                    conn.execute(ddl)
                ledger_totals.ensure_built(conn, SQLITE)
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        except BaseException:
            conn.close()
            raise
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        fits = max(1, min(ROWS_PER_STATEMENT, (limit - 2) // len(COLUMNS)))  # 2: ``_sqlite_append``'s
        self._per_statement = 1 << (fits.bit_length() - 1)  # a power of two (``_parts``)
        self._conn = conn

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        return self._write(rows, None)

    def append(self, prefix: str, first: int, rows: Sequence[tuple[Any, ...]]) -> int:
        return self._write(rows, (prefix, first))

    def _write(self, rows: Sequence[tuple[Any, ...]], uids: tuple[str, int] | None) -> int:
        """``insert`` (rows with their uid) or ``append`` (``uids``: the prefix and first
        counter SQLite makes each row's uid from, ``_sqlite_append``), and the rows' totals,
        in one transaction."""
        conn = self._writer()
        step = self._per_statement
        statement = _sqlite_insert if uids is None else _sqlite_append
        flats: list[list[Any]] = []
        with self._lock, _transaction(conn):
            before = conn.total_changes
            for start, size in _parts(len(rows), step):
                flat: list[Any] = [] if uids is None else [uids[0], uids[1] + start]
                flat += chain.from_iterable(rows[start : start + size])
                conn.execute(statement(size), flat)
                flats.append(flat)
                time.sleep(YIELD_SECONDS)  # the GIL to a waiting event loop (see ROWS_PER_STATEMENT)
            added = conn.total_changes - before
            # in the rows' transaction: both or neither
            ledger_totals.add(conn, SQLITE, _tally(rows, flats, uid=uids is None))
            return added

    def present(self, uids: Sequence[str]) -> set[str]:
        conn = self._reader()
        try:  # the uids asked go in a temporary table (a read-only connection may have one)
            conn.execute("CREATE TEMP TABLE asked (uid TEXT PRIMARY KEY)")
            conn.executemany("INSERT OR IGNORE INTO temp.asked VALUES (?)", ((u,) for u in uids))
            found = conn.execute(f"SELECT uid FROM {TABLE} WHERE uid IN (SELECT uid FROM temp.asked)")
            return {str(r[0]) for r in found}
        finally:
            conn.close()

    def prune(self, before: float) -> int:
        conn = self._writer()
        # BEGIN IMMEDIATE: no other writer between the sums read and the rows deleted
        with self._lock, _transaction(conn, "BEGIN IMMEDIATE"):
            old = conn.execute(ledger_totals.grouped_sql(where=" WHERE ts < ?"), (before,)).fetchall()
            removed = conn.execute(f"DELETE FROM {TABLE} WHERE ts < ?", (before,)).rowcount
            ledger_totals.subtract(conn, SQLITE, Totals.of_grouped(old))
            return removed

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text = sql.format(p="?", bucket="(CAST(ts / ? AS INTEGER) * ?)")
        conn = self._reader()
        try:
            return conn.execute(text, tuple(params)).fetchall()
        finally:
            conn.close()

    def _reader(self) -> sqlite3.Connection:
        return sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_SECONDS)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _writer(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn


class PostgresStore:
    """A Postgres database (``usage-ledger.postgres-url``), through psycopg 3."""

    placeholder = "%s"

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = "postgres"
        self._conn: Any = None
        self._lock = threading.Lock()

    def _connect(self) -> Any:
        try:  # imported here: psycopg costs ~8 MB of memory, and only this store needs it
            import psycopg
        except ImportError as exc:  # an optional dependency (cliproxy[postgres])
            raise RuntimeError(
                "usage-ledger.postgres-url needs psycopg: pip install 'cliproxy[postgres]'"
            ) from exc
        return psycopg.connect(self.url, autocommit=True, connect_timeout=10)

    def open(self) -> None:
        conn = self._connect()
        try:  # proxies opening one database at once: one at a time makes tables and totals
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(f"SET LOCAL lock_timeout = '{int(OPEN_WAIT_SECONDS)}s'")
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (BUILD_LOCK,))
                for ddl in _DDL:
                    cur.execute(ddl)
                ledger_totals.ensure_built(cur, POSTGRES)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        return self._insert(rows, _tally(rows, uid=True))

    def append(self, prefix: str, first: int, rows: Sequence[tuple[Any, ...]]) -> int:
        totals = _tally(rows, uid=False)
        return self._insert([(_uid(prefix, first + i), *row) for i, row in enumerate(rows)], totals)

    def _insert(self, rows: Sequence[tuple[Any, ...]], totals: Totals) -> int:
        with self._lock, self._writer() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(_insert_sql("%s"), rows)
            added = int(cur.rowcount if cur.rowcount >= 0 else len(rows))
            # last: the totals rows every writer updates stay locked the shortest
            ledger_totals.add(cur, POSTGRES, totals)
            return added

    def present(self, uids: Sequence[str]) -> set[str]:
        sql = f"SELECT uid FROM {TABLE} WHERE uid IN (SELECT unnest(%s::text[]))"
        with self._connect() as conn:
            return {str(r[0]) for r in conn.execute(sql, (list(uids),)).fetchall()}

    def prune(self, before: float) -> int:
        # the sums of exactly the rows this statement deleted (another proxy pruning at the
        # same time deletes, and subtracts, the others)
        gone = f"WITH gone AS (DELETE FROM {TABLE} WHERE ts < %s RETURNING *) "
        with self._lock, self._writer() as conn, conn.transaction(), conn.cursor() as cur:
            old = Totals.of_grouped(
                cur.execute(gone + ledger_totals.grouped_sql("gone"), (before,)).fetchall()
            )
            ledger_totals.subtract(cur, POSTGRES, old)
            return old.rows

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text = sql.format(p="%s", bucket="(FLOOR(ts / %s) * %s)")
        with self._connect() as conn:
            return list(conn.execute(text, tuple(params)).fetchall())

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    @contextmanager
    def _writer(self) -> Iterator[Any]:
        if self._conn is None or self._conn.closed:
            self.open()
        yield self._conn


def open_store(path: Path | None, postgres_url: str) -> Store:
    """The store the config names (not yet connected)."""
    if postgres_url:
        return PostgresStore(postgres_url)
    assert path is not None
    return SqliteStore(path)
