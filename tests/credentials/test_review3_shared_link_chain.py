"""An auth file shared through a symlink into another install's folder (41a5a3e, 6649a23) is
written through the link; that folder's user may turn the shared file itself into a link
(``ln -sf /root/.bashrc claude-a.json``: it is their file, in their folder). A write that
followed the whole chain then replaced whatever that second link names, as root any file on
the machine, with the account's JSON, whose foreign fields that user wrote (kept by a
refresh): a shell profile, ``/etc/shadow``. Only links the proxy (or root) made are followed;
at another's link the proxy writes its own file in place of its link, as for a dangling
one. CPA follows every link (its ``os.WriteFile``): a deliberate difference."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.storage import write_json

OTHER_UID = OTHER_GID = 4243

pytestmark = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="chown needs root")


def _shared(tmp_path: Path) -> tuple[Path, Path]:
    """The other user's folder with its account file, and our auth dir's link to it."""
    folder = tmp_path / "other-user"
    folder.mkdir()
    shared = folder / "claude-a.json"
    shared.write_bytes(orjson.dumps({"type": "claude", "access_token": "at", "$(id>/tmp/x)": 1}))
    os.chown(shared, OTHER_UID, OTHER_GID)
    os.chmod(shared, 0o660)
    os.chown(folder, OTHER_UID, OTHER_GID)
    auths = tmp_path / "auths"
    auths.mkdir()
    (auths / "claude-a.json").symlink_to(shared)
    return shared, auths / "claude-a.json"


def test_a_link_the_other_user_puts_in_place_of_the_shared_file_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "root" / ".bashrc"
    victim.parent.mkdir()
    victim.write_bytes(b"export PATH=/usr/bin\n")
    os.chmod(victim, 0o644)
    shared, ours = _shared(tmp_path)
    shared.unlink()  # what the folder's owner can do in its own folder
    shared.symlink_to(victim)
    os.lchown(shared, OTHER_UID, OTHER_GID)

    write_json(ours, {"type": "claude", "access_token": "at2", "$(id>/tmp/x)": 1})

    assert victim.read_bytes() == b"export PATH=/usr/bin\n"  # before: the account's JSON
    assert not ours.is_symlink()  # our own file now, with the new tokens, 0600
    assert orjson.loads(ours.read_bytes())["access_token"] == "at2"
    assert stat.S_IMODE(ours.stat().st_mode) == 0o600
    assert shared.is_symlink() and os.readlink(shared) == str(victim)  # theirs, untouched


def test_a_chain_of_links_of_the_proxys_own_is_still_written_through(tmp_path: Path) -> None:
    shared, ours = _shared(tmp_path)
    middle = tmp_path / "middle.json"  # a link root made: followed
    middle.symlink_to(shared)
    ours.unlink()
    ours.symlink_to(middle)
    write_json(ours, {"type": "claude", "access_token": "at2"})
    assert ours.is_symlink() and middle.is_symlink()
    assert orjson.loads(shared.read_bytes())["access_token"] == "at2"
    st = shared.stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (OTHER_UID, OTHER_GID, 0o660)
