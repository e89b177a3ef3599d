"""claude-web-search-router: serves Claude ``web_search`` tool requests through backends.

A model router picks up Claude requests whose tools are only typed web searches and
sends them to this plugin's own executor, which asks the backends in turn (antigravity,
codex, xai through the proxy itself with ``host.model.*``; Tavily over
``host.http.do``) and answers in Claude's format, whole or streamed. A backend that
fails with 429/502/503 is pushed back in the order for the next requests.
Drop this directory into ``plugins.dir``; see README.md for the config.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, ClassVar

from cliproxy.plugins.api import (
    ConfigField,
    Executor,
    ExecutorRequest,
    ExecutorResponse,
    Host,
    ModelRouter,
    Plugin,
    PluginError,
    RouteDecision,
    RouteRequest,
)

from .detect import Search, detect, parse, search_of
from .message import build_message, dumps, message_events
from .plans import Penalties, Plan, plans_for
from .settings import ROUTES, Settings
from .tavily import Tavily

PLUGIN_ID = "claude-web-search-router"
ORCHESTRATED = "claude_code_web_search_orchestrated"
CLAUDE = "claude"


class WebSearchRouter(Plugin, ModelRouter, Executor):
    name = PLUGIN_ID
    version = "1.0.0"
    author = "cliproxy"
    github_repository = "https://github.com/cliproxy/cliproxy"
    config_fields: ClassVar[list[ConfigField]] = [
        ConfigField("enabled", "boolean", description="Serve web searches (default true)."),
        ConfigField("route", "enum", list(ROUTES), "fallback, one backend, or default_provider."),
        ConfigField("antigravity_model", "string", description="Model for the Antigravity backend."),
        ConfigField("codex_model", "string", description="Model for the Codex backend (gpt-5.4-mini)."),
        ConfigField("xai_model", "string", description="Model for the xAI backend (grok-4.3)."),
        ConfigField("default_provider", "string", description="Provider for route: default_provider."),
        ConfigField("default_provider_model", "string", description="Its model (empty keeps the client's)."),
        ConfigField("tavily_api_keys", "array", description="Tavily API keys, used in turn."),
        ConfigField("tavily_base_url", "string", description="Tavily API base URL."),
        ConfigField(
            "require_web_search_only",
            "boolean",
            description="Only requests whose tools are all web searches (default true).",
        ),
    ]

    identifier = PLUGIN_ID
    input_formats: ClassVar[list[str]] = [CLAUDE]
    output_formats: ClassVar[list[str]] = [CLAUDE]
    model_scope = "static"  # runs without a credential, on the router's direct route

    def __init__(self) -> None:
        self.settings = Settings()
        self.penalties = Penalties()

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        self.settings = Settings.from_config(config)
        self.tavily = Tavily(host, self.settings.tavily_base_url, self.settings.tavily_api_keys)

    # -- model router

    async def route(self, request: RouteRequest) -> RouteDecision | None:
        s = self.settings
        if not s.enabled:
            return None
        if detect(request.source_format, parse(request.body), s.require_web_search_only) is None:
            return None  # not a web search: leave it to the next router or the normal flow
        available = {p.lower() for p in request.available_providers}
        if s.route == "default_provider":
            if s.default_provider and s.default_provider in available:
                return RouteDecision.provider(
                    s.default_provider, s.default_provider_model, "web_search_default_provider"
                )
            return RouteDecision(handled=False, reason="default_provider_unavailable")
        if plans_for(s, available):
            return RouteDecision.self_(ORCHESTRATED)
        return RouteDecision(handled=False, reason="web_search_fallback_exhausted")

    # -- executor

    async def execute(self, request: ExecutorRequest) -> ExecutorResponse:
        body = request.original_request or request.payload
        last: PluginError | None = None
        for plan in self._plans():
            try:
                payload = await self._whole(plan, body, request.model)
            except PluginError as exc:
                last = await self._failed(plan, exc)
                continue
            self.penalties.succeeded(plan.backend)
            return ExecutorResponse(payload=payload, headers={"Content-Type": ["application/json"]})
        raise last or PluginError("no web search backend available", http_status=503)

    async def execute_stream(self, request: ExecutorRequest) -> AsyncIterator[bytes]:
        body = request.original_request or request.payload
        last: PluginError | None = None
        for plan in self._plans():
            sent = False
            try:
                async for chunk in self._streamed(plan, body, request.model):
                    sent = True
                    yield chunk
            except PluginError as exc:
                if sent:  # the client already has part of this answer: no switching backends now
                    raise
                last = await self._failed(plan, exc)
                continue
            self.penalties.succeeded(plan.backend)
            return
        raise last or PluginError("no web search backend available", http_status=503)

    async def count_tokens(self, request: ExecutorRequest) -> ExecutorResponse:
        return ExecutorResponse(payload=b'{"input_tokens":0}')

    # -- backends

    def _plans(self) -> list[Plan]:
        return self.penalties.order(plans_for(self.settings, None))

    async def _failed(self, plan: Plan, exc: PluginError) -> PluginError:
        self.penalties.failed(plan.backend, exc)
        await self.host.log(
            "warn",
            f"web search backend {plan.backend} failed: {exc.message}",
            status=exc.http_status,
            penalty=self.penalties.scores.get(plan.backend, 0),
        )
        return exc

    async def _whole(self, plan: Plan, body: bytes, model: str) -> bytes:
        if plan.backend == "tavily":
            return _dumps(await self._tavily(body, model))
        resp = await self.host.model.execute(CLAUDE, CLAUDE, plan.model, body)
        if resp.status_code >= 400:
            raise PluginError(resp.body[:300].decode("utf-8", "replace"), http_status=resp.status_code)
        return resp.body

    async def _streamed(self, plan: Plan, body: bytes, model: str) -> AsyncIterator[bytes]:
        if plan.backend == "tavily":
            yield message_events(await self._tavily(body, model))
            return
        async with self.host.model.stream(CLAUDE, CLAUDE, plan.model, body) as stream:
            first = True
            async for chunk in stream:
                if first and _responses_sse(chunk):
                    raise PluginError(f"{plan.backend} answered in the Responses format", http_status=502)
                first = False
                yield chunk

    async def _tavily(self, body: bytes, model: str) -> dict[str, Any]:
        search: Search = search_of(parse(body))
        found = await self.tavily.search(search.query, search.max_results)
        return build_message(search.query, found, model)


def _responses_sse(chunk: bytes) -> bool:
    """An OpenAI Responses stream where a Claude one was expected."""
    return (b"event: response." in chunk or b'"type":"response.' in chunk) and b"message_start" not in chunk


def _dumps(data: dict[str, Any]) -> bytes:
    return dumps(data).encode()


plugin = WebSearchRouter()
