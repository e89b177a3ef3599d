"""Change detectors behind ConfigWatcher: one file, and a directory of JSON files.

Each detector is split in two halves so that no file is read on the event loop:

- ``observe`` (run in a worker thread) stats the paths it is asked about and reads only
  those whose stat signature differs from the one last taken in;
- ``take`` (run on the event loop, cheap dict work) compares what was read with the known
  content hashes and with the content this process wrote itself, and says what changed.

The file-system events (watchfiles) only say *where* to look; these hashes decide *whether*
something changed, so a touch, a rewrite with the same bytes or the process's own write is
not reported, and a file copied back to an older content is.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["AuthChanges", "AuthDirScanner", "FileTracker", "Observation", "digest"]

Signature = tuple[int, int, int, int]


def _signature(path: Path | os.DirEntry[str]) -> Signature | None:
    try:
        st = path.stat()  # a DirEntry's is one stat call too (it follows symlinks, as os.stat)
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


@dataclass(slots=True, frozen=True)
class Observation:
    """One path as a worker thread found it: missing (``signature`` None), unchanged since
    the signature it was given (``data`` None), or new bytes."""

    path: Path
    signature: Signature | None
    data: bytes | None = None


def observe(path: Path, known: Signature | None, sig: Signature | None = None) -> Observation:
    """Stat ``path`` (unless ``sig`` is given); read it only when its signature differs from
    ``known`` (thread side)."""
    sig = sig or _signature(path)
    if sig is None or sig == known:
        return Observation(path, sig)
    try:
        return Observation(path, sig, path.read_bytes())
    except OSError:
        return Observation(path, None)


class FileTracker:
    """Reports a file's new content when its SHA-256 differs from the last one taken in.

    ``gone`` is True while the file is missing (after it was seen, or from the start).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.signature: Signature | None = None
        self.last_hash: str | None = None
        self.gone = False

    def expect(self, data: bytes) -> None:
        """This process wrote ``data`` to the file: that content is not a change to report.

        Only the hash is taken, not the stat: the next check still reads the file, so a
        write by someone else right after ours is reported."""
        self.last_hash = digest(data)

    def prime(self) -> None:
        """Take the file as it is now as already seen (reads it: call off the loop)."""
        found = observe(self.path, None)
        self.signature, self.gone = found.signature, found.signature is None
        self.last_hash = digest(found.data) if found.data is not None else None

    def observe(self, *, force: bool = False) -> Observation:
        """Thread side: the file's stat, and its bytes when the stat moved (or ``force``: an
        event named the file, and two writes of one size in one clock tick share a stat)."""
        return observe(self.path, None if force else self.signature)

    def take(self, found: Observation) -> bytes | None:
        """Loop side: new content to load, or None (unchanged, missing or empty)."""
        self.gone = found.signature is None
        if found.signature is None or found.data is None:
            return None
        self.signature = found.signature
        content = digest(found.data)
        if not found.data or content == self.last_hash:
            return None
        self.last_hash = content
        return found.data


@dataclass(slots=True)
class _Known:
    signature: Signature
    digest: str


