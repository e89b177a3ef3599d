"""File I/O off the event loop: one worker thread runs every log write in order.

Handing work over costs the event loop one queue put; the thread does the opening,
writing and deleting. Stream chunks are appended to spool files as they flow, and the
bytes waiting in the queue are bounded: past ``MAX_PENDING`` a chunk is dropped and the
spool says so, rather than letting memory grow behind a slow disk.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["MAX_PENDING", "Spool", "Writer"]

log = logging.getLogger(__name__)

MAX_PENDING = 16 * 1024 * 1024  # bytes queued for the disk, across all spools
MAX_SPOOL = 256 * 1024 * 1024  # bytes one spool keeps; the rest is noted as dropped


class Writer:
    """One daemon thread that runs submitted callables in submission order."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Callable[[], Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.pending = 0  # bytes of spool chunks not yet written

    def submit(self, fn: Callable[[], Any]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cliproxy-log-writer", daemon=True)
            self._thread.start()
        self._queue.put(fn)

    def add_pending(self, n: int) -> bool:
        """Reserve ``n`` queued bytes; False when the budget is spent."""
        with self._lock:
            if self.pending + n > MAX_PENDING:
                return False
            self.pending += n
            return True

    def release(self, n: int) -> None:
        with self._lock:
            self.pending -= n

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until everything submitted so far is done (tests, shutdown)."""
        if self._thread is None:
            return True
        done = threading.Event()
        self._queue.put(done.set)
        return done.wait(timeout)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(10.0)
            self._thread = None

    def _run(self) -> None:
        while True:
            fn = self._queue.get()
            if fn is None:
                return
            try:
                fn()
            except Exception:  # a log write must never kill the writer
                log.exception("request log write failed")


class Spool:
    """A temp file that stream chunks are appended to, through the writer thread; at most
    ``limit`` bytes of them."""

    def __init__(self, writer: Writer, path: Path) -> None:
        self.writer = writer
        self.path = path
        self.limit = MAX_SPOOL
        self.size = 0
        self.dropped = 0
        self._file: BinaryIO | None = None

    def append(self, chunk: bytes) -> None:
        """Called on the event loop: never blocks, may drop when the disk lags."""
        n = len(chunk)
        if not n:
            return
        if self.size + n > self.limit or not self.writer.add_pending(n):
            self.dropped += n
            return
        self.size += n
        self.writer.submit(lambda: self._write(chunk))

    def _write(self, chunk: bytes) -> None:
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
            self._file.write(chunk)
        finally:
            self.writer.release(len(chunk))

    def drain_into(self, out: BinaryIO) -> int:
        """Writer thread only: copy the spool into ``out``, then delete it."""
        if self._file is not None:
            self._file.close()
            self._file = None
        written = 0
        try:
            with self.path.open("rb") as f:
                while block := f.read(1 << 16):
                    out.write(block)
                    written += len(block)
        except FileNotFoundError:
            pass
        if self.dropped:
            out.write(
                f"\n[{self.dropped} bytes not logged: the log writer fell behind or the limit was hit]\n".encode()
            )
        self.discard()
        return written

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self.path.unlink(missing_ok=True)
