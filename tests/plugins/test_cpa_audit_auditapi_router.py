"""CPA's sdk/api/handlers/handlers_model_router_test.go, TestHandlerModelRouterRequiresPluginExecutorHost,
through a running proxy: a router plugin names an executor plugin that is not loaded.

The Go test gives the handler a plugin host that can route but not execute, and asserts a
502 ("plugin executor host is unavailable"). A running CPA never has such a host: its plugin
host always executes, and it checks a route's target first (internal/pluginhost/
executor_route.go, ``executorPluginReady``): a target that is not a ready executor plugin
makes the decision unhandled, so resolution falls through to the built-in providers, and a
model none of them serves is CPA's 400 "unknown provider for model <m>" (handlers_routing.go).
We assert what a running CPA answers, not the Go test's stand-in host."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

GHOST = (
    HEADER
    + """
class Router(Plugin, ModelRouter):
    name = "router"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        if req.requested_model.startswith("ghost-") or req.requested_model == "compat-model":
            return RouteDecision.executor("websearch-plugin")
        return None
plugin = Router()
"""
)


@pytest.mark.parametrize("stream", [False, True])
async def test_a_route_to_a_missing_executor_plugin_falls_through(start_proxy, fakes, tmp_path, stream):
    """The decision falls through; no built-in provider knows the model: the client gets the
    unknown-model 400 in its own error shape, never a 500, and no upstream is called."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"router": GHOST}, {"router": {}})
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await client.chat.completions.create(
                model="ghost-model", messages=[{"role": "user", "content": "hi"}], stream=stream
            )
    assert caught.value.status_code == 400 and isinstance(caught.value.body, dict)
    assert "unknown provider for model ghost-model" in caught.value.message
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        with pytest.raises(anthropic.APIStatusError) as refused:
            await claude.messages.create(
                model="ghost-model", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert refused.value.status_code == 400 and refused.value.body["type"] == "error"
    assert fakes.openai.requests == [] and fakes.claude.requests == [] and fakes.gemini.requests == []


async def test_a_route_to_a_missing_executor_plugin_reaches_the_built_in_provider(
    start_proxy, fakes, tmp_path
):
    """CPA ``executorPluginReady``: the unready target is an unhandled decision, so a model a
    built-in provider serves is answered by it."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"router": GHOST}, {"router": {}})
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hi"}]
        )
    assert done.choices[0].message.content
    assert len(fakes.openai.requests) == 1
