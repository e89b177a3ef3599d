"""/v0/management keys: client api-keys, provider key lists, OAuth maps, api-key-usage."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.management.conftest import mcall

BASE = """\
# clients
api-keys:
  - "client-1"  # laptop
  - "client-2"
"""

MSG = {"model": "claude-sonnet-4-6", "max_tokens": 20, "messages": [{"role": "user", "content": "hi"}]}


async def _models_status(proxy, key: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v1/models", headers={"Authorization": f"Bearer {key}"}) as r,
    ):
        await r.read()
        return r.status


async def _ask_claude(proxy, key: str = "client-1") -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=MSG, headers={"x-api-key": key}) as r,
    ):
        await r.read()
        return r.status


# -- api-keys


async def test_api_keys_get_put_and_live_effect(mproxy):
    proxy = await mproxy(BASE)
    assert await mcall(proxy, "GET", "/api-keys") == (200, {"api-keys": ["client-1", "client-2"]})
    assert await _models_status(proxy, "client-3") == 401
    assert await mcall(proxy, "PUT", "/api-keys", ["client-3"]) == (200, {"status": "ok"})
    assert await _models_status(proxy, "client-3") == 200
    assert await _models_status(proxy, "client-1") == 401
    assert await mcall(proxy, "PUT", "/api-keys", {"items": ["client-4", "client-5"]}) == (
        200,
        {"status": "ok"},
    )
    assert (await mcall(proxy, "GET", "/api-keys"))[1] == {"api-keys": ["client-4", "client-5"]}
    for bad in ({"items": []}, {"x": 1}, [1, 2], "nope"):
        assert await mcall(proxy, "PUT", "/api-keys", bad) == (400, {"error": "invalid body"})


async def test_api_keys_patch(mproxy):
    proxy = await mproxy(BASE)
    assert await mcall(proxy, "PATCH", "/api-keys", {"index": 1, "value": "client-x"}) == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "PATCH", "/api-keys", {"old": "client-1", "new": "client-y"}) == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "PATCH", "/api-keys", {"old": "absent", "new": "client-z"}) == (
        200,
        {"status": "ok"},
    )
    assert (await mcall(proxy, "GET", "/api-keys"))[1]["api-keys"] == ["client-y", "client-x", "client-z"]
    assert "# laptop" in proxy.config_path.read_text() and "# clients" in proxy.config_path.read_text()
    assert await _models_status(proxy, "client-z") == 200 and await _models_status(proxy, "client-1") == 401
    assert await mcall(proxy, "PATCH", "/api-keys", {"index": 9, "value": "v"}) == (
        400,
        {"error": "missing fields"},
    )
    assert await mcall(proxy, "PATCH", "/api-keys", {}) == (400, {"error": "missing fields"})
    assert await mcall(proxy, "PATCH", "/api-keys", {"index": "0", "value": "v"}) == (
        400,
        {"error": "invalid body"},
    )


async def test_api_keys_delete(mproxy):
    proxy = await mproxy(BASE + '  - "client-3"\n')
    assert await mcall(proxy, "DELETE", "/api-keys?index=2") == (200, {"status": "ok"})
    assert await mcall(proxy, "DELETE", "/api-keys?value=client-1") == (200, {"status": "ok"})
    assert (await mcall(proxy, "GET", "/api-keys"))[1]["api-keys"] == ["client-2"]
    assert await _models_status(proxy, "client-1") == 401
    assert await mcall(proxy, "DELETE", "/api-keys") == (400, {"error": "missing index or value"})
    assert await mcall(proxy, "DELETE", "/api-keys?index=7") == (400, {"error": "missing index or value"})


async def test_twenty_concurrent_api_key_writers_lose_nothing(mproxy):
    proxy = await mproxy(BASE)
    new = [f"client-n{i}" for i in range(20)]
    results = await asyncio.gather(*(mcall(proxy, "PATCH", "/api-keys", {"old": "-", "new": k}) for k in new))
    assert all(r == (200, {"status": "ok"}) for r in results)
    keys = (await mcall(proxy, "GET", "/api-keys"))[1]["api-keys"]
    assert keys[:2] == ["client-1", "client-2"] and sorted(keys[2:]) == sorted(new)
    assert "# laptop" in proxy.config_path.read_text()
    assert await _models_status(proxy, "client-n13") == 200


async def test_api_key_usage_shape(mproxy):
    proxy = await mproxy(
        BASE + "claude-api-key:\n  - api-key: sk-c\n    base-url: https://c.example\n"
        "codex-api-key:\n  - api-key: sk-x\n    base-url: https://x.example\n"
    )
    status, body = await mcall(proxy, "GET", "/api-key-usage")
    assert status == 200 and set(body) == {"claude", "codex"}
    entry = body["claude"]["https://c.example|sk-c"]
    assert entry["success"] == 0 and entry["failed"] == 0 and len(entry["recent_requests"]) == 20
    assert set(entry["recent_requests"][0]) == {"time", "success", "failed"}
    assert list(body["codex"]) == ["https://x.example|sk-x"]


# -- provider key lists


async def test_new_claude_key_serves_a_model(mproxy, fake_claude):
    proxy = await mproxy(BASE)
    assert await _ask_claude(proxy) != 200
    entry = {"api-key": "sk-live", "base-url": fake_claude.base_url, "auth-index": "ignored"}
    assert await mcall(proxy, "PUT", "/claude-api-key", [entry]) == (200, {"status": "ok"})
    assert await _ask_claude(proxy) == 200
    assert fake_claude.requests[-1].key == "sk-live"
    assert "auth-index" not in proxy.config_path.read_text()
    _, body = await mcall(proxy, "GET", "/claude-api-key")
    [item] = body["claude-api-key"]
    assert item["api-key"] == "sk-live" and item["base-url"] == fake_claude.base_url
    cred = next(c for c in proxy.service.pool.credentials() if c.api_key == "sk-live")
    assert item["auth-index"] == cred.index and len(cred.index) == 16
    assert await mcall(proxy, "DELETE", "/claude-api-key?api-key=sk-live") == (200, {"status": "ok"})
    assert await _ask_claude(proxy) != 200


CLAUDE = (
    BASE
    + """\
