"""Credentials that left the pool for good and come back later (:meth:`Pool.replace`).

An auth file that is deleted and, later, written again is a new credential to CPA: it
starts without the cooldowns its namesake had. The pool's state is keyed by id and
outlives the credential, so the ids that left for good are remembered here and, when one
comes back, it is handed to ``forget_refusals`` as a credential to keep no cooldown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from ..state.base import CooldownRecord
from .record import Credential
from .reloaded import gone_for_good

__all__ = ["Departures"]


class _Store(Protocol):
    """Where a credential's cooldowns are saved (``pool.CooldownStore``)."""

    def save(self, cred: Credential, records: Sequence[CooldownRecord]) -> None: ...


class Departures:
    """The ids of credentials gone for good (``reloaded.gone_for_good``) since they left."""

    def __init__(self) -> None:
        self._gone: set[str] = set()

    def update(
        self,
        old: Mapping[str, Credential],
        new: Mapping[str, Credential],
        revived: set[str],
        store: _Store | None,
    ) -> list[str]:
        """Note the credentials of ``old`` gone for good (their ``.cds`` files go too: CPA's
        Remove saves the states without them); return the ids of ``new`` that come back
        after leaving for good, added to ``revived`` (``forget_refusals`` drops their
        cooldowns)."""
        for cred in gone_for_good(old, new):
            self._gone.add(cred.id)
            if store is not None:
                store.save(cred, [])
        back = [key for key in new if key not in old and key in self._gone]
        self._gone.difference_update(back)
        revived.update(back)
        return back
