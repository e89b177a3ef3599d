"""The models each credential has answered or cooled for (CPA's model states): ``Pool.served``.

The panel's ``unavailable`` is whether every one of them is cooling
(:mod:`cliproxy.credentials.listing`). A success adds its model with one set add, as
before; a model new to this process is also noted in the state backend
(``add_served``, a task the request does not wait for: at most once per credential and
model per process), so with ``workers: N`` or several hosts on Redis every process lists an
account alike, whichever of them served it. :meth:`Served.models` is this process's models
and the ones the others noted; :meth:`Served.forget` drops both (the credential was
disabled, re-enabled or removed). When the state backend's channel is followed again after
a loss (a Redis restart or failover, which may have lost the sets), a process notes all it
has served again. On the memory backend nothing more happens.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from cliproxy.state.base import StateBackend
from cliproxy.state.factory import shared
from cliproxy.state.memory import MemoryState

__all__ = ["Served"]

log = logging.getLogger(__name__)


class _Models(set[str]):
    """One credential's models in this process; adding a new one notes it in the backend."""

    __slots__ = ("_cred", "_table")

    def __init__(self, table: Served, cred: str) -> None:
        super().__init__()
        self._table, self._cred = table, cred

    def add(self, model: str) -> None:
        if model not in self:
            set.add(self, model)
            self._table.note(self._cred, model)


class Served(dict[str, _Models]):
    """Credential id -> the models it answered or cooled for (``served[cred].add(model)``)."""

    def __init__(self, state: StateBackend) -> None:
        super().__init__()
        self.state = state
        self._shared = type(state) is not MemoryState
        self._tasks: set[asyncio.Task[None]] = set()
        if self._shared and (bus := shared(state)) is not None:  # Redis may come back without the sets
            bus.on_resubscribe(self._note_again)

    def __missing__(self, cred: str) -> _Models:
        models = self[cred] = _Models(self, cred)
        return models

    def note(self, cred: str, model: str) -> None:
        if self._shared:
            self._spawn(self.state.add_served(cred, model))

    async def models(self, cred: str) -> set[str]:
        """The models ``cred`` answered or cooled for, in this process or (shared) any other."""
        mine = set(self.get(cred, ()))
        return mine.union(await self.state.served_models(cred)) if self._shared else mine

    async def forget(self, cred: str) -> None:
        self.pop(cred, None)
        if self._shared:
            await self.state.forget_served(cred)

    def _note_again(self) -> None:
        """Redis's channel is followed again after a loss (a restart, a failover): its sets
        may be gone, so every model this process has served is noted again."""
        held = [(cred, model) for cred, models in self.items() for model in models]
        if held:
            self._spawn(self._note_all(held))

    async def _note_all(self, held: list[tuple[str, str]]) -> None:
        for _ in range(40):  # the backend may still be coming back (its probe): up to ~10 s
            if getattr(self.state, "available", True):
                break
            await asyncio.sleep(0.25)
        for cred, model in held:
            await self.state.add_served(cred, model)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a synchronous caller): this process's table only
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
