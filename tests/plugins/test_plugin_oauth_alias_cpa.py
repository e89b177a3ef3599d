"""CPA's ``oauth-model-alias`` on a plugin provider's OAuth credential
(sdk/cliproxy/service_oauth_model_alias_test.go and sdk/cliproxy/auth/oauth_model_alias_test.go),
through a running proxy: the alias is listed instead of the plugin's model and a request
for it reaches the plugin's executor under the plugin's own name; and each such
credential registers the models the plugin names for it."""

from __future__ import annotations

import openai

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.plugins.test_flow_python import HEADER, _proxy

SAMPLE_PLUGIN = (
    HEADER
    + """
import json
class Sample(Plugin, AuthProvider, ModelProvider, Executor):
    name = "sample"; version = "1"; author = "t"; github_repository = "https://example.com/sample"
    identifier = "sample-provider"; input_formats = ["openai"]; output_formats = ["openai"]
    model_scope = "oauth"
    async def parse(self, req):
        return AuthParseResponse(handled=True, auth=AuthData(provider="sample-provider", label="s"))
    async def models_for_auth(self, req):
        return ModelList(provider="sample-provider", models=[ModelInfo(id="sample-model-latest")])
    async def execute(self, req):
        out = {"id": "c", "object": "chat.completion", "created": 1, "model": req.model,
               "choices": [{"index": 0, "message": {"role": "assistant", "content": "ran " + req.model},
                            "finish_reason": "stop"}]}
        return ExecutorResponse(payload=json.dumps(out).encode())
plugin = Sample()
"""
)
ALIASES = """
oauth-model-alias:
  sample-provider:
    - name: sample-model-latest
      alias: sample-latest
"""


async def test_a_plugin_oauth_credential_takes_the_providers_model_aliases(start_proxy, fakes, tmp_path):
    """TestApplyOAuthModelAlias_PluginProvider (both: the registered id is renamed, and a
    request for the alias resolves to the plugin's name). Before, a plugin's credential
    counted as not OAuth and kept ``sample-model-latest``."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": SAMPLE_PLUGIN}, {"sample": {}}, ALIASES)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        ids = {m.id async for m in client.models.list()}
    assert "sample-latest" in ids and "sample-model-latest" not in ids
    answer = await ask(Format.OPENAI, proxy.url, "sample-latest", "hi", stream=False)
    assert answer.text == "ran sample-model-latest"


TWO_PLUGIN = SAMPLE_PLUGIN.replace(
    'models=[ModelInfo(id="sample-model-latest")]', 'models=[ModelInfo(id="m-" + req.auth_id[0])]'
).replace('"ran " + req.model', 'req.auth_id + " " + req.model')


async def test_each_plugin_oauth_credential_registers_its_own_models(start_proxy, fakes, tmp_path):
    """CPA asks ``model.for_auth`` of each credential and registers what it answers for
    that credential alone (``registerModelsForAuth``). Before, two OAuth credentials of one
    plugin provider shared the first one's models: ``m-b`` was unknown and ``b.json``
    served ``m-a``."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    for name in ("a", "b"):
        (auths / f"{name}.json").write_text('{"type": "sample-provider"}')
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": TWO_PLUGIN}, {"sample": {}})
    for name in ("a", "b"):
        answer = await ask(Format.OPENAI, proxy.url, f"m-{name}", "hi", stream=False)
        assert answer.text == f"{name}.json m-{name}"


FORCED_PLUGIN = SAMPLE_PLUGIN.replace(
    "plugin = Sample()",
    """    async def execute_stream(self, req):
        for delta, finish in (({"role": "assistant", "content": "ran"}, None), ({}, "stop")):
            c = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": req.model,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            yield ("data: " + json.dumps(c) + "\\n\\n").encode()
        yield b"data: [DONE]\\n\\n"
plugin = Sample()""",
)


async def test_a_plugin_credentials_force_mapped_alias_names_the_alias_in_its_answer(
    start_proxy, fakes, tmp_path
):
    """CPA rewrites the answer's ``model`` of a force-mapped alias for every executor
    (``Manager.executeMixedOnce`` / ``executeStreamWithModelPool`` with
    ``rewriteModelInResponse``, conductor_execution.go and conductor_stream.go), a
    plugin's too, whole and streamed, in each client format. Before, a plugin's
    credential answered ``sample-model-latest`` to a client that asked for
    ``sample-latest``."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    forced = ALIASES + "      force-mapping: true\n"
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": FORCED_PLUGIN}, {"sample": {}}, forced)
    for fmt in (Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI):
        for stream in (False, True):
            answer = await ask(fmt, proxy.url, "sample-latest", "hi", stream=stream)
            assert answer.text.startswith("ran"), (fmt, stream, answer.text)
            assert answer.model == "sample-latest", (fmt, stream, answer.model)


CUSTOM_PLUGIN = (
    FORCED_PLUGIN.replace(
        "class Sample(Plugin, AuthProvider, ModelProvider, Executor):",
        "class Sample(Plugin, AuthProvider, ModelProvider, Executor, ResponseTranslator):",
    )
    .replace('output_formats = ["openai"]', 'output_formats = ["sample-out"]')
    .replace(
        "plugin = Sample()",
        """    async def translate_response(self, req):
        if req.from_format != "sample-out":
            return None
        return req.body
plugin = Sample()""",
    )
)


async def test_a_force_mapped_alias_names_the_alias_after_a_plugins_own_translation(
    start_proxy, fakes, tmp_path
):
    """The same rewrite when the executor answers in a format of its own that the plugin's
    response translator brings to the client's (CPA rewrites the answer the executor
    path returns, after translation), whole and streamed."""
    auths = tmp_path / "auths"
    auths.mkdir(exist_ok=True)
    (auths / "sample.json").write_text('{"type": "sample-provider"}')
    forced = ALIASES + "      force-mapping: true\n"
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"sample": CUSTOM_PLUGIN}, {"sample": {}}, forced)
    for stream in (False, True):
        answer = await ask(Format.OPENAI, proxy.url, "sample-latest", "hi", stream=stream)
        assert answer.text.startswith("ran"), (stream, answer.text)
        assert answer.model == "sample-latest", (stream, answer.model)
