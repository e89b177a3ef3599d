"""The small example plugins of examples/plugins, each loaded into a running proxy:
codex-service-tier, scheduler, frontend-auth-exclusive and host-model-callback."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
import anthropic
import pytest

from cliproxy.credentials.ids import StableIDGenerator
from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.plugins.plugin_dir import plugins_yaml
from tests.plugins.test_examples_web_search import install


async def _start(start_proxy, tmp_path, plugin_id: str, settings: dict, upstreams: str):
    pdir = install(tmp_path, plugin_id)
    return await start_proxy(f'api-keys: ["{KEY}"]\n' + upstreams + plugins_yaml(pdir, {plugin_id: settings}))


# ---------------------------------------------------------------- codex-service-tier


def _codex_upstreams(responses, claude) -> str:
    return f"""
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-5.5", alias: "codex-fast"}}, {{name: "gpt-5.4", alias: "codex-model"}}]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{claude.base_url}"
    models: [{{name: "gpt-5.5", alias: "claude-gpt"}}]
"""


async def test_codex_service_tier_sets_priority_for_its_model_only(
    start_proxy, tmp_path, fake_responses, fake_claude
):
    proxy = await _start(
        start_proxy,
        tmp_path,
        "codex-service-tier",
        {"fast": True},
        _codex_upstreams(fake_responses, fake_claude),
    )
    await ask(Format.OPENAI, proxy.url, "codex-fast", "hi", stream=False)
    assert fake_responses.last.path == "/backend-api/codex/responses"
    assert fake_responses.last.json["service_tier"] == "priority"
    await ask(Format.CLAUDE, proxy.url, "codex-fast", "hi", stream=True)  # any client format
    assert fake_responses.last.json["service_tier"] == "priority"
    await ask(Format.OPENAI, proxy.url, "codex-model", "hi", stream=False)  # gpt-5.4: another model
    assert "service_tier" not in fake_responses.last.json
    await ask(Format.OPENAI, proxy.url, "claude-gpt", "hi", stream=False)  # gpt-5.5, but not to codex
    assert fake_claude.last.json["model"] == "gpt-5.5" and "service_tier" not in fake_claude.last.json


async def test_codex_service_tier_config(start_proxy, tmp_path, fake_responses, fake_claude):
    upstreams = _codex_upstreams(fake_responses, fake_claude)
    proxy = await _start(
        start_proxy, tmp_path, "codex-service-tier", {"fast": True, "model": "gpt-5.4"}, upstreams
    )
    await ask(Format.OPENAI, proxy.url, "codex-model", "hi", stream=False)
    assert fake_responses.last.json["service_tier"] == "priority"
    await ask(Format.OPENAI, proxy.url, "codex-fast", "hi", stream=False)
    assert "service_tier" not in fake_responses.last.json
    proxy = await _start(start_proxy, tmp_path, "codex-service-tier", {"fast": False}, upstreams)
    await ask(Format.OPENAI, proxy.url, "codex-fast", "hi", stream=False)
    assert "service_tier" not in fake_responses.last.json


# ---------------------------------------------------------------- scheduler


def _pair(claude) -> tuple[str, dict[str, str]]:
    """Two Claude keys serving model "pair", and their credential ids (computed as the proxy does)."""
    gen = StableIDGenerator()
    ids = {key: gen.next("claude:apikey", key, claude.base_url, "", "", "")[0] for key in ("sk-a", "sk-b")}
    yaml = "claude-api-key:\n" + "".join(
        f'  - api-key: "{key}"\n    base-url: "{claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "pair"}]\n'
        for key in ids
    )
    return yaml, ids


async def test_scheduler_picks_the_configured_auth(start_proxy, tmp_path, fake_claude):
    yaml, ids = _pair(fake_claude)
    proxy = await _start(start_proxy, tmp_path, "scheduler", {"auth_id": ids["sk-b"]}, yaml)
    assert set(ids.values()) <= {c.id for c in proxy.service.pool.credentials()}
    for _ in range(3):
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    assert [r.key for r in fake_claude.requests] == ["sk-b"] * 3  # never rotated


async def test_scheduler_unknown_auth_leaves_the_pick_to_the_proxy(start_proxy, tmp_path, fake_claude):
    yaml, _ = _pair(fake_claude)
    proxy = await _start(start_proxy, tmp_path, "scheduler", {"auth_id": "claude:apikey:nope"}, yaml)
    for _ in range(2):
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    assert sorted(r.key for r in fake_claude.requests) == ["sk-a", "sk-b"]  # built-in round-robin


async def test_scheduler_delegates_to_a_built_in_strategy(start_proxy, tmp_path, fake_claude):
    yaml, ids = _pair(fake_claude)
    yaml += "routing:\n  strategy: fill-first\n"  # the proxy alone would always use sk-a
    proxy = await _start(
        start_proxy, tmp_path, "scheduler", {"delegate": "round-robin", "auth_id": ids["sk-a"]}, yaml
    )
    for _ in range(4):
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    assert sorted(r.key for r in fake_claude.requests) == ["sk-a", "sk-a", "sk-b", "sk-b"]


async def test_scheduler_deny_reaches_the_client(start_proxy, tmp_path, fake_claude):
    yaml, _ = _pair(fake_claude)
    proxy = await _start(start_proxy, tmp_path, "scheduler", {"deny": True}, yaml)
    with pytest.raises(anthropic.PermissionDeniedError) as denied:
        await ask(Format.CLAUDE, proxy.url, "pair", "hi", stream=False)
    assert denied.value.status_code == 403 and "scheduler plugin denies pair" in str(denied.value)
    assert not fake_claude.requests


# ---------------------------------------------------------------- frontend-auth-exclusive


async def _status(url: str, **headers: str) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url + "/v1/messages",
            headers=headers,
            json={"model": "claude-model", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        return r.status


async def test_exclusive_frontend_auth_replaces_the_api_keys(start_proxy, tmp_path, fake_claude):
    upstream = (
        f'claude-api-key:\n  - api-key: "sk-ant-1"\n    base-url: "{fake_claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
    )
    proxy = await _start(start_proxy, tmp_path, "frontend-auth-exclusive", {}, upstream)
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "exclusive"}) == 200
    assert await _status(proxy.url, **{"x-api-key": KEY}) == 401  # the API keys stopped working
    assert await _status(proxy.url, Authorization=f"Bearer {KEY}") == 401
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "other"}) == 401
    assert await _status(proxy.url) == 401
    pdir = install(tmp_path, "frontend-auth-exclusive")
    yaml = f'api-keys: ["{KEY}"]\n' + upstream + plugins_yaml(pdir, {})  # installed, not enabled
    proxy = await start_proxy(yaml)
    assert await _status(proxy.url, **{"x-api-key": KEY}) == 200
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "exclusive"}) == 401


# ---------------------------------------------------------------- host-model-callback


@pytest.fixture
async def callback_proxy(start_proxy, tmp_path, fake_openai, fake_claude):
    upstreams = f"""
