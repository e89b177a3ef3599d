"""The running proxy: the current config snapshot and everything derived from it.

The service owns the config watcher and swaps derived state (access policy, and later
the credential pool, model registry and plugin host) whole on every good reload, so a
request sees one consistent snapshot. The HTTP layer (``cliproxy.server``) only reads it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from cliproxy.access import AccessPolicy
from cliproxy.config import AuthChanges, Config, ConfigWatcher

if TYPE_CHECKING:
    from cliproxy.server.routes import Handler

__all__ = ["Service"]

log = logging.getLogger("cliproxy")


class Service:
    def __init__(self, config: Config, config_path: Path | None = None, *, watch: bool = True,
                 poll_interval: float | None = None) -> None:
        self.config_path = config_path
        self.config = config
        self.access = AccessPolicy(config.api_keys)
        self._watch = watch and config_path is not None
        self._poll_interval = poll_interval
        self._watcher: ConfigWatcher | None = None
        self.reloads = 0
        self.auth_files: set[Path] = set()

    # -- lifecycle

    async def start(self) -> None:
        self._announce_access()
        self.auth_files = set(self.auth_dir.glob("*.json")) if self.auth_dir.is_dir() else set()
        if self._watch and self.config_path is not None:
            kwargs = {} if self._poll_interval is None else {"poll_interval": self._poll_interval}
            self._watcher = ConfigWatcher(
                self.config_path, self.auth_dir, on_config=self._on_config, on_auth=self._on_auth,
                on_error=self._on_error, config=self.config, **kwargs)
            await self._watcher.start()

    async def stop(self) -> None:
        if self._watcher is not None:
            await self._watcher.stop()
            self._watcher = None

    @property
    def auth_dir(self) -> Path:
        return Path(self.config.auth_dir).expanduser()

    def handlers(self) -> dict[tuple[str, str], Handler]:
        """Route handlers the service provides; routes without one answer 501."""
        return {}

    # -- reload

    def apply(self, config: Config) -> None:
        """Swap in a new config snapshot (host and port changes need a restart)."""
        old = self.config
        if (config.host, config.port) != (old.host, old.port):
            log.warning("host/port changed in the config; that takes effect after a restart")
        self.config = config
        self.access = AccessPolicy(config.api_keys)
        self.reloads += 1
        if config.debug != old.debug:
            logging.getLogger("cliproxy").setLevel(logging.DEBUG if config.debug else logging.INFO)
        log.info("config reloaded (%d client keys)", len(self.access.keys))

    async def _on_config(self, config: Config) -> None:
        self.apply(config)

    async def _on_auth(self, changes: AuthChanges) -> None:
        for kind, paths in (("added", changes.added), ("changed", changes.changed), ("removed", changes.removed)):
            for path in paths:
                log.info("auth file %s: %s", kind, path.name)
        self.auth_files.difference_update(changes.removed)
        self.auth_files.update(changes.added)
        self.auth_files.update(changes.changed)

    def _on_error(self, exc: Exception) -> None:
        log.warning("config reload failed, keeping the last good config: %s", exc)

    def _announce_access(self) -> None:
        if self.access.safe_mode:
            log.warning("api-keys still holds the example keys %s: proxy routes answer 403 until "
                        "you replace them", ", ".join(self.access.example_keys))
        elif self.access.open:
            log.warning("api-keys is empty: the proxy accepts requests from ANYONE who can reach it. "
                        "Add api-keys to your config to require a key.")
