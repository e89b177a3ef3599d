"""Writing an auth file shared through a symlink (41a5a3e: the new file gets the shared
file's owner and group) must set owner and mode on the file it wrote, never on whatever the
temp file's name points to by then. The temp file is made in the shared file's folder,
which may belong to the other install's user: between the write and the chown that user
can replace the temp file with a link to any file (inotify shows the name), and a proxy
running as root then chowned that file to the user (``/etc/shadow``, say) and opened it to
the group. Here the user's move is made where it has the most room, just after the data
reach the disk."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.storage import write_json

OTHER_UID = OTHER_GID = 4243

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")


def _swap_temp_for_link(folder: Path, victim: Path) -> Callable[[int], None]:
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        for tmp in folder.glob(".*.tmp"):  # what the folder's owner can do in its own folder
            tmp.unlink()
            tmp.symlink_to(victim)

    return fsync


def test_a_link_put_at_the_temp_file_is_not_followed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    victim = tmp_path / "root-only"
    victim.write_bytes(b"root's secret\n")
    os.chmod(victim, 0o600)
    folder = tmp_path / "other-user"
    folder.mkdir()
    shared = folder / "claude-a.json"
    shared.write_bytes(orjson.dumps({"type": "claude", "access_token": "at"}))
    os.chown(shared, OTHER_UID, OTHER_GID)
    os.chmod(shared, 0o660)
    os.chown(folder, OTHER_UID, OTHER_GID)
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / "claude-a.json").symlink_to(shared)
    monkeypatch.setattr(os, "fsync", _swap_temp_for_link(folder, victim))

    write_json(auths / "claude-a.json", {"type": "claude", "access_token": "at2"})

    st = victim.stat()
    assert (st.st_uid, st.st_gid) == (0, 0)  # before: 4243, 4243
    assert stat.S_IMODE(st.st_mode) == 0o600  # before: 0o660
    assert victim.read_bytes() == b"root's secret\n"


def test_the_shared_file_still_keeps_its_owner_and_group(tmp_path: Path) -> None:
    folder = tmp_path / "other-user"
    folder.mkdir()
    shared = folder / "claude-a.json"
    shared.write_bytes(orjson.dumps({"type": "claude", "access_token": "at"}))
    os.chown(shared, OTHER_UID, OTHER_GID)
    os.chmod(shared, 0o664)
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / "claude-a.json").symlink_to(shared)
    write_json(auths / "claude-a.json", {"type": "claude", "access_token": "at2"})
    st = shared.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OTHER_UID, OTHER_GID, 0o660)
    assert orjson.loads(shared.read_bytes())["access_token"] == "at2"
    own = auths / "own.json"
    write_json(own, {"type": "claude"})
    assert stat.S_IMODE(own.stat().st_mode) == 0o600
