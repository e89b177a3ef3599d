"""Codex Alpha Search (``POST /v1/alpha/search``, ``/backend-api/codex/alpha/search``)
through a running proxy against the fake Codex backend: CPA's internal/api/server_test.go
``TestCodexAlphaSearch*`` cases, each named in its test's docstring.

Deliberate differences, asserted here: a body that is not a JSON object is the client's 400
(CPA forwards whatever bytes came); a search whose account is at its limit fails over to
the next account (CPA returns the first account's answer whatever its status)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tests.e2e.clients import KEY
from tests.fakes.oauth import fake_jwt

PATHS = ("/v1/alpha/search", "/backend-api/codex/alpha/search")


def write_codex(tmp_path: Path, fake: Any, name: str, account: str = "") -> None:
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    claims = {"https://api.openai.com/auth": {"chatgpt_plan_type": "plus", "chatgpt_account_id": name}}
    doc = {
        "type": "codex",
        "access_token": f"token-{name}",
        "refresh_token": f"refresh-{name}",
        "email": f"{name}@example.com",
        "expired": "2099-01-01T00:00:00Z",
        "id_token": fake_jwt(claims),
        "base_url": fake.base_url + "/backend-api/codex",
    }
    if account:
        doc["account_id"] = account
    (auth_dir / f"{name}.json").write_bytes(orjson.dumps(doc))


def api_key_entry(fake: Any, key: str, *, alpha: bool, extra: str = "") -> str:
    flag = "\n    alpha-search: true" if alpha else ""
    return f'  - api-key: "{key}"\n    base-url: "{fake.base_url}/v1/"{flag}{extra}\n'


async def post(
    url: str, body: Any, headers: dict[str, str] | None = None, path: str = PATHS[0]
) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    sent = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **(headers or {})}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as s:
        async with s.post(url + path, data=raw, headers=sent) as r:
            return r.status, orjson.loads(await r.read()), r.headers


def searches(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("/alpha/search")]


async def test_a_search_reaches_codex_as_it_came(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchForwardsRequest: the body byte for byte on the sign-in's
    /backend-api/codex/alpha/search, its token, account id and the client's Session_id;
    the JSON answer back as it came."""
    write_codex(tmp_path, fake_responses, "solo", account="account-123")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    status, answer, headers = await post(proxy.url, {"query": "GPT-5.6"}, {"Session_id": "session-123"})
    assert status == 200, answer
    assert answer["results"] == [{"url": "https://example.com"}]
    assert headers["Content-Type"].startswith("application/json")
    [seen] = searches(fake_responses)
    assert seen.path == "/backend-api/codex/alpha/search"
    assert seen.body == b'{"query":"GPT-5.6"}'
    assert seen.headers["Authorization"] == "Bearer token-solo"
    assert seen.headers["Chatgpt-Account-Id"] == "account-123"
    assert seen.headers["Session_id"] == "session-123"
    assert seen.headers["Originator"] == "codex_cli_rs"
    assert seen.headers["Accept"] == "application/json"


async def test_responses_only_fields_are_dropped_on_both_paths(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchSanitizesResponsesOnlyFields: prompt_cache_key and
    prompt_cache_retention (which the search endpoint refuses) are dropped; id, model and
    commands stay, on either route."""
    write_codex(tmp_path, fake_responses, "solo")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    body = {
        "id": "session-123",
        "model": "gpt-5.6-sol",
        "commands": {"search_query": [{"q": "golang channels"}]},
        "prompt_cache_key": "cache-123",
        "prompt_cache_retention": "24h",
    }
    for path in PATHS:
        status, answer, _ = await post(proxy.url, body, path=path)
        assert status == 200, answer
        assert answer["results"][0]["title"] == "golang channels"
    for seen in searches(fake_responses):
        assert set(seen.json) == {"id", "model", "commands"}
        assert seen.json["model"] == "gpt-5.6-sol"  # a sign-in gets the client's model as it came


async def test_only_opted_in_api_keys_serve_searches(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchCredentialPolicy: beside a sign-in, an ordinary codex-api-key
    entry (no alpha-search) is never picked for a search, though it serves /responses."""
    write_codex(tmp_path, fake_responses, "oauth")
    entry = api_key_entry(fake_responses, "sk-plain", alpha=False)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entry}')
    for _ in range(4):
        status, answer, _ = await post(proxy.url, {"query": "GPT-5.6"})
        assert status == 200, answer
    assert [r.key for r in searches(fake_responses)] == ["token-oauth"] * 4


async def test_an_ordinary_api_key_alone_cannot_search(start_proxy: Any, fake_responses: Any) -> None:
    """TestCodexAlphaSearchCredentialPolicy ("ordinary API key only"): 503 in the OpenAI
    error shape, nothing sent upstream.
    CPA: TestManagerCodexAlphaSearchPolicyRejectsOrdinaryAPIKey."""
    entry = api_key_entry(fake_responses, "sk-plain", alpha=False)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entry}')
    status, answer, _ = await post(proxy.url, {"query": "GPT-5.6"})
    assert status == 503, answer
    assert isinstance(answer["error"]["message"], str)
    assert searches(fake_responses) == []


