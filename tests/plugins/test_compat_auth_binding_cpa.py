"""Auth files of a type a plugin executor serves that name an OpenAI-compatible endpoint:
the OpenAI-compatible provider serves them (CPA's registerExecutorForAuth binds its
OpenAI-compatible executor for such an auth, sdk/cliproxy/service_executors.go), with the
models a plugin of their type answers ``model.for_auth`` with (CPA's
tryRegisterPluginModelsForAuth). Through a running proxy, with the openai SDK and an
in-process plugin."""

from __future__ import annotations

from tests.plugins.test_compat_auth_cpa import _auth_file, _chat
from tests.plugins.test_flow_python import HEADER, _proxy

# executor, auth provider and model provider of "plugin-provider"
BOTH = (
    HEADER
    + """
class Both(Plugin, AuthProvider, ModelProvider, Executor):
    name = "both"; version = "1"; author = "t"; github_repository = "https://example.com/b"
    identifier = "plugin-provider"; input_formats = ["openai"]; output_formats = ["openai"]; model_scope = "oauth"
    asked = []
    async def parse(self, req):
        return None
    async def models_for_auth(self, req):
        type(self).asked.append(req.auth_id)
        return ModelList(provider="plugin-provider", models=[ModelInfo(id="auth-model")])
    async def execute(self, req):
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "PLUGIN-ANSWER"},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Both()
"""
)


async def test_a_file_with_a_base_url_goes_to_the_endpoint_not_the_plugin_executor(
    start_proxy, fakes, tmp_path
):
    """TestHasNativeOpenAICompatExecutorConfig (base url wins over the plugin executor
    candidate in registerExecutorForAuth): a ``plugin-provider`` file with a
    ``base_url`` is served by the OpenAI-compatible provider at that endpoint with its
    key, though a plugin executor serves its type; a file of that type without one still
    goes to the plugin executor. Both credentials serve the models the plugin's
    ``model.for_auth`` answers for them (CPA: registerModelsForAuth asks the plugin first).
    Before, both went to the plugin executor, and a file served by the OpenAI-compatible
    provider ignored ``model.for_auth``. Deliberate difference: CPA binds one executor per
    type, so there its endpoint file takes the whole type away from the plugin; here each
    file is served by what it names."""
    _auth_file(
        tmp_path,
        "with-url.json",
        {"type": "plugin-provider", "base_url": fakes.openai.url("/v1"), "api_key": "sk-url"},
    )
    _auth_file(tmp_path, "plain.json", {"type": "plugin-provider", "access_token": "t"})
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"both": BOTH}, {"both": {}}, base=False)
    pool = proxy.service.pool
    url_cred, plain = pool.get("with-url.json"), pool.get("plain.json")
    assert url_cred is not None and plain is not None
    assert "plugin" not in url_cred.attributes and plain.attributes["plugin"] == "both"
    assert [m.name for m in url_cred.models] == [m.name for m in plain.models] == ["auth-model"]

    answers = {await _chat(proxy, "auth-model") for _ in range(4)}  # round-robin over both
    assert "PLUGIN-ANSWER" in answers and len(answers) == 2
    calls = [r for r in fakes.openai.requests if r.path == "/v1/chat/completions"]
    assert calls and {r.key for r in calls} == {"sk-url"}
    assert {r.json["model"] for r in calls} == {"auth-model"}
