"""Config edits made through the management API, and those other processes publish.

An edit reads the file on disk, changes it (comments kept), saves it and applies the new
config at once. Every read-edit-save holds this process's lock and the host-wide file
lock (cliproxy.config.filelock), so edits made at the same time through different
workers all stay. With a shared state backend the saved text is published: a process of
the same host reads the same file, so it applies the file as it is on disk; a process
elsewhere saves the text first (under the lock), then applies it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cliproxy.config import Config, ConfigDocument, ConfigWatcher
from cliproxy.config.filelock import config_lock, file_identity
from cliproxy.errors import ConfigError, ConfigFileMissingError, ConfigSaveError

__all__ = ["ConfigWrites"]

log = logging.getLogger(__name__)


class ConfigWrites:
    """The config file's writer for one service.

    ``apply`` takes a config just saved (or published) into service; ``watcher`` gives
    the running config watcher, if any, which is told what was written so it reports
    only changes made after it; ``bus`` is the state backend's notification bus (None:
    no other process to tell)."""

    def __init__(
        self,
        path: Path | None,
        bus: Any | None,
        apply: Callable[[Config], Awaitable[None]],
        watcher: Callable[[], ConfigWatcher | None],
    ) -> None:
        self.path = path
        self._bus = bus
        self._apply = apply
        self._watcher = watcher
        self._lock = asyncio.Lock()

    async def edit(self, edit: Callable[[ConfigDocument], None], *, create: bool = False) -> Config:
        """Apply ``edit`` to the config file, save it, reload at once (see
        :meth:`cliproxy.service.Service.edit_config`). The file is parsed, edited and
        rendered in a worker thread (a large config takes seconds there, which on the event
        loop stalled every request in flight); the edit runs to its end even when the
        caller is cancelled, so a saved file is always applied."""
        path = self.path
        if path is None:
            raise ConfigError("the proxy runs on built-in defaults: there is no config file to edit")
        return await asyncio.shield(self._edit(path, edit, create))

    async def _edit(self, path: Path, edit: Callable[[ConfigDocument], None], create: bool) -> Config:
        async with self._lock, config_lock(path):  # the host's other workers too
            doc = await asyncio.to_thread(_edited, path, edit, create)
            config = doc.config
            try:  # rendered already: a quick write, on the loop so the watcher is told at once
                doc.save()
            except OSError as exc:
                raise ConfigSaveError(exc) from None
            if (watcher := self._watcher()) is not None:
                await watcher.note_config_written(doc.text().encode("utf-8"), config)
            await self._apply(config)  # the auth files stat'ed in a thread, then applied
            if self._bus is not None:  # every process sharing the state follows
                await self._bus.publish("config", text=doc.text(), file=file_identity(path))
            return config

    async def on_remote(self, message: dict[str, Any]) -> None:
        """Another process sharing the state backend saved a config edit: save and apply it here."""
        text = message.get("text")
        if not isinstance(text, str):
            return
        path = self.path
        # a worker of this host saved the file this process reads too: apply the file as it
        # is now (a later edit may be on disk already), never write the older text back
        same_file = path is not None and message.get("file") == file_identity(path) != ""
        async with self._lock:
            if same_file and path is not None:
                try:
                    async with config_lock(path):
                        text = path.read_text(encoding="utf-8")
                except (OSError, ConfigError, UnicodeDecodeError) as exc:
                    log.warning("config saved by another worker not read: %s", exc)
                    return
            try:
                doc = await asyncio.to_thread(ConfigDocument.from_text, text, path)
                config = doc.config
            except ConfigError as exc:
                log.warning("config from another process not applied: %s", exc)
                return
            if path is not None:
                if not same_file:
                    async with config_lock(path):
                        doc.save()  # the text as published: nothing to render
                if (watcher := self._watcher()) is not None:
                    await watcher.note_config_written(text.encode("utf-8"), config)
            await self._apply(config)  # the auth files stat'ed in a thread, then applied
        log.info("config updated by another process")


def _edited(path: Path, edit: Callable[[ConfigDocument], None], create: bool) -> ConfigDocument:
    """The file loaded, ``edit`` applied and the text rendered (the slow part: run in a
    worker thread, under the locks). Saving is left to the caller: on the event loop, with
    nothing between the write and telling the watcher, which would take the new file for
    someone else's change and reload it a second time."""
    try:
        doc = ConfigDocument.load(path)
    except FileNotFoundError:
        if not create:
            raise ConfigFileMissingError(str(path)) from None
        doc = ConfigDocument.from_text("", path)
    edit(doc)
    doc.text()  # rendered now, kept until the next edit
    return doc