async def test_an_opted_in_api_key_uses_its_base_url(start_proxy: Any, fake_responses: Any) -> None:
    """TestCodexAlphaSearchOptInAPIKeyUsesConfiguredEndpoint: base-url + /alpha/search (the
    trailing slash of the base URL dropped), the key as a bearer token, the Responses-only
    fields dropped."""
    entry = api_key_entry(fake_responses, "codex-alpha-key", alpha=True)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ncodex-api-key:\n{entry}')
    body = {"query": "golang", "prompt_cache_key": "cache", "prompt_cache_retention": "24h"}
    status, answer, _ = await post(proxy.url, body)
    assert status == 200, answer
    [seen] = searches(fake_responses)
    assert seen.path == "/v1/alpha/search"
    assert seen.headers["Authorization"] == "Bearer codex-alpha-key"
    assert seen.json == {"query": "golang"}  # no model in the body: none added
    assert "Chatgpt-Account-Id" not in seen.headers


async def test_an_api_key_gets_its_own_model_name(start_proxy: Any, fake_responses: Any) -> None:
    """TestCodexAlphaSearchOptInAPIKeyStripsCredentialPrefix and
    TestCodexAlphaSearchOptInAPIKeyResolvesModelAlias: a name under the entry's prefix and
    a prefixed alias both reach the API key's upstream as its own model name; the rest of
    the body stays (TestRewriteCodexAlphaSearchModel; a body without a model gets none:
    test_an_opted_in_api_key_uses_its_base_url)."""
    plain = api_key_entry(fake_responses, "key-plain", alpha=True, extra='\n    prefix: "vendor"')
    aliased = api_key_entry(
        fake_responses,
        "key-alias",
        alpha=True,
        extra='\n    prefix: "team"\n    models:\n      - {name: "gpt-5.6-sol", alias: "sol-alias"}',
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ncodex-api-key:\n{plain}{aliased}')
    for requested in ("vendor/gpt-5.4-mini", "team/sol-alias"):
        body = {"model": requested, "commands": {"search_query": [{"q": "golang"}]}}
        status, answer, _ = await post(proxy.url, body)
        assert status == 200, answer
    sent = [(r.key, r.json["model"]) for r in searches(fake_responses)]
    assert sent == [("key-plain", "gpt-5.4-mini"), ("key-alias", "gpt-5.6-sol")]
    assert all("commands" in r.json for r in searches(fake_responses))


async def test_the_search_id_keeps_a_session_on_one_account(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchUsesRequestIDForSessionAffinity: with session affinity on, two
    search sessions go to two accounts and the first session returns to its own."""
    write_codex(tmp_path, fake_responses, "a")
    write_codex(tmp_path, fake_responses, "b")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrouting:\n  session-affinity: true\n')
    for session in ("session-a", "session-b", "session-a", "session-b"):
        status, answer, _ = await post(proxy.url, {"id": session, "model": "gpt-5.6-luna"})
        assert status == 200, answer
    keys = [r.key for r in searches(fake_responses)]
    assert keys[0] != keys[1]
    assert keys[2] == keys[0] and keys[3] == keys[1]


async def test_a_limited_account_fails_over(start_proxy: Any, fake_responses: Any, tmp_path: Path) -> None:
    """Not CPA's (it returns the first account's answer): an account at its usage limit
    cools down and the next one serves the same search; the cooled one is not tried again."""
    write_codex(tmp_path, fake_responses, "a")
    write_codex(tmp_path, fake_responses, "b")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    fake_responses.fail_next(429, retry_after=600, path="alpha/search")
    status, answer, _ = await post(proxy.url, {"query": "one"})
    assert status == 200, answer
    first, second = (r.key for r in searches(fake_responses))
    assert first != second
    status, answer, _ = await post(proxy.url, {"query": "two"})
    assert status == 200, answer
    assert searches(fake_responses)[-1].key == second


async def test_a_body_that_is_not_an_object_is_the_clients_400(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """Not CPA's (it forwards any bytes): a body that is not a JSON object is refused in the
    OpenAI error shape before any account is picked."""
    write_codex(tmp_path, fake_responses, "solo")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    for body in (b"not json", b"[1, 2]"):
        status, answer, _ = await post(proxy.url, body)
        assert status == 400, answer
        assert answer["error"]["type"] == "invalid_request_error"
    assert searches(fake_responses) == []


SEARCH_ROUTER = """
from cliproxy.plugins.api import *
import json

class Router(Plugin, ModelRouter):
    name = "search-router"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def route(self, req):
        with open({log!r}, "a") as f:
            f.write(json.dumps({{"format": req.source_format, "model": req.requested_model,
                                "auth": req.headers.get("Authorization", "")}}) + "\\n")
        if req.source_format != "codex-alpha-search":
            return None
        return RouteDecision.provider({provider!r}, {model!r})
plugin = Router()
"""


async def _with_router(start_proxy: Any, tmp_path: Path, provider: str, model: str, extra: str = "") -> Any:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    log = tmp_path / "routed.jsonl"
    (plugins / "search_router.py").write_text(
        SEARCH_ROUTER.format(log=str(log), provider=provider, model=model)
    )
    config = (
        f'api-keys: ["{KEY}"]\nplugins:\n  enabled: true\n  dir: "{plugins}"\n'
        "  configs:\n    search_router:\n      enabled: true\n"
    )
    return await start_proxy(config + extra)


async def test_a_model_router_picks_the_searching_account(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchUsesPluginProviderTargetModel: a router shown the search (source
    format codex-alpha-search, the requested model, the client's headers) names codex and
    a prefixed model: the account under that prefix serves it on both routes, and the body
    goes upstream as the client wrote it."""
    for name in ("team-a", "team-b"):
        write_codex(tmp_path, fake_responses, name)
        path = tmp_path / "auths" / f"{name}.json"
        path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), "prefix": name}))
    proxy = await _with_router(start_proxy, tmp_path, "codex", "team-b/gpt-5.4-mini")
    body = {"id": "session-123", "model": "gpt-5.4-mini", "commands": {"search_query": [{"q": "golang"}]}}
    for path in PATHS:
        status, answer, _ = await post(proxy.url, body, path=path)
        assert status == 200, answer
    assert [r.key for r in searches(fake_responses)] == ["token-team-b"] * 2
    assert all(orjson.loads(r.body) == body for r in searches(fake_responses))
    routed = [orjson.loads(line) for line in (tmp_path / "routed.jsonl").read_text().splitlines()]
    assert (
        routed == [{"format": "codex-alpha-search", "model": "gpt-5.4-mini", "auth": [f"Bearer {KEY}"]}] * 2
    )


