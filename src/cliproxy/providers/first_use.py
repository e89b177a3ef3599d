"""One first-use lookup in flight per credential (an Antigravity project, a Claude account):
the requests that need it while it runs share it, and a caller that gives up leaves it to
the others."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["FirstUse"]

_T = TypeVar("_T")


class FirstUse:
    """``run(key, make)``: ``make()``'s result, one coroutine at a time per ``key``."""

    def __init__(self) -> None:
        self._pending: dict[str, asyncio.Task[Any]] = {}

    async def run(self, key: str, make: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
        task = self._pending.get(key)
        if task is None:
            task = asyncio.get_running_loop().create_task(make())
            self._pending[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        result: _T = await asyncio.shield(task)
        return result

    def _done(self, key: str, task: asyncio.Task[Any]) -> None:
        self._pending.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved here: every waiter has seen it already
