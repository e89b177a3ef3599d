"""Per-credential headers (incl. $NAME copies), OAuth model aliases with fork and
force-mapping, through a running proxy."""

from __future__ import annotations

import asyncio

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


def _compat_headers(fakes, headers: str) -> str:
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "k"}}]
    headers: {headers}
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
"""


async def test_a_reload_sends_the_new_credential_headers(start_proxy, fakes):
    """The fixed and copied headers are worked out once per credential: a reload that
    changes them (same key, same base URL) changes what the next request sends."""
    proxy = await start_proxy(
        _compat_headers(fakes, '{X-Static: "one", X-Tenant: "$X-Client-Tenant"}'), watch=True
    )
    assert (await _chat(proxy.url, "m", {"X-Client-Tenant": "acme", "X-Other": "o"}))[0] == 200
    sent = fakes.openai.last.headers
    assert sent["X-Static"] == "one" and sent["X-Tenant"] == "acme" and "X-Copied" not in sent
    proxy.config_path.write_text(_compat_headers(fakes, '{X-Static: "two", X-Copied: "$X-Other"}'))
    for _ in range(200):
        await asyncio.sleep(0.025)
        if any(c.headers.get("X-Static") == "two" for c in proxy.service.pool.credentials()):
            break
    assert (await _chat(proxy.url, "m", {"X-Client-Tenant": "acme", "X-Other": "o"}))[0] == 200
    sent = fakes.openai.last.headers
    assert sent["X-Static"] == "two" and sent["X-Copied"] == "o" and "X-Tenant" not in sent


async def test_credential_headers_keep_their_order_after_a_copy(start_proxy, fakes):
    """A fixed value after a copy: the upstream gets them in the configured order."""
    proxy = await start_proxy(
        _compat_headers(fakes, '{X-First: "$X-Client-A", X-Second: "fixed", X-Third: "$X-Client-B"}')
    )
    assert (await _chat(proxy.url, "m", {"X-Client-A": "a", "X-Client-B": "b"}))[0] == 200
    names = [k for k in fakes.openai.last.headers if k in ("X-First", "X-Second", "X-Third")]
    assert names == ["X-First", "X-Second", "X-Third"]
    assert (await _chat(proxy.url, "m", {"X-Client-B": "b"}))[0] == 200
    sent = fakes.openai.last.headers
    assert "X-First" not in sent and sent["X-Second"] == "fixed" and sent["X-Third"] == "b"


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


def _gemini_headers(fakes, headers: str) -> str:
    return f"""
api-keys: ["{KEY}"]
gemini-api-key:
  - api-key: "gk"
    base-url: "{fakes.gemini.base_url}"
    headers: {headers}
    models: [{{name: "gemini-2.5-flash", alias: "g"}}]
"""


async def test_gemini_credential_headers_copy_and_follow_a_reload(start_proxy, fakes):
    """A Gemini key's ``headers:`` as an OpenAI-compatible one's: fixed values, copies of
    the client's headers (left out when it sent none), a fixed value after a copy (kept in
    the configured order), the key header last; worked out once per credential, so a reload
    that changes them is sent."""
    headers = '{X-Static: "one", X-Tenant: "$X-Client-Tenant", X-Absent: "$X-Not-Sent", X-Late: "late"}'
    proxy = await start_proxy(_gemini_headers(fakes, headers), watch=True)
    for _ in range(2):  # the second request uses the plan the first one made
        assert (await _chat(proxy.url, "g", {"X-Client-Tenant": "acme"}))[0] == 200
        sent = fakes.gemini.last.headers
        assert sent["X-Static"] == "one" and sent["X-Tenant"] == "acme" and sent["X-Late"] == "late"
        assert "X-Absent" not in sent and sent["x-goog-api-key"] == "gk"
    proxy.config_path.write_text(_gemini_headers(fakes, '{X-Static: "two", X-Copied: "$X-Other"}'))
    for _ in range(200):
        await asyncio.sleep(0.025)
        if any(c.headers.get("X-Static") == "two" for c in proxy.service.pool.credentials()):
            break
    assert (await _chat(proxy.url, "g", {"X-Client-Tenant": "acme", "X-Other": "o"}))[0] == 200
    sent = fakes.gemini.last.headers
    assert sent["X-Static"] == "two" and sent["X-Copied"] == "o" and "X-Tenant" not in sent
