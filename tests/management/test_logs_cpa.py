"""CPA's ``GET /logs`` cursor cases (internal/api/handlers/management/logs_test.go).

The cases write ``main.log`` and its rotated files by hand, byte by byte, which a running
proxy (whose own logger appends to ``main.log``) would disturb; so they call the reader the
``/logs`` route runs, :func:`cliproxy.management.logs_read.read_logs`, on a folder of their
own. The route's own checks (logging off, bad limit) are covered through HTTP in
tests/management/test_logs_api.py.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path

import orjson
import pytest

from cliproxy.management.logs_read import LogsAnswer, read_logs

FIRST = "[2026-06-15 10:00:00] first"
SECOND = "[2026-06-15 10:00:01] second"
THIRD = "[2026-06-15 10:00:02] third"


def write(folder: Path, text: str, name: str = "main.log") -> None:
    (folder / name).write_text(text)


def append(folder: Path, text: str) -> None:
    with (folder / "main.log").open("a") as f:
        f.write(text)


def rotate(folder: Path, text: str) -> None:
    """What the log writer does: main.log becomes main.log.1, a fresh main.log starts."""
    (folder / "main.log").rename(folder / "main.log.1")
    write(folder, text)


def get(folder: Path, *, cursor: str = "", after: int = 0, limit: int = 0) -> LogsAnswer:
    return read_logs(folder, cursor=cursor, after=after, limit=limit)


def decoded(cursor: str) -> dict:
    return orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def raw_cursor(**fields: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"v": 1, **fields})).rstrip(b"=").decode()


def test_cursor_names_the_file_not_its_path(tmp_path):
    """TestLogCursorRoundTripOmitsAbsolutePath: the cursor holds the file's base name, the
    offset of the last complete line and the latest timestamp, never the folder."""
    write(tmp_path, FIRST + "\n" + "partial")
    answer = get(tmp_path, limit=5)
    cur = decoded(answer.cursor)
    assert cur["file"] == "main.log" and cur["offset"] == len(FIRST) + 1
    assert str(tmp_path) not in base64.urlsafe_b64decode(answer.cursor + "==").decode()


@pytest.mark.parametrize(
    "name", ["", ".", "..", "../secret", "nested/main.log", "nested\\main.log", "error.log"]
)
def test_a_cursor_naming_another_file_resets(tmp_path, name):
    """TestDecodeLogCursorRejectsUnsafeFiles and TestGetLogsInvalidCursorResetsToTail: a
    cursor naming a file that is not main.log or a rotation of it is refused, and the answer
    is a tail read flagged ``cursor-reset``."""
    write(tmp_path, FIRST + "\n" + SECOND + "\n")
    answer = get(tmp_path, cursor=raw_cursor(file=name, offset=0, fingerprint="fingerprint"), limit=1)
    assert answer.reset and answer.lines == [SECOND] and answer.line_count == 1


def test_garbage_cursor_resets_to_the_tail(tmp_path):
    """TestGetLogsInvalidCursorResetsToTail (the not-base64 case)."""
    write(tmp_path, FIRST + "\n" + SECOND + "\n")
    answer = get(tmp_path, cursor="not-base64", limit=1)
    assert answer.reset and answer.lines == [SECOND] and answer.line_count == 1


def test_complete_lines_only_then_the_rest(tmp_path):
    """TestReadCompleteLogLinesSkipsTrailingPartial and
    TestGetLogsCursorDoesNotAdvancePastTrailingPartial: a line without its newline is not
    returned through a cursor and the cursor does not pass it; once finished it comes."""
    write(tmp_path, "first\nsecond\r\npartial")
    answer = get(tmp_path, limit=10)
    assert answer.lines == ["first", "second"]
    assert decoded(answer.cursor)["offset"] == len("first\nsecond\r\n")
    stalled = get(tmp_path, cursor=answer.cursor, limit=10)
    assert stalled.lines == [] and not stalled.reset
    append(tmp_path, "\n")
    done = get(tmp_path, cursor=answer.cursor, limit=10)
    assert done.lines == ["partial"] and decoded(done.cursor)["offset"] == len("first\nsecond\r\npartial\n")


def test_tail_limit_returns_recent_lines_with_a_cursor(tmp_path):
    """TestGetLogsTailLimitReturnsRecentLinesWithCursor and
    TestGetLogsTailLimitDoesNotScanOlderFilesForLineCount."""
    write(tmp_path, "[2026-06-15 09:00:00] old\n", "main.log.1")
    write(tmp_path, "\n".join([FIRST, SECOND, THIRD, "[2026-06-15 10:00:03] fourth"]) + "\n")
    answer = get(tmp_path, limit=2)
    assert answer.lines == [THIRD, "[2026-06-15 10:00:03] fourth"] and answer.line_count == 2
    assert answer.cursor
    assert get(tmp_path, limit=1).line_count == 1


def test_no_limit_scan_includes_the_line_being_written(tmp_path):
    """TestGetLogsNoLimitKeepsFullScanBehavior: without ``limit`` (and with ``after``) the
    scan returns and counts a last line that has no newline yet, while the cursor stays at
    the end of the last complete line."""
    write(tmp_path, "complete\npartial")
    answer = get(tmp_path)
    assert answer.lines == ["complete", "partial"] and answer.line_count == 2
    assert decoded(answer.cursor)["offset"] == len("complete\n")
    write(tmp_path, FIRST + "\n" + SECOND + "\r\n[2026-06-15 10:00:02] being written")
    cutoff = int(time.mktime((2026, 6, 15, 10, 0, 0, 0, 0, -1)))
    answer = get(tmp_path, after=cutoff)
    assert answer.lines == [SECOND, "[2026-06-15 10:00:02] being written"] and answer.line_count == 3


def test_after_keeps_the_timestamp_scan(tmp_path):
    """TestGetLogsAfterKeepsTimestampScanAndReturnsCursor: ``after`` returns the later lines,
    counts every line scanned, and still gives a cursor."""
    write(tmp_path, "\n".join([FIRST, SECOND, THIRD]) + "\n")
    cutoff = time.mktime((2026, 6, 15, 10, 0, 0, 0, 0, -1))
    answer = get(tmp_path, after=int(cutoff))
    assert answer.lines == [SECOND, THIRD] and answer.line_count == 3 and answer.cursor


def test_cursor_returns_only_new_lines_and_stays_put(tmp_path):
    """TestGetLogsCursorReturnsOnlyNewCompleteLines and
    TestGetLogsCursorNoNewLinesKeepsCursorStable."""
    write(tmp_path, FIRST + "\n" + SECOND + "\n")
    initial = get(tmp_path, limit=2)
    idle = get(tmp_path, cursor=initial.cursor, limit=10)
    assert idle.lines == [] and not idle.reset and idle.cursor == initial.cursor
    append(tmp_path, THIRD + "\n")
    answer = get(tmp_path, cursor=initial.cursor, limit=10)
    assert answer.lines == [THIRD] and not answer.reset


def test_truncation_resets_to_a_tail_of_limit(tmp_path):
    """TestGetLogsCursorResetAfterTruncateTailsLimit."""
    write(tmp_path, "\n".join([FIRST, SECOND, THIRD]) + "\n")
    initial = get(tmp_path, limit=3)
    write(tmp_path, "[2026-06-15 10:00:05] after truncate\n[2026-06-15 10:00:06] last\n")
    answer = get(tmp_path, cursor=initial.cursor, limit=1)
    assert answer.reset and answer.lines == ["[2026-06-15 10:00:06] last"]


def test_cursor_reads_across_a_rotation(tmp_path):
    """TestGetLogsCursorReadsAcrossRotation: what was appended before the rotation and what
    the new main.log holds both come, without a reset."""
    write(tmp_path, FIRST + "\n")
    initial = get(tmp_path, limit=1)
    append(tmp_path, SECOND + "\n")
    rotate(tmp_path, THIRD + "\n")
    answer = get(tmp_path, cursor=initial.cursor, limit=10)
    assert answer.lines == [SECOND, THIRD] and not answer.reset


def test_cursor_reads_the_rotated_file_when_the_new_main_is_smaller(tmp_path):
    """TestGetLogsCursorReadsRotatedFileWhenNewMainIsSmaller: one line at a time, first from
    the rotated file, then from the new main.log."""
    line1 = "[2026-06-15 10:00:00] first line with enough bytes"
    write(tmp_path, line1 + "\n")
    initial = get(tmp_path, limit=1)
    append(tmp_path, SECOND + "\n")
    rotate(tmp_path, "new\n")
    answer = get(tmp_path, cursor=initial.cursor, limit=1)
    assert answer.lines == [SECOND] and not answer.reset
    following = get(tmp_path, cursor=answer.cursor, limit=1)
    assert following.lines == ["new"] and not following.reset


def test_a_missing_rotated_file_resets_to_the_tail(tmp_path):
    """TestGetLogsMissingRotatedCursorFileResetsToTail."""
    write(tmp_path, SECOND + "\n")
    cursor = raw_cursor(file="main.log.1", offset=len(FIRST) + 1, fingerprint="gone")
    answer = get(tmp_path, cursor=cursor, limit=1)
    assert answer.reset and answer.lines == [SECOND]


def test_a_missing_log_folder_is_an_empty_reset(tmp_path):
    """TestGetLogsMissingLogDirKeepsOKEmptyResponse: no folder yet, a cursor sent: no lines,
    a count of 0, ``cursor-reset``."""
    answer = get(tmp_path / "missing", cursor="not-base64", limit=1)
    assert answer.lines == [] and answer.line_count == 0 and answer.reset
    assert answer.body()["cursor-reset"] is True


def test_zero_offset_cursor_with_a_partial_line_reads_across_rotation(tmp_path):
    """TestGetLogsZeroOffsetCursorWithPartialLineReadsAcrossRotation: the cursor was taken
    when main.log held only a partial line; the line was finished and rotated away, and a new
    main.log started: both the finished line and the new one come, without a reset."""
    write(tmp_path, "partial")
    initial = get(tmp_path, limit=1)
    assert decoded(initial.cursor)["offset"] == 0 and decoded(initial.cursor)["size"] > 0
    append(tmp_path, " complete\n")
    rotate(tmp_path, "new\n")
    answer = get(tmp_path, cursor=initial.cursor, limit=10)
    assert answer.lines == ["partial complete", "new"] and not answer.reset


def _mtime(folder: Path, name: str, ns: int) -> None:
    os.utime(folder / name, ns=(ns, ns))


def test_zero_offset_cursor_on_an_empty_file_reads_across_two_rotations(tmp_path):
    """CPA: TestGetLogsZeroOffsetCursorWithEmptyFileReadsAcrossTwoRotations: the cursor was
    taken on an empty main.log; two rotations later (each rotated file newer than the
    cursor) the lines come one at a time, oldest first, without a reset."""
    write(tmp_path, "")
    initial = get(tmp_path, limit=1)
    fields = decoded(initial.cursor)
    assert (fields["offset"], fields["size"]) == (0, 0)
    base = (tmp_path / "main.log").stat().st_mtime_ns
    append(tmp_path, "first\n")
    _mtime(tmp_path, "main.log", base + 1_000_000_000)
    (tmp_path / "main.log").rename(tmp_path / "main.log.1")
    write(tmp_path, "second\n")
    _mtime(tmp_path, "main.log", base + 2_000_000_000)
    (tmp_path / "main.log.1").rename(tmp_path / "main.log.2")
    (tmp_path / "main.log").rename(tmp_path / "main.log.1")
    write(tmp_path, "third\n")
    cursor = initial.cursor
    for want in ("first", "second", "third"):
        answer = get(tmp_path, cursor=cursor, limit=1)
        assert answer.lines == [want] and not answer.reset, want
        cursor = answer.cursor


def test_zero_offset_cursor_on_an_empty_file_resets_when_the_rotation_is_ambiguous(tmp_path):
    """CPA: TestGetLogsZeroOffsetCursorWithEmptyFileResetsWhenRotationModTimeAmbiguous: every
    file has the cursor's modification time, so which file it named cannot be told: a reset
    to the tail, with the count of lines returned."""
    fixed = int(time.mktime((2026, 6, 15, 10, 0, 0, 0, 0, -1))) * 1_000_000_000
    write(tmp_path, "")
    _mtime(tmp_path, "main.log", fixed)
    initial = get(tmp_path, limit=1)
    fields = decoded(initial.cursor)
    assert (fields["offset"], fields["size"]) == (0, 0)
    append(tmp_path, SECOND + "\n")
    _mtime(tmp_path, "main.log", fixed)
    (tmp_path / "main.log").rename(tmp_path / "main.log.1")
    write(tmp_path, THIRD + "\n")
    _mtime(tmp_path, "main.log", fixed)
    answer = get(tmp_path, cursor=initial.cursor, limit=2)
    assert answer.lines == [SECOND, THIRD] and answer.reset and answer.line_count == 2
