"""An auth file shared through a symlink (c63c41f: written through the link, as CPA's
in-place writes are) keeps the shared file's owner, group and group access. Before, the
write renamed a new 0600 file of the proxy's user over the shared file, so the other
install sharing it (another user, reading it through its group) could no longer read the
account it shares: the sharing the link exists for was cut at the first panel edit or
token refresh. CPA writes the file in place and leaves its owner and mode alone; we keep
them too, less any access for everyone else (tokens are never world-readable)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.management.conftest import mcall

OTHER_UID = OTHER_GID = 4242


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")
async def test_a_shared_auth_file_keeps_its_owner_and_group_access(mproxy: Any, tmp_path: Path) -> None:
    shared = tmp_path / "shared" / "claude-a.json"
    shared.parent.mkdir()
    account = {"type": "claude", "access_token": "at", "refresh_token": "rt", "email": "a@x.io"}
    shared.write_bytes(orjson.dumps(account))
    os.chown(shared, OTHER_UID, OTHER_GID)
    os.chmod(shared, 0o664)  # the other install's user and group read it; everyone else too
    (tmp_path / "auths").mkdir()
    os.symlink(shared, tmp_path / "auths" / "claude-a.json")
    proxy = await mproxy("")

    status, body = await mcall(
        proxy, "PATCH", "/auth-files/status", {"name": "claude-a.json", "disabled": True}
    )
    assert (status, body) == (200, {"status": "ok", "disabled": True})
    assert orjson.loads(shared.read_bytes())["disabled"] is True
    st = shared.stat()
    assert (st.st_uid, st.st_gid) == (OTHER_UID, OTHER_GID)
    assert stat.S_IMODE(st.st_mode) == 0o660  # the group keeps it; no one else reads tokens


async def test_an_auth_file_of_its_own_is_still_0600(mproxy: Any, tmp_path: Path) -> None:
    (tmp_path / "auths").mkdir()
    own = tmp_path / "auths" / "claude-b.json"
    own.write_bytes(orjson.dumps({"type": "claude", "access_token": "at", "email": "b@x.io"}))
    os.chmod(own, 0o644)
    proxy = await mproxy("")
    status, _ = await mcall(proxy, "PATCH", "/auth-files/status", {"name": "claude-b.json", "disabled": True})
    assert status == 200
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
