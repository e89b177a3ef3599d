"""A reload re-checks the bcrypt-hashed key each AI Studio relay was attached with
(``RelayHub.revoke``). That check must not read "the proxy is busy checking other keys"
as "the key was removed": a flood of made-up keys (what the bcrypt queue's 503 exists
for) at the moment of a reload closed a relay whose key is still listed, with 1008 and
the reason that its key had been removed from api-keys."""

from __future__ import annotations

import asyncio
import contextlib

import bcrypt
import pytest

from cliproxy.access import AccessError, AccessPolicy, HashCheckNeeded
from cliproxy.relay import REVOKED, RelayHub


@pytest.mark.parametrize(("owner", "closed"), [("listed-key", []), ("gone-key", [(1008, REVOKED)])])
async def test_a_reload_during_a_hash_check_flood(owner: str, closed: list[tuple[int, str]]) -> None:
    stored = bcrypt.hashpw(b"listed-key", bcrypt.gensalt(rounds=4)).decode()
    hub = RelayHub()
    kicked: list[tuple[int, str]] = []

    async def send(_message: object) -> None:
        return None

    async def kick(code: int, reason: str) -> None:
        kicked.append((code, reason))

    hub.connect(send, kick, owner=owner)
    access = AccessPolicy([], hashed=[(stored, object())])  # the reloaded api-keys

    async def made_up(n: int) -> None:
        with contextlib.suppress(AccessError):  # (503 for most of them: the queue is full)
            await access.verify(HashCheckNeeded(f"made-up-{n}", "authorization"))

    flood = [asyncio.create_task(made_up(n)) for n in range(64)]
    await asyncio.sleep(0)  # every made-up key waits for its check now
    expel = hub.revoke(access)
    assert expel is not None  # only a bcrypt check can tell
    await expel
    await asyncio.gather(*flood)
    assert kicked == closed
    assert len(hub) == 1 - len(closed)
