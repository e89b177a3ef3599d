"""Web logins run by an auth-provider plugin (``GET /<provider>-auth-url``, then
``GET /get-auth-status``), as in CPA's ``auth_files_plugin_oauth_test.go`` and
``GetAuthStatus`` (``auth_files_provider_oauth.go``).

The plugin hands out states ``st-1``, ``st-2``... and answers each poll after the state's
number: 1 returns two credentials in ``Auths`` beside a single ``Auth``; 2 a credential
without a provider; 3 two credentials of which the second cannot be written; 4 an error
without a message.
"""

from __future__ import annotations

import json

from tests.plugins.test_flow_python import _proxy
from tests.plugins.test_management_plugins import _call

LOGIN = """
from cliproxy.plugins.api import *
class Gem(Plugin, AuthProvider, Executor):
    name = "gem"; version = "1"; author = "t"; github_repository = "https://example.com/gem"
    identifier = "gem"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    started = 0
    async def parse(self, req):
        return None
    async def login_start(self, req):
        Gem.started += 1
        return LoginStartResponse(provider="gem", url="https://login.example/a", state=f"st-{Gem.started}")
    async def login_poll(self, req):
        pair = [AuthData(provider="gem", file_name="gem.json", storage_json=b'{"type":"gem"}'),
                AuthData(provider="gem", file_name="gem-project-a.json", metadata={"project_id": "project-a"})]
        if req.state == "st-1":
            return LoginPollResponse(status="success", auth=AuthData(provider="gem", file_name="single.json"),
                                     auths=pair)
        if req.state == "st-2":
            return LoginPollResponse(status="success", auths=[pair[0], AuthData(file_name="nobody.json")])
        if req.state == "st-3":
            return LoginPollResponse(status="success", auths=[pair[0], AuthData(provider="gem", file_name="blocked")])
        return LoginPollResponse(status="error")
    async def execute(self, req):
        raise PluginError("not needed", http_status=500)
plugin = Gem()
"""


async def login(proxy) -> str:
    status, body = await _call(proxy, "GET", "/gem-auth-url")
    assert status == 200, body
    return body["state"]


async def status_of(proxy, state: str) -> tuple[int, dict]:
    return await _call(proxy, "GET", f"/get-auth-status?state={state}")


async def test_plugin_login_saves_every_credential_of_auths(start_proxy, fakes, tmp_path, monkeypatch):
    """TestPluginLoginPollAuthsExpandsMultipleAuths: a poll answer with two credentials in
    ``Auths`` saves both (the second with its ``project_id``) and not the single ``Auth``
    beside them; the finished login keeps answering ``ok`` and refuses a late callback."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"gem": LOGIN}, {"gem": {}})
    state = await login(proxy)
    assert await status_of(proxy, state) == (200, {"status": "ok"})
    auths = tmp_path / "auths"
    assert json.loads((auths / "gem.json").read_text()) == {"type": "gem"}
    assert json.loads((auths / "gem-project-a.json").read_text()) == {
        "project_id": "project-a",
        "type": "gem",
    }
    assert not (auths / "single.json").exists()
    assert await status_of(proxy, state) == (200, {"status": "ok"})
    assert await _call(
        proxy, "POST", "/oauth-callback", {"provider": "gem", "state": state, "code": "c"}
    ) == (
        409,
        {"status": "error", "error": "oauth flow is already completed"},
    )
    assert await _call(proxy, "DELETE", f"/oauth-session?state={state}") == (
        200,
        {"status": "ok", "cancelled": False},
    )


async def test_plugin_login_saves_all_or_nothing(start_proxy, fakes, tmp_path, monkeypatch):
    """TestSavePluginLoginRecordsRollsBackSavedAuthsOnFailure, and GetAuthStatus's nil record:
    a credential without a provider fails the login before anything is written; when the
    second of two credentials cannot be written (its path is a directory), the first is
    removed again and the login says ``Failed to save authentication tokens``. A plugin
    error without a message reads ``Authentication failed``; failures stay readable."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"gem": LOGIN}, {"gem": {}})
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "blocked.json").mkdir()
    await login(proxy)  # st-1, not polled
    failed = (200, {"status": "error", "error": "Authentication failed"})
    assert await status_of(proxy, await login(proxy)) == failed
    assert not (auths / "gem.json").exists() and not (auths / "nobody.json").exists()
    state = await login(proxy)
    save_failed = (200, {"status": "error", "error": "Failed to save authentication tokens"})
    assert await status_of(proxy, state) == save_failed
    assert not (auths / "gem.json").exists()
    assert await status_of(proxy, state) == save_failed
    assert await status_of(proxy, await login(proxy)) == failed
    assert all(c.provider != "gem" for c in proxy.service.pool.credentials())
