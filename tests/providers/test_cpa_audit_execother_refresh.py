"""CPA antigravity_refresh_test.go TestAntigravityRefresh_DeduplicatesConcurrentRefresh: two
Antigravity credentials holding the same refresh token (one Google account signed in for
two projects) that refresh at once make one token call; both get its new tokens and each
keeps its own project. Through :class:`Refresher` against the fake token endpoint (the Codex
version of the same fact: tests/credentials/test_refresh_codex_cpa.py)."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cliproxy.credentials.pool import Pool
from tests.credentials.conftest import Clock
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_one_token_call_for_two_antigravity_files_sharing_a_refresh_token(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
) -> None:
    oauth_fake.delay = 0.05  # both refreshes are in flight together
    creds = [
        write(
            tmp_path,
            f"antigravity-{p}.json",
            oauth("antigravity", clock, 60, refresh_token="shared-refresh-token", project_id=p),
        )
        for p in ("project-a", "project-b")
    ]
    pool = Pool(clock=clock)
    pool.replace(creds)
    r = refresher(pool, http, clock, oauth_fake.url())
    first, second = await asyncio.gather(*(r.refresh_now(c) for c in creds))
    assert len(oauth_fake.requests) == 1
    assert oauth_fake.requests[0].fields["refresh_token"] == "shared-refresh-token"
    assert first.access_token == second.access_token == "at-1"
    assert first.refresh_token == second.refresh_token
    for p, cred in zip(("project-a", "project-b"), (first, second), strict=True):
        assert cred.metadata["project_id"] == p
        saved = orjson.loads((tmp_path / f"antigravity-{p}.json").read_bytes())
        assert saved["access_token"] == "at-1" and saved["project_id"] == p
