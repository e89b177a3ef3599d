"""The refresher reads a credential's token times once per credential object: a wake-up
pass after a reload costs a lookup for each credential that did not change."""

from __future__ import annotations

import dataclasses

import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import FAILURE_BACKOFF, RefreshError
from tests.credentials.conftest import Clock
from tests.credentials.test_refresh import DAY, HOUR, oauth, refresher, write


async def test_due_time_follows_a_new_object_and_the_refreshers_own_state(tmp_path, clock: Clock) -> None:
    pool = Pool(clock=clock)
    r = refresher(pool, None, clock)
    cred = write(tmp_path, "c.json", oauth("claude", clock, expires_in=10 * DAY))
    pool.replace([cred])
    assert r.due_at(cred) == pytest.approx(clock.now + 10 * DAY - 4 * HOUR, abs=1)
    assert r.due() == []
    # the file rewritten (a new sign-in): a new object under the same id, due at once
    soon = write(tmp_path, "c.json", oauth("claude", clock, expires_in=HOUR))
    pool.replace([soon])
    assert r.due() == [soon]
    # a failed refresh backs off, a refused one stops, both on the kept due time
    await r._failed(soon, RefreshError("down", status=502, credential_id=soon.id))
    assert r.due_at(soon) == pytest.approx(clock.now + FAILURE_BACKOFF, abs=1)
    await r._failed(soon, RefreshError("gone", status=401, revoked=True, credential_id=soon.id))
    assert r.due_at(soon) is None
    other = dataclasses.replace(soon, metadata={**soon.metadata, "refresh_token": "new-rt"})
    pool.replace([other])  # a new refresh token deserves a try again (after the backoff)
    assert r.due_at(other) == pytest.approx(clock.now + FAILURE_BACKOFF, abs=1)
    pool.replace([])
    assert r.due() == [] and not r._tokens  # a removed credential leaves nothing behind
