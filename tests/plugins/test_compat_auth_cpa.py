"""Auth files of a provider no built-in serves that name an OpenAI-compatible endpoint
(``base_url``): served by the built-in OpenAI-compatible provider, their token refreshed
by the plugin auth provider of their type when one is loaded (CPA's plugin refresh
wrapper around its OpenAI-compatible executor, sdk/cliproxy/service_executors.go), bare
otherwise. Through a running proxy, with the openai SDK and in-process plugins."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

# a plugin's auth provider for "plugin-provider" (refresh only); no plugin executes its
# credentials, so the built-in OpenAI-compatible provider serves them
REFRESHING = (
    HEADER
    + """
class Refreshing(Plugin, AuthProvider):
    name = "refreshing"; version = "1"; author = "t"; github_repository = "https://example.com/r"
    identifier = "plugin-provider"
    calls = 0
    async def parse(self, req):
        return None
    async def refresh(self, req):
        type(self).calls += 1
        assert req.metadata["refresh_token"] == "refresh-1"
        return AuthRefreshResponse(auth=AuthData(provider="plugin-provider",
            attributes={"api_key": "fresh-token"}, metadata={"access_token": "fresh-token"}))
plugin = Refreshing()
"""
)

# models for "custom-compat" and "plugin-provider" credentials, from a plugin with no
# auth provider
MODELS_ONLY = (
    HEADER
    + """
class Models(Plugin, ModelProvider):
    name = "models"; version = "1"; author = "t"; github_repository = "https://example.com/m"
    async def static_models(self, req):
        return ModelList(provider="custom-compat", models=[ModelInfo(id="custom-model")])
plugin = Models()
"""
)
PP_MODELS = MODELS_ONLY.replace("custom-compat", "plugin-provider").replace("custom-model", "pp-model")
PLUGINS = {"refreshing": REFRESHING, "models": PP_MODELS}
MKEY = {"X-Management-Key": "m-secret"}


def _auth_file(tmp_path: Path, name: str, data: dict) -> Path:
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    path = auths / name
    path.write_text(json.dumps(data))
    return path


def _client(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key=KEY, base_url=proxy.url + "/v1", max_retries=0, timeout=10)


async def _chat(proxy, model: str) -> str:
    async with _client(proxy) as client:
        reply = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}]
        )
    return reply.choices[0].message.content or ""


async def test_a_plugin_auth_with_a_base_url_is_refreshed_by_its_plugin(
    start_proxy, fakes, tmp_path, monkeypatch
):
    """TestRegisterExecutorForAuth_PluginAuthProviderWrapsOpenAICompatRefresh and
    TestRefreshAuthForRequest_UsesExecutorKeyFromAuth: an auth file of type
    ``plugin-provider`` with a ``base_url`` goes to that endpoint with its key, as the
    OpenAI-compatible provider sends it; the endpoint's 401 has the plugin's
    ``auth.refresh`` give a new token, and the same credential answers with it (one
    refresh). The file keeps the new token. Before, the request failed: no provider
    served the credential's type. Then TestUnregisterOpenAICompatExecutorRemovesPluginRefreshWrapper:
    with the auth provider's plugin disabled, a 401 is no longer refreshed.
    CPA: TestPluginRefreshCompatExecutorDelegatesExecuteAndRefresh (the base URL is kept),
    TestPluginRefreshCompatExecutorErrorsWhenRefreshUnavailable (no plugin refresh: the
    client gets the upstream's 401)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", "m-secret")
    path = _auth_file(
        tmp_path,
        "plugin-auth-1.json",
        {
            "type": "plugin-provider",
            "base_url": fakes.openai.url("/v1"),
            "api_key": "expired-token",
            "access_token": "expired-token",
            "refresh_token": "refresh-1",
        },
    )
    fakes.openai.fail_key("expired-token", 401)
    proxy = await _proxy(start_proxy, fakes, tmp_path, PLUGINS, {"refreshing": {}, "models": {}}, base=False)
    text = await _chat(proxy, "pp-model")
    assert text
    keys = [r.key for r in fakes.openai.requests if r.path == "/v1/chat/completions"]
    assert keys == ["expired-token", "fresh-token"]
    assert fakes.openai.last.json["model"] == "pp-model"
    cred = proxy.service.pool.get("plugin-auth-1.json")
    assert cred is not None and cred.api_key == "fresh-token"
    saved = json.loads(path.read_text())
    assert saved["access_token"] == saved["api_key"] == "fresh-token"
    assert saved["type"] == "plugin-provider" and saved["refresh_token"] == "refresh-1"
    await _chat(proxy, "pp-model")  # no second refresh: the new token holds
    assert [r.key for r in fakes.openai.requests][-1] == "fresh-token"

    url = proxy.url + "/v0/management/plugins/refreshing/enabled"
    async with aiohttp.ClientSession() as s, s.patch(url, headers=MKEY, json={"enabled": False}) as r:
        assert r.status == 200
    fakes.openai.clear()
    fakes.openai.fail_key("fresh-token", 401)
    with pytest.raises(openai.AuthenticationError):
        await _chat(proxy, "pp-model")
    assert [r.key for r in fakes.openai.requests] == ["fresh-token"]
    assert json.loads(path.read_text())["access_token"] == "fresh-token"


async def test_a_compat_auth_without_a_plugin_auth_provider_stays_bare(start_proxy, fakes, tmp_path):
    """TestRegisterExecutorForAuth_OpenAICompatWithoutPluginAuthProviderStaysBare and
    TestHasNativeOpenAICompatExecutorConfig (inline base url): a ``custom-compat`` file
    with a ``base_url`` and a key is served by the OpenAI-compatible provider; with no
    auth provider of its type, a 401 is not refreshed: the client gets the upstream's 401
    and the endpoint is asked once. CPA: TestPluginRefreshCompatExecutorNoOpForAPIKeyAuth
    (an API-key credential is left as it is)."""
    _auth_file(
        tmp_path,
        "compat-auth-1.json",
        {"type": "custom-compat", "base_url": fakes.openai.url("/v1"), "api_key": "sk-test"},
    )
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"models": MODELS_ONLY}, {"models": {}}, base=False)
    assert await _chat(proxy, "custom-model")
    assert fakes.openai.last.key == "sk-test" and fakes.openai.last.json["model"] == "custom-model"
    fakes.openai.clear()
    fakes.openai.fail_key("sk-test", 401)
    with pytest.raises(openai.AuthenticationError):
        await _chat(proxy, "custom-model")
    assert len(fakes.openai.requests) == 1


