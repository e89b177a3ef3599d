"""The management gate's brute-force lockout holds under concurrency and forgets idle IPs."""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest

from cliproxy.config import hash_secret
from cliproxy.config.document import ConfigDocument
from cliproxy.management.auth import IDLE_SECONDS, PURGE_SECONDS, ManagementGate

SECRET = "gate-secret"


async def _status(session: aiohttp.ClientSession, url: str, key: str) -> int:
    async with session.get(url, headers={"Authorization": f"Bearer {key}"}) as resp:
        await resp.read()
        return resp.status


async def test_a_burst_of_guesses_gets_five_tries(start_proxy, monkeypatch):
    """CPA's gate bans an IP after five wrong keys (TestAuthenticateManagementKey_LocalhostIPBan_
    BlocksCorrectKeyDuringBan counts them one by one). Twenty wrong keys sent at once from one
    IP are five 401s and fifteen 403s here, then the right key is 403 too. Before, every
    request in flight passed the ban check before any bcrypt run had failed, so a burst of N
    concurrent guesses got N tries (CPA has the same race: this is a deliberate difference)."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy(f"remote-management:\n  secret-key: '{hash_secret(SECRET)}'\n")
    url = proxy.url + "/v0/management/config"
    async with aiohttp.ClientSession() as session:
        got = Counter(await asyncio.gather(*(_status(session, url, f"guess-{i}") for i in range(20))))
        assert got == {401: 5, 403: 15}
        assert await _status(session, url, SECRET) == 403


def _config(remote: bool = True) -> object:
    text = f"remote-management:\n  allow-remote: {str(remote).lower()}\n  secret-key: 'x'\n"
    return ConfigDocument.from_text(text).config


@pytest.mark.parametrize("idle", [IDLE_SECONDS + PURGE_SECONDS + 1])
async def test_failures_are_forgotten_after_two_idle_hours(monkeypatch, clock, idle):
    """CPA's purgeStaleAttempts drops an IP's failure count once it has been idle for two hours
    (checked hourly): four wrong keys, three idle hours, then four more do not ban; a fifth in
    a row does. Before, a count was kept for ever (and one entry per IP that ever failed)."""
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    gate = ManagementGate(clock, verify=lambda key, stored: False)
    config, wrong = _config(), {"Authorization": "Bearer nope"}

    async def fail() -> int:
        denied = await gate.check(config, "10.0.0.9", wrong)
        assert denied is not None
        return denied.status

    assert [await fail() for _ in range(4)] == [401] * 4
    clock.advance(idle)
    assert [await fail() for _ in range(4)] == [401] * 4
    assert await fail() == 401  # the fifth in a row
    assert await fail() == 403
