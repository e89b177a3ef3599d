"""An auth file the watcher reports is read through the auth-file cache, so a later config
reload neither reads it again nor swaps its credential for another object; management
writes and a management move of auth-dir look at the files in worker threads."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import orjson

from cliproxy.config.model import Config
from cliproxy.credentials.filecache import AuthFileCache
from tests.management.conftest import MANAGEMENT_KEY, mcall


def _claude(token: str, email: str) -> bytes:
    return orjson.dumps({"type": "claude", "email": email, "access_token": token})


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


async def test_a_reported_file_keeps_its_credential_through_the_next_reload(
    start_proxy, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    auth: Path = tmp_path / "auths"
    auth.mkdir()
    (auth / "a.json").write_bytes(_claude("a-1", "a@example.com"))
    (auth / "gone.json").write_bytes(_claude("g-1", "g@example.com"))
    proxy = await start_proxy(f"auth-dir: {auth}\napi-keys: [k]\n", watch=True)
    svc = proxy.service
    await _until(lambda: svc.pool.get("gone.json") is not None)

    (auth / "a.json").write_bytes(_claude("a-2", "a@example.com"))
    (auth / "b.json").write_bytes(_claude("b-1", "b@example.com"))
    (auth / "gone.json").unlink()

    def applied() -> bool:
        a = svc.pool.get("a.json")
        return a is not None and a.access_token == "a-2" and svc.pool.get("b.json") is not None

    await _until(applied)
    await _until(lambda: svc.pool.get("gone.json") is None)
    a, b = svc.pool.get("a.json"), svc.pool.get("b.json")
    assert auth / "gone.json" not in svc.auth_cache.paths

    text = f"auth-dir: {auth}\napi-keys: [k, k2]\n"
    assert (await mcall(proxy, "PUT", "/config.yaml", data=text.encode()))[0] == 200
    assert svc.pool.get("a.json") is a and svc.pool.get("b.json") is b  # the cache had them
    assert svc.pool.get("gone.json") is None


async def test_a_management_write_reads_the_auth_files_off_the_loop(
    start_proxy, tmp_path, monkeypatch, caplog
):
    """An upload answers once the pool holds the file, as before; a file nobody reported
    (no watcher) is read then too, in a worker thread rather than on the event loop."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    caplog.set_level(logging.INFO, logger="cliproxy")
    auth: Path = tmp_path / "auths"
    auth.mkdir()
    proxy = await start_proxy("api-keys: [k]\n", watch=False)
    (auth / "broken.json").write_bytes(b"{not json")
    data = _claude("n-1", "n@example.com")
    assert (await mcall(proxy, "POST", "/auth-files?name=new.json", data=data))[0] == 200
    assert proxy.service.pool.get("new.json") is not None
    [record] = [r for r in caplog.records if "broken.json" in r.getMessage()]
    assert record.thread != threading.get_ident()  # not the event loop's thread


async def test_a_management_move_of_auth_dir_takes_its_files_as_loaded(
    start_proxy, tmp_path, monkeypatch, caplog
):
    """The files already in the new auth-dir are loaded by the edit and not reported again
    by the watcher; a file written there after the answer is."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    caplog.set_level(logging.INFO, logger="cliproxy")
    (tmp_path / "auths").mkdir()
    other = tmp_path / "other"
    other.mkdir()
    (other / "a.json").write_bytes(_claude("a-1", "a@example.com"))
    proxy = await start_proxy("api-keys: [k]\n", watch=True)
    svc = proxy.service
    text = f"auth-dir: {other}\napi-keys: [k]\n"
    assert (await mcall(proxy, "PUT", "/config.yaml", data=text.encode()))[0] == 200
    assert svc.pool.get("a.json") is not None
    (other / "b.json").write_bytes(_claude("b-1", "b@example.com"))
    await _until(lambda: svc.pool.get("b.json") is not None)
    reported = [r.getMessage() for r in caplog.records if r.getMessage().startswith("auth file added")]
    assert reported == ["auth file added: b.json"]


async def test_an_auth_event_reads_only_the_files_it_names(tmp_path):
    """CPA: TestAuthFileEventsDoNotInvokeSnapshotCoreAuths (an add and a remove event read
    no other file): a file changed without an event keeps its last read until a reload."""
    cfg = Config()
    (tmp_path / "quiet.json").write_bytes(_claude("q-1", "q@example.com"))
    cache = AuthFileCache()
    cache.refresh(tmp_path, cfg)
    (tmp_path / "quiet.json").write_bytes(_claude("q-2", "q@example.com"))  # no event names it
    (tmp_path / "sample.json").write_bytes(_claude("s-1", "s@example.com"))
    found = await cache.read(tmp_path, cfg, [tmp_path / "sample.json"])
    assert [c.access_token for c in found.values() if c is not None] == ["s-1"]
    assert [c.access_token for c in cache.credentials(cfg)] == ["q-1", "s-1"]
    (tmp_path / "sample.json").unlink()
    assert await cache.read(tmp_path, cfg, [], [tmp_path / "sample.json"]) == {}
    assert cache.paths == {tmp_path / "quiet.json"}
    cache.refresh(tmp_path, cfg)  # a reload looks at the whole directory
    assert [c.access_token for c in cache.credentials(cfg)] == ["q-2"]


async def test_following_a_new_auth_dir_keeps_the_credentials_the_reload_made(tmp_path):
    """The watcher follows a moved auth-dir by reporting its files added and the old one's
    removed, after the config reload loaded the new directory: the files come from the
    cache as that reload made them, not read and made again."""
    cfg = Config()
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (new / "a.json").write_bytes(_claude("a-1", "a@example.com"))
    cache = AuthFileCache()
    cache.refresh(new, cfg)  # the config reload
    [loaded] = cache.credentials(cfg)
    found = await cache.read(new, cfg, [new / "a.json"], [old / "x.json"], pool=lambda: [loaded])
    assert found == {new / "a.json": loaded} and found[new / "a.json"] is loaded
