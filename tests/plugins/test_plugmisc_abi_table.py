"""The v1 function table a native plugin's init fills in has no size field: a plugin built
for a later ABI, with more entries, writes them past the table. That table was exactly
the v1 size, so init wrote over the host's own memory (CPA embeds it the same way). It now
sits in a slot with zeroed room after it: a v1 plugin sees the same table and loads; a
wider one writes into the room and is refused with a message naming the sizes."""

from __future__ import annotations

import ctypes
import subprocess
import sys
from pathlib import Path

import pytest

from cliproxy.plugins import _cabi
from cliproxy.plugins.native import NativeClient
from tests.plugins.native import CC, FakeDispatcher, compile_command

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")

# Loads the library in a fresh interpreter: on a host without room, init overwrites
# Python's heap, and that must not take the test process down with it.
LOAD = """
import asyncio, gc, sys
from cliproxy.plugins.native import NativeClient, NativeLoadError
from tests.plugins.native import FakeDispatcher

async def main():
    try:
        await NativeClient.load(sys.argv[1], "wide", FakeDispatcher())
    except NativeLoadError as exc:
        print("refused:", exc)
    else:
        print("loaded")
    junk = [bytearray(32) for _ in range(10000)]  # reuse the heap around the table
    del junk
    gc.collect()

asyncio.run(main())
"""


def build(tmp_path: Path, source: str, *defines: str) -> Path:
    out = tmp_path / f"{source}-{'-'.join(defines) or 'plain'}.so"
    subprocess.run(compile_command(source, out, defines), check=True, capture_output=True)
    return out


def load_isolated(lib: Path) -> subprocess.CompletedProcess[str]:
    root = Path(__file__).resolve().parents[2]
    return subprocess.run(
        [sys.executable, "-c", LOAD, str(lib)], cwd=root, capture_output=True, text=True, timeout=60
    )


def test_a_wider_table_from_a_later_abi_is_refused_without_harm(tmp_path: Path):
    done = load_isolated(build(tmp_path, "wide_table", "VERSION=2", "EXTRA=8"))
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout
    assert "plugin (ABI version 2) wrote a function table larger than ABI version 1's 32 bytes" in done.stdout
    assert "(at least 64 bytes more); a plugin built for a later ABI is not supported" in done.stdout


def test_a_wider_table_claiming_v1_is_refused_too(tmp_path: Path):
    done = load_isolated(build(tmp_path, "wide_table", "VERSION=1", "EXTRA=2"))
    assert done.returncode == 0, done.stderr
    assert "plugin (ABI version 1) wrote a function table larger than" in done.stdout
    assert "(at least 16 bytes more)" in done.stdout


async def test_a_v1_plugin_sees_the_same_table_and_loads(tmp_path: Path):
    lib = build(tmp_path, "basic")
    client = await NativeClient.load(str(lib), "plugmisc-basic", FakeDispatcher())
    try:
        slot = client._slot
        assert ctypes.addressof(client._api) == ctypes.addressof(slot)  # the table opens the slot
        assert ctypes.sizeof(slot) == ctypes.sizeof(_cabi.PluginAPI) + _cabi.PLUGIN_API_HEADROOM
        assert slot.overrun() == 0
        result = await client.call("plugin.register", {"config_yaml": "", "schema_version": 3})
        assert result["metadata"]["Name"] == "test-basic"
    finally:
        await client.shutdown(timeout=5)