claude-api-key:
  # primary account
  - api-key: "sk-a"  # key a
    base-url: "https://a.example"
    prefix: team
  - api-key: "sk-b"
    base-url: "https://b.example"
"""
)


async def test_claude_patch_keeps_comments_and_validates(mproxy):
    proxy = await mproxy(CLAUDE)
    patch = {
        "match": "sk-b",
        "value": {
            "weight": 5,
            "prefix": "",
            "headers": {" X-A ": " 1 "},
            "disable-cooling": False,
            "unknown": 1,
            "proxy-url": None,
        },
    }
    assert await mcall(proxy, "PATCH", "/claude-api-key", patch) == (200, {"status": "ok"})
    text = proxy.config_path.read_text()
    assert "# primary account" in text and "# key a" in text and "unknown" not in text
    _, body = await mcall(proxy, "GET", "/claude-api-key")
    b = body["claude-api-key"][1]
    assert b["weight"] == 5 and b["headers"] == {"X-A": "1"} and b["disable-cooling"] is False
    assert await mcall(proxy, "PATCH", "/claude-api-key", {"index": 0, "value": {"prefix": ""}}) == (
        200,
        {"status": "ok"},
    )
    assert "prefix" not in proxy.config_path.read_text()
    assert await mcall(
        proxy, "PATCH", "/claude-api-key", {"index": 1, "value": {"weight": None, "disable-cooling": None}}
    ) == (200, {"status": "ok"})
    _, body = await mcall(proxy, "GET", "/claude-api-key")
    assert "weight" not in body["claude-api-key"][1] and "disable-cooling" not in body["claude-api-key"][1]
    cases = [
        ({"match": "nope", "value": {}}, 404, "item not found"),
        ({"index": 0}, 400, "invalid body"),
        ({"index": 0, "value": {"weight": "x"}}, 400, "weight must be an integer"),
        ({"index": 0, "value": {"disable-cooling": 1}}, 400, "disable-cooling must be a boolean or null"),
        ({"index": 0, "value": {"fingerprint-profile": "bogus"}}, 400, None),
        ({"index": 0, "value": {"weight": 2_000_000}}, 400, None),
    ]
    before = proxy.config_path.read_text()
    for body, status, error in cases:
        got_status, got = await mcall(proxy, "PATCH", "/claude-api-key", body)
        assert got_status == status and (error is None or got == {"error": error}), (body, got)
    assert proxy.config_path.read_text() == before


async def test_claude_put_validates_weight_with_key_path(mproxy):
    proxy = await mproxy(CLAUDE)
    status, body = await mcall(proxy, "PUT", "/claude-api-key", {"items": [{"api-key": "k", "weight": "x"}]})
    assert status == 400 and body["error"].startswith("claude-api-key[0].weight")
    status, body = await mcall(
        proxy, "PUT", "/claude-api-key", [{"api-key": "k", "fingerprint-profile": "x"}]
    )
    assert status == 400 and "fingerprint-profile" in body["error"]
    assert len(proxy.service.config.claude_api_key) == 2


async def test_claude_delete_rules(mproxy):
    proxy = await mproxy(CLAUDE + '  - api-key: "sk-a"\n    base-url: "https://a2.example"\n')
    status, body = await mcall(proxy, "DELETE", "/claude-api-key?api-key=sk-a")
    assert (status, body) == (400, {"error": "multiple items match api-key; base-url is required"})
    assert await mcall(proxy, "DELETE", "/claude-api-key?api-key=sk-a&base-url=https://a2.example") == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "DELETE", "/claude-api-key?api-key=absent") == (200, {"status": "ok"})
    assert await mcall(proxy, "DELETE", "/claude-api-key?index=1") == (200, {"status": "ok"})
    assert [e.api_key for e in proxy.service.config.claude_api_key] == ["sk-a"]
    assert await mcall(proxy, "DELETE", "/claude-api-key") == (400, {"error": "missing api-key or index"})


GEMINI = """\
gemini-api-key:
  - api-key: g1
    base-url: https://one.example
  - api-key: g1
    base-url: https://two.example
  - api-key: g2
