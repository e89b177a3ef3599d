"""The usage record queue: records wait here until a consumer pops them.

Items older than the retention window are dropped when the queue is touched; the queue
also holds at most ``MAX_ITEMS`` (oldest dropped first), so a proxy nobody polls keeps a
bounded amount of memory.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["MAX_ITEMS", "UsageQueue"]

MAX_ITEMS = 100_000


class UsageQueue:
    def __init__(
        self,
        retention: float = 60.0,
        *,
        max_items: int = MAX_ITEMS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retention = retention
        self._items: deque[tuple[float, bytes]] = deque(maxlen=max_items)
        self._clock = clock

    def __len__(self) -> int:
        self._prune(self._clock())
        return len(self._items)

    def push(self, payload: bytes) -> None:
        now = self._clock()
        self._prune(now)
        self._items.append((now, payload))

    def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` of the oldest records still within retention."""
        self._prune(self._clock())
        out: list[bytes] = []
        while self._items and len(out) < count:
            out.append(self._items.popleft()[1])
        return out

    def clear(self) -> None:
        self._items.clear()

    def _prune(self, now: float) -> None:
        cutoff = now - self.retention
        items = self._items
        while items and items[0][0] < cutoff:
            items.popleft()
