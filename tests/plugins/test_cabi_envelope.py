"""Which answers with a non-zero return code count as a plugin's error envelope. CPA
(``isPluginErrorEnvelope``) decodes the body into its Envelope type (keys case-insensitive,
``ok`` a bool that defaults to false, ``error`` a pointer to an object) and takes any body
with ``ok`` not true and an ``error`` object as the plugin's error, whatever the return
code. Anything else is "plugin call <method> returned <rc>: <body>", which here fuses the
plugin: an ``error`` object without an ``ok`` key, or an empty one, must not. (An ``error``
that is a string CPA fails to decode; it stays the plugin's error here, message and all,
rather than a fuse.)"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from cliproxy.plugins.abi import PluginCrashed, PluginError
from cliproxy.plugins.native import NativeClient
from tests.plugins.native import CC, FakeDispatcher, compile_command

pytestmark = pytest.mark.skipif(CC is None, reason="no C compiler (cc)")


@pytest.fixture
async def odd(tmp_path: Path):
    out = tmp_path / "odd_bytes.so"
    subprocess.run(compile_command("odd_bytes", out), check=True, capture_output=True)
    client = await NativeClient.load(str(out), "odd", FakeDispatcher())
    yield client
    await client.shutdown(timeout=5)


async def test_error_object_without_ok_key_is_the_plugins_error(odd):
    with pytest.raises(PluginError) as info:
        await odd.call("test.rc_error_no_ok", {})
    assert not isinstance(info.value, PluginCrashed)
    assert (info.value.message, info.value.http_status, info.value.code) == ("no ok here", 409, "busy")


async def test_empty_error_object_is_the_plugins_error(odd):
    with pytest.raises(PluginError) as info:
        await odd.call("test.rc_empty_error", {})
    assert not isinstance(info.value, PluginCrashed)
    assert info.value.message == "plugin call failed"


async def test_error_that_is_a_string_stays_the_plugins_error(odd):
    # CPA cannot decode it and fails the call with the whole body as its message; a fuse
    # here would be harsher than that, so the plugin's text is the call's error
    with pytest.raises(PluginError) as info:
        await odd.call("test.rc_error_text", {})
    assert not isinstance(info.value, PluginCrashed)
    assert info.value.message == "text"
