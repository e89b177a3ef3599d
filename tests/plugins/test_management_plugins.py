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
    its removal under /v0/management/plugins. Also CPA:
    TestGetPluginConfigReturnsEmptyObjectForKnownUnconfiguredPlugin (``idle``: ``{}``),
    TestGetPluginConfigReturnsNotFoundForUnknownPlugin, TestPatchPluginConfigMergesAndDeletesFields
    (``null`` deletes a key, enabled and priority kept), TestDeletePluginRemovesDiscoveredFileAndConfig."""
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


async def test_plugin_management_with_plugins_off(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestListPluginsIncludesScannedAndConfiguredPlugins,
    TestListPluginsUsesConfiguredStoreVersionWhenFilesCoexist,
    TestGetPluginConfigReturnsPreservedRawConfig, TestPatchPluginEnabledUpdatesOnlyPluginConfig,
    TestPutPluginConfigReplacesPluginConfig, TestDeletePluginRemovesDiscoveredFileAndConfig,
    TestDeletePluginUsesConfiguredStoreVersionWhenFilesCoexist,
    TestDeletePluginReturnsNotFoundForUnknownPlugin. With ``plugins.enabled`` off nothing
    is loaded, yet the list names a file found in the plugins dir (path, not configured)
    and a configured id without a file (no path), neither registered nor with any
    runtime field; of two versions of one plugin it names (and DELETE removes) the one
    ``store.version`` pins. A plugin's config comes back whole (lists, maps); enabling
    one leaves the global switch and its other keys alone; PUT replaces the config;
    DELETE of a plugin that is not loaded removes its file and its config only, and of
    an unknown id is a 404. Before, the list and DELETE took the newest version, and
    DELETE left the file of a plugin that was not loaded."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    pdir = tmp_path / "plugins"
    pdir.mkdir()
    for name in ("scanned.py", "pinned-v0.1.0.py", "pinned-v0.2.0.py", "sample.py"):
        (pdir / name).write_text("raise SystemExit('never loaded')\n")
    from tests.e2e.conftest import matrix_config

    plugins = f"""plugins:
  enabled: false
  dir: "{pdir}"
  configs:
    configured-only:
      enabled: false
    sample:
      enabled: false
      priority: 7
      mode: safe
      allowed_models: [gemini-2.5-pro, claude-sonnet-4]
      options:
        retries: 2
        strict: true
    pinned:
      enabled: true
      store:
        version: 0.1.0
"""
    proxy = await start_proxy(matrix_config(fakes, plugins))
    status, listing = await _call(proxy, "GET", "/plugins")
    assert status == 200 and listing["plugins_enabled"] is False
    by_id = {p["id"]: p for p in listing["plugins"]}
    for entry in by_id.values():
        assert not entry["registered"] and not entry["effective_enabled"] and not entry["supports_oauth"]
        assert (entry["oauth_provider"], entry["logo"], entry["config_fields"], entry["menus"]) == (
            "",
            "",
            [],
            [],
        )
    scanned, only = by_id["scanned"], by_id["configured-only"]
    assert (scanned["configured"], scanned["enabled"], scanned["path"]) == (
        False,
        False,
        str(pdir / "scanned.py"),
    )
    assert (only["configured"], only["enabled"], only["path"]) == (True, False, "")
    assert (by_id["pinned"]["path"], by_id["pinned"]["enabled"]) == (str(pdir / "pinned-v0.1.0.py"), True)

    assert await _call(proxy, "GET", "/plugins/sample/config") == (
        200,
        {
            "enabled": False,
            "priority": 7,
            "mode": "safe",
            "allowed_models": ["gemini-2.5-pro", "claude-sonnet-4"],
            "options": {"retries": 2, "strict": True},
        },
    )
    assert (await _call(proxy, "PATCH", "/plugins/sample/enabled", {"enabled": True}))[0] == 200
    assert proxy.service.config.plugins.enabled is False
    assert (await _call(proxy, "GET", "/plugins/sample/config"))[1]["mode"] == "safe"
    status, cfg = await _call(
        proxy, "PUT", "/plugins/sample/config", {"enabled": True, "priority": 3, "mode": "fast"}
    )
    assert status == 200 and cfg == {"enabled": True, "priority": 3, "mode": "fast"}

    assert (await _call(proxy, "DELETE", "/plugins/nope"))[0] == 404
    status, gone = await _call(proxy, "DELETE", "/plugins/pinned")
    assert status == 200 and gone["file_deleted"] and gone["configured_removed"]
    assert not (pdir / "pinned-v0.1.0.py").exists() and (pdir / "pinned-v0.2.0.py").exists()
    status, gone = await _call(proxy, "DELETE", "/plugins/scanned")
    assert status == 200 and gone["file_deleted"] and not gone["configured_removed"]
    assert not (pdir / "scanned.py").exists()
    text = proxy.config_path.read_text()
    assert "pinned" not in text and "sample:" in text and "configured-only:" in text


EVIL = """
from cliproxy.plugins.api import *
class Evil(Plugin, ManagementAPI):
    name = "<script>alert(1)</script>"; version = "1.0.0&evil=true"; author = '"attacker"'
    github_repository = "https://example.com/repo?x=<script>"; logo = "<svg onload=alert(1)>"
    config_fields = [ConfigField(name="<img src=x onerror=alert(1)>", type="enum",
                                 enum_values=["<fast>", "safe & sound"],
                                 description="\\"quoted\\" 'single' <b>mode</b>")]
    routes = [ManagementRoute(method="GET", path="/evil-note")]
    resources = [ResourceRoute(path="/<status>", menu="<b>Status</b>",
                               description="Shows <script>alert(1)</script>.")]
    async def handle_management(self, req):
        return ManagementResponse.json({"note": "it's <ok>"})
plugin = Evil()
"""


async def test_plugin_display_strings_are_html_escaped(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestPluginDisplayFieldsEscapeHTML: the list escapes every string a plugin
    supplies (metadata, logo, config fields, menu entries) as Go's html.EscapeString
    does, quotes as ``&#34;`` and ``&#39;``; so does a plugin route's JSON answer. Before,
    quotes were left as they were (``&quot;``/``&#x27;`` in route answers) and menus were
    not escaped at all."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"evil": EVIL}, {"evil": {}})
    status, listing = await _call(proxy, "GET", "/plugins")
    (evil,) = [p for p in listing["plugins"] if p["id"] == "evil"]
    assert status == 200 and evil["metadata"] == {
        "name": "&lt;script&gt;alert(1)&lt;/script&gt;",
        "version": "1.0.0&amp;evil=true",
        "author": "&#34;attacker&#34;",
        "github_repository": "https://example.com/repo?x=&lt;script&gt;",
        "logo": "&lt;svg onload=alert(1)&gt;",
        "config_fields": evil["config_fields"],
    }
    assert evil["config_fields"] == [
        {
            "name": "&lt;img src=x onerror=alert(1)&gt;",
            "type": "enum",
            "enum_values": ["&lt;fast&gt;", "safe &amp; sound"],
            "description": "&#34;quoted&#34; &#39;single&#39; &lt;b&gt;mode&lt;/b&gt;",
        }
    ]
    assert evil["menus"] == [
        {
            "path": "/v0/resource/plugins/evil/&lt;status&gt;",
            "menu": "&lt;b&gt;Status&lt;/b&gt;",
            "description": "Shows &lt;script&gt;alert(1)&lt;/script&gt;.",
        }
    ]
    assert await _call(proxy, "GET", "/evil-note") == (200, {"note": "it&#39;s &lt;ok&gt;"})
