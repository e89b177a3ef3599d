"""An auth file that is a symlink (one account shared with another install, a CPA beside
this proxy during a move, a secrets volume) stays a symlink when the proxy writes it.

CPA writes auth files in place (``os.WriteFile`` in ``sdk/auth/filestore.go``, ``os.Create``
in each provider's token storage), so a write goes through the link to the shared file. We
write a temp file and rename it; before, the rename replaced the link itself: the panel's
disable or field edit (and every token refresh) forked the account into a private copy,
and the other install went on with the old file (for Claude and Codex, a refresh token
already spent here).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from tests.management.conftest import mcall

FAR = "2099-01-01T00:00:00Z"


async def test_panel_edits_of_a_symlinked_auth_file_reach_the_shared_file(
    mproxy: Any, tmp_path: Path
) -> None:
    shared = tmp_path / "shared" / "claude-a.json"
    shared.parent.mkdir()
    account = {
        "type": "claude",
        "access_token": "at",
        "refresh_token": "rt",
        "expired": FAR,
        "email": "a@x.io",
    }
    shared.write_bytes(orjson.dumps(account))
    (tmp_path / "auths").mkdir()
    link = tmp_path / "auths" / "claude-a.json"
    os.symlink(shared, link)
    proxy = await mproxy("")
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200 and [f["name"] for f in body["files"]] == ["claude-a.json"]

    status, body = await mcall(
        proxy, "PATCH", "/auth-files/status", {"name": "claude-a.json", "disabled": True}
    )
    assert (status, body) == (200, {"status": "ok", "disabled": True})
    assert link.is_symlink() and os.readlink(link) == str(shared)
    assert orjson.loads(shared.read_bytes())["disabled"] is True
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert body["files"][0]["disabled"] is True

    status, _ = await mcall(proxy, "PATCH", "/auth-files/fields", {"name": "claude-a.json", "prefix": "team"})
    assert status == 200
    assert link.is_symlink()
    saved = orjson.loads(shared.read_bytes())
    assert saved["prefix"] == "team" and saved["refresh_token"] == "rt"
    assert sorted(p.name for p in shared.parent.iterdir()) == ["claude-a.json"]  # no temp file left
    assert sorted(p.name for p in link.parent.iterdir()) == ["claude-a.json"]
