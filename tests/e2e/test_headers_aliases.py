"""Per-credential headers (incl. $NAME copies), OAuth model aliases with fork and
force-mapping, through a running proxy."""

from __future__ import annotations

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth


async def _chat(url: str, model: str, headers: dict | None = None) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url + "/v1/chat/completions",
            json={"model": model, "messages": [{"role": "user", "content": "x"}]},
            headers={"Authorization": f"Bearer {KEY}", **(headers or {})},
        ) as r,
    ):
        return r.status, await r.json()


async def test_credential_headers_with_client_copies(start_proxy, fakes):
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k"}}]
    headers:
      X-Static: "fixed"
      X-Tenant: "$X-Client-Tenant"
      X-Absent: "$X-Not-Sent"
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
""")
    status, _ = await _chat(proxy.url, "m", {"X-Client-Tenant": "acme"})
    assert status == 200
    sent = fakes.openai.last.headers
    assert sent["X-Static"] == "fixed"
    assert sent["X-Tenant"] == "acme"
    assert "X-Absent" not in sent


async def test_oauth_alias_fork_and_force_mapping(start_proxy, fakes, tmp_path):
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
oauth-model-alias:
  claude:
    - name: "claude-sonnet-4-6"
      alias: "sonnet-fast"
      fork: true
      force-mapping: true
    - name: "claude-opus-4-6"
      alias: "opus-only"
""")
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v1/models", headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        ids = {m["id"] for m in (await r.json())["data"]}
    assert {"sonnet-fast", "claude-sonnet-4-6", "opus-only"} <= ids  # fork keeps the original
    assert "claude-opus-4-6" not in ids  # without fork the alias replaces it
    status, body = await _chat(proxy.url, "sonnet-fast")
    assert status == 200
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"
    assert body["model"] == "sonnet-fast"  # force-mapping rewrites the answer's model
    status, body = await _chat(proxy.url, "opus-only")
    assert status == 200 and fakes.claude.last.json["model"] == "claude-opus-4-6"


async def test_browser_streams_get_cors_headers(matrix):
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            matrix.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}", "Origin": "http://app"},
            json={"model": "compat-model", "stream": True, "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        assert r.status == 200
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert b"[DONE]" in await r.read()
