"""The change detectors behind the watcher, driven by hand: explicit times, no sleeping."""

from __future__ import annotations

import os
from pathlib import Path

from cliproxy.config._filewatch import AuthDirScanner, FileTracker


def _scan(scanner: AuthDirScanner, paths: list[Path] | None = None, now: float = 0.0):
    known, gone = scanner.snapshot()
    changes = scanner.take(scanner.observe(paths, known, gone), now)
    changes.removed.extend(scanner.expire(now))
    return changes


def test_added_changed_and_removed_after_the_debounce(tmp_path: Path) -> None:
    """CPA: TestAuthFileUnchangedUsesHash, TestAddOrUpdateClientSkipsUnchanged,
    TestReloadClientsCachesAuthHashes: a file is compared by its content hash, kept from the
    last look, so a touch or a rewrite with the same bytes is no change."""
    scanner = AuthDirScanner(tmp_path, remove_debounce=1.0)
    scanner.prime()
    a = tmp_path / "a.json"
    a.write_text('{"v": 1}')
    (tmp_path / ".hidden.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("x")
    assert _scan(scanner).added == [a]
    assert not _scan(scanner)  # nothing moved: nothing read, nothing reported
    a.write_text('{"v": 2}')
    assert _scan(scanner, [a]).changed == [a]
    os.utime(a, (1, 1))  # a touch: read again, same content
    assert not _scan(scanner, [a])
    a.unlink()
    assert not _scan(scanner, [a], now=10.0)  # missing: the remove debounce starts
    assert scanner.next_deadline() == 11.0 and scanner.due(10.5) == []
    assert not _scan(scanner, [], now=10.5)
    assert _scan(scanner, scanner.due(11.0), now=11.0).removed == [a]
    assert scanner.files == [] and scanner.next_deadline() is None


def test_back_before_the_debounce_is_a_change_or_nothing(tmp_path: Path) -> None:
    """CPA: TestHandleEventAtomicReplaceUnchangedSkips (the same content under a new inode
    is nothing)."""
    scanner = AuthDirScanner(tmp_path, remove_debounce=1.0)
    a = tmp_path / "a.json"
    a.write_text('{"v": 1}')
    scanner.prime()
    a.unlink()
    assert not _scan(scanner, None, now=0.0)
    a.write_text('{"v": 1}')  # same content back (a new inode): nothing
    assert not _scan(scanner, None, now=0.5)
    assert scanner.next_deadline() is None
    a.unlink()
    assert not _scan(scanner, [a], now=1.0)
    a.write_text('{"v": 2}')
    assert _scan(scanner, [a], now=1.5).changed == [a]
    assert not _scan(scanner, [], now=5.0).removed


def test_own_writes_and_files_still_being_written(tmp_path: Path) -> None:
    """CPA: TestAuthFileUnchangedEmptyAndMissing, TestAddOrUpdateClientEdgeCases (the empty
    file): CPA calls an empty file changed and then skips it; here it is not reported
    until it has content, the same outcome."""
    scanner = AuthDirScanner(tmp_path, remove_debounce=0.0)
    scanner.prime()
    ours, theirs = tmp_path / "ours.json", tmp_path / "theirs.json"
    ours.write_text('{"v": 1}')
    scanner.expect(ours, b'{"v": 1}')
    scanner.expect(tmp_path / "elsewhere" / "x.json", b"{}")  # outside: ignored
    theirs.write_text("")  # opened, nothing written yet
    assert not _scan(scanner)
    theirs.write_text('{"v": 1}')
    assert _scan(scanner).added == [theirs]
    assert scanner.files == [ours, theirs]
    ours.write_text('{"v": 1, "x": 2}')  # someone else's write after ours
    assert _scan(scanner, [ours]).changed == [ours]


def test_config_tracker(tmp_path: Path) -> None:
    """CPA: TestReloadConfigIfChangedHandlesMissingAndEmpty (missing, then empty: nothing)."""
    path = tmp_path / "config.yaml"
    tracker = FileTracker(path)
    tracker.prime()
    assert tracker.gone
    path.write_text("port: 1\n")
    assert tracker.take(tracker.observe()) == b"port: 1\n" and not tracker.gone
    assert tracker.take(tracker.observe()) is None  # unchanged stat: not even read
    path.write_text("")
    assert tracker.take(tracker.observe(force=True)) is None  # empty: ignored
    tracker.expect(b"port: 2\n")
    path.write_text("port: 2\n")
    assert tracker.take(tracker.observe(force=True)) is None  # our own write
    path.write_text("port: 1\n")  # same size, maybe the same clock tick: only an event tells
    assert tracker.take(tracker.observe(force=True)) == b"port: 1\n"  # older content copied back
    path.unlink()
    assert tracker.take(tracker.observe()) is None and tracker.gone


def test_an_event_for_a_file_never_seen_is_nothing(tmp_path: Path) -> None:
    """CPA: TestHandleEventRemoveUnknownFileIgnored, TestAddOrUpdateClientEdgeCases (a missing
    file): an event naming an auth file that is not there and never was reports nothing
    and leaves no removal pending."""
    scanner = AuthDirScanner(tmp_path, remove_debounce=0.0)
    scanner.prime()
    assert not _scan(scanner, [tmp_path / "unknown.json"], now=1.0)
    assert scanner.next_deadline() is None
    assert not _scan(scanner, [], now=5.0)
