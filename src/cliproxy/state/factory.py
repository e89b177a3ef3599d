"""Pick the state backend ``state.backend`` names, and start / stop it with the service."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..errors import ConfigError
from .base import StateBackend
from .memory import MemoryState

try:  # the ``redis`` extra: pip install 'cliproxy[redis]'
    from .redis import RedisState
except ImportError:  # pragma: no cover - depends on the environment
    RedisState = None  # type: ignore[assignment,misc]

__all__ = ["close_state", "open_state", "shared", "start_state"]


def open_state(
    backend: str, url: str = "", prefix: str = "cliproxy:", clock: Callable[[], float] = time.time
) -> StateBackend:
    """The backend ``state.backend`` names (not connected yet: :func:`start_state` does that)."""
    if backend == "memory":
        return MemoryState(clock=clock)
    if RedisState is None:
        raise ConfigError("state.backend: redis needs the redis package: pip install 'cliproxy[redis]'")
    return RedisState(url, prefix, clock=clock)


def shared(state: StateBackend) -> RedisState | None:
    """The backend when other processes share it (notifications, leases), else None."""
    return state if RedisState is not None and isinstance(state, RedisState) else None


async def start_state(state: StateBackend) -> None:
    if (redis := shared(state)) is not None:
        await redis.start()


async def close_state(state: StateBackend) -> None:
    if (redis := shared(state)) is not None:
        await redis.close()