"""


async def test_gemini_identity_rules(mproxy):
    proxy = await mproxy(GEMINI)
    assert await mcall(proxy, "PATCH", "/gemini-api-key", {"match": "g1", "value": {"prefix": "x"}}) == (
        400,
        {"error": "multiple items match; index is required"},
    )
    assert await mcall(
        proxy,
        "PATCH",
        "/gemini-api-key?base-url=https://two.example",
        {"match": "g1", "value": {"prefix": "p2"}},
    ) == (200, {"status": "ok"})
    assert proxy.service.config.gemini_api_key[1].prefix == "p2"
    assert await mcall(proxy, "DELETE", "/gemini-api-key?api-key=g1") == (
        400,
        {"error": "multiple items match api-key; base-url is required"},
    )
    assert await mcall(proxy, "DELETE", "/gemini-api-key?api-key=zz") == (404, {"error": "item not found"})
    assert await mcall(proxy, "DELETE", "/gemini-api-key?api-key=g1&base-url=https://three.example") == (
        404,
        {"error": "item not found"},
    )
    assert await mcall(proxy, "DELETE", "/gemini-api-key?api-key=g1&base-url=https://one.example") == (
        200,
        {"status": "ok"},
    )
    # clearing both api-key and base-url removes the entry
    assert await mcall(proxy, "PATCH", "/gemini-api-key", {"match": "g2", "value": {"api-key": ""}}) == (
        200,
        {"status": "ok"},
    )
    _, body = await mcall(proxy, "GET", "/gemini-api-key")
    assert [e["base-url"] for e in body["gemini-api-key"]] == ["https://two.example"]


async def test_codex_xai_drop_entries_without_base_url(mproxy):
    proxy = await mproxy("codex-api-key:\n  - api-key: c1\n    base-url: https://c.example\n")
    items = [
        {"api-key": "c2", "base-url": ""},
        {"api-key": "c3", "base-url": "https://c3.example", "alpha-search": True},
    ]
    assert await mcall(proxy, "PUT", "/codex-api-key", items) == (200, {"status": "ok"})
    _, body = await mcall(proxy, "GET", "/codex-api-key")
    assert [(e["api-key"], e.get("alpha-search")) for e in body["codex-api-key"]] == [("c3", True)]
    assert await mcall(proxy, "PATCH", "/codex-api-key", {"index": 0, "value": {"base-url": " "}}) == (
        200,
        {"status": "ok"},
    )
    assert proxy.service.config.codex_api_key == []
    assert await mcall(
        proxy, "PUT", "/xai-api-key", [{"api-key": "x1", "base-url": "https://x.example"}]
    ) == (200, {"status": "ok"})
    assert await mcall(
        proxy, "PATCH", "/xai-api-key", {"match": "x1", "value": {"priority": 3, "websockets": True}}
    ) == (200, {"status": "ok"})
    xai = proxy.service.config.xai_api_key[0]
    assert xai.priority == 3 and xai.websockets is True


async def test_vertex_requires_api_key(mproxy):
    proxy = await mproxy("")
    assert await mcall(proxy, "PUT", "/vertex-api-key", [{"base-url": "https://v.example"}]) == (
        400,
        {"error": "vertex-api-key[0].api-key is required"},
    )
    assert await mcall(
        proxy,
        "PUT",
        "/vertex-api-key",
        [{"api-key": "v1", "models": [{"name": "gemini-2.5-pro", "alias": "vp"}]}],
    ) == (200, {"status": "ok"})
    _, body = await mcall(proxy, "GET", "/vertex-api-key")
    [item] = body["vertex-api-key"]
    assert item["api-key"] == "v1" and item["models"] == [{"name": "gemini-2.5-pro", "alias": "vp"}]
    assert item["auth-index"]
    assert await mcall(proxy, "PATCH", "/vertex-api-key", {"match": "v1", "value": {"api-key": ""}}) == (
        200,
        {"status": "ok"},
    )
    assert proxy.service.config.vertex_api_key == []


async def test_interactions_list(mproxy):
    proxy = await mproxy("")
    assert await mcall(proxy, "PUT", "/interactions-api-key", {"items": [{"api-key": "i1"}]}) == (
        200,
        {"status": "ok"},
    )
    _, body = await mcall(proxy, "GET", "/interactions-api-key")
    assert (
        body["interactions-api-key"][0]["api-key"] == "i1" and body["interactions-api-key"][0]["auth-index"]
    )
    assert await mcall(proxy, "DELETE", "/interactions-api-key?index=0") == (200, {"status": "ok"})
    assert proxy.service.config.interactions_api_key == []


COMPAT = """\
openai-compatibility:
  - name: acme  # our gateway
    base-url: https://acme.example/v1
    api-key-entries:
      - api-key: a1
      - api-key: a2
    models:
      - name: big
        alias: acme-big
  - name: bare
    base-url: https://bare.example/v1
