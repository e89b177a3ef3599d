"""A plugin's own ``host.http.do`` calls are not upstream calls of the request: a usage
plugin gets no record for them (CPA publishes usage from its executors, not from the host's
HTTP client). A plugin executor that makes two such calls while answering gets one record,
its answer's, not a second one saying a call that got 200 failed."""

from __future__ import annotations

import asyncio
import sys

import anthropic
import openai

from tests.e2e.clients import KEY
from tests.management.conftest import MANAGEMENT_KEY, mcall
from tests.plugins.plugin_dir import plugins_yaml, write_python
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.plugins.test_usage_per_call import COLLECT
from tests.usage.helpers import settle

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


TAP = """
from cliproxy.plugins.api import Plugin, ResponseInterceptor

class Tap(Plugin, ResponseInterceptor):
    name = "tap"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/t"

    async def intercept_response(self, request):
        await self.host.http.do("GET", "{url}", {{}}, "")
        return None

plugin = Tap()
"""


async def test_a_response_interceptors_http_call_fails_no_credential(
    start_proxy, fake_claude, tmp_path, monkeypatch
) -> None:
    """A response interceptor that calls out after the upstream answered: the credential
    that answered has one success and no failure in its counters (GET /api-key-usage).
    Before, the plugin's call came last in the request's trace, so the answering call was
    taken for a failed one that another attempt followed."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    pdir = write_python(tmp_path, {"tap": TAP.format(url=fake_claude.base_url + "/v1/models")})
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-tap"\n    base-url: "{fake_claude.base_url}"\n'
        + plugins_yaml(pdir, {"tap": {}})
    )
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert any(r.path.endswith("/v1/models") for r in fake_claude.requests)  # the plugin called out
    await settle(proxy)
    status, body = await mcall(proxy, "GET", "/api-key-usage")
    entry = body["claude"][f"{fake_claude.base_url}|sk-tap"]
    assert (status, entry["success"], entry["failed"]) == (200, 1, 0)


async def test_the_usage_queue_keeps_the_upstreams_answer_headers(
    start_proxy, fake_claude, tmp_path, monkeypatch
) -> None:
    """The usage queue's record carries the upstream answer's headers (CPA's
    ``response_headers``), not those of a call a response interceptor made afterwards.
    Before, the plugin's call came last in the trace and its headers were taken."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)
    pdir = write_python(tmp_path, {"tap": TAP.format(url=fake_claude.base_url + "/v1/models")})
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nusage-statistics-enabled: true\nclaude-api-key:\n  - api-key: "sk-tap"\n'
        f'    base-url: "{fake_claude.base_url}"\n' + plugins_yaml(pdir, {"tap": {}})
    )
    fake_claude.answer_headers["sk-tap"] = {"x-the-answer": "messages"}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model="claude-sonnet-4-6", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert any(r.path.endswith("/v1/models") for r in fake_claude.requests)  # the plugin called out
    await settle(proxy)
    status, records = await mcall(proxy, "GET", "/usage-queue?count=5")
    assert status == 200 and len(records) == 1
    headers = {k.lower(): v for k, v in records[0]["response_headers"].items()}
    assert headers.get("x-the-answer") == ["messages"]
