"""The panel's "refresh now" on an account card: ``PATCH /auth-files/fields`` with ``expired``
a minute in the past (``authFilesApi.requestManualRefresh``). CPA's refresh loop then renews
the token within seconds (the PATCH wakes the loop); the panel reloads the list."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.fakes.oauth import OAuthFake, oauth_fake  # noqa: F401
from tests.management.conftest import mcall
from tests.management.test_ops_api import HEAD


@pytest.mark.parametrize("provider", ["codex", "claude", "antigravity"])
async def test_manual_refresh_renews_the_token(
    mproxy: Any,
    tmp_path: Path,
    oauth_fake: OAuthFake,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    provider: str,
) -> None:
    monkeypatch.setenv(f"CLIPROXY_TOKEN_URL_{provider.upper()}", oauth_fake.url("/token"))
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    doc = {
        "type": provider,
        "access_token": "old",
        "refresh_token": "rt-old",
        "expired": "2099-01-01T00:00:00Z",
    }
    (auth_dir / f"{provider}-u.json").write_bytes(orjson.dumps(doc))
    proxy = await mproxy(HEAD)
    patch = {"name": f"{provider}-u.json", "expired": "2020-01-01T00:00:00.000Z"}
    assert await mcall(proxy, "PATCH", "/auth-files/fields", patch) == (200, {"status": "ok"})
    for _ in range(100):
        if oauth_fake.requests:
            break
        await asyncio.sleep(0.05)
    assert len(oauth_fake.requests) == 1
    for _ in range(100):
        if proxy.service.pool.get(f"{provider}-u.json").access_token == "at-1":
            break
        await asyncio.sleep(0.05)
    on_disk = orjson.loads((auth_dir / f"{provider}-u.json").read_bytes())
    assert on_disk["access_token"] == "at-1" and on_disk["expired"] > "2026"
    status, body = await mcall(proxy, "GET", "/auth-files")
    entry = next(f for f in body["files"] if f["name"] == f"{provider}-u.json")
    assert status == 200 and entry["status"] == "active"
    # CPA lists the in-memory refresh time of every account; an Antigravity file records its
    # refresh as ``timestamp`` (CPA's format), which the listing does not read back; the panel
    # reads neither (it sorts by ``modtime``)
    assert bool(entry.get("last_refresh")) is (provider != "antigravity")
