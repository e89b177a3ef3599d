"""/v0/management/plugins: list, config get/put/patch, enabled, delete — applied live,
saved with comments kept."""

from __future__ import annotations

import aiohttp

from tests.plugins.test_flow_python import ROUTER, _proxy

MKEY = {"X-Management-Key": "m-secret"}


async def _call(proxy, method: str, path: str, body=None):
    async with (
        aiohttp.ClientSession() as s,
        s.request(method, proxy.url + "/v0/management" + path, headers=MKEY, json=body) as r,
    ):
        return r.status, await r.json()


async def test_plugin_management_endpoints(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestManagementPluginsRouteRegistered: the plugin list, a plugin's config and
    its removal under /v0/management/plugins."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    router = ROUTER.format(name="r1", match="fast", provider="claude", model="claude-opus-4-6")
    proxy = await _proxy(
        start_proxy,
        fakes,
        tmp_path,
        {"r1": router, "idle": router.replace('"r1"', '"idle"')},
        {"r1": {"priority": 3, "mode": "x"}},
    )
    text = proxy.config_path.read_text()
    proxy.config_path.write_text("# my proxy\n" + text)

    status, listing = await _call(proxy, "GET", "/plugins")
    assert status == 200 and listing["plugins_enabled"] is True
    by_id = {p["id"]: p for p in listing["plugins"]}
    assert by_id["r1"]["effective_enabled"] and by_id["r1"]["metadata"]["name"] == "r1"
    assert by_id["idle"]["configured"] is False and by_id["idle"]["effective_enabled"] is False

    assert await _call(proxy, "GET", "/plugins/r1/config") == (
        200,
        {"enabled": True, "priority": 3, "mode": "x"},
    )
    assert await _call(proxy, "GET", "/plugins/idle/config") == (200, {})
    assert (await _call(proxy, "GET", "/plugins/nope/config"))[0] == 404

    status, cfg = await _call(proxy, "PATCH", "/plugins/r1/config", {"mode": None, "extra": 1})
    assert status == 200 and cfg == {"enabled": True, "priority": 3, "extra": 1}
    assert "# my proxy" in proxy.config_path.read_text()

    status, _ = await _call(proxy, "PATCH", "/plugins/r1/enabled", {"enabled": False})
    assert status == 200
    assert [r.id for r in proxy.service.plugins.snapshot] == []  # applied live
    status, _ = await _call(proxy, "PUT", "/plugins/idle/config", {"enabled": True, "priority": 1})
    assert status == 200
    assert [r.id for r in proxy.service.plugins.snapshot] == ["idle"]

    status, gone = await _call(proxy, "DELETE", "/plugins/idle")
    assert (
        status == 200 and gone["status"] == "deleted" and gone["file_deleted"] and gone["configured_removed"]
    )
    assert not (tmp_path / "plugins" / "idle.py").exists()
    assert "idle" not in proxy.config_path.read_text()
    assert proxy.service.plugins.snapshot == ()

    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/v0/management/plugins") as r:
        assert r.status == 401


LOGIN = """
from cliproxy.plugins.api import *
import json
class Acme(Plugin, AuthProvider, ModelProvider, Executor):
    name = "acme"; version = "1"; author = "t"; github_repository = "https://example.com/acme"
    identifier = "acme"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    polls = 0
    async def parse(self, req):
        return None
    async def login_start(self, req):
        return LoginStartResponse(provider="acme", url="https://login.example/authorize?x=1", state="st-1")
    async def login_poll(self, req):
        Acme.polls += 1
        if Acme.polls == 1:
            return LoginPollResponse(status="pending")
        return LoginPollResponse(status="success", auth=AuthData(provider="acme", file_name="acme-new.json",
                                                                  metadata={"user": "neo", "token": "t"}))
    async def models_for_auth(self, req):
        return ModelList(provider="acme", models=[ModelInfo(id="acme-model")])
    async def execute(self, req):
        raise PluginError("not needed", http_status=500)
plugin = Acme()
"""


async def test_plugin_web_login(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestRegisteredPluginsIncludesMetadataAndOAuthCapability (the plugin listing
    names the sign-in an auth provider serves: ``supports_oauth`` and its identifier as
    ``oauth_provider``; before, ``oauth_provider`` was always empty), then the sign-in."""
    import json

    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": LOGIN}, {"acme": {}})
    status, listing = await _call(proxy, "GET", "/plugins")
    (acme,) = [p for p in listing["plugins"] if p["id"] == "acme"]
    assert status == 200 and (acme["supports_oauth"], acme["oauth_provider"]) == (True, "acme")
    status, body = await _call(proxy, "GET", "/acme-auth-url")
    assert status == 200 and body == {
        "status": "ok",
        "url": "https://login.example/authorize?x=1",
        "state": "st-1",
    }
    assert await _call(proxy, "GET", "/get-auth-status?state=st-1") == (200, {"status": "wait"})
    assert await _call(proxy, "GET", "/get-auth-status?state=st-1") == (200, {"status": "ok"})
    saved = json.loads((tmp_path / "auths" / "acme-new.json").read_text())
    assert saved == {"user": "neo", "token": "t", "type": "acme"}
    assert (await _call(proxy, "GET", "/claude-auth-url"))[0] in (404, 501)
    status, body = await _call(proxy, "GET", "/anthropic-auth-url")  # the built-in login
    assert status == 200 and body["url"].startswith("https://claude.ai/oauth/authorize?")
