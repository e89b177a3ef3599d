"""The usage ledger: one row per finished request, written off the request path in batches.

The event loop only appends a tuple to a deque (``add``: one append, atomic under the
GIL, no lock and no thread wake-up per row; ``Recorder.finished`` appends itself while the
rows waiting are fewer than ``room``). A row is every column but the ``uid``: the store
gives each row its uid as it writes it (the ledger's random prefix and a counter, in the
rows' order; SQLite makes it inside the insert statement, ``ledger_store._sqlite_append``).
With the append inline, that took the loop's CPU from 69.3 to 67.5 us a request and the
whole process's from 75.0 to 73.5 (passthrough at c=16, eight rounds interleaved). One writer thread takes what has gathered every ``FLUSH_SECONDS``, or at
once when ``BATCH`` rows wait, and inserts it in one transaction. Rows wait in memory up
to ``MAX_PENDING``; past that (a database that stopped answering) new rows are counted in
``dropped`` and logged, never allowed to grow memory without bound. Retention: rows older
than ``retention-days`` are deleted once an hour by the same thread.

Measured and not taken (2026-12-05): the inserts in a child process with its own GIL, the
thread only encoding each batch (``orjson``, 0.13 us a row) onto a pipe. Passthrough at
c=16, medians of three rounds, the child's CPU counted: 76.7 us a request against 73.5 with
the thread (62.7 ledger off); at c=1 the added p99 was 0.82 ms against 0.61. What the
ledger costs is the database work itself (SQLite: about 2 us a row bare, 3.8 with the
totals and the decoding), not the GIL the thread holds; a process adds the pipe and the
decoding to it. A writer that only popped and dropped the rows (no database) still cost the
event loop 0 to 10 us a request more than no ledger, from run to run, where the row itself
costs 1.4 us (``bench/ledger_cost.py``'s micro-benchmark): with more rounds, within the noise
(see "Why the loop pays" below).

Measured next (same load, per-thread CPU, medians): the ledger costs about 12 us a request
(75 against 63 off), 6 in the writer and 6 on the loop. With no writer at all and the queue
emptied by the loop, the loop paid 1.5 us a request when it kept 50 rows and 4.8 when it kept
3,000: rows waiting in memory cost the loop itself some 3 us (not the collector: the same
with its thresholds raised). Neither way round it helped: rows queued as ``orjson`` bytes (one
object, not tracked) and decoded by the writer in one call a batch cost 81.6 in all (the
decoding holds the GIL); a flush every 0.02 s, fewer rows waiting, 77-84 (more wake-ups and
transactions); the written rows handed back for the loop to free (not freed by the writer's
thread), 77.6 against 77.1.

Measured last (same load, six rounds interleaved, main thread's CPU a request, each set one
run): rows kept in columns (a list of the strings, an ``array`` of the integers, made into
tuples by the writer) instead of one tuple each: 70.7 against 69.9 (64.4 off), so what rows
cost waiting is not their layout. What the writer does with them does not matter either:
one that only encoded each batch (``orjson``) and slept cost the loop 70.4; one that also
held the GIL as long as binding does (1.5 us a row, 128 rows at a time) 66.8; one that read
4 MB through the caches without the GIL 71.7; the real inserts 69.1; off 61.3 (a first run
of the encoding writer read 70.1 against 76.9: the spread between runs is that large). At
c=1 the ledger changes nothing measurable (p50 0.203 against 0.201 ms).

Why the loop pays (2026-12-06; passthrough at c=16 through ``bench/load.py``, 3 s rounds
interleaved 8 to 10 times, medians of the main thread's CPU a request from its ``schedstat``;
a box shared with other work, where two proxies of one code read 0.1 to 4.9 us apart). The
ledger cost the loop 3.1 to 6.5 us over off in eight runs (10.9 in one more). Not through the
loop's syscalls: ``perf stat`` on the loop thread counted 0.011 to 0.014 futex calls a
request (0.002 off: the GIL handed to and from the writer), no page fault, mmap, munmap,
madvise or brk in the whole process, migrations and reschedule IPIs under 0.01 a request and
as many context switches as off (0.36 to 0.47): 0.1 us a request even at 10 us each. (The
getpid calls come from ``_asyncio``'s ``get_running_loop``, a few hundred in 4 s.) Not
through the thread's existence or the rows kept: a writer that pops and drops the rows every
``FLUSH_SECONDS`` read -0.6 to 2.5 us over off in four runs, the loop keeping up to 2,000 rows
itself (no thread) 1.3: within the noise. Where it goes: about 2 is the row's own code (built
and dropped at once: 1.9; about 106 bytecodes), 1.4 to 4.6 goes with the 0.1 ms sleep
between statements (``ledger_store.YIELD_SECONDS``), the rest with the database work.
Without the sleeps the loop read 76.7 and 76.9 against 81.2 and 81.5 on and 77.1 off; 81.5
against 85.6 and 86.7, 80.2 off; 76.1 against 77.9 and 77.8, 73.2 off; and 1.4 and 1.6 under
on in two busier runs (median of the five: 1.7 us; 2.6 with the writer's own CPU, which fell
by 0.8 to 1.4 us a row in every run). Each sleep is one more hand-over of the GIL and of the
CPU between the writer and the loop, and what the loop pays for one is its own code running
slower after the writer has run (what it finds evicted), not a syscall or a preemption: in a
one-process micro-benchmark (a CPU-bound loop-like thread, a real ``Ledger``, a row an op)
the writer waking from its sleeps preempted the loop thread 20 to 24 times a 1,000 ops (2
with no ledger); under ``SCHED_BATCH`` (no wake-up preemption) 2 to 3, yet the loop's CPU an
op moved only from 6.2 and 6.4 to 6.0 and 6.2 us (5.3 and 5.4 off), and through the proxy
77.0 against 77.9 and 77.8 on. (This VM has no hardware counters to count the misses.)
Kept: the sleep holds the loop's p99 at c=1 (0.57 against 0.97 ms without it, see
``ROWS_PER_STATEMENT``), which could not be measured again on a box this busy (p99 10 to 30
ms with no writer at all), and 1.7 us is under what the noise lets one claim. Measured and
not taken: ``os.sched_yield()`` in the sleep's place (75.9 against 80.5 and 75.6 on, 71.6 off,
one busy run), a 1 s flush in 8,000-row batches (85.3 against 85.6), 1,024 rows a statement
and no sleep (86.4), the writer under ``SCHED_IDLE`` (84.9 against 85.3), and
``synchronous=OFF`` (the writer syncs only at a checkpoint, three times in 12 s): -0.9 to 2.2
over off in three runs, then 79.4 and 79.6 against 76.1 and 76.9 on: noise.

Measured 2026-12-06 (``bench/ab.py``, passthrough at c=16, 12 rounds, two runs of the old
code as the noise): each uid made by SQLite in the statement instead of a tuple built per
row by the writer took the process from 70.9 and 70.9 to 68.3 us a request (writer 6.3 and
6.5 to 5.6; 11,422 req/s against 11,313 and 11,275); the writer alone, 2.9 against 3.2 us a
row; c=1 p99 unchanged (1.32 against 1.31 ms). Not taken: the writer at nice 10 (76.1 us a
request against 71.5 and 73.6, req/s down a third: descheduled, it holds the GIL the loop
waits for); SQLite's process-wide memory statistics off (``sqlite3_config`` through
``ctypes``, after a ``sqlite3_shutdown`` that is safe only while no connection is open
anywhere in the process): 2.4 against 2.8 us a row alone, but 68.3 us a request through the
proxy, as the uid change alone.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from cliproxy.usage.ledger_store import COLUMNS, TABLE, Store

__all__ = ["BATCH", "FLUSH_SECONDS", "MAX_PENDING", "ROW_COLUMNS", "WIDE", "Ledger", "time_range"]

log = logging.getLogger(__name__)

BATCH = 2000
FLUSH_SECONDS = 0.25
MAX_PENDING = 200_000
PRUNE_EVERY = 3600.0
WIDE = 0.05  # share of the ledger's time span past which a window is read by a scan (window)
# the first and last ts: each a subquery, so each is one probe of the index (together in one
# SELECT, SQLite walks the whole index)
_SPAN = f"SELECT (SELECT MIN(ts) FROM {TABLE}), (SELECT MAX(ts) FROM {TABLE})"
ROW_COLUMNS = COLUMNS[1:]  # what a row given to ``add`` holds: every column but the uid


class Ledger:
    """The writer thread and the rows waiting in front of one :class:`Store`."""

    def __init__(self, store: Store, retention_days: int = 0, uid_prefix: str | None = None) -> None:
        self.store = store
        self.retention_days = retention_days
        # row uids: a random prefix per ledger and a counter (os.urandom per row is a syscall)
        self.uid_prefix = os.urandom(6).hex() if uid_prefix is None else uid_prefix
        self._next_uid = 1  # the counter of the next row's uid (``Store.append``)
        self.written = 0
        self.dropped = 0
        self.failed_batches = 0
        self.write_cpu = 0.0  # writer-thread CPU seconds spent inserting
        self._import_lock = threading.Lock()
        self._lock = threading.Lock()  # guards _waiters, _stop
        # the loop appends, the writer pops from the left: both atomic, so no lock per row
        # (``Recorder.finished`` appends itself when ``add`` would do nothing more)
        self.pending: deque[tuple[Any, ...]] = deque()
        self.in_flight = 0  # rows taken by the writer, not yet written
        # below this many waiting rows a row needs only its append (no wake-up, no cap
        # reached): the writer keeps it at min(BATCH, MAX_PENDING - in_flight) - 1
        self.room = BATCH - 1
        self._waiters: list[threading.Event] = []
        self._stop = False
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    # -- the event loop's side

    def add(self, row: tuple[Any, ...]) -> None:
        """Queue a finished request's row: the values of ``ROW_COLUMNS`` (its uid is given
        when it is written)."""
        rows = self.pending
        waiting = len(rows)
        if waiting + self.in_flight < MAX_PENDING:
            rows.append(row)
            if waiting == BATCH - 1:
                self._wake.set()
            return
        self.dropped += 1
        dropped = self.dropped
        if dropped in (1, 1000) or dropped % 100_000 == 0:
            log.warning("usage ledger (%s) is behind: %d row(s) not recorded", self.store.name, dropped)

    def start(self) -> None:
        """Open the store (creating the table) and start the writer thread."""
        self.store.open()
        self._thread = threading.Thread(target=self._run, name="cliproxy-usage-ledger", daemon=True)
        self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until every row added so far is written (tests, shutdown, reads)."""
        if self._thread is None:
            return True
        done = threading.Event()
        with self._lock:
            self._waiters.append(done)
        self._wake.set()
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            with self._lock:
                self._stop = True
            self._wake.set()
            self._thread.join(15.0)
            self._thread = None
        self.store.close()

    # -- the writer thread

    def _run(self) -> None:
        rows = self.pending
        pop = rows.popleft
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            with self._lock:  # the waiters first: every row added before a flush() is in rows
                waiters, self._waiters = self._waiters, []
                stop = self._stop
            batch = [pop() for _ in range(len(rows))]
            self._taken(len(batch))
            for start in range(0, len(batch), BATCH):
                self._write(batch[start : start + BATCH])
            self._taken(0)
            for w in waiters:
                w.set()
            self._maybe_prune()
            if stop:
                return

    def _taken(self, rows: int) -> None:
        self.in_flight = rows
        self.room = max(0, min(BATCH, MAX_PENDING - rows) - 1)

    def _write(self, batch: list[tuple[Any, ...]]) -> None:
        started = time.thread_time()
        first = self._next_uid
        self._next_uid += len(batch)  # given even if the batch fails: a uid is never given twice
        try:
            self.store.append(self.uid_prefix, first, batch)
            self.written += len(batch)
            self.write_cpu += time.thread_time() - started
        except Exception as exc:  # a database error must not kill the writer
            self.failed_batches += 1
            self.dropped += len(batch)
            log.warning("usage ledger (%s): %d row(s) not written: %s", self.store.name, len(batch), exc)

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if self.retention_days <= 0 or now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        try:
            self.prune()
        except Exception as exc:
            log.warning("usage ledger (%s): retention sweep failed: %s", self.store.name, exc)

    def prune(self) -> int:
        """Delete the rows older than ``retention_days`` now (0 keeps all); how many went."""
        if self.retention_days <= 0:
            return 0
        removed = self.store.prune(time.time() - self.retention_days * 86400.0)
        if removed:
            log.info("usage ledger: %d row(s) past retention-days removed", removed)
        return removed

    # -- reads (blocking: call them in a thread)

    def rows(self, since: float | None = None, until: float | None = None) -> list[tuple[Any, ...]]:
        where, params = self.window(since, until)
        return self.store.query(f"SELECT {', '.join(COLUMNS)} FROM {TABLE}{where} ORDER BY ts", params)

    def import_rows(self, rows: Sequence[tuple[Any, ...]]) -> int:
        """Insert those of ``rows`` whose uid is not there yet, now (from the caller's
        thread, after the queued rows); returns how many were new."""
        if not rows:
            return 0
        self.flush()
        with self._import_lock:
            seen = self.store.present([row[0] for row in rows])
            fresh = []
            for row in rows:
                if row[0] not in seen:
                    seen.add(row[0])
                    fresh.append(row)
            return self.store.insert(fresh) if fresh else 0

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self.store.query(sql, params)

    def window(self, since: float | None, until: float | None) -> tuple[str, list[Any]]:
        """:func:`time_range` for a read of the rows' columns: a window over more than
        ``WIDE`` of the time the ledger spans is read by a plain scan, not through the ``ts``
        index, through which SQLite fetches each row by its rowid, one search a row.
        Measured on 2M rows over 90 days (a summary by model): since 0, 5.4 s by the index
        and 2.1 by a scan; the last 20 days 1.19 and 0.53; 7 days 0.42 and 0.26; 3 days
        0.17 and 0.18. (A count alone stays on the index, which holds ``ts``: use
        ``time_range`` itself.)"""
        if since is None and until is None:
            return "", []
        first, last = self.store.query(_SPAN)[0]  # two index probes
        if first is None or last is None or last <= first:
            return time_range(since, until)
        start = first if since is None else max(since, first)
        end = last if until is None else min(until, last)
        return time_range(since, until, scan=(end - start) / (last - first) > WIDE)


def time_range(since: float | None, until: float | None, *, scan: bool = False) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause (``{p}`` placeholders) and its parameters for a time window;
    ``scan``: written ``+ts``, which no index serves (SQLite and Postgres alike)."""
    ts = "+ts" if scan else "ts"
    parts, params = [], []
    if since is not None:
        parts.append(f"{ts} >= {{p}}")
        params.append(since)
    if until is not None:
        parts.append(f"{ts} < {{p}}")
        params.append(until)
    return (" WHERE " + " AND ".join(parts) if parts else ""), params
