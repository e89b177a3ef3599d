"""CPA's auth-provider login cases (internal/pluginhost/auth_provider_test.go): the
management sign-in hands the plugin its provider, state or base URL and the host summary,
through a running proxy and a Python plugin."""

from __future__ import annotations

from typing import Any

from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_management_plugins import _call

LOGIN = """
from cliproxy.plugins.api import *
class Acme(Plugin, AuthProvider, ModelProvider, Executor):
    name = "acme"; version = "1"; author = "t"; github_repository = "https://example.com/acme"
    identifier = "acme"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    seen = []
    async def parse(self, req):
        return None
    async def login_start(self, req):
        Acme.seen.append(("start", req))
        return LoginStartResponse(provider=req.provider, url="http://provider/login", state="state-1")
    async def login_poll(self, req):
        Acme.seen.append(("poll", req))
        return LoginPollResponse(status="success", message="done",
                                 auth=AuthData(provider="acme", file_name="acme-1.json", metadata={"t": "x"}))
    async def models_for_auth(self, req):
        return ModelList(provider="acme", models=[ModelInfo(id="acme-model")])
    async def execute(self, req):
        raise PluginError("not needed", http_status=500)
plugin = Acme()
"""


async def test_login_start_and_poll_get_the_host_summary(start_proxy, fakes, tmp_path, monkeypatch) -> None:
    """CPA: TestStartLoginPassesProviderBaseURLHostAndHTTPClient,
    TestPollLoginPassesProviderStateHostAndHTTPClient: start gets the provider and the
    callback base URL, poll the provider and state; both get the host summary with the auth
    dir, the proxy URL, ``force-model-prefix``, ``oauth-model-alias`` and
    ``oauth-excluded-models``. Before, ``ForceModelPrefix`` was left out (false) and the two
    maps were empty. (CPA's HTTP-client bridge is the host.http.do callback here.)"""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    extra = (
        'proxy-url: "http://proxy.local"\nforce-model-prefix: true\n'
        "oauth-model-alias: {acme: [{name: acme-model, alias: fast}]}\n"
        "oauth-excluded-models: {acme: [hidden]}\n"
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"acme": LOGIN}, {"acme": {}}, extra)
    status, body = await _call(proxy, "GET", "/acme-auth-url")
    assert (status, body["url"], body["state"]) == (200, "http://provider/login", "state-1")
    assert await _call(proxy, "GET", "/get-auth-status?state=state-1") == (200, {"status": "ok"})
    seen: list[tuple[str, Any]] = proxy.service.plugins.get("acme").client.plugin.seen
    (_, start), (_, poll) = seen
    assert start.provider == "acme" and start.base_url.endswith("/v0/management/oauth-callback")
    assert (poll.provider, poll.state) == ("acme", "state-1")
    for req in (start, poll):
        assert req.host.auth_dir == str(proxy.service.auth_dir)
        assert (req.host.proxy_url, req.host.force_model_prefix) == ("http://proxy.local", True)
        assert [(a.name, a.alias) for a in req.host.oauth_model_alias["acme"]] == [("acme-model", "fast")]
        assert req.host.excluded_models == {"acme": ["hidden"]}
