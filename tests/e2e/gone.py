"""What the client-gone tests wait for and read: a condition within a bound, a client that
gives up once the upstream holds its request, the usage ledger's (status, failed) rows, and
what a client's leaving must leave behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
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


async def leave_once_held(call: Awaitable[Any], upstream: Any, settle: float) -> float:
    """Run the client ``call`` until ``upstream`` (a fake) got its request and ``settle``
    seconds more have passed with no answer, then give up (the task cancelled: its
    connection closes); when the client left, on the loop's clock. Waiting for the upstream
    rather than a fixed client timeout holds on a loaded machine."""
    task = asyncio.ensure_future(call)
    await until(lambda: bool(upstream.requests), 10)
    await asyncio.sleep(settle)
    assert not task.done()  # the proxy holds it: nothing of the answer yet
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return asyncio.get_running_loop().time()


async def ended_promptly(proxy: Any, upstream: Any, left: float, *, row: bool = True) -> None:
    """After a client left (at ``left``, on the loop's clock) while ``upstream`` (a fake) held
    its request: that call was still open then and ended within a second, the request's usage
    row is CPA's 499 (``row``: when the proxy keeps a ledger), and no credential cooled."""
    assert upstream.requests and not upstream.last.dropped  # it was held, not ended
    await until(lambda: upstream.last.dropped, 1.0)
    assert asyncio.get_running_loop().time() - left < 1.0
    if row:
        await until(lambda: len(rows(proxy)) == 1, 2)
        assert rows(proxy) == [(499, 1)]
    pool = proxy.service.pool
    assert [c.id for c in pool.credentials() if await pool.cooldowns(c)] == []
