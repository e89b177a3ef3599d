"""Credentials that left the pool for good and come back later (:meth:`Pool.replace`).

An auth file that is deleted and, later, written again is a new credential to CPA: it
starts without the cooldowns its namesake had. The pool's state is keyed by id and
outlives the credential, so a credential that leaves for good is handed to
``forget_refusals`` as one to keep no cooldown (CPA drops a removed credential's state
with it; the shared state would otherwise keep the records: in memory for ever, in Redis
for days), and the ids that left are remembered here so that one coming back before
that ran, or after a record was written under its id again, starts fresh too.
Only the latest :data:`MAX_DEPARTED` departures are remembered, so a proxy whose auth
files come and go for months holds a bounded set; one forgotten that comes back keeps
the cooldowns its namesake left, as before this was remembered at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..state.base import CooldownRecord
from .record import Credential
from .reloaded import gone_for_good

__all__ = ["MAX_DEPARTED", "Departures"]

MAX_DEPARTED = 4096  # ids remembered; the oldest departure is forgotten first


class _Store(Protocol):
    """Where a credential's cooldowns are saved (``pool.CooldownStore``)."""

    def save(self, cred: Credential, records: Sequence[CooldownRecord]) -> None: ...


class Departures:
    """The ids of credentials gone for good (``reloaded.gone_for_good``) since they left."""

    def __init__(self, limit: int = MAX_DEPARTED) -> None:
        self._gone: dict[str, None] = {}  # in order of departure, the latest last
        self._limit = limit

    def update(
        self,
        old: Mapping[str, Credential],
        new: Mapping[str, Credential],
        revived: set[str],
        store: _Store | None,
    ) -> list[str]:
        """Note the credentials of ``old`` gone for good (their ``.cds`` files go too: CPA's
        Remove saves the states without them); return their ids and those of ``new`` that
        come back after leaving for good, all added to ``revived`` (``forget_refusals`` drops
        their cooldowns)."""
        gone = self._gone
        left = []
        for cred in gone_for_good(old, new):
            gone.pop(cred.id, None)
            gone[cred.id] = None
            left.append(cred.id)
            if store is not None:
                store.save(cred, [])
        while len(gone) > self._limit:
            del gone[next(iter(gone))]
        back = [key for key in new if key not in old and key in gone]
        for key in back:
            del gone[key]
        revived.update(left, back)
        return left + back

    def __len__(self) -> int:
        return len(self._gone)
