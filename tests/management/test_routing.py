"""The ``/v0/management`` sub-application: what every answer shares, whatever the route.

The gate comes first (disabled -> 404, no or wrong key -> 401), then aiohttp's router:
a known path with another method is a JSON 405, a path no route serves is a plugin
login, a plugin route or a JSON 501; every answer carries the build headers. State the
sub-application owns (open plugin logins) belongs to one proxy and ends with it.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.management.conftest import MHEADERS, mcall
from tests.plugins.test_flow_python import _plugin_cfg
from tests.plugins.test_management_plugins import LOGIN

BUILD_HEADERS = ("X-CPA-VERSION", "X-CPA-COMMIT", "X-CPA-BUILD-DATE", "X-CPA-SUPPORT-PLUGIN")


async def _raw(proxy: Any, method: str, path: str, headers: dict[str, str] | None = None) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, proxy.url + path, headers=headers) as resp,
    ):
        return resp.status, await resp.read(), resp.headers


async def test_unknown_paths_answer_501_with_the_build_headers(mproxy):
    proxy = await mproxy()
    for path in ("/no-such-endpoint", "/config/", "/", "/plugins/a/b/c"):
        status, body, headers = await _raw(proxy, "GET", "/v0/management" + path, MHEADERS)
        assert status == 501, path
        assert body == (
            b'{"error":"management endpoint GET /v0/management%s is not implemented in cliproxy yet"}'
            % path.encode()
        )
        assert all(headers[name] for name in BUILD_HEADERS)


async def test_a_known_path_with_another_method_answers_405(mproxy):
    proxy = await mproxy()
    assert await mcall(proxy, "DELETE", "/config") == (
        405,
        {"error": "method DELETE not allowed on /v0/management/config"},
    )
    status, _, headers = await _raw(proxy, "HEAD", "/v0/management/config", MHEADERS)
    assert status == 405 and headers["X-CPA-SUPPORT-PLUGIN"] == "1"


async def test_the_gate_answers_before_the_router(mproxy):
    proxy = await mproxy()
    for method, path in (("GET", "/config"), ("DELETE", "/config"), ("GET", "/no-such-endpoint")):
        status, _, headers = await _raw(proxy, method, "/v0/management" + path)
        assert status == 401, (method, path)
        assert headers["X-CPA-SUPPORT-PLUGIN"] == "1"
    # the prefix alone is no management path
    assert (await _raw(proxy, "GET", "/v0/management", MHEADERS))[0] == 404


async def test_management_without_a_secret_is_404_everywhere(start_proxy, monkeypatch):
    monkeypatch.delenv("MANAGEMENT_PASSWORD", raising=False)
    proxy = await start_proxy()
    for method, path in (("GET", "/config"), ("DELETE", "/config"), ("GET", "/no-such-endpoint")):
        assert (await _raw(proxy, method, "/v0/management" + path, MHEADERS))[0] == 404, (method, path)


async def test_path_parameters_arrive_decoded(mproxy):
    proxy = await mproxy()
    # the id reaches the handler decoded, and is unknown: the plugin endpoint's own 404
    assert await mcall(proxy, "GET", "/plugins/no%20such/config") == (404, {"error": "plugin_not_found"})


@pytest.fixture
def login_proxy(start_proxy, tmp_path, monkeypatch):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "acme.py").write_text(LOGIN)

    async def start() -> Any:
        return await start_proxy('api-keys: ["k"]\n' + _plugin_cfg(plugins, {"acme": {}}))

    return start


async def _login_call(proxy: Any, path: str) -> tuple[int, Any]:
    headers = {"X-Management-Key": "m-secret"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(proxy.url + "/v0/management" + path, headers=headers) as resp,
    ):
        return resp.status, await resp.json()


async def test_a_login_state_belongs_to_the_proxy_that_issued_it(login_proxy):
    first, second = await login_proxy(), await login_proxy()
    status, body = await _login_call(first, "/acme-auth-url")
    assert status == 200 and body["state"] == "st-1"
    # the other proxy (same plugin, same process) never issued this state
    assert await _login_call(second, "/get-auth-status?state=st-1") == (
        200,
        {"status": "error", "error": "unknown or expired state"},
    )
    assert await _login_call(first, "/get-auth-status?state=st-1") == (200, {"status": "wait"})