async def test_a_type_without_an_endpoint_is_not_served(start_proxy, fakes, tmp_path):
    """TestHasNativeOpenAICompatExecutorConfig (plain plugin auth): a file of a type no
    built-in serves, with a key but no ``base_url`` and no ``openai-compatibility`` entry
    of its name, is not sent to an OpenAI-compatible endpoint: the client gets a 503
    saying no provider serves its type, and no upstream is called. Before, a 500.
    (CPA binds it to its OpenAI-compatible executor anyway, which then has no endpoint.)"""
    _auth_file(tmp_path, "plain.json", {"type": "custom-compat", "api_key": "test"})
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"models": MODELS_ONLY}, {"models": {}}, base=False)
    with pytest.raises(openai.APIStatusError) as caught:
        await _chat(proxy, "custom-model")
    assert caught.value.status_code == 503
    assert "no provider serves credentials of type 'custom-compat'" in caught.value.message
    assert not [r for r in fakes.openai.requests if r.path == "/v1/chat/completions"]


# an auth provider that reads its own files: the endpoint and key are among the attributes
# it answers, as CPA plugins set them for the built-in OpenAI-compatible executor
PARSING = (
    HEADER
    + """
class Parsing(Plugin, AuthProvider):
    name = "parsing"; version = "1"; author = "t"; github_repository = "https://example.com/p"
    identifier = "plugin-provider"
    async def parse(self, req):
        raw = json.loads(req.raw_json)
        return AuthParseResponse(handled=True, auth=AuthData(provider="plugin-provider",
            label="pp:" + raw["user"], attributes={"base_url": raw["endpoint"], "api_key": raw["token"]}))
plugin = Parsing()
"""
)


async def test_an_endpoint_the_plugin_parses_out_of_its_file_is_served(start_proxy, fakes, tmp_path):
    """TestRegisterExecutorForAuth_OpenAICompatInfoPathAlsoWrapsPluginRefresh's setting,
    as CPA plugins make it: the file names no ``base_url``; the auth provider of its type
    answers ``auth.parse`` with ``base_url`` and ``api_key`` attributes, and the
    OpenAI-compatible provider sends the request there with that key. Before, the file was
    read only by a plugin executor's binding, and no provider served it."""
    _auth_file(
        tmp_path,
        "pp-bob.json",
        {
            "type": "plugin-provider",
            "user": "bob",
            "endpoint": fakes.openai.url("/v1"),
            "token": "parsed-key",
        },
    )
    plugins = {"parsing": PARSING, "models": PP_MODELS}
    proxy = await _proxy(start_proxy, fakes, tmp_path, plugins, {"parsing": {}, "models": {}}, base=False)
    assert await _chat(proxy, "pp-model")
    assert fakes.openai.last.key == "parsed-key" and fakes.openai.last.json["model"] == "pp-model"
    cred = proxy.service.pool.get("pp-bob.json")
    assert cred is not None and cred.label == "pp:bob" and cred.base_url == fakes.openai.url("/v1")
