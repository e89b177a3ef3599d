"""``-tui -standalone``: the proxy and its terminal UI in one process (CPA's standalone mode).

The proxy listens where the config says; the UI manages it over the management API on
127.0.0.1 like any other client. Without a management key, a one-off key is made for
this run (as CPA does), accepted through ``MANAGEMENT_PASSWORD`` for the process only.
Log lines go to the log file (``logging-to-file``) and the Logs tab, not the terminal."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

from cliproxy.config import Config
from cliproxy.server.app import listen
from cliproxy.service import Service
from cliproxy.tui.app import ProxyTui

__all__ = ["serve_and_manage", "serving"]


@contextlib.asynccontextmanager
async def serving(config: Config, config_path: Path | None, key: str) -> AsyncIterator[ProxyTui]:
    """The proxy from ``config`` listening, and a UI (not yet running) that manages it."""
    if not key:
        key = f"tui-{os.getpid()}-{secrets.token_urlsafe(16)}"
        os.environ["MANAGEMENT_PASSWORD"] = key
    service = Service(config, config_path)
    listener = await listen(service, config.host, config.port)
    try:
        yield ProxyTui(f"{listener.scheme}://127.0.0.1:{listener.port}", key)
    finally:
        await listener.stop()


async def serve_and_manage(config: Config, config_path: Path | None, key: str) -> int:
    """Serve until the UI quits; the exit code."""
    logging.getLogger().handlers[:] = [logging.NullHandler()]  # the terminal belongs to the UI
    async with serving(config, config_path, key) as app:
        await app.run_async()
    return 0
