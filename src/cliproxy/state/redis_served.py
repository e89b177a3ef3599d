"""Which models each credential has answered, on Redis: the ``*_served`` methods of the
state contract.

One set per credential, ``<prefix>srv|<credential id>``, of the model keys it has answered
in any process: CPA's model states, which the panel's ``unavailable`` aggregates
(:mod:`cliproxy.credentials.listing`). A process adds a model once (its pool keeps its own
table, :mod:`cliproxy.credentials.served`), reads a credential's set when it lists the
credential, and deletes the set when the credential is disabled, re-enabled or removed.
While Redis is away nothing is added or read: each process knows only its own successes.
"""

from __future__ import annotations

from typing import Any

from .resp import DOWN as _DOWN

__all__ = ["RedisServed"]


class RedisServed:
    """Mixed into ``RedisState``: it provides ``_redis``, ``_k``, ``_down`` and ``_went_down``
    (see :mod:`cliproxy.state.redis`)."""

    _redis: Any
    _down: bool

    def _k(self, name: str) -> str:  # pragma: no cover - RedisState's
        raise NotImplementedError

    def _went_down(self, exc: BaseException) -> None:  # pragma: no cover - RedisState's
        raise NotImplementedError

    async def add_served(self, credential_id: str, model: str) -> None:
        if not self._down:
            try:
                await self._redis.sadd(self._k("srv|" + credential_id), model)
            except _DOWN as exc:
                self._went_down(exc)

    async def served_models(self, credential_id: str) -> frozenset[str]:
        if self._down:
            return frozenset()
        try:
            raw = await self._redis.smembers(self._k("srv|" + credential_id))
        except _DOWN as exc:
            self._went_down(exc)
            return frozenset()
        return frozenset(m.decode() if isinstance(m, bytes) else str(m) for m in raw)

    async def forget_served(self, credential_id: str) -> None:
        if not self._down:
            try:
                await self._redis.delete(self._k("srv|" + credential_id))
            except _DOWN as exc:
                self._went_down(exc)
