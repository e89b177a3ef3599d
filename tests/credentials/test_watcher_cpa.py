"""CPA's watcher facts (``internal/watcher/watcher_test.go``) on a running proxy with real files.

The Go watcher's plumbing (fsnotify events, timers, dispatch goroutines) has no twin here;
what carries over is what a user sees: who is told when auth files or the config change,
and what a reload does to the credentials and their models.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import orjson

from tests.usage.helpers import close_recorder
from tests.usage.test_resp import MKEY, Raw

REFRESH = [b"message", b"usage", b'{"refresh":true}']


def _replace(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_auth_and_config_changes_tell_usage_subscribers_to_refresh(start_proxy, monkeypatch):
    """CPA: TestAuthFileClientChangesNotifyUsageSubscribersToRefresh and
    TestReloadClientsNotifiesUsageSubscribersToRefresh. A ``SUBSCRIBE usage`` client is
    told ``{"refresh":true}`` (after the ``support_refresh`` greeting) when an auth file
    is added, when one is removed, and when the config is reloaded, so a usage dashboard
    reads the credential list again."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy("api-keys: [k]\nusage-ledger: {enabled: false}\n", watch=True)
    conn = await Raw.open(proxy.port)
    try:
        await conn.send("AUTH", MKEY)
        assert await conn.line() == b"+OK"
        await conn.send("SUBSCRIBE", "usage")
        assert await conn.array() == [b"subscribe", b"usage", 1]
        assert await conn.array() == [b"message", b"usage", b'{"support_refresh":true}']

        auth = proxy.service.auth_dir / "sample.json"
        auth.write_bytes(orjson.dumps({"type": "claude", "email": "u@example.com", "access_token": "t"}))
        assert await conn.array() == REFRESH
        assert proxy.service.pool.get("sample.json") is not None

        auth.unlink()
        assert await conn.array() == REFRESH
        assert proxy.service.pool.get("sample.json") is None

        before = proxy.service.reloads
        _replace(proxy.service.config_path, proxy.service.config_path.read_text() + "request-retry: 2\n")
        assert await conn.array() == REFRESH
        assert proxy.service.reloads == before + 1
    finally:
        await conn.close()
        close_recorder(proxy)
