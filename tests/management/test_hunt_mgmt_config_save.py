"""Where a management edit of config.yaml is written, and what a write that cannot be made answers.

CPA writes the file in place (``os.Create`` in ``SaveConfigPreserveComments``,
``internal/config/config_yaml.go``; ``WriteConfig`` in ``management/config_basic.go``), so a
config.yaml that is a symlink or a single-file bind mount (CPA's own docker-compose.yml
mounts ``./config.yaml:/CLIProxyAPI/config.yaml``) takes every edit. We write a temp file
and rename it over the target (a crash never leaves half a file), through the link, and
fall back to CPA's in-place write only where a rename cannot work. A write that fails
answers CPA's ``{"error": "failed to save config: ..."}`` (``persistLocked``) or, for
``PUT /config.yaml``, ``{"error": "write_failed", ...}``, and changes nothing.

The bind-mount cases need mount(8) rights (root, as the suite runs here) and skip elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.management.conftest import mcall


@contextlib.contextmanager
def bind(source: Path, target: Path, *options: str) -> Iterator[None]:
    """``mount --bind`` ``source`` on ``target`` for the block (skip when not allowed)."""
    args = ["mount", "--bind", *options, str(source), str(target)]
    try:
        done = subprocess.run(args, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"mount not available: {exc}")
    if done.returncode != 0:
        pytest.skip(f"mount not permitted: {done.stderr.decode(errors='replace').strip()}")
    try:
        if "ro" in options:  # a read-only bind takes a remount on older util-linux
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=False, timeout=10)
        yield
    finally:
        subprocess.run(["umount", str(target)], check=True, timeout=10)


async def test_an_edit_writes_through_a_symlinked_config_file(mproxy: Any, tmp_path: Path) -> None:
    """Before, the edit replaced the link with a plain file: the file it pointed to (a
    dotfiles repository, a mounted volume) kept the old text, and the link was gone."""
    proxy = await mproxy("debug: false  # keep me\n")
    real = tmp_path / "dotfiles" / "config.yaml"
    real.parent.mkdir()
    os.replace(proxy.config_path, real)
    os.symlink(real, proxy.config_path)
    status, body = await mcall(proxy, "PUT", "/debug", {"value": True})
    assert (status, body) == (200, {"status": "ok"})
    assert os.path.islink(proxy.config_path)
    assert "debug: true   # keep me\n" in real.read_text()  # the comment keeps its column
    assert proxy.service.config.debug is True
    assert [p.name for p in real.parent.iterdir()] == ["config.yaml"]  # no temp file left


async def test_an_edit_saves_a_single_file_bind_mount(mproxy: Any, tmp_path: Path) -> None:
    """CPA's docker-compose layout: the file is a mount point, a rename onto it fails with
    EBUSY. Before, every panel edit answered 500 "internal error" and nothing was saved."""
    proxy = await mproxy("debug: false  # keep me\n")
    host = tmp_path / "host" / "config.yaml"
    host.parent.mkdir()
    host.write_text(proxy.config_path.read_text())
    with bind(host, proxy.config_path):
        status, body = await mcall(proxy, "PUT", "/debug", {"value": True})
        assert (status, body) == (200, {"status": "ok"})
        status, _ = await mcall(proxy, "PUT", "/config.yaml", data=host.read_text() + "request-retry: 7\n")
        assert status == 200
    text = host.read_text()
    assert "debug: true   # keep me\n" in text and text.endswith("request-retry: 7\n")
    assert proxy.service.config.debug is True and proxy.service.config.request_retry == 7
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".config.yaml.")]


async def test_a_write_that_fails_answers_cpas_error_and_changes_nothing(mproxy: Any, tmp_path: Path) -> None:
    """A read-only folder and file: before, an unhandled OSError became a 500 "internal
    error in cliproxy" in OpenAI's shape, which told the panel user nothing."""
    proxy = await mproxy("debug: false\n")
    before = proxy.config_path.read_bytes()
    with bind(tmp_path, tmp_path, "-o", "ro"):
        status, body = await mcall(proxy, "PUT", "/debug", {"value": True})
        assert status == 500
        assert body == {"error": "failed to save config: Read-only file system"}
        status, body = await mcall(proxy, "PUT", "/config.yaml", data="debug: true\n")
        assert status == 500
        assert body == {"error": "write_failed", "message": "failed to save config: Read-only file system"}
        assert (await mcall(proxy, "GET", "/debug")) == (200, {"debug": False})
    assert proxy.config_path.read_bytes() == before
    assert proxy.service.config.debug is False


async def test_a_bind_mounted_file_keeps_its_old_text_when_the_disk_is_full(
    mproxy: Any, tmp_path: Path
) -> None:
    """The in-place write (the bind-mount case) on a full disk: the old bytes are put back,
    never half a new file (CPA truncates first and would leave a torn or empty file)."""
    proxy = await mproxy("debug: false  # keep me\n")
    disk = tmp_path / "disk"
    disk.mkdir()
    tmpfs = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]
    if subprocess.run(tmpfs, capture_output=True, timeout=10, check=False).returncode != 0:
        pytest.skip("tmpfs mount not permitted")
    try:
        host = disk / "config.yaml"
        host.write_text(proxy.config_path.read_text())
        before = host.read_bytes()
        with contextlib.suppress(OSError), (disk / "filler").open("wb") as filler:
            while True:
                filler.write(b"x" * 4096)
                filler.flush()
        with bind(host, proxy.config_path):
            notes = "".join(f"# note {i:04d} " + "." * 60 + "\n" for i in range(400))  # 28 KB
            big = before.decode().replace("debug: false", "debug: true") + notes
            status, body = await mcall(proxy, "PUT", "/config.yaml", data=big)
            assert status == 500
            assert body == {
                "error": "write_failed",
                "message": "failed to save config: No space left on device",
            }
        assert host.read_bytes() == before
        assert proxy.service.config.debug is False
    finally:
        subprocess.run(["umount", str(disk)], check=True, timeout=10)
