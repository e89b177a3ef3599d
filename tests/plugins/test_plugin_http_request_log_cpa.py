"""CPA's ``internal/pluginhost/host_callbacks_test.go`` case of a plugin's ``host.http.do``
made while serving a request: it is written into that request's log, through a running
proxy, a Python plugin executor and the openai SDK."""

from __future__ import annotations

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.usage.helpers import logs, settle

WORKER = (
    HEADER
    + """
class Worker(Plugin, ModelRouter, Executor):
    name = "worker"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/w"
    identifier = "worker"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def route(self, req):
        return RouteDecision.self_() if req.requested_model == "worker-model" else None
    async def execute(self, req):
        upstream = await self.host.http.do(
            "POST", "{url}", {{"Authorization": ["Bearer sk-compat-1"], "Content-Type": ["application/json"]}},
            json.dumps({{"model": "gpt-4o-mini", "messages": [{{"role": "user", "content": "from the plugin"}}]}}),
        )
        streamed = b""
        async with self.host.http.stream(
            "POST", "{url}", {{"Authorization": ["Bearer sk-compat-1"], "Content-Type": ["application/json"]}},
            json.dumps({{"model": "gpt-4o-mini", "stream": True, "messages": [{{"role": "user", "content": "streamed"}}]}}),
        ) as s:
            async for piece in s:
                streamed += piece
        assert streamed.rstrip().endswith(b"data: [DONE]")
        return ExecutorResponse(payload=upstream.body)
plugin = Worker()
"""
)


async def test_a_plugins_http_call_is_in_the_request_log(start_proxy, fakes, tmp_path) -> None:
    """CPA: TestHostHTTPDoCallbackRestoresRegisteredRequestContext: with ``request-log:
    true``, the upstream call a plugin executor makes through ``host.http.do`` while
    serving a request is that request's ``API REQUEST 1`` (URL and body) and ``API
    RESPONSE 1`` (status and body), named by the plugin, and its ``host.http.stream`` the
    second, with the streamed body. Before, the log had neither."""
    url = fakes.openai.url("/v1/chat/completions")
    worker = WORKER.format(url=url)
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"worker": worker}, {"worker": {}}, "request-log: true\n"
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model="worker-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content
    [log] = logs(await settle(proxy))
    text = log.read_text()
    request = text.split("=== API REQUEST 1 ===", 1)[1].split("=== API RESPONSE 1 ===", 1)
    assert f"Upstream URL: {url}" in request[0] and "from the plugin" in request[0]
    assert "label=plugin worker" in request[0]
    assert "Status: 200" in request[1] and answer.choices[0].message.content in request[1]
    streamed = text.split("=== API REQUEST 2 ===", 1)[1].split("=== API RESPONSE 2 ===", 1)
    assert '"stream": true' in streamed[0] and "label=plugin worker" in streamed[0]
    assert "data: [DONE]" in streamed[1]
