"""Claude Code's web search on Antigravity, request side: which requests become Cloud Code's
own search request, its shape (CPA antigravity_claude_request_test.go and
antigravity_executor_buildrequest_test.go, ported), and the per-credential list of models
that search (``fetchAvailableModels``'s ``webSearchModelIds``)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
import pytest

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers import antigravity_search as ws
from cliproxy.providers.antigravity import AntigravityProvider
from cliproxy.providers.http import HttpClient

WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


def cred(base_url: str = "") -> Credential:
    metadata = {"type": "antigravity", "access_token": "ya29.tok", "project_id": "project-1"}
    c = Credential(id="antigravity-a.json", provider="antigravity", kind=KIND_OAUTH, metadata=metadata)
    if base_url:
        c.base_url = base_url
    return c


def claude_request(
    *tools: dict[str, Any], content: Any = "北京天气 2026-06-12", **extra: Any
) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": content}], "tools": list(tools), **extra}


def gemini_body() -> dict[str, Any]:  # what the hub built from the Claude request (tool dropped)
    return {"contents": [{"role": "user", "parts": [{"text": "北京天气 2026-06-12"}]}]}


def provider_listing(c: Credential, *models: str) -> AntigravityProvider:
    provider = AntigravityProvider()
    provider.searches._known[c.id] = (frozenset(models), float("inf"))
    return provider


def build(provider: AntigravityProvider, c: Credential, client: dict[str, Any], model: str, **kw: Any) -> Any:
    body = gemini_body()
    ws.carry(body, client)
    req = provider.build(c, body, model=model, stream=kw.pop("stream", False), client_headers={}, **kw)
    return req, orjson.loads(req.body)


def test_typed_web_search_becomes_an_independent_search_request() -> None:
    """CPA: TestConvertClaudeRequestToAntigravity_MapsTypedWebSearchToIndependentSearchRequest,
    TestAntigravityBuildRequest_PreservesIndependentWebSearchRequestType (the envelope keeps
    ``requestType: web_search`` and gets no requestId or sessionId)."""
    c = cred()
    provider = provider_listing(c, "gemini-3.1-flash-lite")
    tool = {**WEB_SEARCH, "max_uses": 8, "allowed_domains": ["www.baidu.com", " weather.com.cn ", 3, ""]}
    req, out = build(provider, c, claude_request(tool), "gemini-3.1-flash-lite")
    assert out["requestType"] == "web_search" and out["model"] == "gemini-3.1-flash-lite"
    assert out["project"] == "project-1" and out["userAgent"] == "antigravity"
    assert "requestId" not in out and "sessionId" not in out["request"]  # (CPA's executor adds neither)
    inner = out["request"]
    assert inner["contents"] == [{"role": "user", "parts": [{"text": "北京天气 2026-06-12"}]}]
    assert inner["systemInstruction"] == {"role": "user", "parts": [{"text": ws.SYSTEM_INSTRUCTION}]}
    search = inner["tools"][0]["googleSearch"]
    assert search["enhancedContent"]["imageSearch"]["maxResultCount"] == 8
    assert search["includedDomains"] == ["www.baidu.com", "weather.com.cn"]
    assert inner["generationConfig"] == {"candidateCount": 1}
    assert req.url.endswith("/v1internal:generateContent")
    stream, _ = build(provider, c, claude_request(tool), "gemini-3.1-flash-lite", stream=True)
    assert stream.url.endswith("/v1internal:streamGenerateContent?alt=sse") and stream.stream
    assert "Accept" not in stream.headers  # CPA's executor sends none, on a stream too


def test_default_max_result_count_and_no_domains() -> None:
    """CPA: TestConvertClaudeRequestToAntigravity_UsesDefaultWebSearchMaxResultCountWithoutMaxUses."""
    c = cred()
    _, out = build(
        provider_listing(c, "gemini-3.1-flash-lite"), c, claude_request(WEB_SEARCH), "gemini-3.1-flash-lite"
    )
    search = out["request"]["tools"][0]["googleSearch"]
    assert search["enhancedContent"]["imageSearch"]["maxResultCount"] == 5
    assert "includedDomains" not in search


@pytest.mark.parametrize("model", ["gemini-3.5-flash", "gemini-3-flash-agent", "claude-sonnet-4-6"])
def test_a_model_not_listed_as_searching_gets_the_chat_request(model: str) -> None:
    """CPA: TestConvertClaudeRequestToAntigravity_DoesNotMapTypedWebSearchForUnsupportedRouteModel,
    TestConvertClaudeRequestToAntigravity_DoesNotMapTypedWebSearchForFlashAgentWithoutCapability,
    TestConvertClaudeRequestToAntigravity_DoesNotMapTypedWebSearchForOtherModels."""
    c = cred()
    _, out = build(provider_listing(c, "gemini-3.1-flash-lite"), c, claude_request(WEB_SEARCH), model)
    assert out["model"] == model and out["requestType"] == "agent"
    assert not any("googleSearch" in t for t in out["request"].get("tools", []))
    assert ws.CARRIED not in out["request"]  # the marker never reaches the upstream


def test_mixed_tools_are_no_search() -> None:
    """CPA: TestConvertClaudeRequestToAntigravity_DoesNotMapTypedWebSearchWhenMixedWithCustomTools."""
    lookup = {"name": "lookup", "description": "Lookup local data", "input_schema": {"type": "object"}}
    assert ws.search_ask(claude_request({**WEB_SEARCH, "max_uses": 8}, lookup)) is None
    assert ws.search_ask(claude_request()) is None  # no tool at all
    assert ws.search_ask({"messages": []}) is None
    assert ws.search_ask(claude_request({"type": "web_search_20260209", "name": "web_search"})) is not None


@pytest.mark.parametrize(
    ("choice", "allowed"),
    [
        (None, True),
        ("auto", True),
        ("any", True),
        ("none", False),
        ({"type": "auto"}, True),
        ({"type": "any"}, True),
        ({"type": "none"}, False),
        ({"type": "tool", "name": "web_search"}, True),
        ({"type": "tool", "name": "other"}, False),
        (3, False),
    ],
)
def test_tool_choice_must_allow_the_search(choice: Any, allowed: bool) -> None:
    body = claude_request(WEB_SEARCH)
    if choice is not None:
        body["tool_choice"] = choice
    assert (ws.search_ask(body) is not None) is allowed


def test_the_query_is_the_last_user_text() -> None:
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "answer"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": " Perform a web search for the query: x "},
                {"type": "image", "source": {}},
                {"type": "text", "text": "more"},
            ],
        },
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]},
    ]
    ask = ws.search_ask({"messages": messages, "tools": [WEB_SEARCH]})
    assert ask is not None and ask["query"] == "Perform a web search for the query: x\nmore"
    assert (
        ws.search_ask({"messages": [{"content": "  no role  "}], "tools": [WEB_SEARCH]})["query"] == "no role"
    )  # type: ignore[index]


def test_count_tokens_drops_the_marker() -> None:
    c = cred()
    req, out = build(
        provider_listing(c, "gemini-3.1-flash-lite"),
        c,
        claude_request(WEB_SEARCH),
        "gemini-3.1-flash-lite",
        action="count",
    )
    assert req.url.endswith(":countTokens") and set(out) == {"request"} and ws.CARRIED not in out["request"]


# ---- the list of searching models, per credential --------------------------------------


async def test_prepare_asks_once_and_only_for_a_search(fake_gemini: Any) -> None:
    fake_gemini.web_search_models = ["gemini-3.1-flash-lite", " Fetched-Only-Search-Model "]
    c = cred(fake_gemini.base_url)
    provider = AntigravityProvider()
    http = HttpClient()
    try:
        assert provider.prepare(c, http, body=gemini_body()) is None  # not a search: nothing asked
        assert provider.prepare(c, http) is None
        body = gemini_body()
        ws.carry(body, claude_request(WEB_SEARCH))
        pending = provider.prepare(c, http, body=body)
        assert pending is not None
        await asyncio.gather(pending, provider.prepare(c, http, body=body))  # type: ignore[arg-type]
        asked = [r for r in fake_gemini.requests if r.path.endswith(":fetchAvailableModels")]
        assert len(asked) == 1  # concurrent searches share one call
        assert asked[0].headers["Authorization"] == "Bearer ya29.tok" and asked[0].json == {}
        assert asked[0].headers["User-Agent"].startswith("antigravity/hub/")
        assert provider.searches.searches(c, "gemini-3.1-flash-lite")
        assert provider.searches.searches(c, "fetched-only-search-model")  # normalised: trimmed, lower case
        assert not provider.searches.searches(c, "gemini-3-flash-agent")
        assert provider.prepare(c, http, body=body) is None  # known now
    finally:
        await http.close()


async def test_a_failed_call_never_fails_the_request_and_is_retried_later(
    fake_gemini: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fake_gemini.models_status = 500
    now = [1000.0]
    c = cred(fake_gemini.base_url)
    provider = AntigravityProvider()
    provider.searches = ws.SearchModels(clock=lambda: now[0])
    body = gemini_body()
    ws.carry(body, claude_request(WEB_SEARCH))
    http = HttpClient()
    try:
        with caplog.at_level(logging.WARNING):
            await provider.prepare(c, http, body=body)  # type: ignore[misc]
        assert "could not ask which models run web searches" in caplog.text and "ya29" not in caplog.text
        assert not provider.searches.searches(c, "gemini-3-flash")
        assert provider.prepare(c, http, body=body) is None  # not asked again at once
        _, out = build(provider, c, claude_request(WEB_SEARCH), "gemini-3-flash")
        assert out["requestType"] == "agent"  # the search goes as a chat request
        fake_gemini.models_status = 200
        now[0] += ws.RETRY_AFTER
        await provider.prepare(c, http, body=body)  # type: ignore[misc]
        assert provider.searches.searches(c, "gemini-3-flash")
        now[0] += ws.FRESH_FOR - 1
        assert provider.prepare(c, http, body=body) is None
        now[0] += 1
        pending = provider.prepare(c, http, body=body)
        assert pending is not None  # an hour on: asked again
        await pending
        assert len([r for r in fake_gemini.requests if r.path.endswith(":fetchAvailableModels")]) == 3
    finally:
        await http.close()
