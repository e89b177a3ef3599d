"""Which client-visible names share one credential's cooldown: an OAuth alias and the
upstream model it resolves to.

CPA keeps a request's result (its cooldown, its back-off) under the upstream model when
the credential's prefix and OAuth alias resolve the requested name to it
(``stateModelForExecution``), and checks that model when it picks: a 429 on an alias
cools the upstream model, for requests by either name. Here a cooldown is kept per
requested name, so one that CPA keeps under the upstream name is kept under it and under
each name of the credential that sends it (:func:`shared_names`). API keys keep the
requested name, as CPA keeps it for them (an API key's configured alias is not an OAuth
alias), and so does a model pool of several upstream names. A plugin's OAuth credential
shares as a built-in one does, whether a plugin executor serves it or its models come from
a plugin's ``model.for_auth``: CPA's alias channel for it is its provider, and its state
model does not depend on the executor.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..credentials.record import KIND_APIKEY, Credential
from .bindings import Binding

__all__ = ["shared_names"]


def shared_names(table: Mapping[str, Binding], model: str, cred: Credential) -> tuple[str, ...]:
    """Every name whose cooldown ``cred`` shares with ``model``: the upstream name first,
    then the other names of ``cred`` that send it; ``()`` when ``model``'s is its own."""
    if cred.kind == KIND_APIKEY:
        return ()
    binding = table.get(model)
    if binding is None or len(binding.upstream) != 1:
        return ()
    upstream = binding.upstream
    names = [upstream[0], *(n for n, b in table.items() if b.upstream == upstream and n != upstream[0])]
    return tuple(names) if len(names) > 1 else ()
