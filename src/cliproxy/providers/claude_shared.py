"""A cloaked Claude API key's own ids, agreed by every worker sharing a state backend.

A cloaked API key without Claude Code's profile sends a session UUID per key
(``X-Claude-Code-Session-Id``, and the session of its fake ``metadata.user_id``) and, with
``cache-user-id``, one fake user id per key, each kept an hour after its last use
(:func:`claude_identity.key_session`, :func:`claude_identity.fake_user_id`). Each process
makes its own, so with ``workers: N`` one key's requests carried N identities, depending
on the worker. CPA shares the two in its Home KV store (``CachedSessionIDRequired``,
``CachedUserIDRequired``: get, else set-if-absent and read back, an hour each); here the
Redis state backend keeps them under ``<prefix>cid|<sha256 of the key, 32 hex>``.

Cost: before a request of such a key (the provider's ``prepare``), one transaction per key
and process at most once a minute (:data:`RECHECK`): set what this process holds unless
another set it first, slide the hour, read back what all agreed, and adopt it. Every other
request pays one dict lookup. While Redis is away nothing is read: each process keeps its
own, as with the memory backend.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from cliproxy.providers import claude_identity as ident
from cliproxy.providers.first_use import FirstUse

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = ["RECHECK", "SharedKeyIds"]

log = logging.getLogger(__name__)

RECHECK = 60.0  # seconds a process trusts what it last read for a key
_TTL_MS = 3_600_000  # the ids' hour (claude_identity's), slid by every read
_KEPT = 4096
_EMPTY: Mapping[str, str] = {}


class SharedKeyIds:
    """The per-key ids of ``bus``'s processes (a Redis state backend): :meth:`due` before a
    request of a key, and the key's ids in :mod:`claude_identity` are the shared ones."""

    def __init__(self, bus: RedisState, clock: Callable[[], float] = time.monotonic) -> None:
        self.bus = bus
        self._clock = clock
        self._checked: dict[str, float] = {}  # key -> when to read Redis again
        self._runs = FirstUse()

    def due(self, api_key: str, *, user: bool) -> Awaitable[Mapping[str, str]] | None:
        """What to await before a request of ``api_key`` (None: nothing, the common case);
        ``user``: the key's fake user id is shared too (a real API key)."""
        if not api_key or self._checked.get(api_key, 0.0) > self._clock() or not self.bus.available:
            return None
        return self._runs.run(api_key, lambda: self._agree(api_key, user))

    async def _agree(self, api_key: str, user: bool) -> Mapping[str, str]:
        session, uid = ident.key_ids(api_key, user=user)
        key = self.bus.prefix + "cid|" + hashlib.sha256(api_key.encode()).hexdigest()[:32]
        found: Any = None
        try:
            async with self.bus.client.pipeline(transaction=True) as pipe:
                pipe.hsetnx(key, "s", session)
                if uid:
                    pipe.hsetnx(key, "u", uid)
                pipe.pexpire(key, _TTL_MS)
                pipe.hmget(key, "s", "u")
                found = (await pipe.execute())[-1]
        except Exception as exc:  # this process keeps its own ids meanwhile
            log.debug("claude: shared key ids not read (%s)", type(exc).__name__)
        if isinstance(found, list) and len(found) == 2:
            ident.adopt_key_ids(api_key, _text(found[0]), _text(found[1]))
        checked = self._checked
        if len(checked) >= _KEPT:
            checked.clear()
        checked[api_key] = self._clock() + RECHECK
        return _EMPTY


def _text(raw: Any) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""
