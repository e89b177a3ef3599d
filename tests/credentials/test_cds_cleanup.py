"""``save-cooldown-status``: the ``.cds`` file of a credential gone for good goes with it."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

import orjson

from cliproxy.credentials.files import load_auth_dir
from cliproxy.credentials.persist import CdsStore, format_time, restore
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.returning import MAX_DEPARTED, Departures
from cliproxy.state.memory import MemoryState

from .conftest import cred


def _claude(email: str) -> bytes:
    return orjson.dumps({"type": "claude", "email": email, "access_token": "t"})


def _cds(path: Path, auth_id: str, until: float) -> None:
    record = {"auth_id": auth_id, "model": "m", "next_retry_after": format_time(until), "quota": {}}
    path.write_bytes(orjson.dumps({"version": 1, "auth_id": auth_id, "records": [record]}))


async def test_a_removed_credential_takes_its_cds_file_along(clock, tmp_path):
    """CPA: TestFileCooldownStateStore_SaveLoadAndCleanStale (a save deletes the files of
    credentials no longer cooling in the manager; Manager.Remove saves).
    A credential whose auth file is gone, or a config key's that left the config, loses
    its ``.cds`` file when the pool drops it. Deliberate difference: a file credential that
    leaves the pool while its file is still there (unreadable or half-written for now)
    keeps its file, so its cooldowns come back with it; CPA deletes that one too."""
    for name in ("a", "b"):
        (tmp_path / f"{name}.json").write_bytes(_claude(f"{name}@example.com"))
    files = load_auth_dir(tmp_path)
    keyed = cred("claude:apikey:1", source="config:claude[1]")
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace([*files, keyed])
    for each in (*files, keyed):
        await pool.mark_failure(each, "m", 429, retry_after=60)
    assert sorted(p.name for p in tmp_path.glob("*.cds")) == ["a.cds", "b.cds", "claude_apikey_1.cds"]

    (tmp_path / "a.json").unlink()
    (tmp_path / "b.json").write_bytes(b"{half")  # still there: not gone
    pool.replace([])
    assert [p.name for p in tmp_path.glob("*.cds")] == ["b.cds"]

    (tmp_path / "b.json").write_bytes(_claude("b@example.com"))
    pool.replace(load_auth_dir(tmp_path))
    assert [r.model for r in await pool.cooldowns(pool.get("b.json"))] == ["m"]
    assert (tmp_path / "b.cds").exists()


async def test_restore_deletes_the_files_of_auth_files_removed_meanwhile(clock, tmp_path):
    """CPA: TestManager_RestoreCooldownStates (restore saves once, deleting the files no
    loaded credential wrote).
    At start, a ``.cds`` file whose records name only auth files no longer on disk is
    deleted. Deliberate difference: one of a file still there but not loaded, of a config
    key or of a plugin's credential stays (a plugin's credentials are not loaded yet when
    cooldowns are restored; CPA deletes those)."""
    until = clock() + 600
    (tmp_path / "here.json").write_bytes(_claude("h@example.com"))
    (tmp_path / "unread.json").write_bytes(b"{half")
    for auth_id in ("here.json", "gone.json", "unread.json", "claude:apikey:9", "plugin-x"):
        _cds(tmp_path / f"{auth_id.removesuffix('.json').replace(':', '_')}.cds", auth_id, until)
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace(load_auth_dir(tmp_path))

    assert await restore(pool, tmp_path) == 1
    left = sorted(p.name for p in tmp_path.glob("*.cds"))
    assert left == ["claude_apikey_9.cds", "here.cds", "plugin-x.cds", "unread.cds"]


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_an_auth_file_deleted_while_running_takes_its_cds_file_along(start_proxy, tmp_path):
    """CPA: TestHandleEventRemoveKnownFileDeletes with Manager.Remove's save: an auth file
    removed from auth-dir (the watcher's removal, after its debounce) deletes its ``.cds``
    and its cooldowns in the shared state, as CPA's Remove drops the credential's state
    (before, the records stayed: in memory for the process's life, in Redis for days);
    one rewritten with broken JSON leaves the pool but keeps both."""
    auth = tmp_path / "auths"
    auth.mkdir()
    until = 4_000_000_000  # far ahead of the wall clock
    for name in ("a", "b"):
        (auth / f"{name}.json").write_bytes(_claude(f"{name}@example.com"))
        _cds(auth / f"{name}.cds", f"{name}.json", until)
    proxy = await start_proxy("api-keys: [k]\nsave-cooldown-status: true\n", watch=True)
    svc = proxy.service
    assert len(svc.pool.credentials()) == 2 and (auth / "a.cds").exists()
    assert await svc.pool.state.credential_cooldowns("a.json")  # restored from a.cds

    (auth / "a.json").unlink()
    tmp = auth / ".b.tmp"
    tmp.write_bytes(b"{half")
    os.replace(tmp, auth / "b.json")
    await _until(lambda: not svc.pool.credentials())
    assert not (auth / "a.cds").exists()
    assert (auth / "b.cds").exists()
    async with asyncio.timeout(10):
        while await svc.pool.state.credential_cooldowns("a.json"):
            await asyncio.sleep(0.01)
    assert [r.model for r in await svc.pool.state.credential_cooldowns("b.json")] == ["m"]


async def test_a_deleted_file_added_again_starts_without_cooldowns(clock, tmp_path):
    """CPA: TestServiceApplyCoreAuthAddOrUpdate_DeleteReAddDoesNotInheritStaleRuntimeState:
    an auth file deleted (its credential gone for good) and written again later comes back
    without the cooldowns it had. Before, the shared state still held them and the
    re-added account stayed cooling. A file that leaves the pool while still on disk keeps
    them (test_a_removed_credential_takes_its_cds_file_along)."""
    (tmp_path / "a.json").write_bytes(_claude("a@example.com"))
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    pool.replace(load_auth_dir(tmp_path))
    await pool.mark_failure(pool.get("a.json"), "m", 429, retry_after=600)
    (tmp_path / "a.json").unlink()
    assert await pool.forget_refusals(pool.replace(load_auth_dir(tmp_path))) == ["a.json"]
    assert await pool.state.credential_cooldowns("a.json") == []  # gone with it (CPA's Remove)
    (tmp_path / "a.json").write_bytes(_claude("a@example.com"))
    await pool.forget_refusals(pool.replace(load_auth_dir(tmp_path)))
    assert await pool.cooldowns(pool.get("a.json")) == []
    assert (await pool.pick("m")).id == "a.json"


async def test_only_the_latest_departures_are_remembered(clock):
    """The ids gone for good are kept for a comeback (the test above), but only the latest
    ``MAX_DEPARTED`` of them: before, every id ever removed stayed in the set for the
    process's life. The oldest departure is forgotten first; one that leaves again moves
    to the back. A forgotten one that comes back keeps its namesake's cooldowns."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock)
    many = [cred(f"k{i}") for i in range(MAX_DEPARTED + 2)]
    pool.replace(many)
    await pool.mark_failure(many[0], "m", 429, retry_after=600)
    await pool.mark_failure(many[-1], "m", 429, retry_after=600)
    pool.replace([])
    assert len(pool._departed) == MAX_DEPARTED
    back = pool.replace([many[0], many[-1]])
    assert back == [many[-1].id]  # k0 was forgotten: it keeps its cooldown
    await pool.forget_refusals(back)
    assert await pool.cooldowns(many[-1]) == []
    assert len(await pool.cooldowns(many[0])) == 1
    pool.replace([])
    assert len(pool._departed) == MAX_DEPARTED


def test_a_second_departure_moves_to_the_back():
    """An id that leaves again is the latest departure, so the cap drops an older one."""
    gone = Departures(limit=2)
    a, b, c = cred("a"), cred("b"), cred("c")
    gone.update({"a": a, "b": b}, {}, set(), None)
    assert gone.update({}, {"a": a}, set(), None) == ["a"]
    gone.update({"a": a}, {}, set(), None)  # now: b, a
    gone.update({"c": c}, {}, set(), None)  # c pushes b out
    assert len(gone) == 2
    assert gone.update({}, {"a": a, "b": b, "c": c}, set(), None) == ["a", "c"]
