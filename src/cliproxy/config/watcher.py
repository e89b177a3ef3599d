"""Hot reload: poll config.yaml and the auth directory, report changes to callbacks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from ..errors import ConfigError
from ._errors import config_error
from ._filewatch import AuthChanges, AuthDirScanner, FileTracker
from .document import ConfigDocument
from .loader import persist_hashed_secret
from .model import Config

__all__ = ["AuthChanges", "ConfigWatcher"]

log = logging.getLogger("cliproxy.config")

OnConfig = Callable[[Config], Awaitable[None]]
OnAuth = Callable[[AuthChanges], Awaitable[None]]
OnError = Callable[[Exception], None]


class ConfigWatcher:
    """Watches one config file and one auth directory by polling (no extra dependency).

    - config: a change is loaded once the file has been still for ``debounce``
      seconds and its SHA-256 differs; empty writes are ignored. A good file calls
      ``on_config(config)``; a broken one keeps the last good config and calls
      ``on_error(ConfigError)``. ``host`` / ``port`` changes are logged as needing a
      restart, but the callback still gets the new config.
    - auth dir: ``*.json`` files (hidden files ignored) are reported to
      ``on_auth(AuthChanges)``; when ``auth-dir`` changes in the config, the watcher
      follows it, reporting the old files removed and the new ones added.
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
        poll_interval: float = 0.2,
        debounce: float = 0.15,
        remove_debounce: float = 1.0,
    ) -> None:
        self.config = config
        self.poll_interval = poll_interval
        self._on_config, self._on_auth, self._on_error = on_config, on_auth, on_error
        self._config_file = FileTracker(Path(config_path), debounce)
        self._auth = AuthDirScanner(Path(auth_dir), debounce, remove_debounce)
        self._task: asyncio.Task[None] | None = None

    @property
    def auth_dir(self) -> Path:
        """The directory being watched now."""
        return self._auth.directory

    def note_config_written(self, data: bytes, config: Config) -> None:
        """This process saved ``data`` (which loads as ``config``) to the config file.

        That content is the running config, so it is not reported; anything else
        found there later is. A new ``auth-dir`` is followed at once, its files taken as
        already loaded (the writer applied the config)."""
        self._config_file.expect(data)
        self.config = config
        directory = Path(config.auth_dir).expanduser()
        if directory != self._auth.directory:
            self._auth = AuthDirScanner(directory, self._auth.debounce, self._auth.remove_debounce)
            self._auth.prime()
            log.info("auth-dir changed, now watching %s", directory)

    def note_auth_written(self, path: Path, data: bytes) -> None:
        """This process wrote ``data`` to ``path``: not a change to report (thread-safe)."""
        self._auth.expect(path, data)

    def resync_auth(self) -> None:
        """The owner is about to load every auth file: take the directory as seen."""
        self._auth.prime()

    async def start(self) -> None:
        """Take the current files as the baseline and start polling."""
        if self._task is not None:
            return
        self._config_file.prime()
        self._auth.prime()
        self._task = asyncio.create_task(self._run(), name="cliproxy-config-watcher")

    async def stop(self) -> None:
        """Stop polling; waits for the task to end."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.poll_interval)
            was_gone = self._config_file.gone
            data = self._config_file.poll(loop.time())
            if self._config_file.gone != was_gone:
                self._log_presence()
            if data is not None:
                await self._reload(data)
            changes = self._auth.poll(loop.time())
            if changes:
                await self._emit_auth(changes)

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
        self._auth = AuthDirScanner(directory, self._auth.debounce, self._auth.remove_debounce)
        self._auth.prime()
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
