"""A client that leaves while a response-normalizer plugin works on its stream's first
bytes ends the upstream call at once, on both server engines.

The proxy reads a stream up to its first content, then hands those bytes to the
normalizers' after chain (``replies_stream.open_stream``). The server finds the client
gone and cancels the request; the cancel lands in the plugin's call. Every other exit of
``open_stream`` let go of the upstream answer, this one did not: the upstream connection
stayed open, the upstream generating for nobody, until the garbage collector found it.
CPA cancels the request's context when its client goes, which aborts the upstream request
whatever the handler was waiting for. With the official openai SDK as the client and an
in-process Python plugin as the normalizer.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.gone import ended_promptly
from tests.e2e.gone import until as _until
from tests.fakes.server import Behavior
from tests.plugins.plugin_dir import write_python
from tests.plugins.test_flow_python import HEADER, _plugin_cfg

SILENCE = 5.0  # seconds the upstream waits after its first content: far past the test's bound

# the after chain on the stream's first bytes: it says it started, then works for long
SLOW = (
    HEADER
    + """
import asyncio
MARK = {mark!r}

class Slow(Plugin, ResponseNormalizer):
    name = "slow"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/s"
    async def normalize_after(self, req):
        with open(MARK, "a") as f:
            f.write(req.body.decode() + "\\n")
        await asyncio.sleep(30)
        return None
plugin = Slow()
"""
)


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_client_that_leaves_while_a_normalizer_works_ends_the_upstream_call(
    start_proxy, fakes, tmp_path, engine: str
) -> None:
    """The OpenAI-compatible upstream sends its role and first content, then is silent for
    ``SILENCE``; the normalizer holds the first bytes. Once the plugin has them the client
    gives up and closes its connection: the upstream's connection is closed within a
    second, the request is recorded as a 499 and nothing cools."""
    mark = tmp_path / "normalizing.txt"
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    pdir = write_python(tmp_path, {"slow": SLOW.format(mark=str(mark))})
    proxy = await start_proxy(matrix_config(fakes, _plugin_cfg(pdir, {"slow": {}}) + ledger), engine=engine)
    fakes.openai.script(Behavior(stream_delay=SILENCE, delay_from=2, text="word " * 20))
    loop = asyncio.get_running_loop()
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
        task = asyncio.ensure_future(
            oai.chat.completions.create(
                model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
        )
        # the plugin has the first bytes (role and first content: the proxy read them)
        await _until(lambda: mark.exists() and b"chat.completion.chunk" in mark.read_bytes(), 10)
        assert not task.done()  # the proxy holds the answer: nothing of it went out yet
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        left = loop.time()
    await ended_promptly(proxy, fakes.openai, left)
