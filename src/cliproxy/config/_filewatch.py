"""Polling change detectors behind ConfigWatcher: one file, and a directory of JSON files."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AuthChanges", "AuthDirScanner", "FileTracker", "digest"]

Signature = tuple[int, int, int, int]


def _signature(path: Path) -> Signature | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def digest(data: bytes) -> str:
    """The content hash the trackers compare (SHA-256, hex)."""
    return hashlib.sha256(data).hexdigest()


@dataclass(slots=True, frozen=True)
class AuthChanges:
    """Credential files that appeared, changed content, or went away."""

    added: list[Path] = field(default_factory=list)
    changed: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


class FileTracker:
    """Reports a file's new content once its stat has settled and its SHA-256 differs.

    ``gone`` is True while the file is missing (after it was seen, or from the start).
    """

    def __init__(self, path: Path, debounce: float) -> None:
        self.path = path
        self.debounce = debounce
        self._signature: Signature | None = None
        self._pending: tuple[Signature, float] | None = None
        self.last_hash: str | None = None
        self.gone = False

    def expect(self, data: bytes) -> None:
        """This process wrote ``data`` to the file: that content is not a change to report.

        Only the hash is taken, not the stat: the next poll still reads the file, so a
        write by someone else right after ours is reported."""
        self.last_hash = digest(data)

    def prime(self) -> None:
        """Take the file as it is now as already seen."""
        self._signature = _signature(self.path)
        self.gone = self._signature is None
        try:
            self.last_hash = digest(self.path.read_bytes())
        except OSError:
            self.last_hash = None

    def poll(self, now: float) -> bytes | None:
        """New content ready to load, or None (unchanged, settling, missing or empty)."""
        sig = _signature(self.path)
        self.gone = sig is None
        if sig is None or sig == self._signature:
            self._pending = None
            return None
        if self._pending is None or self._pending[0] != sig:
            self._pending = (sig, now)
            return None
        if now - self._pending[1] < self.debounce:
            return None
        self._signature, self._pending = sig, None
        try:
            data = self.path.read_bytes()
        except OSError:
            return None
        content = digest(data)
        if not data or content == self.last_hash:
            return None
        self.last_hash = content
        return data


@dataclass(slots=True)
class _Known:
    signature: Signature
    digest: str


class AuthDirScanner:
    """Diffs ``*.json`` files in a directory between polls (hidden files ignored).

    A file that disappears is reported removed only after ``remove_debounce``; if it
    comes back first (an editor's write-via-rename), it counts as changed, or as
    nothing when its content is the same. Content this process wrote itself
    (:meth:`expect`) is taken in silently.
    """

    def __init__(self, directory: Path, debounce: float, remove_debounce: float) -> None:
        self.directory = directory
        self.debounce = debounce
        self.remove_debounce = remove_debounce
        self._known: dict[Path, _Known] = {}
        self._pending: dict[Path, tuple[Signature, float]] = {}
        self._gone: dict[Path, float] = {}
        self._expected: dict[Path, str] = {}

    def expect(self, path: Path, data: bytes) -> None:
        """This process wrote ``data`` to ``path``: do not report that content.

        Safe to call from another thread (one dict assignment). Paths outside the
        directory, hidden files and non-JSON files are ignored, as in a scan."""
        name = path.name
        if name.startswith(".") or not name.endswith(".json") or not self._inside(path):
            return
        self._expected[self.directory / name] = digest(data)

    def _inside(self, path: Path) -> bool:
        if path.parent == self.directory:
            return True
        try:
            return path.parent.resolve() == self.directory.resolve()
        except OSError:
            return False

    @property
    def files(self) -> list[Path]:
        """Files currently known (already reported or primed)."""
        return sorted(self._known)

    def prime(self) -> None:
        """Take the directory as it is now as already seen."""
        self._known.clear()
        for path, sig in self._scan().items():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if data:
                self._known[path] = _Known(sig, digest(data))

    def _scan(self) -> dict[Path, Signature]:
        found: dict[Path, Signature] = {}
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            return found
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(".json"):
                continue
            sig = _signature(Path(entry.path))
            if sig is not None and entry.is_file():
                found[Path(entry.path)] = sig
        return found

    def poll(self, now: float) -> AuthChanges:
        """What changed since the last poll, with debouncing applied."""
        changes = AuthChanges()
        current = self._scan()
        for path, sig in current.items():
            self._gone.pop(path, None)
            self._settle(path, sig, now, changes)
        for path in [p for p in self._pending if p not in current]:
            del self._pending[path]
        for path in [p for p in self._known if p not in current]:
            since = self._gone.setdefault(path, now)
            if now - since >= self.remove_debounce:
                del self._known[path], self._gone[path]
                changes.removed.append(path)
        return changes

    def _settle(self, path: Path, sig: Signature, now: float, changes: AuthChanges) -> None:
        known = self._known.get(path)
        if known is not None and known.signature == sig:
            self._pending.pop(path, None)
            return
        pending = self._pending.get(path)
        if pending is None or pending[0] != sig:
            self._pending[path] = (sig, now)
            return
        if now - pending[1] < self.debounce:
            return
        try:
            data = path.read_bytes()
        except OSError:
            return
        if not data:
            return  # still being written
        del self._pending[path]
        content = digest(data)
        ours = self._expected.pop(path, None) == content
        if known is None and not ours:
            changes.added.append(path)
        elif known is not None and known.digest != content and not ours:
            changes.changed.append(path)
        self._known[path] = _Known(sig, content)
