"""Frontend-auth plugins (shared and exclusive), plugin management routes and resources,
and the management gate in front of them."""

from __future__ import annotations

import aiohttp

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

FRONTEND = (
    HEADER
    + """
class Door(Plugin, FrontendAuthProvider):
    name = "door"; version = "1"; author = "t"; github_repository = "https://example.com/d"
    identifier = "door"; exclusive = {exclusive}
    async def authenticate(self, req):
        if req.headers.get("X-Example-Frontend-Auth") == ["exclusive"]:
            return FrontendAuthResponse(authenticated=True, principal="door-user")
        return None
plugin = Door()
"""
)

PANEL = (
    HEADER
    + """
class Panel(Plugin, ManagementAPI):
    name = "panel"; version = "1"; author = "t"; github_repository = "https://example.com/p"
    routes = [ManagementRoute(method="GET", path="panel-stats")]
    resources = [ResourceRoute(path="/status", menu="Status")]
    async def handle_management(self, req):
        return ManagementResponse.json({"path": req.path, "method": req.method})
plugin = Panel()
"""
)


async def _status(url: str, path: str = "/v1/chat/completions", **headers) -> int:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url + path,
            headers=headers,
            json={"model": "compat-model", "messages": [{"role": "user", "content": "x"}]},
        ) as r,
    ):
        return r.status


async def test_frontend_auth_joins_the_api_keys(start_proxy, fakes, tmp_path):
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"door": FRONTEND.format(exclusive="False")}, {"door": {}}
    )
    assert await _status(proxy.url, Authorization=f"Bearer {KEY}") == 200
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "exclusive"}) == 200
    assert await _status(proxy.url) == 401
    assert await _status(proxy.url, Authorization="Bearer wrong") == 401


async def test_exclusive_frontend_auth_replaces_the_api_keys(start_proxy, fakes, tmp_path, monkeypatch):
    """CPA: TestRegisteredProvidersReturnsOnlyExclusiveProvider (the API keys are refused
    while the exclusive provider is there), TestRegisteredProvidersRestoresAllProvidersAfterExclusiveCleared
    and TestRegisteredProvidersIgnoresStaleExclusiveProvider (with its plugin disabled, the
    API keys serve again and the plugin's header no longer does)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"door": FRONTEND.format(exclusive="True")}, {"door": {}}
    )
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "exclusive"}) == 200
    assert await _status(proxy.url, Authorization=f"Bearer {KEY}") == 401
    url = proxy.url + "/v0/management/plugins/door/enabled"
    async with (
        aiohttp.ClientSession() as s,
        s.patch(url, headers={"X-Management-Key": "m-secret"}, json={"enabled": False}) as r,
    ):
        assert r.status == 200
    assert await _status(proxy.url, Authorization=f"Bearer {KEY}") == 200
    assert await _status(proxy.url, **{"X-Example-Frontend-Auth": "exclusive"}) == 401


async def test_plugin_resource_is_public_and_routes_need_the_management_key(
    start_proxy, fakes, tmp_path, monkeypatch
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"panel": PANEL}, {"panel": {}})
    async with aiohttp.ClientSession() as s:
        async with s.get(proxy.url + "/v0/resource/plugins/panel/status") as r:
            assert r.status == 200 and (await r.json()) == {
                "path": "/v0/resource/plugins/panel/status",
                "method": "GET",
            }
        async with s.get(proxy.url + "/v0/resource/plugins/panel/nope") as r:
            assert r.status == 404
        async with s.get(
            proxy.url + "/v0/management/panel-stats", headers={"X-Management-Key": "m-secret"}
        ) as r:
            assert r.status == 200 and (await r.json())["path"] == "/v0/management/panel-stats"
        async with s.get(proxy.url + "/v0/management/panel-stats") as r:
            assert r.status == 401
        for _ in range(5):
            async with s.get(
                proxy.url + "/v0/management/panel-stats", headers={"Authorization": "Bearer bad"}
            ) as r:
                assert r.status == 401
        async with s.get(
            proxy.url + "/v0/management/panel-stats", headers={"X-Management-Key": "m-secret"}
        ) as r:
            assert r.status == 403  # banned after five failures, even with the right key
            assert "banned" in (await r.json())["error"]


async def test_management_is_404_without_a_secret(start_proxy, fakes, tmp_path, monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"panel": PANEL}, {"panel": {}})
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management/panel-stats", headers={"X-Management-Key": "anything"}) as r,
    ):
        assert r.status == 404
