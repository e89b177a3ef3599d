"""Auth files kept between reloads, so a reload reads only the files that changed.

A config reload rebuilds every credential, and a credential of an auth file depends on
the config too (``oauth-excluded-models``, ``oauth-request-scoped-errors``). Reading and
parsing thousands of files for that each time blocked the event loop for about 0.2 s per
1,000 files. :class:`AuthFileCache` keeps, per file, the stat signature it was read with,
its bytes and the credential made of them:

- :meth:`AuthFileCache.scan` (thread-safe, blocking: run it in a worker thread) lists the
  directory, stats every ``*.json`` file and reads only those whose signature (mtime,
  ctime, size, inode) moved since the last scan that was committed, and those written just
  before their last read (a write in the same clock tick can leave the signature as it
  was); the same bytes keep their credential;
- :meth:`AuthFileCache.commit` (event loop) takes a scan in unless another scan was
  committed since it began (then the caller scans again: a stale view never wins);
- :meth:`AuthFileCache.credentials` (event loop) gives the credentials for a config. An
  unchanged file whose config inputs are the same keeps its credential object, so what
  lives on it (a token refreshed in memory) stays; one whose inputs changed is made again
  from the cached bytes, without touching the disk.

CPA re-reads every file on each config reload (``snapshotCoreAuths``); the stat signature
picks up every change such a re-read would (a write moves ctime; a file written in the
clock tick of its read is read again), without the read.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .files import credential_from_bytes, read_auth_files
from .record import Credential

__all__ = ["AuthFileCache", "Scan"]

log = logging.getLogger(__name__)

Signature = tuple[int, int, int, int]  # st_mtime_ns, st_ctime_ns, st_size, st_ino
# file times move in clock ticks: a file changed this close to its read may change again
# with the same signature. Kernel ticks are 1-10 ms; a file system that keeps whole
# seconds (ext3, HFS+, FAT's 2 s) shows whole-second times and gets the long margin.
RACY_NS = 50_000_000
RACY_COARSE_NS = 2_000_000_000


@dataclass(slots=True)
class _Entry:
    path: Path
    signature: Signature
    data: bytes
    cred: Credential | None = None  # made of ``data`` with ``key``; None: the file is no credential
    key: tuple[Any, ...] | None = None  # the config inputs ``cred`` was made with
    racy: bool = False  # written just before it was read: read again next time
    given: bool = False  # ``cred`` went out (to the pool, which may have replaced it since)


@dataclass(slots=True)
class Scan:
    """A look at the directory, taken in by :meth:`AuthFileCache.commit`."""

    directory: Path
    generation: int
    entries: dict[str, _Entry]
    read: int = 0  # files read (their signature moved, or they are new)


class AuthFileCache:
    """The top-level ``*.json`` files of one auth directory, read once per change."""

    def __init__(self) -> None:
        self._directory: Path | None = None
        self._entries: dict[str, _Entry] = {}  # by file name; replaced whole, never changed in place
        self._generation = 0

    @property
    def paths(self) -> set[Path]:
        """Every ``*.json`` file the last committed scan found (those that are no credential too)."""
        return {entry.path for entry in self._entries.values()}

    def scan(self, directory: Path, cfg: Any = None, names: Collection[str] | None = None) -> Scan:
        """Thread side: the directory as it is now; only new, moved or racy files are read,
        and their credentials made with ``cfg``. A missing directory has no files.

        ``names``: only these files are looked at (those a watcher reported), every other
        one taken as last committed; ignored (the whole directory is scanned) when
        ``directory`` is not the one last committed."""
        generation, known = self._generation, self._entries if directory == self._directory else {}
        partial = names is not None and directory == self._directory
        out = Scan(directory, generation, dict(known) if partial else {})
        started = time.time_ns()
        if partial:
            assert names is not None
            found = [(name, _stat(directory / name)) for name in names if name.lower().endswith(".json")]
            for name, _ in found:
                out.entries.pop(name, None)  # back below if it is still there
        else:
            found = _listing(directory)
        for name, sig in found:
            if sig is not None:
                _look(out, name, sig, known.get(name), cfg, started)
        return out

    def commit(self, scan: Scan) -> bool:
        """Loop side: take ``scan`` in; False (nothing changed) when another scan was taken in
        after it began."""
        if scan.generation != self._generation:
            return False
        self._directory, self._entries = scan.directory, scan.entries
        self._generation += 1
        return True

    async def update(self, directory: Path, cfg: Any = None) -> None:
        """Scan in a worker thread and commit; looks again when a scan was taken in meanwhile
        (after three tries it scans on the loop, so the cache is current when this returns)."""
        for _ in range(3):
            if self.commit(await asyncio.to_thread(self.scan, directory, cfg)):
                return
        self.refresh(directory, cfg)

    async def read(
        self,
        directory: Path,
        cfg: Any,
        paths: Collection[Path],
        removed: Collection[Path] = (),
        reusable: Callable[[Credential], bool] = lambda _: True,
        pool: Callable[[], Iterable[Credential]] = tuple,
    ) -> dict[Path, Credential | None]:
        """The files at ``paths`` (a watcher reported them) as :meth:`credentials_of` gives
        them, looked at in a worker thread with those ``removed``, the rest of the directory
        taken as last committed; the cache keeps what was read, so the next reload does not
        read it again. Files not there are left out. ``pool``: the pool's credentials (see
        ``current`` of :meth:`credentials`), asked once."""
        # a removed file of another directory (the one auth-dir left) was never cached here
        names = {path.name for path in (*paths, *removed) if path.parent == directory}
        if all(path.parent == directory for path in paths):
            for _ in range(3):
                if self.commit(await asyncio.to_thread(self.scan, directory, cfg, names)):
                    current = {cred.id: cred for cred in pool()}
                    return self.credentials_of([path.name for path in paths], cfg, reusable, current)
        return await asyncio.to_thread(read_auth_files, paths, directory, cfg)  # elsewhere: as they are

    def refresh(self, directory: Path, cfg: Any = None) -> int:
        """Scan and commit at once (blocking; for callers that cannot await). Files read."""
        scan = self.scan(directory, cfg)
        self.commit(scan)
        return scan.read

    def credentials(
        self,
        cfg: Any,
        reusable: Callable[[Credential], bool] = lambda _: True,
        current: Mapping[str, Credential] | None = None,
    ) -> list[Credential]:
        """Loop side: the credentials of the committed files, in name order, made for ``cfg``.

        A credential made with the same config inputs is kept (the object itself); when
        ``current`` (the pool, by id) holds another object for the same file, that one is
        kept instead (a refresh replaced it in memory). ``reusable`` says which credentials
        may be kept at all: the others are made again each time (a plugin binds those in
        place); it is asked once per provider."""
        if self._directory is None:
            return []
        made = _Maker(self._directory, cfg, reusable, current)
        return [cred for name in sorted(self._entries) if (cred := made(self._entries[name])) is not None]

    def credentials_of(
        self,
        names: Collection[str],
        cfg: Any,
        reusable: Callable[[Credential], bool] = lambda _: True,
        current: Mapping[str, Credential] | None = None,
    ) -> dict[Path, Credential | None]:
        """Loop side: :meth:`credentials` for the committed files among ``names`` only, by
        path (None: the file is no credential); files not there are left out."""
        if self._directory is None:
            return {}
        made = _Maker(self._directory, cfg, reusable, current)
        return {entry.path: made(entry) for name in names if (entry := self._entries.get(name)) is not None}


class _Maker:
    """The credential of a committed file for one config (see :meth:`AuthFileCache.credentials`)."""

    def __init__(
        self,
        directory: Path,
        cfg: Any,
        reusable: Callable[[Credential], bool],
        current: Mapping[str, Credential] | None,
    ) -> None:
        self.directory, self.cfg, self.reusable, self.current = directory, cfg, reusable, current
        # by provider (a few, each looked up once): the config inputs, and whether kept
        self.keys: dict[str, tuple[tuple[Any, ...], bool]] = {}

    def __call__(self, entry: _Entry) -> Credential | None:
        if (cred := entry.cred) is None:
            return None  # not a credential, whatever the config
        if (known := self.keys.get(cred.provider)) is None:
            known = self.keys[cred.provider] = (_key(self.cfg, cred.provider), self.reusable(cred))
        if entry.key != known[0] or not known[1]:
            _build(entry, self.directory, self.cfg)
            if (cred := entry.cred) is None:
                return None
        elif (
            entry.given
            and self.current
            and (live := self.current.get(cred.id)) is not None
            and live is not cred
            and live.path == cred.path
        ):
            cred = entry.cred = live  # the pool swapped it (a refresh): that one stays
        entry.given = True
        return cred


def _look(out: Scan, name: str, sig: Signature, cached: _Entry | None, cfg: Any, started: int) -> None:
    """Put file ``name`` of ``out``'s directory into ``out``, read only when its signature
    moved (or it was racy): the same bytes keep their credential."""
    if cached is not None and cached.signature == sig and not cached.racy:
        out.entries[name] = cached
        return
    directory = out.directory
    try:
        data = (directory / name).read_bytes()
    except FileNotFoundError:
        return  # gone meanwhile
    except OSError as exc:  # unreadable: left out until a scan reads it
        log.warning("skipping auth file %s: %s", name, exc)
        return
    out.read += 1
    racy = _racy(sig, started)
    if cached is not None and cached.data == data:  # touched, or racy and unchanged
        out.entries[name] = _Entry(cached.path, sig, data, cached.cred, cached.key, racy, cached.given)
        return
    fresh = out.entries[name] = _Entry(directory / name, sig, data, racy=racy)
    _build(fresh, directory, cfg)


def _listing(directory: Path) -> list[tuple[str, Signature | None]]:
    """The ``*.json`` files of ``directory`` with their signatures (a missing one: none)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    return [
        (entry.name, _signature(entry))
        for entry in entries
        if entry.name.lower().endswith(".json") and _is_file(entry)
    ]


