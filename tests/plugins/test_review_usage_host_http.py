"""A plugin's own ``host.http.do`` calls are not upstream calls of the request: a usage
plugin gets no record for them (CPA publishes usage from its executors, not from the host's
HTTP client). A plugin executor that makes two such calls while answering gets one record,
its answer's, not a second one saying a call that got 200 failed."""

from __future__ import annotations

import asyncio
import sys

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.plugins.test_usage_per_call import COLLECT

WORKER = (
    HEADER
    + """
class Worker(Plugin, ModelRouter, Executor):
    name = "worker"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/w"
    identifier = "worker"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "worker-model" else None
    async def execute(self, req):
        headers = {{"Authorization": ["Bearer sk-compat-1"], "Content-Type": ["application/json"]}}
        body = json.dumps({{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "hi"}}]}})
        await self.host.http.do("POST", "{url}", headers, body)
        upstream = await self.host.http.do("POST", "{url}", headers, body)
        return ExecutorResponse(payload=upstream.body)
plugin = Worker()
"""
)


async def test_a_plugins_http_calls_make_no_usage_records(start_proxy, fakes, tmp_path) -> None:
    worker = WORKER.format(url=fakes.openai.url("/v1/chat/completions"))
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"worker": worker, "collect": COLLECT}, {"worker": {}, "collect": {}}
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model="worker-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content
    plugin = next(m for n, m in sys.modules.items() if n.startswith("cliproxy_plugin_collect")).plugin
    for _ in range(100):  # usage plugins run in the background, after the answer
        if plugin.records:
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.1)  # (a second record, were one made, comes in the same step)
    assert [(r.provider, r.failed) for r in plugin.records] == [("worker", False)]
