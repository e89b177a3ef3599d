"""``refresh_interval_seconds`` on an account whose refresh writes no ``last_refresh``
(Antigravity: CPA writes ``timestamp``, the time of the token in milliseconds, instead).
CPA counts the interval from the refresh it made (``LastRefreshedAt`` in memory,
sdk/cliproxy/auth/conductor_refresh.go shouldRefresh); here the interval counts from the
token's ``timestamp`` when no ``last_refresh`` is written, so an account refreshed at
12:00 with a 10-minute interval is next refreshed at 12:10, not every 30 seconds."""

from __future__ import annotations

import pytest

from cliproxy.credentials.pool import Pool
from tests.credentials.conftest import Clock
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401


async def test_the_interval_counts_from_an_antigravity_refresh(
    tmp_path,
    clock: Clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
) -> None:
    cred = write(tmp_path, "ag.json", oauth("antigravity", clock, 3600, refresh_interval_seconds=600))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    assert r.due_at(cred) == 0.0  # never refreshed: now (CPA)
    assert await r.tick() == 1
    [updated] = pool.credentials()
    assert "last_refresh" not in updated.metadata  # as CPA writes it
    assert r.due_at(updated) == pytest.approx(clock.now + 600, abs=1)  # before: clock.now + 30, for good
    clock.advance(599)
    assert await r.tick() == 0
    clock.advance(2)
    assert await r.tick() == 1
    assert len(oauth_fake.requests) == 2


def test_a_signed_in_file_counts_from_its_timestamp(tmp_path, clock: Clock) -> None:
    """A file as the Antigravity sign-in writes it (``timestamp``, no ``last_refresh``)."""
    r = refresher(Pool(clock=clock), None, clock)
    data = oauth(
        "antigravity", clock, 3600, refresh_interval_seconds=600, timestamp=int((clock.now - 60) * 1000)
    )
    assert r.due_at(write(tmp_path, "ag.json", data)) == pytest.approx(clock.now + 540, abs=1)
