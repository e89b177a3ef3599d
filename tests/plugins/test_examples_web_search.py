"""examples/plugins/claude-web-search-router, loaded from its example directory into a
running proxy: detection, route decisions, fallback with failure penalties, Tavily, and
Claude answers whole and streamed through the anthropic SDK."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import anthropic
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cliproxy.plugins.api import PluginError, RouteRequest
from cliproxy.plugins.inproc import load_module_plugin
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.plugins.plugin_dir import plugins_yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "plugins"
WSR = "claude-web-search-router"
SEARCH_TOOL = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
BASH_TOOL = {"name": "bash", "input_schema": {"type": "object", "properties": {}}}
PROMPT = "Perform a web search for the query: cliproxy plugins"
ANSWER = "cliproxy plugins are written in Python, C or anything that speaks JSON."


def install(tmp_path: Path, *ids: str) -> Path:
    """Copy example plugins into a fresh plugins dir, as a user drops them into plugins.dir."""
    pdir = tmp_path / "plugins"
    pdir.mkdir(parents=True, exist_ok=True)
    for pid in ids:
        src = EXAMPLES / pid
        package = src / pid
        if package.is_dir():
            shutil.copytree(package, pdir / pid, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src / f"{pid}.py", pdir / f"{pid}.py")
    return pdir


@pytest.fixture(autouse=True)
def _fresh_plugin_modules():
    """Each test imports its own copy of the example (see the xfail test at the end)."""

    def drop() -> None:
        for name in [n for n in sys.modules if n.startswith("cliproxy_plugin_claude_web_search_router")]:
            del sys.modules[name]

    drop()
    yield
    drop()


class FakeTavily:
    """A local Tavily: ``POST /search``; ``fail`` makes it answer with that status,
    ``reply`` with those bytes (not labelled JSON, as CPA's mock answers)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.seen: list[tuple[str, str]] = []  # (method, content type) of each request
        self.fail = 0
        self.reply = b""
        self.url = ""

    async def search(self, request: web.Request) -> web.Response:
        self.seen.append((request.method, request.headers.get("Content-Type", "")))
        self.requests.append(await request.json())
        if self.fail:
            return web.json_response({"detail": "busy"}, status=self.fail)
        if self.reply:
            return web.Response(body=self.reply)
        return web.json_response(
            {
                "answer": ANSWER,
                "results": [
                    {
                        "title": "cliproxy docs",
                        "url": "https://cliproxy.example/docs",
                        "content": "Plugins...",
                    },
                    {"title": "", "url": "https://news.example/item", "content": "More."},
                ],
            }
        )


@pytest.fixture
async def tavily():
    fake = FakeTavily()
    app = web.Application()
    app.router.add_post("/search", fake.search)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    await server.close()


XAI = """
xai-api-key:
  - api-key: "xai-key-1"
    base-url: "{base}/v1"
    models:
      - name: "grok-4.3"
        alias: "grok-model"
"""


async def _proxy(start_proxy, fakes, tmp_path, settings: dict, *, xai: bool = True):
    pdir = install(tmp_path, WSR)
    base = {"codex_model": "codex-model", "xai_model": "grok-model"}
    extra = plugins_yaml(pdir, {WSR: {**base, **settings}})
    if xai:
        extra += XAI.format(base=fakes.openai.base_url)
    return await start_proxy(matrix_config(fakes, extra))


async def _search(
    url: str, *, stream: bool, tools: list | None = None, model: str = "claude-model", prompt: str = PROMPT
):
    kwargs = {
        "model": model,
        "max_tokens": 256,
        "messages": [{"role": "user", "content": prompt}],
        "tools": [SEARCH_TOOL] if tools is None else tools,
    }
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                return await s.get_final_message()
        return await client.messages.create(**kwargs)


def _text(message) -> str:
    return "".join(b.text for b in message.content if b.type == "text")


# ---------------------------------------------------------------- the plugin alone


async def _loaded(config: dict):
    plugin = load_module_plugin(EXAMPLES / WSR / WSR)
    await plugin.configure(config, None)
    return plugin, sys.modules[type(plugin).__module__]


def _claude(tools: list, prompt: str = PROMPT, system: object = None) -> dict:
    body = {"model": "m", "messages": [{"role": "user", "content": prompt}], "tools": tools}
    if system is not None:
        body["system"] = system
    return body


async def test_detection():
    """CPA: TestDetectClaudeCodeWebSearchFromFixture (its capture, temp/1.json, is not in
    CPA's repository and the test skips; its facts, a typed search tool, Claude Code's
    markers and the prefixed query, are asserted here on bodies of our own)."""
    _, mod = await _loaded({})
    hit = mod.detect("claude", _claude([SEARCH_TOOL]))
    assert hit == mod.Search("cliproxy plugins", 3)
    assert (
        mod.detect("claude", _claude([{"type": "web_search_20260209", "name": "web_search"}])).max_results
        == 5
    )
    assert mod.detect("anthropic", _claude([SEARCH_TOOL])) is not None
    assert mod.detect("openai", _claude([SEARCH_TOOL])) is None
    assert mod.detect("claude", _claude([])) is None
    assert mod.detect("claude", _claude([{"type": "web_search_2024", "name": "web_search"}])) is None
    assert mod.detect("claude", _claude([SEARCH_TOOL, BASH_TOOL])) is None  # require_web_search_only
    assert mod.detect("claude", _claude([SEARCH_TOOL, {"description": "no type, no name"}])) is not None
    # without require_web_search_only, a mixed tool list needs Claude Code's markers
    assert mod.detect("claude", _claude([SEARCH_TOOL, BASH_TOOL], "hello"), False) is None
    assert mod.detect("claude", _claude([SEARCH_TOOL, BASH_TOOL]), False) is not None
    system = [{"type": "text", "text": "You are an assistant for performing a web search tool use"}]
    assert mod.detect("claude", _claude([SEARCH_TOOL, BASH_TOOL], "hello", system), False).query == "hello"
    blocks = [{"type": "text", "text": "what is "}, {"type": "text", "text": "new?"}]
    assert mod.detect("claude", _claude([SEARCH_TOOL], blocks)).query == "what is new?"  # type: ignore[arg-type]


async def test_route_decisions():
    """CPA: TestRouteWithFallbackSkipsAntigravityToCodex, TestRouteWithFallbackExhausted,
    TestRouteWithFallbackToTavily"""

    def request(tools: list, fmt: str = "claude", available=("codex", "claude")) -> RouteRequest:
        return RouteRequest(
            source_format=fmt,
            requested_model="claude-model",
            available_providers=list(available),
            body=json.dumps(_claude(tools)).encode(),
        )

    plugin, _ = await _loaded({})
    assert (await plugin.route(request([SEARCH_TOOL]))).target_kind == "self"
    assert await plugin.route(request([BASH_TOOL])) is None
    assert await plugin.route(request([SEARCH_TOOL], "openai")) is None
    exhausted = await plugin.route(request([SEARCH_TOOL], available=["claude"]))
    assert not exhausted.handled and exhausted.reason == "web_search_fallback_exhausted"
    plugin, _ = await _loaded({"tavily_api_keys": ["k"]})
    assert (await plugin.route(request([SEARCH_TOOL], available=[]))).handled  # tavily needs only keys
    plugin, _ = await _loaded({"route": "xai_web_search"})
    assert not (await plugin.route(request([SEARCH_TOOL]))).handled
    plugin, _ = await _loaded({"route": "antigravity_google"})
    assert not (await plugin.route(request([SEARCH_TOOL], available=["antigravity"]))).handled  # no model
    plugin, _ = await _loaded({"route": "antigravity_google", "antigravity_model": "gemini-3-flash"})
    assert (await plugin.route(request([SEARCH_TOOL], available=["antigravity"]))).handled
    plugin, _ = await _loaded(
        {
            "route": "default_provider",
            "default_provider": "Claude",
            "default_provider_model": "claude-opus-4-6",
        }
    )
    decision = await plugin.route(request([SEARCH_TOOL]))
    assert (decision.target_kind, decision.target, decision.target_model) == (
        "provider",
        "claude",
        "claude-opus-4-6",
    )
    assert not (await plugin.route(request([SEARCH_TOOL], available=["codex"]))).handled
    plugin, _ = await _loaded({"enabled": False})
    assert await plugin.route(request([SEARCH_TOOL])) is None


async def test_a_partial_config_keeps_the_other_defaults():
    """CPA: TestConfigurePreservesDefaultBooleansWhenConfigIsPartial"""
    plugin, _ = await _loaded({"route": "codex_web_search"})
    s = plugin.settings
    assert s.enabled and s.require_web_search_only and s.route == "codex_web_search"


async def test_built_in_backends_never_get_the_clients_claude_model():
    """Codex and xAI get their configured model, else their own default (an empty value
    too), never the client's Claude model.

    CPA: TestResolveCodexWebSearchTargetModelNeverUsesClaudeName,
    TestResolveXAIWebSearchTargetModelNeverUsesClaudeName"""
    for config in ({}, {"codex_model": "", "xai_model": "  "}):
        plugin, mod = await _loaded(config)
        plans = {p.backend: p.model for p in mod.plans_for(plugin.settings, None)}
        assert plans == {"codex": "gpt-5.4-mini", "xai": "grok-4.3"}
    plugin, mod = await _loaded({"codex_model": "gpt-5.5"})
    assert mod.plans_for(plugin.settings, None)[0] == mod.Plan("codex", "gpt-5.5")


async def test_antigravity_goes_first_with_its_configured_model():
    """The configured antigravity model wins and heads the fallback chain. CPA also finds
    one in its model registry when none is configured (a model flagged SupportsWebSearch);
    cliproxy's catalog has no such flag and a plugin sees no registry, so without
    ``antigravity_model`` the backend is skipped (codex comes first).

    CPA: TestResolveAntigravityWebSearchTargetModelConfiguredWins,
    TestRouteWithFallbackAntigravityFirst, TestResolveAntigravityWebSearchTargetModelFromRegistry
    (difference)"""
    plugin, mod = await _loaded({"antigravity_model": "my-gemini"})
    available = ["antigravity", "codex", "xai"]
    assert mod.plans_for(plugin.settings, available)[0] == mod.Plan("antigravity", "my-gemini")
    route = RouteRequest(
        source_format="claude",
        requested_model="claude-sonnet-4-6",
        available_providers=available,
        body=json.dumps(_claude([SEARCH_TOOL])).encode(),
    )
    decision = await plugin.route(route)
    assert decision.handled and decision.target_kind == "self"
    plugin, mod = await _loaded({})
    assert mod.plans_for(plugin.settings, available)[0].backend == "codex"


async def test_a_responses_stream_is_told_from_a_claude_one():
    """CPA: TestLooksLikeOpenAIResponsesSSE"""
    _, mod = await _loaded({})
    assert mod._responses_sse(b'event: response.created\ndata: {"type":"response.created"}\n\n')
    assert not mod._responses_sse(b'event: message_start\ndata: {"type":"message_start"}\n\n')
    assert not mod._responses_sse(b"")


# ---------------------------------------------------------------- through a running proxy


async def test_fallback_order_and_failure_penalty(start_proxy, fakes, tmp_path, caplog):
    """CPA: TestSortBackendsByPenaltyDeprioritizesFailures (codex is penalised here:
    without an antigravity model it heads the chain)."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {})
    plugin = proxy.service.plugins.records[WSR].client.plugin
    fakes.responses.fail_next(429)  # codex, first in the chain (no antigravity model), is rate limited
    first = await _search(proxy.url, stream=False)
    assert "grok-4.3" in _text(first)  # xai, next in the chain, answered
    assert len(fakes.responses.requests) == 1 and len(fakes.openai.requests) == 1
    assert plugin.penalties.scores == {"codex": 5, "xai": 0}
    second = await _search(proxy.url, stream=True)  # codex now carries a penalty: xai goes first
    assert "grok-4.3" in _text(second)
    assert len(fakes.responses.requests) == 1 and len(fakes.openai.requests) == 2
    tried_codex = [r for r in caplog.records if "backend codex failed" in r.getMessage()]
    assert len(tried_codex) == 1  # the second request did not even try codex
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        counted = await client.messages.count_tokens(
            model="claude-model", tools=[SEARCH_TOOL], messages=[{"role": "user", "content": PROMPT}]
        )
    assert counted.input_tokens == 0  # the executor's count_tokens, as in CPA
    assert not fakes.claude.requests  # the client's own model was never called


async def test_built_in_backend_streams_and_whole(start_proxy, fakes, tmp_path):
    proxy = await _proxy(start_proxy, fakes, tmp_path, {})
    for stream in (False, True):
        message = await _search(proxy.url, stream=stream)
        assert _text(message) == "Hello from fake-responses (model gpt-5.4)"
        assert fakes.responses.last.path == "/backend-api/codex/responses"
    assert not fakes.openai.requests and not fakes.claude.requests


async def test_tavily_whole_and_streamed(start_proxy, fakes, tmp_path, tavily):
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"route": "tavily", "tavily_api_keys": ["tv-1", "tv-2"], "tavily_base_url": tavily.url},
    )
    for stream in (False, True):
        message = await _search(proxy.url, stream=stream)
        assert [b.type for b in message.content] == ["server_tool_use", "web_search_tool_result", "text"]
        tool, results, text = message.content
        assert tool.name == "web_search" and tool.input == {"query": "cliproxy plugins"}
        assert results.tool_use_id == tool.id
        assert [(r.title, r.url) for r in results.content] == [
            ("cliproxy docs", "https://cliproxy.example/docs"),
            ("news.example", "https://news.example/item"),
        ]
        assert text.text == ANSWER
        assert message.stop_reason == "end_turn" and message.model == "claude-model"
        assert message.usage.input_tokens == 85 and message.usage.server_tool_use.web_search_requests == 1
    assert [r["api_key"] for r in tavily.requests] == ["tv-1", "tv-2"]  # keys take turns
    assert tavily.requests[0] == {
        "api_key": "tv-1",
        "query": "cliproxy plugins",
        "search_depth": "basic",
        "max_results": 3,
        "include_answer": True,
    }
    assert not (fakes.responses.requests or fakes.openai.requests or fakes.claude.requests)


async def test_chain_runs_to_tavily_and_reports_the_last_error(start_proxy, fakes, tmp_path, tavily):
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"tavily_api_keys": ["tv-1"], "tavily_base_url": tavily.url}, xai=False
    )
    fakes.responses.fail_next(503)  # codex fails; xai has no credential here; tavily answers
    message = await _search(proxy.url, stream=True)
    assert _text(message) == ANSWER and len(tavily.requests) == 1
    tavily.fail = 502
    for stream in (False, True):
        with pytest.raises(anthropic.APIStatusError) as failed:  # every backend fails: the last error wins
            await _search(proxy.url, stream=stream)
        # penalised codex went last (xai, tavily, codex): its credential is still cooling down
        assert failed.value.status_code == 429 and "cooling down" in str(failed.value)
    assert len(tavily.requests) == 3 and len(fakes.responses.requests) == 1


async def test_other_requests_are_not_routed(start_proxy, fakes, tmp_path):
    proxy = await _proxy(start_proxy, fakes, tmp_path, {})
    plain = await _search(proxy.url, stream=False, tools=[])
    assert _text(plain) == "Hello from fake-claude (model claude-sonnet-4-6)"
    mixed = await _search(proxy.url, stream=False, tools=[SEARCH_TOOL, BASH_TOOL])
    assert "fake-claude" in _text(mixed)
    assert len(fakes.claude.requests) == 2 and not fakes.responses.requests


async def test_default_provider_route(start_proxy, fakes, tmp_path):
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"route": "default_provider", "default_provider": "claude", "default_provider_model": "claude-model"},
    )
    message = await _search(proxy.url, stream=False, model="any-search-model")
    assert "fake-claude" in _text(message)
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"


# ---------------------------------------------------------------- Tavily, as CPA's tavily_test.go


async def test_route_tavily_plans_only_tavily():
    """CPA: TestBuildExecutionPlansForExecuteRespectsRouteTavily"""
    plugin, mod = await _loaded({"route": "tavily", "tavily_api_keys": ["tvly-test"]})
    assert mod.plans_for(plugin.settings, ["antigravity", "codex", "xai"]) == [mod.Plan("tavily")]
    assert plugin._plans() == [mod.Plan("tavily")]  # what execute() runs


async def _tavily_proxy(start_proxy, fakes, tmp_path, tavily, keys: list[str]):
    settings = {"route": "tavily", "tavily_api_keys": keys, "tavily_base_url": tavily.url}
    proxy = await _proxy(start_proxy, fakes, tmp_path, settings, xai=False)
    return proxy, proxy.service.plugins.records[WSR].client.plugin


async def test_tavily_search_request_answer_and_key_turns(start_proxy, fakes, tmp_path, tavily):
    """The search goes out through the host's HTTP client of a running proxy; a blank key is
    dropped, the others take turns; the answer and hits come back trimmed.

    CPA: TestTavilyClientSearchMockAPI, TestTavilyClientRoundRobinKeys"""
    _, plugin = await _tavily_proxy(start_proxy, fakes, tmp_path, tavily, ["tvly-test-key", " ", "k2"])
    tavily.reply = json.dumps(
        {
            "query": "北京天气",
            "answer": " 明天晴。 ",
            "results": [
                {"title": "Example Weather", "url": "https://example.com/w", "content": "snippet one"}
            ],
        }
    ).encode()
    found = await plugin.tavily.search("北京天气", 3)
    assert tavily.seen == [("POST", "application/json")]
    assert tavily.requests[0] == {
        "api_key": "tvly-test-key",
        "query": "北京天气",
        "search_depth": "basic",
        "max_results": 3,
        "include_answer": True,
    }
    assert found.answer == "明天晴。"
    assert [(h.title, h.url, h.snippet) for h in found.hits] == [
        ("Example Weather", "https://example.com/w", "snippet one")
    ]
    tavily.reply = b'{"results":[]}'
    for _ in range(3):
        assert (await plugin.tavily.search("q", 1)).hits == []
    assert [r["api_key"] for r in tavily.requests] == ["tvly-test-key", "k2", "tvly-test-key", "k2"]


async def test_tavily_without_keys_or_query_is_refused():
    """No request leaves without a key or a query (CPA's search() checks both).

    CPA: TestTavilyClientSearchEmptyKeys"""
    plugin, _ = await _loaded({})
    with pytest.raises(PluginError, match="tavily_api_keys"):
        await plugin.tavily.search("q", 5)
    plugin, _ = await _loaded({"tavily_api_keys": ["k"]})  # no host: a call out would fail
    with pytest.raises(PluginError, match="query is empty") as refused:
        await plugin.tavily.search("  ", 5)
    assert refused.value.http_status == 400


async def test_tavily_errors_and_broken_answers(start_proxy, fakes, tmp_path, tavily):
    """Tavily's status is in the error. A refused key is a 502 for the client, not a 401 (its
    own key is fine: CPA's error carries no status at all); an answer that is not a JSON
    object is a 502 too and does not break the plugin (an exception of another kind would
    fuse it).

    CPA: TestTavilyClientSearchHTTPError"""
    proxy, plugin = await _tavily_proxy(start_proxy, fakes, tmp_path, tavily, ["bad"])
    tavily.fail = 401
    with pytest.raises(PluginError) as failed:
        await plugin.tavily.search("q", 5)
    assert "401" in failed.value.message
    with pytest.raises(anthropic.APIStatusError) as refused:
        await _search(proxy.url, stream=False)
    assert refused.value.status_code == 502 and "status 401" in str(refused.value)
    tavily.fail = 0
    tavily.reply = b'["not", "an", "object"]'
    with pytest.raises(anthropic.APIStatusError) as broken:
        await _search(proxy.url, stream=False)
    assert broken.value.status_code == 502 and "not a JSON object" in str(broken.value)
    tavily.reply = b""
    assert _text(await _search(proxy.url, stream=False)) == ANSWER  # still serving


async def test_tavily_whole_answer_is_a_claude_message(start_proxy, fakes, tmp_path, tavily):
    """CPA: TestRunTavilyClaudeJSONWithMock"""
    proxy, _ = await _tavily_proxy(start_proxy, fakes, tmp_path, tavily, ["k"])
    tavily.reply = b'{"answer":"ok","results":[{"title":"T","url":"https://t.example","content":"c"}]}'
    message = await _search(proxy.url, stream=False, prompt="Perform a web search for the query: test query")
    assert message.type == "message"
    assert [b.type for b in message.content] == ["server_tool_use", "web_search_tool_result", "text"]
    assert message.content[2].text == "ok"
    assert message.usage.server_tool_use.web_search_requests == 1
    assert tavily.requests[0]["query"] == "test query"


async def test_tavily_stream_as_the_client_reads_it(start_proxy, fakes, tmp_path, tavily):
    """The SSE bytes a client gets: Claude's events in compact UTF-8 JSON, the query and
    the answer as they were written; an answer without hits streams too.

    CPA: TestRunTavilyClaudeStreamWithMock, TestExecuteStreamRPCWithMockTavily"""
    proxy, _ = await _tavily_proxy(start_proxy, fakes, tmp_path, tavily, ["tvly-mock"])
    tavily.reply = json.dumps(
        {
            "answer": "2026年6月16日北京多雨。",
            "results": [{"title": "bjmy.gov.cn", "url": "https://www.bjmy.gov.cn/x", "content": "预报"}],
        }
    ).encode()
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    prompt = [{"type": "text", "text": "Perform a web search for the query: 北京天气 2026年6月16日"}]
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.with_streaming_response.create(
            model="claude-model",
            max_tokens=256,
            stream=True,
            tools=[tool],
            messages=[{"role": "user", "content": prompt}],
        ) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            text = (await resp.read()).decode()
    for needle in (
        "event: message_start",
        '"type":"server_tool_use"',
        '"name":"web_search"',
        '"type":"web_search_tool_result"',
        '"type":"web_search_result"',
        "https://www.bjmy.gov.cn/x",
        '"web_search_requests":1',
        "event: message_stop",
        "北京天气 2026年6月16日",
        "2026年6月16日北京多雨",
    ):
        assert needle in text, needle
    assert tavily.requests[0]["max_results"] == 5
    tavily.reply = b'{"answer":"rpc-ok","results":[]}'
    message = await _search(proxy.url, stream=True, prompt="Perform a web search for the query: q")
    assert _text(message) == "rpc-ok" and message.content[1].content == []


async def test_a_reloaded_package_plugin_gets_its_own_submodules(tmp_path):
    for version in ("old", "new"):
        src = install(tmp_path / version, WSR) / WSR
        message = src / "message.py"
        message.write_text(
            message.read_text().replace('DEFAULT_MODEL = "claude-sonnet-4-6"', f'DEFAULT_MODEL = "{version}"')
        )
        plugin = load_module_plugin(src)
        seen = sys.modules[type(plugin).__module__ + ".message"].DEFAULT_MODEL
        assert seen == version
