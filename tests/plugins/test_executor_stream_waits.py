"""A plugin executor's stream that stays silent: the host's wait for its chunks is bounded
by the upstream timeouts (a plugin stands in for an upstream) and ends when the client
leaves. CPA: TestStreamWithPluginExecutorExitsOnContextCancel."""

from __future__ import annotations

import asyncio

import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

pytestmark = pytest.mark.asyncio

PLUGINS = {
    "router": HEADER
    + """
class Router(Plugin, ModelRouter):
    name = "router"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        return RouteDecision.executor("silent") if req.requested_model == "silent-model" else None
plugin = Router()
""",
    "silent": HEADER
    + """
import asyncio
class Silent(Plugin, Executor):
    name = "silent"; version = "1"; author = "t"; github_repository = "https://example.com/x"
    identifier = "silent"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def execute(self, req):
        return ExecutorResponse(payload=b"{}")
    async def execute_stream(self, req):
        await asyncio.sleep(30)  # never a chunk while a test runs
        yield b"data: [DONE]\\n\\n"
plugin = Silent()
""",
}
CFG = {"router": {"priority": 10}, "silent": {}}
CHAT = {"model": "silent-model", "messages": [{"role": "user", "content": "hi"}], "stream": True}


async def test_a_silent_executor_stream_times_out_at_the_first_byte_limit(start_proxy, fakes, tmp_path):
    """The first chunk is awaited within ``timeouts.upstream-first-byte``: after it, the
    client gets a 504 naming the plugin (it waited without end before)."""
    extra = 'timeouts:\n  upstream-first-byte: "300ms"\n'
    proxy = await _proxy(start_proxy, fakes, tmp_path, PLUGINS, CFG, extra)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=10
    ) as client:
        with pytest.raises(openai.APIStatusError) as err:
            await asyncio.wait_for(client.chat.completions.create(**CHAT), 5)
    assert err.value.status_code == 504 and "silent" in str(err.value.message)


async def test_a_client_that_leaves_a_silent_executor_stream_ends_the_wait(start_proxy, fakes, tmp_path):
    """CPA TestStreamWithPluginExecutorExitsOnContextCancel (and
    TestMapExecutorStreamChunksExitsWhenContextCanceledWithoutDownstreamConsumer: the
    chunk reader stops with the request): the client gives up (its
    timeout closes the connection) and the request ends at once, recorded as 499, not when
    the plugin's wait would end."""
    extra = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    proxy = await _proxy(start_proxy, fakes, tmp_path, PLUGINS, CFG, extra)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=0.5
    ) as client:
        with pytest.raises(openai.APITimeoutError):
            await client.chat.completions.create(**CHAT)
    stats = recorder_of(proxy.service).stats
    rows: list[tuple[int, ...]] = []
    for _ in range(100):  # up to 2 s (the ledger opens at its first row)
        if stats.ledger is not None and stats.ledger.flush():
            rows = [tuple(r) for r in stats.ledger.query("SELECT status FROM usage_requests")]
            if rows:
                break
        await asyncio.sleep(0.02)
    assert rows == [(499,)]
