"""Credentials that serve one client key alone: an AI Studio relay attached with a client key
(``ws-auth: true``) is sent only the requests made with that same key, unless
``ws-relay-serves: all-keys`` (a cliproxy setting; CPA's relays serve every key).

The pipeline asks :meth:`Owners.scope` for a request's route while :attr:`Owners.active` (a
relay with an owner is attached): the route it gets back has a ``supports`` that leaves out
the credentials another key owns, so every candidate list built from it (the pick, the
failover, the retry rounds, routing explain) passes them over, and a key that nothing
else serves gets the usual "no credential" error. A caller is known by the key it
presented (:func:`cliproxy.access.extract_key`), as the relay's owner was: a request with no
key matches only a relay attached with none (a frontend-auth plugin that takes neither).

The scoped ``supports`` functions are made once per (route's ``supports``, caller) and kept
until the owners change, since the pool caches its candidate lists per function.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

from cliproxy.access import extract_key

from .record import Credential

__all__ = ["CALLER", "NO_IDENTITY", "PLUGIN_CALLER", "Owners", "caller", "plugin_caller"]

Supports = Callable[[Credential, str], bool]
R = TypeVar("R")
_MAX_SCOPES = 1024

# a caller a frontend-auth plugin admitted (None: the key the request presents says who)
CALLER: ContextVar[str | None] = ContextVar("cliproxy_relay_caller", default=None)
PLUGIN_CALLER = "\x00plugin:"  # + the plugin's principal: no client key reads so
NO_IDENTITY = "\x00anonymous"  # admitted without a principal: owns nothing, matches no owner


def plugin_caller(principal: str | None) -> str:
    """The caller a frontend-auth plugin's principal makes (``None`` or empty: none)."""
    return PLUGIN_CALLER + principal if principal else NO_IDENTITY


def caller(headers: Mapping[str, str], query: Mapping[str, str]) -> str:
    """Who the current request is, to the owners: the plugin's caller, else its key."""
    found = CALLER.get()
    if found is not None:
        return found
    key = extract_key(headers, query)
    return key[0] if key else ""


class Owners:
    """Which credentials belong to which client key (credential id -> the key)."""

    __slots__ = ("_made", "_owners", "_scopes", "active")

    def __init__(self) -> None:
        self._owners: dict[str, str] = {}
        self._scopes: dict[tuple[Supports, str], Supports] = {}
        self._made: set[Supports] = set()  # the scoped functions: a scoped route is not scoped again
        self.active = False  # read per request: no owned credential, nothing to do

    def set(self, owners: Mapping[str, str]) -> None:
        """The owned credentials from now on (empty: every credential serves every key)."""
        self._owners = dict(owners)
        self._scopes, self._made = {}, set()
        self.active = bool(self._owners)

    def owner(self, cred_id: str) -> str | None:
        return self._owners.get(cred_id)

    def supports(self, base: Supports, who: str) -> Supports:
        """``base`` less the credentials a caller other than ``who`` owns."""
        if base in self._made:
            return base
        scoped = self._scopes.get((base, who))
        if scoped is None:
            foreign = frozenset(
                cid for cid, owner in self._owners.items() if owner != who or owner == NO_IDENTITY
            )
            if not foreign:
                return base
            if len(self._scopes) >= _MAX_SCOPES:
                self._scopes, self._made = {}, set()

            def scoped(cred: Credential, model: str) -> bool:
                return cred.id not in foreign and base(cred, model)

            self._scopes[(base, who)] = scoped
            self._made.add(scoped)
        return scoped

    def scope(self, route: R, headers: Mapping[str, str], query: Mapping[str, str]) -> R:
        """``route`` for the caller of a request with these headers and query: a copy
        whose ``supports`` leaves out the credentials other keys own (``route`` itself
        when it has none to leave out)."""
        base: Any = route
        supports = self.supports(base.supports, caller(headers, query))
        if supports is base.supports:
            return route
        scoped: Any = copy.copy(route)  # (a registry route is shared: never changed in place)
        scoped.supports = supports
        return scoped
