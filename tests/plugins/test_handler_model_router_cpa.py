"""CPA's handler-level model-router tests (sdk/api/handlers/handlers_model_router_test.go),
through a running proxy: a router plugin sends models to an executor plugin or to a
built-in provider, both record what they got, and the official SDKs are the clients."""

from __future__ import annotations

import json

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.plugin_dir import LOG_TO_FILE, with_log
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.plugins.test_handler_interceptors_cpa import _h, _seen

# "exec-*" goes to the executor plugin, "prov-*" to Claude (with "prov-target" naming the
# model, else keeping the requested one).
ROUTES = (
    HEADER
    + LOG_TO_FILE
    + """
class Router(Plugin, ModelRouter, RequestInterceptor):
    name = "router"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        log(hook="route", source=req.source_format, requested=req.requested_model, stream=req.stream,
            headers=req.headers, body=req.body, query=req.query)
        model = req.requested_model
        if model.startswith("exec-"):
            return RouteDecision.executor("exec")
        if model == "prov-target":
            return RouteDecision.provider("claude", "claude-sonnet-4-6")
        if model.startswith("prov-image"):
            return RouteDecision.provider("claude", "gpt-image-2" + model[len("prov-image"):])
        if model.startswith("prov-"):
            return RouteDecision.provider("claude")
        return None
    async def intercept_before(self, req):
        return None
    async def intercept_after(self, req):
        log(hook="after", to=req.to_format, model=req.model, requested=req.requested_model)
        body = json.loads(req.body)
        body["after"] = True
        return InterceptResult(body=json.dumps(body).encode(), headers={"X-After-Auth": ["yes"]})
plugin = Router()
"""
)

EXEC = (
    HEADER
    + LOG_TO_FILE
    + """
CHAT = {"id": "chatcmpl-x", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "direct-ok"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}

class Exec(Plugin, Executor):
    name = "exec"; version = "1"; author = "t"; github_repository = "https://example.com/x"
    identifier = "exec"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "static"
    async def execute(self, req):
        log(hook="execute", model=req.model, payload=req.payload, headers=req.headers, query=req.query)
        out = dict(CHAT, model=req.model)
        return ExecutorResponse(payload=json.dumps(out).encode())
    async def execute_stream(self, req):
        log(hook="stream", model=req.model, payload=req.payload)
        c = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": req.model,
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "direct-stream"}, "finish_reason": "stop"}]}
        yield ("data: " + json.dumps(c) + "\\n\\n").encode()
        yield b"data: [DONE]\\n\\n"
    async def count_tokens(self, req):
        log(hook="count", model=req.model)
        return ExecutorResponse(payload=json.dumps({"input_tokens": 7}).encode())
plugin = Exec()
"""
)


async def _routing_proxy(start_proxy, fakes, tmp_path):
    log = tmp_path / "seen.jsonl"
    plugins = {"router": with_log(ROUTES, log), "exec": with_log(EXEC, log)}
    proxy = await _proxy(start_proxy, fakes, tmp_path, plugins, {"router": {"priority": 10}, "exec": {}})
    return proxy, log


async def test_router_sends_a_request_to_an_executor_plugin_before_resolution(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerModelRouterRoutesBeforeRequestDetails,
    TestHandlerModelRouterCanTargetPluginExecutorWithoutChangingModel,
    TestHandlerModelRouterDirectExecutorRunsAfterAuthInterceptor and
    TestHandlerModelRouterDirectExecutorPropagatesQueryFromContext (with
    TestApplyModelRouterRestoresQueryFromContext; the query half of
    TestExecuteCountWithAuthManagerPropagatesRouterSkipAndQuery). A model no registry knows reaches the
    router with the client's format, model, headers, body and query; the executor gets the
    requested model unchanged, the after-auth interceptor's body and header (that chain runs
    on this route too, told the executor's input format) and the query."""
    proxy, log = await _routing_proxy(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.chat.completions.create(
            model="exec-model",
            messages=[{"role": "user", "content": "hi"}],
            extra_headers={"X-Original": "client"},
            extra_query={"session": "abc"},
        )
    assert done.choices[0].message.content == "direct-ok"
    (route,) = await _seen(log, "route")
    assert (route["source"], route["requested"], route["stream"]) == ("openai", "exec-model", False)
    assert _h(route["headers"], "X-Original") == ["client"] and route["query"]["session"] == ["abc"]
    assert json.loads(route["body"])["model"] == "exec-model"
    (after,) = await _seen(log, "after")
    assert (after["to"], after["model"], after["requested"]) == ("openai", "exec-model", "exec-model")
    (execute,) = await _seen(log, "execute")
    assert execute["model"] == "exec-model" and json.loads(execute["payload"])["after"] is True
    assert _h(execute["headers"], "X-After-Auth") == ["yes"] and execute["query"]["session"] == ["abc"]
    assert fakes.openai.requests == [] and fakes.claude.requests == []


async def test_router_routes_streams_and_counts_to_the_executor(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerModelRouterRoutesStreamBeforeRequestDetails,
    TestHandlerModelRouterRoutesCountBeforeRequestDetails and
    TestPrepareStreamModelRouteReusesDecisionDuringExecution: a stream and a Claude token
    count are routed (the router told ``stream`` and the client's format) and answered by
    the executor with the requested model; the router is asked once per request."""
    proxy, log = await _routing_proxy(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="exec-stream", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "direct-stream"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        counted = await client.messages.count_tokens(
            model="exec-count", messages=[{"role": "user", "content": "hi"}]
        )
    assert counted.input_tokens == 7
    routes = await _seen(log, "route", 2)
    assert [(r["source"], r["requested"], r["stream"]) for r in routes] == [
        ("openai", "exec-stream", True),
        ("claude", "exec-count", False),
    ]
    assert (await _seen(log, "stream"))[0]["model"] == "exec-stream"
    assert (await _seen(log, "count"))[0]["model"] == "exec-count"


async def test_router_provider_routes_use_the_credential_pool(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerProvidersForExecutionUsesRouterProvider,
    TestHandlerProvidersForExecutionFallsBackToOriginalModel and
    TestHandlerModelRouterProviderRouteUsesAuthManager: a provider route goes to that
    provider's credentials with the model the router named, or the requested one when it
    named none; no executor plugin is asked."""
    proxy, log = await _routing_proxy(start_proxy, fakes, tmp_path)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        for model in ("prov-target", "prov-plain"):
            await client.messages.create(
                model=model, max_tokens=5, messages=[{"role": "user", "content": "hi"}]
            )
    assert [r.json["model"] for r in fakes.claude.requests] == ["claude-sonnet-4-6", "prov-plain"]
    assert len(await _seen(log, "route", 2)) == 2
    assert "execute" not in log.read_text()


async def test_router_naming_an_image_only_model_on_a_provider_route_is_a_503(start_proxy, fakes, tmp_path):
    """CPA: TestHandlerProvidersForExecutionRejectsImageOnlyModelOnProviderRoute. A router
    that sends a chat request to Claude under an Images API model (``gpt-image-2``, also
    with a thinking suffix) gets the image-only 503, as the client naming it would; an
    image-only model the client names (with a suffix) is refused before the router."""
    proxy, log = await _routing_proxy(start_proxy, fakes, tmp_path)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        for model in ("prov-image", "prov-image(auto)", "gpt-image-2(auto)"):
            with pytest.raises(openai.APIStatusError) as err:
                await client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": "hi"}]
                )
            assert err.value.status_code == 503, model
            assert "/v1/images/generations" in str(err.value)
    assert len(await _seen(log, "route", 2)) == 2  # the client's own image model never reached it
    assert fakes.claude.requests == []
