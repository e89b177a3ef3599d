"""CPA's plugin host tests (internal/pluginhost/adapters_test.go, auth_provider_test.go) that
no other test of ours ported, found by the audithost audit: how auth files of a plugin
provider are parsed and bound, on the wire (scripted plugins answer with the JSON a native
plugin would send, tests/plugins/wire_host.py)."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import openai

from cliproxy.credentials.files import load_auth_dir
from cliproxy.plugins import abi
from cliproxy.plugins.models import bind_plugin_auths
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy
from tests.plugins.wire_host import WirePlugin, wire_host

CONFIG = SimpleNamespace(auth_dir="/tmp/plugin-auth", proxy_url="", force_model_prefix=False)


def _provider_plugin(scope: str, parse: Any) -> WirePlugin:
    """One plugin that is auth provider, model provider and executor of ``Plugin-Provider``."""
    caps = {
        "auth_provider": True,
        "model_provider": True,
        "executor": True,
        "executor_input_formats": ["openai"],
        "executor_output_formats": ["openai"],
        "executor_model_scope": scope,
    }
    handlers = {
        abi.AUTH_IDENTIFIER: lambda _p: {"identifier": "Plugin-Provider"},
        abi.EXECUTOR_IDENTIFIER: lambda _p: {"identifier": "Plugin-Provider"},
        abi.AUTH_PARSE: parse,
        abi.MODEL_FOR_AUTH: lambda _p: {"Provider": "plugin-provider", "Models": [{"ID": "oauth-model"}]},
    }
    return WirePlugin("alpha", 0, caps, handlers)


def _file(tmp_path: Path, kind: str) -> list[Any]:
    (tmp_path / "plugin.json").write_text(json.dumps({"type": kind, "token": "t-1"}))
    return load_auth_dir(tmp_path)


async def test_a_static_scope_executor_serves_no_auth_file(tmp_path: Path):
    """CPA: TestRegisterExecutorsStaticScopeSkipsModelsForAuth: an executor of scope
    ``static`` serves only its static models: an auth file of its provider is not bound to
    it and its ``model.for_auth`` is never asked."""
    plugin = _provider_plugin("static", lambda _p: {"Handled": True, "Auth": {"ID": "auth-1"}})
    (cred,) = await bind_plugin_auths(wire_host(plugin), _file(tmp_path, "plugin-provider"), CONFIG)
    assert plugin.called(abi.MODEL_FOR_AUTH) == []
    assert "plugin" not in cred.attributes and cred.models == ()


REGISTRAR = (
    HEADER
    + """
class Registrar(Plugin, ModelRegistrar):
    name = "{pid}"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/r"
    async def register_models(self, request):
        return ModelList(provider="{provider}", models=[ModelInfo(id="{model}")])
plugin = Registrar()
"""
)


async def _listed(proxy: Any) -> set[str]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        return {m.id for m in (await client.models.list()).data}


async def _enable(proxy: Any, pid: str, on: bool) -> None:
    url = f"{proxy.url}/v0/management/plugins/{pid}/enabled"
    async with (
        aiohttp.ClientSession() as s,
        s.patch(url, headers={"X-Management-Key": "m-secret"}, json={"enabled": on}) as r,
    ):
        assert r.status == 200


async def test_a_replaced_plugins_models_leave_the_list(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestRegisterModelsPrunesStaleClientAfterSnapshotChange: when the snapshot
    changes from plugin alpha (provider-a's model-a) to plugin bravo (provider-b's
    model-b), alpha's model leaves ``/v1/models`` and bravo's is listed."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    sources = {
        "alpha": REGISTRAR.format(pid="alpha", provider="provider-a", model="model-a"),
        "bravo": REGISTRAR.format(pid="bravo", provider="provider-b", model="model-b"),
    }
    proxy = await _proxy(start_proxy, fakes, tmp_path, sources, {"alpha": {}, "bravo": {}})
    await _enable(proxy, "bravo", False)
    listed = await _listed(proxy)
    assert "model-a" in listed and "model-b" not in listed
    await _enable(proxy, "alpha", False)
    await _enable(proxy, "bravo", True)
    listed = await _listed(proxy)
    assert "model-a" not in listed and "model-b" in listed


DENY = (
    HEADER
    + """
class Deny(Plugin, Scheduler):
    name = "deny"; version = "1"; author = "t"; github_repository = "https://example.com/s"
    async def pick(self, req):
        raise PluginError("scheduler says no", http_status=451, code="scheduler_denied")
plugin = Deny()
"""
)


async def _chat_status(proxy: Any) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/chat/completions",
            headers={"Authorization": f"Bearer {KEY}"},
            json={"model": "compat-model", "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        return r.status


async def _put_config(proxy: Any, text: str) -> None:
    url = proxy.url + "/v0/management/config.yaml"
    async with (
        aiohttp.ClientSession() as s,
        s.put(url, headers={"X-Management-Key": "m-secret"}, data=text.encode()) as r,
    ):
        assert r.status == 200, await r.text()


async def test_turning_plugins_off_drops_the_plugin_scheduler(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestServiceSyncPluginRuntimeConfigClearsPluginSchedulerWithoutHost: with
    ``plugins.enabled`` set to false by a config write, the scheduler plugin no longer
    picks (its refusal stops reaching clients: the built-in pick serves); set back to
    true, it picks again."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"deny": DENY}, {"deny": {}})
    assert await _chat_status(proxy) == 451
    text = proxy.config_path.read_text()
    assert text.count("plugins:\n  enabled: true") == 1
    await _put_config(proxy, text.replace("plugins:\n  enabled: true", "plugins:\n  enabled: false"))
    assert await _chat_status(proxy) == 200
    await _put_config(proxy, text)
    assert await _chat_status(proxy) == 451