openai-compatibility:
  - name: fakeopenai
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-compat-1"}}]
    models: [{{name: "gpt-4o-mini", alias: "compat-model"}}]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fake_claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
"""
    return await _start(start_proxy, tmp_path, "host-model-callback", {"model": "compat-model"}, upstreams)


async def _callback(proxy, **query: str) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/resource/plugins/host-model-callback/status", params=query) as r,
    ):
        return r.status, await r.json()


async def test_host_model_execute_through_a_real_upstream(callback_proxy, fake_openai, fake_claude):
    status, out = await _callback(callback_proxy, prompt="hello?")  # config model, openai in and out
    assert status == 200 and out["text"] == "Hello from fake-openai (model gpt-4o-mini)"
    assert fake_openai.last.json["messages"] == [{"role": "user", "content": "hello?"}]
    status, out = await _callback(
        callback_proxy, entry_protocol="claude", exit_protocol="gemini", model="claude-model"
    )
    assert status == 200 and out["text"] == "Hello from fake-claude (model claude-sonnet-4-6)"
    body = '{"input": "from a body"}'
    status, out = await _callback(
        callback_proxy, entry_protocol="openai-response", exit_protocol="claude", body=body
    )
    assert status == 200 and "fake-openai" in out["text"]
    assert fake_openai.last.json["messages"][-1]["content"] == "from a body"
    status, out = await _callback(callback_proxy, body="{not json")
    assert status == 400 and "not JSON" in out["error"]
    status, out = await _callback(callback_proxy, model="no-such-model")
    assert status >= 400 and "no-such-model" in out["error"]


async def test_host_model_stream_explicit_close(callback_proxy, fake_claude):
    status, out = await _callback(
        callback_proxy, entry_protocol="openai", exit_protocol="claude", model="claude-model", stream="true"
    )
    assert status == 200 and out["close"] == "explicit" and out["chunks"] >= 1
    assert out["text"] == "Hello from fake-claude (model claude-sonnet-4-6)"
    assert fake_claude.last.json["stream"] is True
    assert out["stream_id"] not in callback_proxy.service.plugins.callbacks._readers


async def test_host_model_stream_implicit_close(callback_proxy, fake_claude):
    fake_claude.stream_delay = 0.05  # a slow stream: the plugin leaves long before its end
    status, out = await _callback(
        callback_proxy, entry_protocol="claude", model="claude-model", stream="true", implicit_close="true"
    )
    assert status == 200 and out["close"] == "implicit" and out["chunks"] == 1
    readers = callback_proxy.service.plugins.callbacks._readers
    assert out["stream_id"] and out["stream_id"] not in readers  # the host closed it with the call's scope
    status, again = await _callback(
        callback_proxy, entry_protocol="claude", model="claude-model", stream="true"
    )
    assert status == 200 and again["text"] == "Hello from fake-claude (model claude-sonnet-4-6)"


# ---------------------------------------------------------------- docs/plugins.md's tutorial


def _doc_block(marker: str) -> str:
    text = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    return next(b for b in blocks if b.startswith(marker))


async def test_the_docs_router_runs_as_written(start_proxy, tmp_path, fake_claude, monkeypatch):
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    (pdir / "cheap-router.py").write_text(_doc_block("# plugins/cheap-router.py"))
    upstream = (
        f'claude-api-key:\n  - api-key: "sk-ant-1"\n    base-url: "{fake_claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
    )
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\n' + upstream + plugins_yaml(pdir, {"cheap-router": {"priority": 10}})
    )
    answer = await ask(Format.OPENAI, proxy.url, "cheap", "hi", stream=False)
    assert "fake-claude" in answer.text and fake_claude.last.json["model"] == "claude-haiku-4-5"
    await ask(Format.OPENAI, proxy.url, "claude-model", "hi", stream=False)
    assert fake_claude.last.json["model"] == "claude-sonnet-4-6"
    monkeypatch.chdir(tmp_path)  # the page's unit test, run where it expects plugins/
    scope: dict = {}
    exec(compile(_doc_block("# test_cheap_router.py"), "docs/plugins.md", "exec"), scope)
    await scope["test_cheap_goes_to_haiku"]()
