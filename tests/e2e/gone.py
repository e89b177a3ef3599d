"""What the client-gone tests wait for and read: a condition within a bound, and the
usage ledger's (status, failed) rows."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from cliproxy.usage import recorder_of


async def until(ok: Callable[[], bool], seconds: float) -> None:
    """Return once ``ok()`` holds; fail the test when it does not within ``seconds``."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not ok():
        assert loop.time() < end, f"not within {seconds:g}s"
        await asyncio.sleep(0.02)


def rows(proxy: Any) -> list[tuple[int, int]]:
    """(status, failed) of every usage row the proxy's ledger holds, once written."""
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None and ledger.flush()
    return [tuple(r) for r in ledger.query("SELECT status, failed FROM usage_requests")]
