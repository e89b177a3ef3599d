"""The application log file: ``<logs>/main.log``, rotated at 10 MB, CPA's line format.

Lines look like ``[2025-12-23 20:14:04] [a1b2c3d4] [info ] [pipeline.py:120] message``
(the id of the request the line was written for, or ``--------`` outside a request: see
``cliproxy.requestid``), which is what ``GET /logs`` parses for timestamps.
A rotated file is renamed ``main-<YYYY-MM-DDTHH-MM-SS.mmm>.log``. When
``logs-max-total-size-mb`` is set, the oldest ``*.log`` / ``*.log.gz`` files in the
directory go until the total fits (``main.log`` itself is kept).
"""

from __future__ import annotations

import io
import logging
import logging.handlers
import os
import time
from pathlib import Path

from cliproxy.requestid import NO_REQUEST, RequestIdFilter

__all__ = ["MAIN_LOG", "MAX_BYTES", "AppLog", "LineFormatter", "enforce_size_limit"]

MAIN_LOG = "main.log"
MAX_BYTES = 10 * 1024 * 1024
_LEVELS = {"WARNING": "warn", "CRITICAL": "fatal"}


class LineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        rid = getattr(record, "request_id", "")
        if not rid or rid == NO_REQUEST:
            rid = "--------"
        level = _LEVELS.get(record.levelname, record.levelname.lower())
        text = record.getMessage().rstrip("\r\n")
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return f"[{ts}] [{rid}] [{level:<5}] [{record.filename}:{record.lineno}] {text}"


class _Rotating(logging.handlers.RotatingFileHandler):
    """Rotates like lumberjack: the full file moves aside under a timestamped name.

    Several worker processes (``workers: N``) write one ``main.log``, each through its own
    handle: before a line, a handle whose file is no longer the one at the path (another
    worker moved it aside) is reopened, so every worker follows one rotation instead of
    writing into the moved file and rotating again (one ``stat`` a line)."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=0, encoding="utf-8", delay=True)
        self.max_total = 0
        self._opened: tuple[int, int] = (0, 0)  # (device, inode) of the file the handle writes

    def _open(self) -> io.TextIOWrapper:
        stream = super()._open()
        st = os.fstat(stream.fileno())
        self._opened = (st.st_dev, st.st_ino)
        return stream

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is not None:
            try:
                st = os.stat(self.baseFilename)
                moved = (st.st_dev, st.st_ino) != self._opened
            except FileNotFoundError:
                moved = True
            if moved:
                self.stream.close()
                self.stream = None
        return bool(super().shouldRollover(record))

    def doRollover(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None
        path = Path(self.baseFilename)
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.localtime(now)) + f".{int(now * 1000) % 1000:03d}"
        if path.exists():
            path.rename(path.with_name(f"{path.stem}-{stamp}{path.suffix}"))
        if self.max_total > 0:
            enforce_size_limit(path.parent, self.max_total, path)


class AppLog:
    """Adds and removes the file handler on the ``cliproxy`` logger as the config says."""

    def __init__(self, logger: str = "cliproxy") -> None:
        self._logger = logging.getLogger(logger)
        self._handler: _Rotating | None = None
        self.path: Path | None = None
        self.enabled = False  # a file handler is installed (read on every request: a plain flag)

    def apply(self, folder: Path | None, max_total: int, max_bytes: int = MAX_BYTES) -> None:
        """Log to ``folder/main.log`` (``None``: stop logging to a file)."""
        path = folder / MAIN_LOG if folder is not None else None
        if self._handler is not None and (path is None or Path(self._handler.baseFilename) != path.resolve()):
            self._logger.removeHandler(self._handler)
            self._handler.close()
            self._handler, self.path = None, None
            self.enabled = False
        if path is None:
            return
        if self._handler is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handler = _Rotating(path, max_bytes)
            self._handler.setFormatter(LineFormatter())
            self._handler.addFilter(RequestIdFilter())
            self._logger.addHandler(self._handler)
            self.path = path
            self.enabled = True
        self._handler.max_total = max_total
        self._handler.maxBytes = max_bytes
        if max_total > 0:
            enforce_size_limit(path.parent, max_total, path)


def enforce_size_limit(folder: Path, max_bytes: int, protected: Path | None) -> int:
    """Delete the oldest log files in ``folder`` until they total ``max_bytes``."""
    files: list[tuple[float, int, Path]] = []
    total = 0
    try:
        entries = list(folder.iterdir())
    except FileNotFoundError:
        return 0
    for p in entries:
        name = p.name.lower()
        if not (name.endswith(".log") or name.endswith(".log.gz")):
            continue
        try:
            st = p.stat()
        except FileNotFoundError:
            continue
        files.append((st.st_mtime, st.st_size, p))
        total += st.st_size
    files.sort(key=lambda item: item[0])
    removed = 0
    keep = protected.resolve() if protected is not None else None
    for _, size, p in files:
        if total <= max_bytes:
            break
        if keep is not None and p.resolve() == keep:
            continue
        p.unlink(missing_ok=True)
        total -= size
        removed += 1
    return removed
