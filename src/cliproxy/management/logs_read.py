"""Reading ``main.log`` and its rotated files for ``GET /logs`` (CPA's answer shape).

Three ways in: ``cursor`` (an opaque token from a previous answer: continue after it),
``limit`` alone (the last N lines), or ``after`` (lines whose timestamp is later than a
unix time; ``line-count`` is then every line scanned, as in CPA). A scan (no cursor, no
lone ``limit``) includes a last line still being written; a cursor or tail read returns
complete lines only. Every answer carries a ``next-cursor`` at the end of the last
complete line. A cursor that no longer matches
(file truncated, rotated away, garbage) resets to a tail read with ``cursor-reset``.
Blocking file reads: callers run these in a thread.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from cliproxy.usage.applog import MAIN_LOG

__all__ = ["LogsAnswer", "collect_files", "is_rotated", "read_logs"]

CURSOR_VERSION = 1
FINGERPRINT_BYTES = 4096
_ROTATED = re.compile(r"^main-(\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2})(\.\d+)?\.log(\.gz)?$")
_NUMBERED = re.compile(r"^main\.log\.(\d+)$")


@dataclass(slots=True)
class LogsAnswer:
    lines: list[str] = field(default_factory=list)
    line_count: int = 0
    latest: int = 0
    cursor: str = ""
    reset: bool = False

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "lines": self.lines,
            "line-count": self.line_count,
            "latest-timestamp": self.latest,
            "next-cursor": self.cursor,
        }
        if self.reset:
            out["cursor-reset"] = True
        return out


def is_rotated(name: str) -> bool:
    return bool(_ROTATED.match(name) or _NUMBERED.match(name))


def _order(name: str) -> float:
    """Sort key, oldest first: numbered backups count down, timestamped ones by time."""
    if m := _NUMBERED.match(name):
        return -1e12 - int(m.group(1)) * 1.0
    if m := _ROTATED.match(name):
        return time.mktime(time.strptime(m.group(1), "%Y-%m-%dT%H-%M-%S")) + float(m.group(2) or 0)
    return float("inf")  # main.log is the newest


def collect_files(folder: Path) -> list[Path]:
    """``main.log`` and its rotated files, oldest first (FileNotFoundError if no folder)."""
    names = [
        p.name
        for p in folder.iterdir()
        if p.is_file() and not p.name.endswith(".gz") and (p.name == MAIN_LOG or is_rotated(p.name))
    ]
    return [folder / n for n in sorted(names, key=_order)]


def _timestamp(line: str) -> int:
    text = line[1:] if line.startswith("[") else line
    try:
        return int(time.mktime(time.strptime(text[:19], "%Y-%m-%d %H:%M:%S")))
    except ValueError:
        return 0


def _complete(data: bytes) -> list[bytes]:
    """The complete (newline-terminated) lines of ``data``, without their newline."""
    end = data.rfind(b"\n") + 1
    return data[:end].split(b"\n")[:-1] if end else []


def _every(data: bytes) -> list[bytes]:
    """Every line of ``data``, a trailing one still being written included (a full scan
    reads like Go's line scanner)."""
    lines = data.split(b"\n")
    return lines[:-1] if not lines[-1] else lines


def _text(lines: list[bytes]) -> list[str]:
    return [ln.decode("utf-8", "replace").rstrip("\r") for ln in lines]


def _fingerprint(path: Path, boundary: int) -> str:
    with path.open("rb") as f:
        head = f.read(min(boundary, FINGERPRINT_BYTES))
    digest = hashlib.sha256(b"log-cursor-v1:%d:" % boundary + head).digest()
    return base64.urlsafe_b64encode(digest[:12]).rstrip(b"=").decode()


def _boundary(offset: int, size: int) -> int:
    """How many leading bytes a cursor's fingerprint covers: up to its offset, or, for a
    cursor at 0 into a file holding only a partial line, that partial line (so a file that
    merely starts empty is not mistaken for the one the cursor was taken on)."""
    return size if offset == 0 and size > 0 else offset


def _cursor(path: Path, offset: int, latest: int) -> str:
    st = path.stat()
    body = {
        "v": CURSOR_VERSION,
        "file": path.name,
        "offset": offset,
        "size": st.st_size,
        "modTime": int(st.st_mtime),
        "modTimeUnixNano": st.st_mtime_ns,
        "latestTimestamp": latest,
        "fingerprint": _fingerprint(path, _boundary(offset, st.st_size)),
    }
    return base64.urlsafe_b64encode(orjson.dumps(body)).rstrip(b"=").decode()


def _decode(raw: str) -> dict[str, Any] | None:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return None
    ok = (
        isinstance(data, dict)
        and data.get("v") == CURSOR_VERSION
        and isinstance(data.get("offset"), int)
        and all(_int64(data.get(key) or 0) for key in _INT_FIELDS)
        and isinstance(data.get("file"), str)
        and isinstance(data.get("fingerprint"), str)
        and (data["file"] == MAIN_LOG or is_rotated(data["file"]))
    )
    return data if ok else None


_INT_FIELDS = ("offset", "size", "modTime", "modTimeUnixNano", "latestTimestamp")


def _int64(value: object) -> bool:
    """A cursor's number as CPA's Go struct holds it: a non-negative 64-bit integer (a
    cursor with anything else is not one of ours, and is read as no cursor)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 63


def _last_boundary(files: list[Path]) -> tuple[Path, int] | None:
    for path in reversed(files):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        return path, data.rfind(b"\n") + 1
    return None


def _with_cursor(answer: LogsAnswer, files: list[Path]) -> LogsAnswer:
    last = _last_boundary(files)
    if last is not None:
        answer.cursor = _cursor(last[0], last[1], answer.latest)
    return answer


def tail(files: list[Path], limit: int, latest: int = 0) -> LogsAnswer:
    lines: list[str] = []
    for path in reversed(files):
        if limit and len(lines) >= limit:
            break
        try:
            got = _text(_complete(path.read_bytes()))
        except FileNotFoundError:
            continue
        lines = got + lines
    if limit:
        lines = lines[-limit:]
    stamps = [_timestamp(ln) for ln in lines]
    answer = LogsAnswer(lines, len(lines), max([latest, *stamps]))
    return _with_cursor(answer, files)


def _locate(files: list[Path], cur: dict[str, Any]) -> int | None:
    """Index of the file the cursor points into (it may have been rotated away under a new name)."""
    size = cur.get("size")
    boundary = _boundary(cur["offset"], size if isinstance(size, int) else 0)
    if cur["file"] == MAIN_LOG and boundary == 0:
        return _locate_empty_main(files, cur)
    candidates = [i for i, p in enumerate(files) if p.name == cur["file"]]
    candidates += [i for i, p in enumerate(files) if p.name != cur["file"] and p.name != MAIN_LOG]
    for i in candidates:
        if _matches(files[i], boundary, cur):
            return i
    return None


def _locate_empty_main(files: list[Path], cur: dict[str, Any]) -> int | None:
    """A cursor taken on an empty ``main.log`` fits every file, so the modification times
    decide (CPA ``locateLogCursorFile``): the oldest rotated file written after the cursor
    holds what followed it; with none, ``main.log`` itself, unless a rotated file that is not
    newer than the cursor shows that main.log was rotated in the same clock tick (then which
    lines are new cannot be told, and the answer resets)."""
    nanos = cur.get("modTimeUnixNano")
    if not isinstance(nanos, int) or nanos <= 0:
        seconds = cur.get("modTime")
        nanos = seconds * 1_000_000_000 if isinstance(seconds, int) else 0
    rotated = [(i, st) for i, p in enumerate(files) if p.name != MAIN_LOG and (st := _stat(p)) and st.st_size]
    for i, st in rotated:
        if st.st_mtime_ns > nanos:
            return i
    main = next((i for i, p in enumerate(files) if p.name == MAIN_LOG), None)
    st = _stat(files[main]) if main is not None else None
    if main is None or st is None:
        return None
    if (st.st_size, st.st_mtime_ns) != (0, nanos) and rotated:
        return None
    return main


def _stat(path: Path) -> os.stat_result | None:
    try:
        return path.stat()
    except FileNotFoundError:
        return None


def _matches(path: Path, boundary: int, cur: dict[str, Any]) -> bool:
    try:
        return path.stat().st_size >= boundary and _fingerprint(path, boundary) == cur["fingerprint"]
    except FileNotFoundError:
        return False


def from_cursor(files: list[Path], raw: str, limit: int) -> LogsAnswer:
    cur = _decode(raw)
    start = _locate(files, cur) if cur is not None else None
    if cur is None or start is None:
        answer = tail(
            files, limit, cur["latestTimestamp"] if cur and isinstance(cur.get("latestTimestamp"), int) else 0
        )
        answer.reset = True
        return answer
    answer = LogsAnswer(latest=int(cur.get("latestTimestamp") or 0), cursor=raw)
    last: tuple[Path, int] | None = None
    for i in range(start, len(files)):
        offset = cur["offset"] if i == start else 0
        with files[i].open("rb") as f:
            f.seek(offset)
            chunk = _complete(f.read())
        if limit:
            chunk = chunk[: limit - len(answer.lines)]
        if chunk:
            lines = _text(chunk)
            answer.lines += lines
            answer.latest = max([answer.latest, *(_timestamp(ln) for ln in lines)])
            last = (files[i], offset + sum(len(r) + 1 for r in chunk))
        if limit and len(answer.lines) >= limit:
            break
    answer.line_count = len(answer.lines)
    if last is not None:
        answer.cursor = _cursor(last[0], last[1], answer.latest)
    return answer


def scan(files: list[Path], cutoff: int, limit: int) -> LogsAnswer:
    """Every line (later than ``cutoff`` when set); lines without a timestamp follow their
    entry. As in CPA, a last line still being written is part of the scan, while the cursor
    stays at the end of the last complete line, so a cursor read returns it once finished."""
    answer = LogsAnswer()
    include = True
    for path in files:
        try:
            lines = _text(_every(path.read_bytes()))
        except FileNotFoundError:
            continue
        for line in lines:
            answer.line_count += 1
            ts = _timestamp(line)
            answer.latest = max(answer.latest, ts)
            if ts:
                include = not cutoff or ts > cutoff
            if not cutoff or include:
                answer.lines.append(line)
    if limit:
        answer.lines = answer.lines[-limit:]
    answer.latest = max(answer.latest, cutoff)
    return _with_cursor(answer, files)


def read_logs(folder: Path, *, cursor: str, after: int, limit: int) -> LogsAnswer:
    """The ``GET /logs`` answer for ``folder``."""
    try:
        files = collect_files(folder)
    except FileNotFoundError:
        cur = _decode(cursor) if cursor else None
        latest = max(after, int(cur.get("latestTimestamp") or 0) if cur else 0)
        return LogsAnswer(latest=latest, reset=bool(cursor))
    if cursor:
        return from_cursor(files, cursor, limit)
    if not after and limit:
        return tail(files, limit)
    return scan(files, after, limit)
