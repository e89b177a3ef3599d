"""/v0/management/plugins: list, config get/put/patch, enabled, delete — applied live,
saved with comments kept."""

from __future__ import annotations

import aiohttp

from tests.plugins.test_flow_python import ROUTER, _proxy

MKEY = {"X-Management-Key": "m-secret"}


async def _call(proxy, method: str, path: str, body=None):
    async with aiohttp.ClientSession() as s, s.request(method, proxy.url + "/v0/management" + path,
                                                       headers=MKEY, json=body) as r:
        return r.status, await r.json()


async def test_plugin_management_endpoints(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    router = ROUTER.format(name="r1", match="fast", provider="claude", model="claude-opus-4-6")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"r1": router, "idle": router.replace('"r1"', '"idle"')},
                         {"r1": {"priority": 3, "mode": "x"}})
    text = proxy.config_path.read_text()
    proxy.config_path.write_text("# my proxy\n" + text)

    status, listing = await _call(proxy, "GET", "/plugins")
    assert status == 200 and listing["plugins_enabled"] is True
    by_id = {p["id"]: p for p in listing["plugins"]}
    assert by_id["r1"]["effective_enabled"] and by_id["r1"]["metadata"]["name"] == "r1"
    assert by_id["idle"]["configured"] is False and by_id["idle"]["effective_enabled"] is False

    assert await _call(proxy, "GET", "/plugins/r1/config") == (200, {"enabled": True, "priority": 3, "mode": "x"})
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
    assert status == 200 and gone["status"] == "deleted" and gone["file_deleted"] and gone["configured_removed"]
    assert not (tmp_path / "plugins" / "idle.py").exists()
    assert "idle" not in proxy.config_path.read_text()
    assert proxy.service.plugins.snapshot == ()

    async with aiohttp.ClientSession() as s, s.get(proxy.url + "/v0/management/plugins") as r:
        assert r.status == 401
