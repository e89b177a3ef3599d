"""Pick the state backend ``state.backend`` names, and start / stop it with the service."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import StateBackend
from .memory import MemoryState

if TYPE_CHECKING:
    from .redis import RedisState

_REDIS_MODULE = __package__ + ".redis"

__all__ = ["close_state", "open_state", "shared", "start_state"]


def open_state(
    backend: str, url: str = "", prefix: str = "cliproxy:", clock: Callable[[], float] = time.time
) -> StateBackend:
    """The backend ``state.backend`` names (not connected yet: :func:`start_state` does that)."""
    if backend == "memory":
        return MemoryState(clock=clock)
    try:  # imported only here: redis-py adds ~8 MB to a process that never uses it
        from .redis import RedisState
    except ImportError as exc:  # the ``redis`` extra: pip install 'cliproxy[redis]'
        raise ConfigError(
            "state.backend: redis needs the redis package: pip install 'cliproxy[redis]'"
        ) from exc
    try:
        return RedisState(url, prefix, clock=clock)
    except ValueError as exc:  # a scheme redis-py does not take, a port that is no number...
        raise ConfigError(f"state.url: {exc}") from None


def shared(state: StateBackend) -> RedisState | None:
    """The backend when other processes share it (notifications, leases), else None."""
    module = sys.modules.get(_REDIS_MODULE)  # never loaded: no state can be a RedisState
    return state if module is not None and isinstance(state, module.RedisState) else None


async def start_state(state: StateBackend) -> None:
    if (redis := shared(state)) is not None:
        await redis.start()


async def close_state(state: StateBackend) -> None:
    if (redis := shared(state)) is not None:
        await redis.close()
