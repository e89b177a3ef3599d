"""Owned credentials (AI Studio relays attached with a client key): a route scoped to a
caller leaves out the credentials other keys own, and the pool never picks them for it."""

from __future__ import annotations

import pytest

from cliproxy.config import default_config
from cliproxy.credentials.owners import Owners
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.errors import NoCredentialError
from cliproxy.models.catalog import Catalog
from cliproxy.models.registry import ModelRegistry

MODEL = "gemini-2.5-flash"


def _relay(name: str) -> Credential:
    return Credential(id=name, provider="aistudio", kind=KIND_OAUTH, source="wsrelay")


def _setup(*creds: Credential) -> tuple[Pool, ModelRegistry]:
    pool = Pool()
    pool.replace(creds)
    registry = ModelRegistry(Catalog.load())
    registry.rebuild(pool.credentials(), default_config())
    return pool, registry


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_caller_picks_its_own_relay_and_never_another_keys() -> None:
    pool, registry = _setup(_relay("aistudio-mine"), _relay("aistudio-theirs"))
    pool.owners.set({"aistudio-mine": "key-a", "aistudio-theirs": "key-b"})
    route = registry.resolve(MODEL)
    assert route.providers == ["aistudio"]
    mine = pool.owners.scope(route, _bearer("key-a"), {})
    assert mine is not route and mine.model == route.model and mine.plans is route.plans
    picked = {(await pool.pick(MODEL, mine.providers, supports=mine.supports)).id for _ in range(6)}
    assert picked == {"aistudio-mine"}
    theirs = pool.owners.scope(route, {}, {"key": "key-b"})  # a Gemini client's ?key=
    assert {(await pool.pick(MODEL, theirs.providers, supports=theirs.supports)).id for _ in range(6)} == {
        "aistudio-theirs"
    }
    nobody = pool.owners.scope(route, _bearer("key-c"), {})
    with pytest.raises(NoCredentialError):
        await pool.pick(MODEL, nobody.providers, supports=nobody.supports)
    assert route.supports(_relay("aistudio-theirs"), MODEL)  # the shared route is left as it was


async def test_unowned_credentials_serve_everyone_and_a_scope_is_made_once() -> None:
    gemini = Credential(id="gem", provider="gemini", api_key="g")
    pool, registry = _setup(_relay("aistudio-open"), _relay("aistudio-b"), gemini)
    route = registry.resolve(MODEL)
    owners: Owners = pool.owners
    assert not owners.active
    owners.set({"aistudio-b": "key-b"})
    assert owners.active
    scoped = owners.scope(route, _bearer("key-a"), {})
    assert owners.scope(scoped, _bearer("key-a"), {}) is scoped  # scoped already: not again
    assert owners.scope(route, _bearer("key-a"), {}).supports is scoped.supports  # one function per caller
    ids = {(await pool.pick(MODEL, scoped.providers, supports=scoped.supports)).id for _ in range(8)}
    assert ids == {"aistudio-open", "gem"}
    owners.set({})  # ws-relay-serves: all-keys, or the last owned relay gone
    assert not owners.active
    assert owners.scope(route, _bearer("key-a"), {}) is route
