"""A native plugin opening ``host.model.execute_stream`` with the ``host_callback_id`` of a
scope that is over (its call returned, or its client left, while the plugin's own thread
went on): CPA ties the model stream to that scope, and a cleanup added to a scope that is
gone runs at once, so the stream is closed as soon as it opens and the plugin's first
read answers done. Before, the stream stayed open with no scope to close it: a plugin
relying on the scope's implicit close held the upstream response open for good."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from cliproxy.plugins.abi import b64decode
from tests.e2e.conftest import matrix_config
from tests.plugins.native import CC, compile_command
from tests.plugins.plugin_dir import plugins_yaml

pytestmark = [pytest.mark.skipif(CC is None, reason="no C compiler (cc)")]


@pytest.fixture
def stream_lib(tmp_path: Path) -> Path:
    out = tmp_path / "build" / "stream_exec.so"
    out.parent.mkdir()
    subprocess.run(compile_command("stream_exec", out), check=True, capture_output=True)
    return out


async def test_model_stream_opened_in_a_finished_scope_is_closed_at_once(
    start_proxy, fakes, tmp_path, stream_lib
):
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    shutil.copy(stream_lib, pdir / "c-stream.so")
    proxy = await start_proxy(matrix_config(fakes, plugins_yaml(pdir, {"c-stream": {}})))
    cb = proxy.service.plugins.callbacks
    client = proxy.service.plugins.records["c-stream"].client

    # a live scope: the stream is the model's, read chunk by chunk
    async with cb.scope("c-stream", None) as scope_id:
        live = await client.call("test.stale_model_stream", {"scope": scope_id})
        assert live["open"]["ok"] and live["open"]["result"]["status_code"] == 200
        assert live["read"]["result"]["done"] is False
        assert b"data:" in b64decode(live["read"]["result"]["payload"])
        assert len(cb._readers) == 1
    assert cb._readers == {}  # closed with its scope

    # the scope is over: the stream opens (the model ran) and is closed at once
    stale = await client.call("test.stale_model_stream", {"scope": scope_id})
    assert stale["open"]["ok"] and stale["open"]["result"]["stream_id"]
    assert stale["read"]["result"] == {"payload": "", "error": "", "done": True}
    assert cb._readers == {}
    assert len(fakes.openai.requests) == 2
