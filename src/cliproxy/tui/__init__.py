"""``cliproxy tui``: a terminal view of a running proxy, over its management API.

The Textual app lives in ``cliproxy.tui.app`` and is imported only when the UI starts,
so ``cliproxy --help`` stays fast and Textual stays an optional extra (``pip install
cliproxy[tui]``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cliproxy.config import Config

__all__ = ["run", "run_standalone"]


def run(url: str, key: str) -> int:
    """Run the UI against the proxy at ``url`` with management key ``key``; the exit code."""
    try:
        from cliproxy.tui.app import ProxyTui
    except ImportError as exc:
        print(f"cliproxy tui: the terminal UI needs Textual (pip install 'cliproxy[tui]'): {exc}")
        return 1
    ProxyTui(url, key).run()
    return 0


def run_standalone(config: Config, config_path: Path | None, key: str) -> int:
    """Run the proxy from ``config`` in this process with the UI on top (``-standalone``)."""
    try:
        from cliproxy.tui.standalone import serve_and_manage
    except ImportError as exc:
        print(f"cliproxy tui: the terminal UI needs Textual (pip install 'cliproxy[tui]'): {exc}")
        return 1
    return asyncio.run(serve_and_manage(config, config_path, key))
