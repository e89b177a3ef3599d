"""Where ledger rows live: an SQLite file (WAL) or a Postgres database, one table.

Both stores speak the same SQL; they differ in the placeholder, how a time bucket is
computed and how a connection is opened. Every method blocks: the ledger's writer
thread calls ``insert`` / ``prune``, management queries run in ``asyncio.to_thread``.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import Any, Protocol

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
)


class Store(Protocol):
    """One ledger database."""

    name: str
    placeholder: str

    def open(self) -> None:
        """Connect and create the table if needed."""

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Add rows (the writer's batches: their uids are new); returns how many."""

    def uids(self) -> set[str]:
        """Every uid present (an import skips rows already there)."""

    def prune(self, before: float) -> int:
        """Delete rows older than ``before`` (Unix seconds)."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a read query (``{p}`` marks a placeholder, ``{bucket}`` a time bucket)."""

    def close(self) -> None: ...


def _insert_sql(ph: str, rows: int = 1) -> str:
    one = f"({', '.join([ph] * len(COLUMNS))})"
    return f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES {', '.join([one] * rows)}"


# SQLite: one statement per 100 rows costs about a fifth less than one per 20 and a third less
# than one per row. Each statement releases the GIL around its steps, and every time the writer
# takes it back from a busy event loop costs both threads a wake-up: so a batch goes in as few
# statements as there are shapes cached, all of a power-of-two size (``_parts``). Fewer rows a
# statement where the library allows fewer host parameters (999 before 3.32).
ROWS_PER_STATEMENT = 256


@functools.lru_cache(maxsize=32)
def _sqlite_insert(rows: int) -> str:
    return _insert_sql("?", rows)


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
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        for ddl in _DDL:
            conn.execute(ddl)
        limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
        fits = max(1, min(ROWS_PER_STATEMENT, limit // len(COLUMNS)))
        self._per_statement = 1 << (fits.bit_length() - 1)  # a power of two (``_parts``)
        self._conn = conn

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        conn = self._writer()
        step = self._per_statement
        with self._lock:
            before = conn.total_changes
            conn.execute("BEGIN")
            try:
                for start, size in _parts(len(rows), step):
                    part = rows[start : start + size]
                    conn.execute(_sqlite_insert(size), list(chain.from_iterable(part)))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            return conn.total_changes - before

    def uids(self) -> set[str]:
        return {str(r[0]) for r in self.query(f"SELECT uid FROM {TABLE}")}

    def prune(self, before: float) -> int:
        conn = self._writer()
        with self._lock:
            return conn.execute(f"DELETE FROM {TABLE} WHERE ts < ?", (before,)).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        text = sql.format(p="?", bucket="(CAST(ts / ? AS INTEGER) * ?)")
        conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=10.0)
        try:
            return conn.execute(text, tuple(params)).fetchall()
        finally:
            conn.close()

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
        for ddl in _DDL:
            conn.execute(ddl)
        self._conn = conn

    def insert(self, rows: Sequence[tuple[Any, ...]]) -> int:
        with self._lock, self._writer() as conn, conn.transaction(), conn.cursor() as cur:
            cur.executemany(_insert_sql("%s"), rows)
            return int(cur.rowcount if cur.rowcount >= 0 else len(rows))

    def uids(self) -> set[str]:
        return {str(r[0]) for r in self.query(f"SELECT uid FROM {TABLE}")}

    def prune(self, before: float) -> int:
        with self._lock, self._writer() as conn:
            return int(conn.execute(f"DELETE FROM {TABLE} WHERE ts < %s", (before,)).rowcount)

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
