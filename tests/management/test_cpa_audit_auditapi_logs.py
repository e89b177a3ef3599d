"""CPA's TestGetLogsCursorRejectsOversizedLine (internal/api/handlers/management/logs_test.go),
asserted as our deliberate difference, on the reader the ``GET /logs`` route runs (as
tests/management/test_logs_cpa.py does, for the same reason: the case writes ``main.log`` by
hand, which a running proxy's own logger would disturb).

CPA scans a cursor read with a bounded line buffer (8 MiB) and answers a longer line with a
500 "log line exceeds 8388608 bytes"; the cursor then never moves past that line, so every
later poll of the panel fails the same way. Our reader reads the span after the cursor by
bytes, so the panel gets the long line and a cursor past it, and the next poll goes on."""

from __future__ import annotations

from cliproxy.management.logs_read import read_logs

FIRST = "[2026-06-15 10:00:00] first"
CPA_LIMIT = 8 * 1024 * 1024


def test_a_line_longer_than_cpas_scanner_buffer_is_returned(tmp_path):
    log = tmp_path / "main.log"
    log.write_text(FIRST + "\n")
    initial = read_logs(tmp_path, cursor="", after=0, limit=1)
    assert initial.lines == [FIRST] and initial.cursor
    long_line = "x" * (CPA_LIMIT + 1)
    with log.open("a") as f:
        f.write(long_line + "\n")
    answer = read_logs(tmp_path, cursor=initial.cursor, after=0, limit=1)
    assert answer.lines == [long_line] and not answer.reset
    with log.open("a") as f:
        f.write("[2026-06-15 10:00:02] after\n")
    following = read_logs(tmp_path, cursor=answer.cursor, after=0, limit=1)
    assert following.lines == ["[2026-06-15 10:00:02] after"] and not following.reset
