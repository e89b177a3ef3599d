"""CPA's ``internal/pluginhost/model_router_test.go`` case of a router naming another
plugin's executor by plugin id, through a running proxy and the openai SDK."""

from __future__ import annotations

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

ROUTER = (
    HEADER
    + """
class Router(Plugin, ModelRouter):
    name = "router"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        return RouteDecision.executor("worker") if req.requested_model == "client-model" else None
plugin = Router()
"""
)

WORKER = (
    HEADER
    + """
class Worker(Plugin, Executor):
    name = "worker"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/w"
    identifier = "worker"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def execute(self, req):
        text = f"model={req.model} payload={json.loads(req.payload)['model']} auth={req.auth_id}|{req.auth_provider}"
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Worker()
"""
)


async def test_a_routed_executor_plugin_gets_the_clients_model_and_no_credential(
    start_proxy, fakes, tmp_path
):
    """CPA: TestHostExecutePluginExecutorByPluginIDPreservesModel: a router naming another
    plugin's executor has that executor run the request with the client's model (in the
    request and its payload) and no credential (empty auth id and provider); no upstream
    is asked."""
    plugins = {"router": ROUTER, "worker": WORKER}
    proxy = await _proxy(start_proxy, fakes, tmp_path, plugins, {"router": {}, "worker": {}})
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model="client-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert answer.choices[0].message.content == "model=client-model payload=client-model auth=|"
    assert not fakes.openai.requests
