"""Hot reload through a running proxy: config edits and auth-dir changes."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable

import aiohttp


async def _status(url: str, key: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/chat/completions", json={}, headers={"Authorization": f"Bearer {key}"}) as r,
    ):
        return r.status


async def _until(predicate, timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_config_edit_takes_effect_and_broken_edit_keeps_last_good(start_proxy, caplog):
    proxy = await start_proxy("# my keys\napi-keys: [key-a]\n", watch=True)
    assert await _status(proxy.url, "key-a") != 401
    assert await _status(proxy.url, "key-b") == 401

    text = proxy.config_path.read_text().replace("key-a", "key-b")
    proxy.config_path.write_text(text)

    async def b_works() -> bool:
        return await _status(proxy.url, "key-b") != 401

    assert await _until(b_works)
    assert await _status(proxy.url, "key-a") == 401

    def failed(needle: str) -> Callable[[], Awaitable[bool]]:
        async def logged() -> bool:  # the watcher has read the file and kept the last good config
            return any("reload failed" in r.getMessage() and needle in r.getMessage() for r in caplog.records)

        return logged

    reloads = proxy.service.reloads
    proxy.config_path.write_text(text + "routing:\n  session-affinity: zigzag\n")  # invalid value
    assert await _until(failed("routing.session-affinity"))
    assert proxy.service.reloads == reloads
    assert await _status(proxy.url, "key-b") != 401

    proxy.config_path.write_text("api-keys: [key-a, [broken\n")  # invalid YAML
    assert await _until(failed("YAML"))
    assert proxy.service.reloads == reloads
    assert await _status(proxy.url, "key-b") != 401


async def test_auth_dir_changes_are_seen_live(start_proxy, tmp_path):
    proxy = await start_proxy("api-keys: []\n", watch=True)
    auth_dir = proxy.service.auth_dir
    cred = auth_dir / "claude-user@example.com.json"
    cred.write_text(json.dumps({"type": "claude", "email": "user@example.com", "access_token": "t"}))

    async def seen() -> bool:
        return cred in proxy.service.auth_files

    assert await _until(seen)
    (auth_dir / "claude-user@example.com.json.cds").write_text("{}")
    cred.unlink()

    async def gone() -> bool:
        return cred not in proxy.service.auth_files

    assert await _until(gone)
    assert not any(p.suffix == ".cds" for p in proxy.service.auth_files)


async def test_listener_settings_changed_by_a_reload_say_they_need_a_restart(start_proxy, caplog):
    proxy = await start_proxy("api-keys: [key-a]\n")
    from cliproxy.config import load_or_default

    proxy.config_path.write_text(
        "api-keys: [key-a]\ntimeouts:\n  client-header: 5s\nlimits:\n  max-body-mb: 2\n"
    )
    config, _ = load_or_default(proxy.config_path)
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(config)
    warned = [r.getMessage() for r in caplog.records if "after a restart" in r.getMessage()]
    assert warned and "timeouts.client-header" in warned[0] and "limits.max-body-mb" in warned[0]
    assert "limits.max-connections" not in warned[0]


async def test_process_settings_changed_by_a_reload_say_they_need_a_restart(start_proxy, caplog):
    """The server engine, the worker count and the state backend are read once when the
    process starts, as the README says: a reload that changes them says a restart applies
    them, instead of leaving the new values without effect in silence."""
    proxy = await start_proxy("api-keys: [key-a]\n")
    from cliproxy.config import load_or_default

    proxy.config_path.write_text(
        "api-keys: [key-a]\nserver-engine: aiohttp\nworkers: 2\nstate:\n  prefix: other\n"
    )
    config, _ = load_or_default(proxy.config_path)
    with caplog.at_level(logging.WARNING, logger="cliproxy"):
        proxy.service.apply(config)
    warned = [r.getMessage() for r in caplog.records if "after a restart" in r.getMessage()]
    assert warned and all(key in warned[0] for key in ("server-engine", "workers", "state"))
    assert "timeouts" not in warned[0]


async def test_the_ledger_files_are_not_config_events(start_proxy, tmp_path):
    """The default ledger (``usage.sqlite`` beside the auth dir, here the config's folder)
    writes there all the time: the watcher drops those files' events, and follows
    ``usage-ledger.path`` when a reload moves it."""

    def family(path) -> frozenset[str]:
        real = os.path.realpath(path)
        return frozenset((real, real + "-wal", real + "-shm", real + "-journal"))

    proxy = await start_proxy("api-keys: [key-a]\n", watch=True, poll_interval=60.0)
    watcher = proxy.service._watcher
    assert watcher is not None
    assert watcher.own_files == family(tmp_path / "usage.sqlite")

    moved = tmp_path / "ledgers" / "u.sqlite"
    proxy.config_path.write_text(proxy.config_path.read_text() + f"usage-ledger:\n  path: {moved}\n")

    async def followed() -> bool:
        return watcher.own_files == family(moved)

    assert await _until(followed)

    proxy.config_path.write_text(proxy.config_path.read_text() + "  enabled: false\n")

    async def none() -> bool:
        return watcher.own_files == frozenset()

    assert await _until(none)