def _build(entry: _Entry, directory: Path, cfg: Any) -> None:
    cred = credential_from_bytes(entry.path, entry.data, directory, cfg)
    entry.cred, entry.key = cred, None if cred is None else _key(cfg, cred.provider)


def _key(cfg: Any, provider: str) -> tuple[Any, ...]:
    """What a file credential takes from the config (see :func:`.files.load_auth_file`)."""
    if cfg is None:
        return ((), ())
    excluded = (getattr(cfg, "oauth_excluded_models", None) or {}).get(provider) or ()
    rules = (getattr(cfg, "oauth_request_scoped_errors", None) or {}).get(provider) or ()
    return (tuple(excluded), tuple(rules))


def _racy(sig: Signature, read_at: int) -> bool:
    """Written so shortly before ``read_at`` that a write in the same clock tick could leave
    the signature as it is: the next scan reads the file again (git's "racily clean")."""
    mtime, ctime = sig[0], sig[1]
    coarse = mtime % 1_000_000_000 == 0 and ctime % 1_000_000_000 == 0
    return max(mtime, ctime) >= read_at - (RACY_COARSE_NS if coarse else RACY_NS)


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _stat(path: Path) -> Signature | None:
    """A regular file's signature (following a symlink, as reading does), else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


def _signature(entry: os.DirEntry[str]) -> Signature | None:
    try:
        st = entry.stat()  # follows a symlink, as reading does
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)