"""


async def test_openai_compatibility(mproxy):
    proxy = await mproxy(COMPAT)
    _, body = await mcall(proxy, "GET", "/openai-compatibility")
    acme, bare = body["openai-compatibility"]
    assert [e["api-key"] for e in acme["api-key-entries"]] == ["a1", "a2"]
    assert all(len(e["auth-index"]) == 16 for e in acme["api-key-entries"]) and "auth-index" not in acme
    assert "api-key-entries" not in bare and bare["auth-index"] and bare["disabled"] is False
    patch = {
        "name": "acme",
        "value": {"disabled": True, "api-key-entries": [{"api-key": "a3", "auth-index": "x"}]},
    }
    assert await mcall(proxy, "PATCH", "/openai-compatibility", patch) == (200, {"status": "ok"})
    text = proxy.config_path.read_text()
    assert "# our gateway" in text and "a1" not in text and "auth-index" not in text
    assert proxy.service.config.openai_compatibility[0].disabled is True
    assert await mcall(proxy, "PATCH", "/openai-compatibility", {"name": "zz", "value": {}}) == (
        404,
        {"error": "item not found"},
    )
    assert await mcall(proxy, "DELETE", "/openai-compatibility?name=bare") == (200, {"status": "ok"})
    assert await mcall(proxy, "DELETE", "/openai-compatibility") == (400, {"error": "missing name or index"})
    items = [{"name": "n1", "base-url": "https://n1.example"}, {"name": "n2", "base-url": ""}]
    assert await mcall(proxy, "PUT", "/openai-compatibility", items) == (200, {"status": "ok"})
    assert [c.name for c in proxy.service.config.openai_compatibility] == ["n1"]


@pytest.mark.parametrize(
    "path",
    [
        "/gemini-api-key",
        "/claude-api-key",
        "/codex-api-key",
        "/xai-api-key",
        "/vertex-api-key",
        "/openai-compatibility",
        "/interactions-api-key",
    ],
)
async def test_lists_reject_bad_put_bodies(mproxy, path):
    proxy = await mproxy("")
    for bad in ({"items": []}, "x", [1], {"a": 1}):
        assert await mcall(proxy, "PUT", path, bad) == (400, {"error": "invalid body"})
    status, body = await mcall(proxy, "GET", path)
    assert status == 200 and body == {path[1:]: []}


# -- OAuth maps


async def test_oauth_excluded_models(mproxy):
    proxy = await mproxy("# head\noauth-excluded-models:\n  codex: [gpt-5]  # no gpt-5\n")
    assert await mcall(proxy, "GET", "/oauth-excluded-models") == (
        200,
        {"oauth-excluded-models": {"codex": ["gpt-5"]}},
    )
    assert await mcall(
        proxy, "PATCH", "/oauth-excluded-models", {"provider": " Claude ", "models": [" A ", "a"]}
    ) == (200, {"status": "ok"})
    _, body = await mcall(proxy, "GET", "/oauth-excluded-models")
    assert body["oauth-excluded-models"] == {"codex": ["gpt-5"], "claude": ["a"]}
    assert "# no gpt-5" in proxy.config_path.read_text()
    assert await mcall(proxy, "PATCH", "/oauth-excluded-models", {"provider": "claude", "models": []}) == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "PATCH", "/oauth-excluded-models", {"provider": "gone", "models": []}) == (
        404,
        {"error": "provider not found"},
    )
    assert await mcall(proxy, "PATCH", "/oauth-excluded-models", {"models": []}) == (
        400,
        {"error": "invalid body"},
    )
    assert await mcall(proxy, "PATCH", "/oauth-excluded-models", {"provider": " "}) == (
        400,
        {"error": "invalid provider"},
    )
    assert await mcall(proxy, "DELETE", "/oauth-excluded-models") == (400, {"error": "missing provider"})
    assert await mcall(proxy, "DELETE", "/oauth-excluded-models?provider=codex") == (200, {"status": "ok"})
    assert await mcall(proxy, "DELETE", "/oauth-excluded-models?provider=codex") == (
        404,
        {"error": "provider not found"},
    )
    assert proxy.service.config.oauth_excluded_models == {}
    assert await mcall(proxy, "PUT", "/oauth-excluded-models", {"items": {"gemini": ["x"]}}) == (
        200,
        {"status": "ok"},
    )
    assert proxy.service.config.oauth_excluded_models == {"gemini": ["x"]}


async def test_oauth_model_alias(mproxy):
    proxy = await mproxy("")
    aliases = [{"name": "gpt-5", "alias": "g5"}, {"name": "x", "alias": "x"}]
    assert await mcall(proxy, "PATCH", "/oauth-model-alias", {"channel": "Codex", "aliases": aliases}) == (
        200,
        {"status": "ok"},
    )
    assert await mcall(proxy, "GET", "/oauth-model-alias") == (
        200,
        {"oauth-model-alias": {"codex": [{"name": "gpt-5", "alias": "g5"}]}},
    )
    assert await mcall(
        proxy, "PUT", "/oauth-model-alias", {"claude": [{"name": "a", "alias": "b", "fork": True}]}
    ) == (200, {"status": "ok"})
    assert (await mcall(proxy, "GET", "/oauth-model-alias"))[1] == {
        "oauth-model-alias": {"claude": [{"name": "a", "alias": "b", "fork": True}]}
    }
    assert await mcall(proxy, "DELETE", "/oauth-model-alias?provider=claude") == (200, {"status": "ok"})
    assert await mcall(proxy, "DELETE", "/oauth-model-alias?channel=claude") == (
        404,
        {"error": "channel not found"},
    )
    assert await mcall(proxy, "DELETE", "/oauth-model-alias") == (400, {"error": "missing channel"})
    assert await mcall(proxy, "PATCH", "/oauth-model-alias", {"aliases": []}) == (
        400,
        {"error": "invalid channel"},
    )


async def test_oauth_request_scoped_errors(mproxy):
    proxy = await mproxy("")
    rules = [{"status": 400, "match": ["context too long"], "action": "Fail"}, {"status": 0}]
    assert await mcall(
        proxy, "PATCH", "/oauth-request-scoped-errors", {"provider": "claude", "rules": rules}
    ) == (200, {"status": "ok"})
    assert await mcall(proxy, "GET", "/oauth-request-scoped-errors") == (
        200,
        {
            "oauth-request-scoped-errors": {
                "claude": [{"status": 400, "match": ["context too long"], "action": "fail"}]
            }
        },
    )
    assert await mcall(proxy, "PUT", "/oauth-request-scoped-errors", {}) == (200, {"status": "ok"})
    assert proxy.service.config.oauth_request_scoped_errors == {}
    assert "oauth-request-scoped-errors" not in proxy.config_path.read_text()


async def test_indexes_count_the_entries_get_shows(mproxy):
    proxy = await mproxy(
        "codex-api-key:\n  - api-key: hidden  # no base-url: not a credential\n"
        "  - api-key: shown\n    base-url: https://c.example\n"
    )
    _, body = await mcall(proxy, "GET", "/codex-api-key")
    assert [e["api-key"] for e in body["codex-api-key"]] == ["shown"]
    assert await mcall(proxy, "PATCH", "/codex-api-key", {"index": 0, "value": {"prefix": "p"}}) == (
        200,
        {"status": "ok"},
    )
    assert proxy.service.config.codex_api_key[0].prefix == "p"
    assert await mcall(proxy, "DELETE", "/codex-api-key?index=0") == (200, {"status": "ok"})
    assert "shown" not in proxy.config_path.read_text() and "hidden" in proxy.config_path.read_text()
