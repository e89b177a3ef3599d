"""Route table: health, root, CORS, and the 501 answer of every route not built yet."""

from __future__ import annotations

import re

import aiohttp
import pytest

from cliproxy.server.routes import NOT_BUILT


async def test_healthz_get_and_head(start_proxy):
    proxy = await start_proxy()
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/healthz") as r:
            assert r.status == 200
            assert await r.json() == {"status": "ok"}
        async with s.head(proxy.url + "/healthz") as r:
            assert r.status == 200
        async with s.get(proxy.url + "/") as r:
            body = await r.json()
            assert body["message"] == "CLI Proxy API Server"
            assert "GET /v1/models" in body["endpoints"]


async def test_cors_preflight_and_headers(start_proxy):
    # CPA's "*" when a key is required (an open proxy: tests/security/test_defaults.py)
    proxy = await start_proxy("api-keys: [sk-1]\n")
    async with aiohttp.ClientSession() as s:
        async with s.options(
            proxy.url + "/v1/chat/completions",
            headers={"Origin": "http://x", "Access-Control-Request-Method": "POST"},
        ) as r:
            assert r.status == 204
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "PATCH" in r.headers["Access-Control-Allow-Methods"]
        async with s.get(proxy.url + "/healthz", headers={"Origin": "http://x"}) as r:
            assert r.headers["Access-Control-Allow-Origin"] == "*"
            assert "Retry-After" in r.headers["Access-Control-Expose-Headers"]
        async with s.get(proxy.url + "/healthz") as r:  # not a browser: no CORS headers needed
            assert "Access-Control-Allow-Origin" not in r.headers


def _concrete(path: str) -> str:
    path = re.sub(r"\{action:[^}]+\}", "hangup", path)
    path = path.replace("{name:.+}", "gemini-2.5-flash:generateContent")
    return re.sub(r"\{[^}]+\}", "abc", path)


@pytest.mark.parametrize("method,path,feature", NOT_BUILT, ids=[f"{m} {p}" for m, p, _ in NOT_BUILT])
async def test_unbuilt_routes_answer_501_in_client_format(start_proxy, method, path, feature):
    proxy = await start_proxy()
    url = proxy.url + _concrete(path)
    async with aiohttp.ClientSession() as s, s.request(method, url, json={}) as r:
        if r.status != 501:
            pytest.skip(f"{method} {path} is built")
        body = await r.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and feature in body["error"]["message"]
    elif path.startswith("/v1beta") or ":" in _concrete(path).rpartition("/")[2]:
        assert body["error"]["status"] == "UNIMPLEMENTED" and feature in body["error"]["message"]
    else:
        assert body["error"]["code"] == "not_implemented" and feature in body["error"]["message"]


async def test_unknown_proxy_path_is_404_in_client_format(start_proxy):
    proxy = await start_proxy()
    async with aiohttp.ClientSession() as s:
        async with s.post(proxy.url + "/v1/messages/nope") as r:
            assert r.status == 404
            assert (await r.json())["type"] == "error"
        async with s.post(proxy.url + "/v1/nope") as r:
            assert r.status == 404
            assert "error" in await r.json()
