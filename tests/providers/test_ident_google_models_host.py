"""Where an Antigravity account asks which models run web searches
(``fetchAvailableModels``): CPA's ``fetchAntigravityModelCapabilityHintsForAuth``
(``sdk/cliproxy/antigravity_models.go``) asks the daily Cloud Code host first and the
production one when daily fails or lists none; a file's own ``base_url`` is its one host.
The fake Gemini server (tests/fakes/gemini.py) stands for the daily host, a second small
server for production (the endpoint table's ``api-daily`` and ``api``, moved by the
environment)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anthropic
import orjson
import pytest
from aiohttp import web

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.antigravity_search import SearchModels
from cliproxy.providers.http import HttpClient
from tests.conftest import StartProxy
from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import FAR

MODEL = "gemini-3-flash"  # the fake Gemini lists it in webSearchModelIds
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}


class Production:
    """Cloud Code's production host: only the list of models (it lists ``MODEL``)."""

    def __init__(self) -> None:
        self.asked: list[dict[str, str]] = []  # the headers of each fetchAvailableModels
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _models(self, request: web.Request) -> web.Response:
        self.asked.append(dict(request.headers))
        return web.json_response({"models": {MODEL: {}}, "webSearchModelIds": [MODEL]})

    async def start(self) -> Production:
        app = web.Application()
        app.router.add_post("/v1internal:fetchAvailableModels", self._models)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


@pytest.fixture
async def prod(fakes: Any, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Production]:
    server = await Production().start()
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API", server.url)
    monkeypatch.setenv("CLIPROXY_OAUTH_ANTIGRAVITY_API_DAILY", fakes.gemini.base_url)
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


def _auth(tmp_path: Path, base_url: str = "") -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    data = {
        "type": "antigravity",
        "access_token": "ag-token",
        "refresh_token": "ag-refresh",
        "expired": FAR,
        "project_id": "ag-project",
        "email": "ag@example.com",
    }
    if base_url:
        data["base_url"] = base_url
    (auth_dir / "antigravity-ag.json").write_bytes(orjson.dumps(data))


async def _search(start_proxy: StartProxy) -> anthropic.types.Message:
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-retry: 0\n')
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        return await client.messages.create(
            model=MODEL,
            max_tokens=256,
            messages=[{"role": "user", "content": "Perform a web search for the query: weather"}],
            tools=[WEB_SEARCH],  # type: ignore[list-item]
        )


def _daily_asked(fakes: Any) -> list[Any]:
    return [r for r in fakes.gemini.requests if r.path.endswith(":fetchAvailableModels")]


def _searched(fakes: Any) -> list[Any]:
    return [r.json for r in fakes.gemini.requests if r.path.endswith("enerateContent")]


async def test_the_list_is_asked_on_the_daily_host(
    start_proxy: StartProxy, fakes: Any, prod: Production, tmp_path: Path
) -> None:
    """Before: the list went to production."""
    _auth(tmp_path)
    message = await _search(start_proxy)
    assert message.content[0].type == "server_tool_use"
    assert len(_daily_asked(fakes)) == 1 and prod.asked == []
    assert [s["requestType"] for s in _searched(fakes)] == ["web_search"]


async def test_production_is_asked_when_daily_fails(
    start_proxy: StartProxy, fakes: Any, prod: Production, tmp_path: Path
) -> None:
    """CPA asks the next host when daily's answer fails."""
    fakes.gemini.models_status = 500
    _auth(tmp_path)
    message = await _search(start_proxy)
    assert message.content[0].type == "server_tool_use"
    assert len(_daily_asked(fakes)) == 1 and len(prod.asked) == 1
    assert prod.asked[0]["Authorization"] == "Bearer ag-token"


async def test_production_is_asked_when_daily_lists_none(fakes: Any, prod: Production) -> None:
    """CPA asks the next host when daily's list names no searching model (the search
    itself would go to daily, which searches with none: asked of the list alone here)."""
    fakes.gemini.web_search_models = []
    cred = Credential(
        id="antigravity-ag.json",
        provider="antigravity",
        kind=KIND_OAUTH,
        metadata={"access_token": "ag-token"},
    )
    models = SearchModels()
    http = HttpClient()
    try:
        await models.ensure(
            cred, http, base_url=fakes.gemini.base_url, user_agent="ua", proxy="", fallback_url=prod.url
        )
    finally:
        await http.close()
    assert len(_daily_asked(fakes)) == 1 and len(prod.asked) == 1
    assert models.searches(cred, MODEL) and not models.due(cred)


async def test_a_credential_base_url_is_its_one_host(
    start_proxy: StartProxy, fakes: Any, prod: Production, tmp_path: Path
) -> None:
    _auth(tmp_path, fakes.gemini.base_url)
    fakes.gemini.models_status = 500
    message = await _search(start_proxy)
    assert message.content[0].type == "text"  # no list: the search went as chat
    assert len(_daily_asked(fakes)) == 1 and prod.asked == []