class AuthDirScanner:
    """``*.json`` files directly in a directory (hidden files ignored), diffed by content.

    A file found missing is reported removed only once it has been gone for
    ``remove_debounce`` seconds (:meth:`due`, :meth:`expire`); if it comes back first (an
    editor's write-via-rename), it counts as changed, or as nothing when its content is the
    same. Content this process wrote itself (:meth:`expect`) is taken in silently. An empty
    file is still being written: it is looked at again on its next event.
    """

    def __init__(self, directory: Path, remove_debounce: float) -> None:
        self.directory = directory
        self.remove_debounce = remove_debounce
        self._known: dict[Path, _Known] = {}
        self._signatures: dict[str, Signature] = {}  # the same signatures by name, for a cheap copy
        self._gone: dict[Path, float] = {}
        self._expected: dict[Path, str] = {}

    @staticmethod
    def wanted(name: str) -> bool:
        """A file name the scanner tracks."""
        return not name.startswith(".") and name.endswith(".json")

    def expect(self, path: Path, data: bytes) -> None:
        """This process wrote ``data`` to ``path``: do not report that content.

        Safe to call from another thread (one dict assignment). Paths outside the
        directory, hidden files and non-JSON files are ignored, as in a scan."""
        if not self.wanted(path.name) or not self._inside(path):
            return
        self._expected[self.directory / path.name] = digest(data)

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
        """Take the directory as it is now as already seen. Reads the files whose signature
        moved since they were last taken in (every file, the first time)."""
        self.settle(self._scan(self._signatures.copy(), frozenset()))

    def settle(self, observations: Iterable[Observation]) -> None:
        """Loop side of :meth:`prime`: take a whole-directory :meth:`observe` (made with the
        known signatures and no missing files) as already seen."""
        self._gone.clear()
        for found in observations:
            if found.signature is None:
                self._forget(found.path)  # a known file no longer there
            elif found.data:
                self._remember(found.path, found.signature, digest(found.data))
            elif found.data is not None:
                self._forget(found.path)  # emptied: still being written, as at the first prime

    def _remember(self, path: Path, signature: Signature, content: str) -> None:
        self._known[path] = _Known(signature, content)
        self._signatures[path.name] = signature

    def _forget(self, path: Path) -> None:
        self._known.pop(path, None)  # a settle may find one already forgotten
        self._signatures.pop(path.name, None)

    def snapshot(self) -> tuple[dict[str, Signature], frozenset[str]]:
        """Loop side: what :meth:`observe` needs to know (by file name), copied for a thread."""
        return self._signatures.copy(), frozenset(p.name for p in self._gone)

    def observe(
        self, paths: Iterable[Path] | None, known: dict[str, Signature], gone: frozenset[str]
    ) -> list[Observation]:
        """Thread side: the given paths (``None``: the whole directory) as they are now.

        A path given is read whatever its stat says (an event named it). A whole-directory
        scan reads only files whose signature moved, lists missing ones that come back, and
        reports known files no longer there as missing."""
        if paths is None:
            return self._scan(known, gone)
        return [observe(p, None) for p in paths]

    def _scan(self, known: dict[str, Signature], gone: frozenset[str]) -> list[Observation]:
        out: list[Observation] = []
        seen: set[str] = set()
        try:
            entries = list(os.scandir(self.directory))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if not self.wanted(name) or not entry.is_file():
                continue
            seen.add(name)
            sig = _signature(entry)
            if sig is not None and (sig != known.get(name) or name in gone):
                out.append(observe(self.directory / name, known.get(name), sig))
        missing = (known.keys() | gone) - seen
        out += [Observation(self.directory / name, None) for name in sorted(missing)]
        return out

    def take(self, observations: Iterable[Observation], now: float) -> AuthChanges:
        """Loop side: added and changed files; missing ones start their remove debounce."""
        changes = AuthChanges()
        for found in observations:
            path, known = found.path, self._known.get(found.path)
            if found.signature is None:
                if known is not None:
                    self._gone.setdefault(path, now)
                continue
            self._gone.pop(path, None)
            if found.data is None or not found.data:
                continue  # unchanged stat, or still being written
            content = digest(found.data)
            ours = self._expected.pop(path, None) == content
            if known is None and not ours:
                changes.added.append(path)
            elif known is not None and known.digest != content and not ours:
                changes.changed.append(path)
            self._remember(path, found.signature, content)
        changes.added.sort()
        changes.changed.sort()
        return changes

    def due(self, now: float) -> list[Path]:
        """Missing files whose remove debounce is over: to be looked at once more."""
        return [p for p, since in self._gone.items() if now - since >= self.remove_debounce]

    def next_deadline(self) -> float | None:
        """When the earliest remove debounce ends (None: no file is missing)."""
        return min(self._gone.values()) + self.remove_debounce if self._gone else None

    def expire(self, now: float) -> list[Path]:
        """Files still missing after their remove debounce: forgotten, to report removed."""
        removed = sorted(self.due(now))
        for path in removed:
            del self._gone[path]
            if path in self._known:
                self._forget(path)
        return removed
