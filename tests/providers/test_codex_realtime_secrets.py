"""The Realtime client secret store (CPA client_secret_test.go), over the state backend."""

from __future__ import annotations

import pytest

from cliproxy.providers.codex_realtime_secrets import MAX_PER_ISSUER, ClientSecrets, RealtimeError
from cliproxy.state.memory import MemoryState

SESSION = b'{"type":"realtime","model":"gpt-live-1-codex","instructions":"be brief"}'


def store(sealed: bool | None = None) -> tuple[ClientSecrets, MemoryState, list[float]]:
    now = [1_700_000_000.0]
    state = MemoryState(clock=lambda: now[0])
    return ClientSecrets(state, clock=lambda: now[0], sealed=sealed), state, now


async def refused(secrets: ClientSecrets, token: str) -> tuple[int, str]:
    with pytest.raises(RealtimeError) as caught:
        await secrets.check(token)
    return caught.value.status, caught.value.code or ""


async def test_an_expired_secret_is_refused() -> None:
    """TestClientSecretStoreRejectsExpiredToken: valid until its expiry, refused from then on."""
    secrets, state, now = store()
    minted = await secrets.mint(SESSION, 60, "issuer")
    assert minted.expires_at == 1_700_000_060
    grant = await secrets.check(minted.token)
    assert grant == minted.grant and grant.issuer == "issuer" and grant.session == SESSION
    now[0] += 60
    assert await refused(secrets, minted.token) == (401, "invalid_realtime_client_secret")
    assert state._secrets == {}
    assert secrets._sealer is None  # one process's memory: kept as it is, no cryptography


async def test_the_backend_holds_nothing_that_opens_a_socket_or_names_a_key() -> None:
    """Ours: a shared state (Redis, for workers) keeps a hash of the secret as its name and
    the grant sealed with the secret's own key; neither the secret, the minting key nor the
    session is in it, and a value under another secret's name does not open."""
    secrets, state, _ = store(sealed=True)
    minted = await secrets.mint(SESSION, 60, "sk-issuer-key")
    other = await secrets.mint(SESSION, 60, None)  # an open proxy: no owner
    [(name, (sealed, _, owner)), (other_name, (other_sealed, _, no_owner))] = state._secrets.items()
    assert no_owner == ""
    for held in (name, sealed, owner):
        text = held if isinstance(held, str) else held.decode("latin-1")
        assert minted.token[3:] not in text and "sk-issuer-key" not in text and "be brief" not in text
    assert (await secrets.check(other.token)).issuer is None
    state._secrets[other_name] = (sealed, *state._secrets[other_name][1:])
    assert await refused(secrets, other.token) == (401, "invalid_realtime_client_secret")
    assert other_sealed and await refused(secrets, "ek_unknown") == (401, "invalid_realtime_client_secret")
    assert await refused(secrets, "sk-" + minted.token[3:]) == (401, "invalid_realtime_client_secret")


async def test_one_key_mints_at_most_64_live_secrets() -> None:
    """clientSecretMaxEntriesPerIssuer: the 65th live secret of one key is 429 with
    Retry-After: 1; another key still mints, and so does the first once one expired."""
    secrets, _, now = store()
    for _ in range(MAX_PER_ISSUER - 1):
        await secrets.mint(SESSION, 120, "a")
    await secrets.mint(SESSION, 60, "a")
    with pytest.raises(RealtimeError) as caught:
        await secrets.mint(SESSION, 60, "a")
    err = caught.value
    assert (err.status, err.code, err.response_headers) == (
        429,
        "realtime_client_secret_capacity_exhausted",
        {"Retry-After": "1"},
    )
    await secrets.mint(SESSION, 60, "b")
    now[0] += 60
    await secrets.mint(SESSION, 60, "a")
