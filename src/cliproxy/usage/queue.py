"""The usage record queue: records wait here until a consumer pops them.

Items older than the retention window are dropped when the queue is touched; the queue
also holds at most ``MAX_ITEMS`` (oldest dropped first), so a proxy nobody polls keeps a
bounded amount of memory. While someone is subscribed (``SUBSCRIBE usage`` over RESP) a
record goes to the subscribers instead of the queue, as in CPA; a subscriber that falls
``SUBSCRIBER_BUFFER`` records behind is dropped.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

__all__ = ["MAX_ITEMS", "SUBSCRIBER_BUFFER", "Subscriber", "UsageQueue"]

MAX_ITEMS = 100_000
SUBSCRIBER_BUFFER = 256


class Subscriber:
    """One subscription: ``deliver`` is called with each record; ``pending`` counts the
    records handed over but not yet written out, ``closed`` is set when it is dropped."""

    __slots__ = ("closed", "deliver", "pending")

    def __init__(self, deliver: Callable[[bytes], None]) -> None:
        self.deliver = deliver
        self.pending = 0
        self.closed = False


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
        self.subscribers: list[Subscriber] = []

    def __len__(self) -> int:
        self._prune(self._clock())
        return len(self._items)

    def push(self, payload: bytes) -> None:
        if self.subscribers:
            self.publish(payload)
            return
        now = self._clock()
        self._prune(now)
        self._items.append((now, payload))

    def publish(self, payload: bytes) -> None:
        for sub in list(self.subscribers):
            if sub.pending >= SUBSCRIBER_BUFFER:
                self.unsubscribe(sub)
                sub.deliver(b"")  # an empty record tells the subscriber it was dropped
                continue
            sub.deliver(payload)

    def subscribe(self, deliver: Callable[[bytes], None]) -> Subscriber:
        sub = Subscriber(deliver)
        self.subscribers.append(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        sub.closed = True
        if sub in self.subscribers:
            self.subscribers.remove(sub)

    def pop(self, count: int) -> list[bytes]:
        """Up to ``count`` of the oldest records still within retention."""
        self._prune(self._clock())
        out: list[bytes] = []
        while self._items and len(out) < count:
            out.append(self._items.popleft()[1])
        return out

    async def take(self, count: int) -> list[bytes]:
        """:meth:`pop` for readers that may wait (the shared queue pops from Redis)."""
        return self.pop(count)

    def clear(self) -> None:
        self._items.clear()
        for sub in list(self.subscribers):
            self.unsubscribe(sub)
            sub.deliver(b"")

    def _prune(self, now: float) -> None:
        cutoff = now - self.retention
        items = self._items
        while items and items[0][0] < cutoff:
            items.popleft()
