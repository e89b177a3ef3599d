"""A config reload reads only the auth files that changed (cliproxy.credentials.filecache)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import openai
import orjson

from cliproxy.config.model import Config
from cliproxy.credentials.filecache import AuthFileCache
from tests.management.conftest import MANAGEMENT_KEY, mcall

OLD = 1_700_000_000  # a file time long past
SETTLE = 0.06  # past filecache.RACY_NS after a write (its ctime is "now"): no longer racy


def _claude(token: str, email: str = "u@example.com") -> bytes:
    return orjson.dumps({"type": "claude", "email": email, "access_token": token})


def _aged(path: Path, data: bytes, when: int = OLD) -> None:
    path.write_bytes(data)
    os.utime(path, (when, when))


async def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def test_a_scan_reads_only_new_moved_or_racy_files(tmp_path: Path) -> None:
    """CPA: TestReloadClientsCachesAuthHashes, TestAuthFileUnchangedUsesHash,
    TestAddOrUpdateClientSkipsUnchanged, TestRemoveClientRemovesHash.
    CPA hashes every file it reads and skips an event whose content hash is unchanged; here
    the stat signature decides whether a file is read at all, and the bytes whether its
    credential is made again; an unchanged file's credential that the pool swapped for
    another object (a refresh) stays the pool's. A file written just before its read is
    read again at the next scan (its signature could hide a write in the same clock tick)."""
    cfg = Config()
    for name in ("a", "b", "c"):
        _aged(tmp_path / f"{name}.json", _claude(f"{name}-1", f"{name}@example.com"))
    time.sleep(SETTLE)
    cache = AuthFileCache()
    assert cache.refresh(tmp_path, cfg) == 3
    first = {c.id: c for c in cache.credentials(cfg)}
    assert cache.refresh(tmp_path, cfg) == 0
    assert all(first[c.id] is c for c in cache.credentials(cfg))

    _aged(tmp_path / "a.json", _claude("a-2", "a@example.com"))  # same size, same mtime: ctime moved
    os.utime(tmp_path / "b.json", (OLD + 5, OLD + 5))  # touched: read, same bytes
    time.sleep(SETTLE)
    assert cache.refresh(tmp_path, cfg) == 2
    now = {c.id: c for c in cache.credentials(cfg)}
    assert now["a.json"] is not first["a.json"] and now["a.json"].metadata["access_token"] == "a-2"
    assert now["b.json"] is first["b.json"] and now["c.json"] is first["c.json"]
    swapped = dataclasses.replace(now["b.json"], metadata={**now["b.json"].metadata, "access_token": "mem"})
    kept = {c.id: c for c in cache.credentials(cfg, current={**now, "b.json": swapped})}
    assert kept["b.json"] is swapped  # a token refreshed in memory (the pool's object) stays

    (tmp_path / "d.json").write_bytes(_claude("d", "d@example.com"))  # written now: racy
    (tmp_path / "c.json").unlink()
    assert cache.refresh(tmp_path, cfg) == 1
    d = {c.id: c for c in cache.credentials(cfg)}["d.json"]
    assert cache.refresh(tmp_path, cfg) == 1  # read again, while its write is that recent
    assert [c.id for c in cache.credentials(cfg)] == ["a.json", "b.json", "d.json"]
    assert {c.id: c for c in cache.credentials(cfg)}["d.json"] is d  # same bytes: the same object
    assert cache.paths == {tmp_path / n for n in ("a.json", "b.json", "d.json")}


async def test_a_config_edit_picks_up_a_file_changed_without_an_event(start_proxy, tmp_path, monkeypatch):
    """CPA: TestSnapshotCoreAuths_ConfigAndAuthFiles, TestReloadConfigFiltersAffectedOAuthProviders,
    TestReloadClientsFiltersOAuthProvidersWithoutRescan.
    CPA re-reads every auth file at each config reload; a file changed with no watcher to
    see it is picked up then, here too. A file whose config inputs changed
    (``oauth-excluded-models`` for its provider) is made again from the cached bytes and
    the exclusion applies; an unchanged file of another provider keeps its credential
    object, and an ``oauth-model-alias`` added for that provider still reaches a client."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    auth = tmp_path / "auths"
    auth.mkdir()
    _aged(auth / "claude-a.json", _claude("aaaa", "a@example.com"))
    _aged(auth / "claude-b.json", _claude("bbbb", "b@example.com"))
    _aged(auth / "codex.json", orjson.dumps({"type": "codex", "email": "x@example.com", "access_token": "t"}))
    await asyncio.sleep(SETTLE)
    proxy = await start_proxy("api-keys: [k]\n", watch=False)
    svc = proxy.service
    before = {c.id: c for c in svc.pool.credentials()}
    assert "claude-opus-4-6" in {m.id for m in svc.models.models_for(before["claude-b.json"])}

    _aged(auth / "claude-a.json", _claude("zzzz", "a@example.com"))  # no watcher sees this
    assert svc.pool.get("claude-a.json").metadata["access_token"] == "aaaa"
    text = (
        f"auth-dir: {auth}\napi-keys: [k]\n"
        "oauth-excluded-models: {claude: [claude-opus-4-6]}\n"
        "oauth-model-alias: {codex: [{name: gpt-5.5, alias: g-fast, fork: true}]}\n"
    )
    assert (await mcall(proxy, "PUT", "/config.yaml", data=text.encode()))[0] == 200

    after = {c.id: c for c in svc.pool.credentials()}
    assert after["claude-a.json"].metadata["access_token"] == "zzzz"
    assert after["claude-b.json"] is not before["claude-b.json"]  # its provider's exclusions changed
    assert "claude-opus-4-6" not in {m.id for m in svc.models.models_for(after["claude-b.json"])}
    assert after["codex.json"] is before["codex.json"]  # nothing it is made of changed
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key="k", max_retries=0) as client:
        listed = {m.id async for m in client.models.list()}
    assert "g-fast" in listed and "gpt-5.5" in listed and "claude-opus-4-6" not in listed

    again = text.replace("api-keys: [k]", "api-keys: [k, k2]")
    assert (await mcall(proxy, "PUT", "/config.yaml", data=again.encode()))[0] == 200
    assert all(svc.pool.get(cid) is cred for cid, cred in after.items())


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_watched_config_reload_reads_no_unchanged_file(start_proxy, tmp_path):
    """CPA: TestReloadClientsFiltersOAuthProvidersWithoutRescan.
    A broken file logs a warning each time it is parsed: read off the event loop at start,
    it is not read again by a config reload that leaves it as it was."""
    auth = tmp_path / "auths"
    auth.mkdir()
    _aged(auth / "broken.json", b"{not json")
    await asyncio.sleep(SETTLE)
    handler = _Records()
    logger = logging.getLogger("cliproxy.credentials.files")
    logger.addHandler(handler)
    try:
        proxy = await start_proxy("api-keys: [k]\n", watch=True)
        svc = proxy.service
        [record] = [r for r in handler.records if "broken.json" in r.getMessage()]
        assert record.thread != threading.get_ident()  # not the event loop's thread
        reloads = svc.reloads
        svc.config_path.write_text(f"auth-dir: {auth}\napi-keys: [k, k2]\n")
        await _until(lambda: svc.reloads > reloads)
    finally:
        logger.removeHandler(handler)
    assert len([r for r in handler.records if "broken.json" in r.getMessage()]) == 1