async def test_a_model_router_naming_another_provider_refuses_the_search(
    start_proxy: Any, fake_responses: Any, fake_claude: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchRejectsUnsupportedPluginRouteTarget: a router that sends the
    search anywhere but codex gets it refused with 503; nothing goes upstream."""
    write_codex(tmp_path, fake_responses, "solo")
    claude = f'claude-api-key:\n  - api-key: "sk-ant"\n    base-url: "{fake_claude.base_url}"\n'
    proxy = await _with_router(start_proxy, tmp_path, "claude", "claude-sonnet-4-6", claude)
    status, answer, _ = await post(proxy.url, {"model": "gpt-5.4-mini"})
    assert status == 503, answer
    assert "unsupported Codex Alpha Search model route target" in answer["error"]["message"]
    assert searches(fake_responses) == [] and fake_claude.requests == []


async def test_a_model_router_that_does_not_handle_the_search_leaves_it_be(
    start_proxy: Any, fake_responses: Any, tmp_path: Path
) -> None:
    """TestCodexAlphaSearchFallsBackWhenPluginDoesNotHandleRoute: the router is asked once,
    declines, and the search goes to the Codex account as it came."""
    write_codex(tmp_path, fake_responses, "solo")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    log = tmp_path / "routed.jsonl"
    declining = SEARCH_ROUTER.replace('req.source_format != "codex-alpha-search"', "True")
    (plugins / "search_router.py").write_text(declining.format(log=str(log), provider="codex", model="x"))
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nplugins:\n  enabled: true\n  dir: "{plugins}"\n'
        "  configs:\n    search_router:\n      enabled: true\n"
    )
    body = {"model": "gpt-5.4-mini"}
    status, answer, _ = await post(proxy.url, body)
    assert status == 200, answer
    [seen] = searches(fake_responses)
    assert seen.key == "token-solo" and orjson.loads(seen.body) == body
    assert len(log.read_text().splitlines()) == 1


async def test_an_opted_in_api_key_without_a_base_url_fails_closed(
    start_proxy: Any, fake_responses: Any
) -> None:
    """TestCodexAlphaSearchOptInAPIKeyWithoutBaseURLFailsClosed: an API key searches only at
    its own base URL; without one the search is refused with 503 naming the policy and sent
    nowhere (cliproxy loads no codex-api-key entry without a base-url at all)."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "codex-alpha-key"\n    alpha-search: true\n'
    )
    status, answer, _ = await post(proxy.url, {"query": "GPT-5.6"})
    assert status == 503, answer
    assert "alpha-search" in answer["error"]["message"]
    assert searches(fake_responses) == []


async def test_a_search_is_in_the_request_log(start_proxy: Any, fake_responses: Any, tmp_path: Path) -> None:
    """TestCodexAlphaSearchRecordsRequestLog: with ``request-log: true`` the search's log
    holds the upstream request (URL and body) and the upstream answer."""
    from tests.usage.helpers import logs, settle

    write_codex(tmp_path, fake_responses, "solo")
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nrequest-log: true\n')
    status, answer, _ = await post(proxy.url, {"query": "GPT-5.6"})
    assert status == 200, answer
    [log] = logs(await settle(proxy))
    text = log.read_text()
    assert "=== API REQUEST 1 ===" in text and "=== API RESPONSE 1 ===" in text
    assert fake_responses.base_url + "/backend-api/codex/alpha/search" in text
    assert '{"query":"GPT-5.6"}' in text
    assert orjson.dumps(answer).decode() in text
