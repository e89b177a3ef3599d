"""Hot reload: watch config.yaml and the auth directory, report changes to callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

from watchfiles import awatch

from ..errors import ConfigError
from ._errors import config_error
from ._filewatch import AuthChanges, AuthDirScanner, FileTracker, Observation
from .document import ConfigDocument
from .loader import persist_hashed_secret
from .model import Config

__all__ = ["AuthChanges", "ConfigWatcher"]

log = logging.getLogger(__name__)

OnConfig = Callable[[Config], Awaitable[None]]
OnAuth = Callable[[AuthChanges], Awaitable[None]]
OnError = Callable[[Exception], None]

# A batch from the event source: the paths touched, or None for "look at everything".
Batch = frozenset[Path] | None


class ConfigWatcher:
    """Watches one config file and one auth directory.

    File-system events come from ``watchfiles`` (inotify, FSEvents, ... in a Rust thread):
    a batch is handed over once no new event came for ``debounce`` seconds, and only the
    paths in it are stat'ed and read, in a worker thread. Some file systems deliver no
    events (NFS, SMB, some container bind mounts), so the directories are also rescanned
    every ``poll_interval`` seconds (stat only, off the loop; files are read only when
    their stat moved); ``WATCHFILES_FORCE_POLLING=1`` makes watchfiles poll instead of
    waiting for events (``WATCHFILES_POLL_DELAY_MS``, default 300).

    - config: new content (SHA-256 differs; empty writes ignored) is loaded off the
      loop. A good file calls ``on_config(config)``; a broken one keeps the last good
      config and calls ``on_error(exc)``. ``host`` / ``port`` changes are logged as
      needing a restart, but the callback still gets the new config.
    - auth dir: ``*.json`` files (hidden files ignored) are reported to
      ``on_auth(AuthChanges)``; a file missing for ``remove_debounce`` seconds is
      removed, one back before that is a change (or nothing, with the same content).
      When ``auth-dir`` changes in the config, the watcher follows it, reporting the old
      files removed and the new ones added.
    - files the process writes all the time beside the config (the usage ledger's SQLite
      file and its ``-wal`` / ``-shm`` / ``-journal``: ``own_files``) are not events: a
      ledger in the config's directory would otherwise have the config file read again
      after every batch it writes (twice a second under load, measured).
    - the process's own writes are not reported back: the writer tells the watcher what
      it wrote (:meth:`note_config_written`, :meth:`note_auth_written`,
      :meth:`resync_auth`), and only content that differs from that counts as a change.
    - a config file that disappears keeps the last good config running; one WARNING
      says so, and one INFO line when it is back (its content is then loaded if new).
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        auth_dir: str | os.PathLike[str],
        on_config: OnConfig | None = None,
        on_auth: OnAuth | None = None,
        on_error: OnError | None = None,
        *,
        config: Config | None = None,
        poll_interval: float = 5.0,
        debounce: float = 0.15,
        remove_debounce: float = 1.0,
        own_files: Iterable[str | os.PathLike[str]] = (),
    ) -> None:
        self.config = config
        self.poll_interval = poll_interval
        self.debounce = debounce
        self._on_config, self._on_auth, self._on_error = on_config, on_auth, on_error
        self._config_file = FileTracker(Path(config_path))
        self._auth = AuthDirScanner(Path(auth_dir), remove_debounce)
        self._queue: asyncio.Queue[Batch] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._events: asyncio.Task[None] | None = None
        self._stop_events = asyncio.Event()
        self._watched: tuple[str, ...] = ()
        self._rewatching: set[asyncio.Task[None]] = set()
        self.own_files = own_files

    @property
    def own_files(self) -> frozenset[str]:
        """The files whose events are dropped (real paths); set again when they move."""
        return self._own

    @own_files.setter
    def own_files(self, paths: Iterable[str | os.PathLike[str]]) -> None:
        # never the config file itself (a ledger path pointed at it must not hide its edits)
        config = os.path.realpath(self._config_file.path)
        self._own = frozenset(os.path.realpath(p) for p in paths) - {config}

    @property
    def auth_dir(self) -> Path:
        """The directory being watched now."""
        return self._auth.directory

    @property
    def watching(self) -> tuple[str, ...]:
        """The directories file-system events come from now (absolute paths)."""
        return self._watched

    async def note_config_written(self, data: bytes, config: Config) -> None:
        """This process saved ``data`` (which loads as ``config``) to the config file.

        That content is the running config, so it is not reported; anything else
        found there later is. A new ``auth-dir`` is followed at once, its files (read in a
        worker thread) taken as already loaded (the writer applies the config next)."""
        self._config_file.expect(data)
        self.config = config
        directory = Path(config.auth_dir).expanduser()
        if directory != self._auth.directory:
            scanner = AuthDirScanner(directory, self._auth.remove_debounce)
            await asyncio.to_thread(scanner.prime)  # no one else holds it yet
            self._auth = scanner
            log.info("auth-dir changed, now watching %s", directory)
            self._rewatch()

    def note_auth_written(self, path: Path, data: bytes) -> None:
        """This process wrote ``data`` to ``path``: not a change to report (thread-safe)."""
        self._auth.expect(path, data)

    def resync_auth(self) -> None:
        """The owner is about to load every auth file: take the directory as seen."""
        self._auth.prime()

    async def resync_auth_off_loop(self) -> None:
        """:meth:`resync_auth`, the directory looked at in a worker thread."""
        scanner = self._auth
        found = await asyncio.to_thread(scanner.observe, None, scanner.snapshot()[0], frozenset())
        if scanner is self._auth:
            scanner.settle(found)

    async def start(self) -> None:
        """Start watching, then take the current files as the baseline.

        Events are on before the baseline is read, so a change made once ``start``
        returned is always seen."""
        if self._task is not None:
            return
        self._stop_events.clear()
        await self._rewatch_now()
        await asyncio.to_thread(self._prime)
        self._task = asyncio.create_task(self._run(), name="cliproxy-config-watcher")

    def _prime(self) -> None:
        self._config_file.prime()
        self._auth.prime()

    async def stop(self) -> None:
        """Stop watching; waits for the tasks to end."""
        task, self._task = self._task, None
        tasks = [t for t in (task, *self._rewatching) if t is not None]
        for pending in tasks:
            pending.cancel()
        if tasks:  # bounded: a task that lost its cancellation must not hold a shutdown
            _, left = await asyncio.wait(tasks, timeout=5.0)
            if left:
                log.warning("config watcher: %d task(s) did not stop within 5 s", len(left))
        await self._stop_watching()
        self._watched = ()

    # -- the event source

    def _wanted_dirs(self) -> tuple[str, ...]:
        dirs = {os.path.abspath(self._config_file.path.parent), os.path.abspath(self._auth.directory)}
        return tuple(sorted(d for d in dirs if os.path.isdir(d)))

    def _rewatch(self) -> None:
        """Watch the directories that exist now (restarts the event source if they moved)."""
        if self._task is not None and self._wanted_dirs() != self._watched:
            task = asyncio.get_running_loop().create_task(self._rewatch_now())
            self._rewatching.add(task)
            task.add_done_callback(self._rewatching.discard)

    async def _rewatch_now(self) -> None:
        dirs = self._wanted_dirs()
        await self._stop_watching()
        self._watched = dirs
        if not dirs:
            return
        self._stop_events = asyncio.Event()
        ready = asyncio.Event()
        self._events = asyncio.create_task(self._watch(dirs, ready), name="cliproxy-config-events")
        await ready.wait()
        if self._task is not None:  # running: what changed while no events came is found by a scan
            self._queue.put_nowait(None)

    async def _stop_watching(self) -> None:
        task, self._events = self._events, None
        if task is None:
            return
        self._stop_events.set()  # the Rust thread sees it within one step and ends the batch
        try:
            await asyncio.wait_for(asyncio.shield(task), 2.0)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _watch(self, dirs: tuple[str, ...], ready: asyncio.Event) -> None:
        step = max(1, round(self.debounce * 1000))
        source = awatch(
            *dirs,
            watch_filter=None,
            step=step,
            debounce=max(1600, 4 * step),
            stop_event=self._stop_events,
            recursive=False,
            ignore_permission_denied=True,
        )
        try:
            # the watcher's Rust side starts collecting when the generator first runs, up
            # to its first wait: one turn of the loop, then the baseline may be taken
            batch = asyncio.ensure_future(anext(source))
            await asyncio.sleep(0)
            ready.set()
            real = {d: os.path.realpath(d) for d in dirs}  # own_files holds real paths

            def foreign(path: str) -> bool:
                head, name = os.path.split(path)
                return os.path.join(real.get(head, head), name) not in self._own

            while True:
                changes = await batch
                paths = frozenset(Path(p) for _, p in changes if foreign(p))
                if paths:
                    self._queue.put_nowait(paths)
                batch = asyncio.ensure_future(anext(source))
        except StopAsyncIteration:
            pass
        except Exception as exc:  # e.g. the inotify watch limit: the rescans still find changes
            if isinstance(exc, FileNotFoundError):
                self._watched = ()  # a directory went away meanwhile: the next rescan retries
            log.warning(
                "file events for %s are unavailable (%s); changes are found by a rescan every %g s",
                ", ".join(dirs),
                exc,
                self.poll_interval,
            )
        finally:
            ready.set()

    # -- the checks

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_rescan = loop.time() + self.poll_interval
        while True:
            deadline = min(next_rescan, self._auth.next_deadline() or next_rescan)
            batch: Batch
            try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow stop()'s cancel
                async with asyncio.timeout(max(0.0, deadline - loop.time())):
                    batch = await self._queue.get()
            except TimeoutError:
                batch = frozenset()
            while not self._queue.empty():
                more = self._queue.get_nowait()
                batch = None if batch is None or more is None else batch | more
            if loop.time() >= next_rescan:
                batch, next_rescan = None, loop.time() + self.poll_interval
                if self._wanted_dirs() != self._watched:
                    await self._rewatch_now()
            await self._check(batch)

    async def _check(self, batch: Batch) -> None:
        config_dir = os.path.abspath(self._config_file.path.parent)
        if batch is None:
            await self._check_config(force=False)
        elif any(str(p.parent) == config_dir for p in batch):
            await self._check_config(force=True)
        await self._check_auth(batch)

    async def _check_config(self, *, force: bool) -> None:
        tracker = self._config_file
        was_gone = tracker.gone
        found = await asyncio.to_thread(tracker.observe, force=force)
        if tracker is not self._config_file:
            return
        data = tracker.take(found)
        if tracker.gone != was_gone:
            self._log_presence()
        if data is not None:
            await self._reload(data)

    async def _check_auth(self, batch: Batch) -> None:
        scanner = self._auth
        loop = asyncio.get_running_loop()
        paths = None if batch is None else self._auth_paths(scanner, batch)
        if paths is not None:
            paths.update(scanner.due(loop.time()))
            if not paths:
                return
        known, gone = scanner.snapshot()
        found: list[Observation] = await asyncio.to_thread(scanner.observe, paths, known, gone)
        if scanner is not self._auth:
            return  # the auth-dir moved meanwhile
        now = loop.time()
        changes = scanner.take(found, now)
        changes.removed.extend(scanner.expire(now))
        if changes:
            await self._emit_auth(changes)

    @staticmethod
    def _auth_paths(scanner: AuthDirScanner, batch: Iterable[Path]) -> set[Path] | None:
        """The auth files an event batch touched; None when only a full scan can tell
        (the directory itself, or a ``..data``-style symlink swap as in Kubernetes)."""
        directory = os.path.abspath(scanner.directory)
        out: set[Path] = set()
        for path in batch:
            if str(path) == directory:
                return None
            if str(path.parent) != directory:
                continue
            if scanner.wanted(path.name):
                out.add(scanner.directory / path.name)
            elif path.name.startswith(".."):
                return None
        return out

    def _log_presence(self) -> None:
        path = self._config_file.path
        if self._config_file.gone:
            log.warning(
                "config file %s is gone; keeping the running config (management writes answer "
                "409 until it is back, PUT /v0/management/config.yaml recreates it)",
                path,
            )
        else:
            log.info("config file %s is back", path)

    async def _reload(self, data: bytes) -> None:
        path = self._config_file.path
        try:
            doc, rewritten = await asyncio.to_thread(_load_bytes, data, path)
        except ConfigError as exc:
            log.warning("config reload failed, keeping the last good config: %s", exc)
            self._report(exc)
            return
        except Exception as exc:  # e.g. RecursionError on absurd nesting: the watcher must live on
            log.warning("config reload failed, keeping the last good config: %s: %s", type(exc).__name__, exc)
            self._report(exc)
            return
        if rewritten:  # the secret-key was hashed and written back: not a new change
            self._config_file.expect(doc.text().encode("utf-8"))
        old, new = self.config, doc.config
        self.config = new
        if old is not None and (old.host, old.port) != (new.host, new.port):
            log.warning(
                "host/port changes need a restart (%s:%s -> %s:%s)", old.host, old.port, new.host, new.port
            )
        log.info("config reloaded from %s", path)
        if self._on_config is not None:
            await self._call(self._on_config(new))
        if Path(new.auth_dir).expanduser() != self._auth.directory:
            await self._follow_auth_dir(Path(new.auth_dir).expanduser())

    async def _follow_auth_dir(self, directory: Path) -> None:
        old_files = self._auth.files
        self._auth = AuthDirScanner(directory, self._auth.remove_debounce)
        await self._rewatch_now()  # events first, then the baseline: nothing falls in between
        await asyncio.to_thread(self._auth.prime)
        log.info("auth-dir changed, now watching %s", directory)
        changes = AuthChanges(added=self._auth.files, removed=old_files)
        if changes:
            await self._emit_auth(changes)

    async def _emit_auth(self, changes: AuthChanges) -> None:
        if self._on_auth is not None:
            await self._call(self._on_auth(changes))

    async def _call(self, awaitable: Awaitable[None]) -> None:
        try:
            await awaitable
        except Exception as exc:  # a failing consumer must not stop the watcher
            log.exception("config watcher callback failed")
            self._report(exc)

    def _report(self, exc: Exception) -> None:
        if self._on_error is None:
            return
        try:
            self._on_error(exc)
        except Exception:
            log.exception("config watcher on_error callback failed")


def _load_bytes(data: bytes, path: Path) -> tuple[ConfigDocument, bool]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise config_error(f"not UTF-8 text ({exc.reason})", path=None, file=str(path)) from None
    doc = ConfigDocument.from_text(text, path)
    return doc, persist_hashed_secret(doc)
