"""A native executor's stream whose client leaves while the plugin's
``executor.execute_stream`` call is still running: the stream is over for the host, so
the chunks the plugin's own thread emits afterwards are refused at once (CPA: the stream
bridge opened with the request's context aborts when it is cancelled, and the callback
scope closes with it) instead of filling the bridge and blocking that thread forever."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.plugins.native import CC, compile_command
from tests.plugins.plugin_dir import plugins_yaml, seen

pytestmark = [pytest.mark.skipif(CC is None, reason="no C compiler (cc)")]

CHAT = {"model": "c-stream", "messages": [{"role": "user", "content": "hi"}], "stream": True}


@pytest.fixture
def stream_lib(tmp_path: Path) -> Path:
    out = tmp_path / "build" / "stream_exec.so"
    out.parent.mkdir()
    subprocess.run(compile_command("stream_exec", out), check=True, capture_output=True)
    return out


async def test_client_leaving_during_execute_stream_call_ends_the_plugins_stream(
    start_proxy, fakes, tmp_path, stream_lib
):
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    shutil.copy(stream_lib, pdir / "c-stream.so")
    proxy = await start_proxy(matrix_config(fakes, plugins_yaml(pdir, {"c-stream": {"priority": 5}})))
    cb = proxy.service.plugins.callbacks
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=0.15
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**CHAT)  # gone while the call sleeps (400 ms)
    counts: dict = {}
    for _ in range(100):  # up to 2 s: the call returns, its thread emits
        counts = await seen(proxy, "c-stream")
        if counts["finished"] or counts["emitted"] >= 16:
            break
        await asyncio.sleep(0.02)
    # before: the bridge stayed open with no reader; 16 chunks filled it and the 17th
    # emit blocked the plugin's thread for good
    assert counts == {"emitted": 0, "refused": 1, "finished": 1}
    assert cb.bridges == {}
    assert cb._scopes == {}
