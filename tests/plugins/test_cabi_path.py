"""A native plugin found in a plugins dir of ``.`` has a bare file name as its path
(``Path(".") / "x.so"`` is ``x.so``); ``dlopen`` reads a name without a slash as a
library to search for in the system's library paths, never the working directory, so the
plugin failed to load ("cannot open shared object file") or another library of that name
was loaded. (CPA joins its paths the same way and has the same hole.) The file in the
working directory is the one loaded now."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cliproxy.plugins.discovery import discover
from cliproxy.plugins.native import NativeClient
from tests.plugins.native import CC, FakeDispatcher, compile_command

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")


async def test_plugin_in_a_dot_plugins_dir_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    built = tmp_path / "build" / "basic.so"
    built.parent.mkdir()
    subprocess.run(compile_command("basic", built), check=True, capture_output=True)
    here = tmp_path / "here"
    here.mkdir()
    shutil.copy(built, here / "cabi-dot-basic.so")
    monkeypatch.chdir(here)
    found = discover(Path("."))
    path = str(found["cabi-dot-basic"].path)
    assert path == "cabi-dot-basic.so"  # no directory part: what the host hands the loader
    client = await NativeClient.load(path, "cabi-dot-basic", FakeDispatcher())
    try:
        result = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
        assert result["metadata"]["Name"] == "test-basic"
    finally:
        await client.shutdown(timeout=5)
