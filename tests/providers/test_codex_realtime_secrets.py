"""The Realtime client secret store's expiry (CPA client_secret_test.go)."""

from __future__ import annotations

import pytest

from cliproxy.providers.codex_realtime_secrets import ClientSecrets, RealtimeError


def test_an_expired_secret_is_refused() -> None:
    """TestClientSecretStoreRejectsExpiredToken: valid until its expiry, refused from then on."""
    now = [1_700_000_000.0]
    store = ClientSecrets(clock=lambda: now[0])
    minted = store.mint(b'{"type":"realtime","model":"gpt-live-1-codex"}', 60, "issuer")
    assert store.check(minted.token).issuer == "issuer"
    now[0] += 60
    with pytest.raises(RealtimeError) as caught:
        store.check(minted.token)
    assert (caught.value.status, caught.value.code) == (401, "invalid_realtime_client_secret")
    assert len(store) == 0
