"""A credential removed from the pool leaves the refresh loop, as CPA's
``Manager.Remove`` unschedules it (sdk/cliproxy/auth/conductor_remove_test.go): it is no
longer due, its failure backoff is forgotten, and a refresh that was under way when its
file went does not write the file back.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.refresh import FAILURE_BACKOFF, write_auth_file
from tests.credentials.test_refresh import http, oauth, refresher, write  # noqa: F401
from tests.fakes.oauth import oauth_fake  # noqa: F401


async def test_a_removed_credential_is_unscheduled(tmp_path, clock, http, oauth_fake) -> None:  # noqa: F811
    """TestManager_Remove_UnschedulesAutoRefresh: due before the removal, not after; and
    a failure's backoff does not follow the id back when a file of that name returns."""
    cred = write(tmp_path, "claude-a.json", oauth("claude", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    oauth_fake.fail_next(500, "server_error")
    assert await r.tick() == 0
    assert r.due_at(cred) == clock.now + FAILURE_BACKOFF  # backing off
    pool.replace([])
    assert r.due() == []
    pool.replace([cred])  # signed in again under the same name
    assert [c.id for c in r.due()] == ["claude-a.json"]


async def test_a_refresh_under_way_does_not_bring_a_removed_file_back(
    tmp_path,
    clock,
    http,  # noqa: F811
    oauth_fake,  # noqa: F811
) -> None:
    """TestManager_Update_MissingAuthIsNoOp: the token answer that comes after the file was
    deleted and the credential removed updates nothing; before, the file was written
    again holding only the new tokens (no type), in the auth directory the user emptied."""
    oauth_fake.delay = 0.2
    cred = write(tmp_path, "claude-a.json", oauth("claude", clock, 60))
    pool = Pool(clock=clock)
    pool.replace([cred])
    r = refresher(pool, http, clock, oauth_fake.url())
    pending = asyncio.ensure_future(r.refresh_now(cred))
    async with asyncio.timeout(5):
        while not oauth_fake.requests:
            await asyncio.sleep(0.01)
    assert cred.path is not None
    cred.path.unlink()
    pool.replace([])
    async with asyncio.timeout(5):
        updated = await pending
    assert updated.access_token == "at-1"  # the caller may still use the token it waited for
    assert list(tmp_path.iterdir()) == []
    assert pool.credentials() == ()


def test_a_write_back_never_creates_the_file(tmp_path) -> None:
    """The write-back of a refreshed field (token, project, identity) needs its file."""
    with pytest.raises(FileNotFoundError):
        write_auth_file(tmp_path / "gone.json", {"access_token": "x"})
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "kept.json"
    kept.write_bytes(orjson.dumps({"type": "claude", "access_token": "a"}))
    write_auth_file(kept, {"access_token": "b"})
    assert orjson.loads(kept.read_bytes()) == {"type": "claude", "access_token": "b"}
