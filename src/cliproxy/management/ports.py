"""What the management API needs from the running proxy, as a ``typing.Protocol``.

Endpoints see the service through :class:`ManagementService`, never the concrete
``cliproxy.service.Service``: the service sits above management in the layers (it
builds the gate and the plugin tables management reads), so naming it here would point
an import up. ``Service`` satisfies this protocol structurally; mypy checks that where
the server hands the service to the management sub-application.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cliproxy.config import Config, ConfigDocument
from cliproxy.credentials.login.antigravity import ClientVersion
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import Refresher
from cliproxy.models.registry import ModelRegistry
from cliproxy.plugins.host import PluginHost
from cliproxy.plugins.surface import ManagementTable
from cliproxy.providers.http import HttpClient

__all__ = ["ManagementService"]


class ManagementService(Protocol):
    """The proxy as management endpoints see it: the config snapshot and its file, the
    credential pool, the model registry, the shared upstream client, the plugins, and
    the two writes management makes (a config edit, a credential reload)."""

    @property
    def config(self) -> Config: ...

    @property
    def config_path(self) -> Path | None: ...

    @property
    def auth_dir(self) -> Path: ...

    @property
    def pool(self) -> Pool: ...

    @property
    def refresher(self) -> Refresher | None:
        """The OAuth token refresher (None before the service starts it)."""
        ...

    @property
    def models(self) -> ModelRegistry: ...

    @property
    def http(self) -> HttpClient: ...

    @property
    def plugins(self) -> PluginHost: ...

    @property
    def plugin_routes(self) -> ManagementTable: ...

    @property
    def antigravity_version(self) -> ClientVersion:
        """The Antigravity client version the proxy reports (a panel sign-in reports it too)."""
        ...

    async def edit_config(self, edit: Callable[[ConfigDocument], None], *, create: bool = False) -> Config:
        """Apply ``edit`` to the config file (comments kept), save it and reload at once."""
        ...

    async def reload_auth_files(self) -> None:
        """Re-read credentials now (after a write into auth-dir)."""
        ...

    async def settle_credentials(self) -> None:
        """Wait (bounded) until plugin-provider auth files the last reload read are bound."""
        ...
