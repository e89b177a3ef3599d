"""A native plugin's JSON with bytes that are not UTF-8 inside its strings (a C plugin
copying Latin-1 text into an answer). CPA reads it with Go's encoding/json, which puts
U+FFFD in place of each bad byte and carries on; a ``PluginCrashed`` here would fuse the
plugin for the rest of the process over one odd byte. JSON that is broken anyway is
still a crash."""

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
    dispatcher = FakeDispatcher()
    client = await NativeClient.load(str(out), "odd", dispatcher)
    yield client, dispatcher
    await client.shutdown(timeout=5)


async def test_answer_with_a_latin1_byte_reads_as_go_reads_it(odd):
    client, _ = odd
    assert await client.call("test.latin1", {}) == {"s": "caf\ufffd"}


async def test_error_envelope_with_a_latin1_byte_keeps_its_status(odd):
    client, _ = odd
    with pytest.raises(PluginError) as info:
        await client.call("test.latin1_error", {})
    assert not isinstance(info.value, PluginCrashed)
    assert info.value.http_status == 503
    assert info.value.message == "caf\ufffd closed"


async def test_host_callback_request_with_a_latin1_byte_is_answered(odd):
    client, dispatcher = odd
    result = await client.call("test.ask_latin1", {})
    assert result == {"rc": 0, "host_answer": {"ok": True, "result": {"echo": {"s": "caf\ufffd"}}}}
    assert dispatcher.calls == [("odd", "test.echo", {"s": "caf\ufffd"})]


async def test_bytes_that_are_not_json_are_still_a_crash(odd):
    client, _ = odd
    with pytest.raises(PluginCrashed, match="invalid JSON"):
        await client.call("test.garbage", {})
