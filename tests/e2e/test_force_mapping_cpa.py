"""CPA's force-mapping cases (sdk/cliproxy/auth/conductor_force_mapping_test.go,
response_model_rewriter_test.go) through a running proxy: a model alias with
``force-mapping: true`` sends the configured upstream name and every answer the client
reads (whole or streamed, in each client format) names the alias, never the upstream name.

CPA rewrites the upstream's bytes (a stream rewriter that buffers partial SSE events);
cliproxy translates a force-mapped answer with the alias as its model, so the chunking
cases of the rewriter tests (``data:`` without a space, one line per chunk, glued events)
are the SSE decoder's: the fakes here stream in small chunks that split events anywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file
from tests.e2e.test_providers_more import antigravity_auth, kimi_file, write_auth

HEAD = f'api-keys: ["{KEY}"]\n'
CLIENTS = ("openai", "responses", "claude", "gemini")


def _alias(name: str, alias: str) -> str:
    return f'[{{name: "{name}", alias: "{alias}", force-mapping: true}}]'


def _setup(kind: str, fakes: Any, tmp_path: Path) -> tuple[str, str, str, Any]:
    """(config YAML, alias, upstream name, the fake that serves it) for one provider."""
    if kind == "claude-oauth":
        write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
        rules = _alias("claude-sonnet-4-6", "sonnet-fast")
        return f"oauth-model-alias:\n  claude: {rules}\n", "sonnet-fast", "claude-sonnet-4-6", fakes.claude
    if kind == "kimi-oauth":
        kimi_file(tmp_path, fakes.claude.base_url)
        return f"oauth-model-alias:\n  kimi: {_alias('kimi-k2', 'k2-fast')}\n", "k2-fast", "k2", fakes.claude
    if kind == "antigravity-oauth":
        antigravity_auth(tmp_path, fakes.gemini.base_url)
        rules = _alias("gemini-3-flash", "claude-haiku-4-5-20251001")
        yaml = f"oauth-model-alias:\n  antigravity: {rules}\n"
        return yaml, "claude-haiku-4-5-20251001", "gemini-3-flash", fakes.gemini
    if kind == "claude-api-key":
        models = _alias("claude-sonnet-4-6", "claude-sonnet-latest")
        yaml = f'claude-api-key:\n  - api-key: "ck"\n    base-url: "{fakes.claude.base_url}"\n    models: {models}\n'
        return yaml, "claude-sonnet-latest", "claude-sonnet-4-6", fakes.claude
    if kind == "codex-api-key":
        base = f"{fakes.responses.base_url}/backend-api/codex"
        yaml = f'codex-api-key:\n  - api-key: "cx"\n    base-url: "{base}"\n    models: {_alias("gpt-5.4", "gpt-5.4-fast")}\n'
        return yaml, "gpt-5.4-fast", "gpt-5.4", fakes.responses
    if kind == "xai-api-key":
        models = _alias("grok-4.6", "grok-latest")
        yaml = f'xai-api-key:\n  - api-key: "xk"\n    base-url: "{fakes.openai.base_url}/v1"\n    models: {models}\n'
        return yaml, "grok-latest", "grok-4.6", fakes.openai
    if kind == "vertex-api-key":
        models = _alias("gemini-2.5-flash", "claude-opus-4-5")
        yaml = f'vertex-api-key:\n  - api-key: "vk"\n    base-url: "{fakes.gemini.base_url}"\n    models: {models}\n'
        return yaml, "claude-opus-4-5", "gemini-2.5-flash", fakes.gemini
    assert kind == "openai-compatibility"
    models = _alias("deepseek-v3.1", "claude-opus-4.66")
    yaml = (
        f'openai-compatibility:\n  - name: up\n    base-url: "{fakes.openai.base_url}/v1"\n'
        f'    api-key-entries: [{{api-key: "ok"}}]\n    models: {models}\n'
    )
    return yaml, "claude-opus-4.66", "deepseek-v3.1", fakes.openai


def _request(client: str, model: str, stream: bool) -> tuple[str, dict[str, Any]]:
    """(path, body) of a one-line question in ``client``'s format."""
    if client == "openai":
        return "/v1/chat/completions", {
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "Say hello"}],
        }
    if client == "responses":
        return "/v1/responses", {"model": model, "stream": stream, "input": "Say hello"}
    if client == "claude":
        return "/v1/messages", {
            "model": model,
            "stream": stream,
            "max_tokens": 256,
            "messages": [{"role": "user", "content": "Say hello"}],
        }
    action = "streamGenerateContent?alt=sse" if stream else "generateContent"
    return f"/v1beta/models/{model}:{action}", {
        "contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]
    }


async def _ask(url: str, client: str, model: str, stream: bool) -> str:
    path, body = _request(client, model, stream)
    headers = {"Authorization": f"Bearer {KEY}", "x-goog-api-key": KEY}
    async with aiohttp.ClientSession() as s, s.post(url + path, json=body, headers=headers) as r:
        text = await r.text()
        assert r.status == 200, text
        return text


def _models(text: str, stream: bool) -> list[str]:
    """Every model name the client reads: the top-level ``model`` / ``modelVersion`` and
    the one inside ``message`` / ``response`` of each event (or of the whole body)."""
    objects = [orjson.loads(text)] if not stream else []
    if stream:
        for line in text.splitlines():
            if line.startswith("data:") and line[5:].strip() not in ("", "[DONE]"):
                objects.append(orjson.loads(line[5:]))
    found = []
    for obj in objects:
        for holder in (obj, obj.get("message"), obj.get("response")):
            if isinstance(holder, dict):
                found += [holder[k] for k in ("model", "modelVersion") if isinstance(holder.get(k), str)]
    return found


PROVIDERS = (
    "claude-oauth",
    "kimi-oauth",
    "antigravity-oauth",
    "claude-api-key",
    "codex-api-key",
    "xai-api-key",
    "vertex-api-key",
    "openai-compatibility",
)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("kind", PROVIDERS)
async def test_force_mapped_answers_name_the_alias(start_proxy, fakes, tmp_path, kind, stream):
    """TestManagerExecute_OAuthAliasForceMappingRewritesNonStreamResponse,
    TestManagerExecuteStream_OAuthAliasForceMappingRewritesStreamResponse,
    ..._RewritesCodexStyleLineChunks, ..._RewritesKimiAndXAIResponses (both),
    TestManagerExecute(Stream)_LiveDerivedForceMapping_AllProviders and
    TestManagerExecute(Stream)_APIKeyAliasForceMappingRewritesResponse: the upstream gets
    its own name, each client format reads the alias in every event that names a model, and
    a Responses stream starts once (no event repeated from a split chunk). Also CPA's
    rewriter cases TestStreamRewriter_RewriteChunk_KimiMessagesDataPrefixWithoutSpace,
    TestStreamRewriter_RewriteChunk_AnthropicMessagesDataPrefixWithSpace,
    TestStreamRewriter_Finish_FlushesCodexResponsesEventChunk,
    TestStreamRewriter_RewriteChunk_CodexResponsesLineChunks,
    TestRewriteForceMappedStreamChunk_CodexLineChunksDoNotDuplicateBufferedEvent,
    TestRewriteModelInResponse_AntigravityModelVersion,
    TestStreamRewriter_RewriteChunk_LiveDerivedProviderChunks and
    TestRewriteSSEPayloadLines_CodexResponsesLiveFrame: the alias whatever the chunking
    (our encoder writes the client's events, so CPA's keeping of the upstream's ``data:``
    spacing has no counterpart).
    CPA: TestManagerExecuteStream_OAuthAliasForceMappingRewritesCodexStyleLineChunks,
    TestManagerExecute_OAuthAliasForceMappingRewritesKimiAndXAIResponses,
    TestManagerExecuteStream_OAuthAliasForceMappingRewritesKimiAndXAIResponses,
    TestManagerExecute_LiveDerivedForceMapping_AllProviders,
    TestManagerExecuteStream_LiveDerivedForceMapping_AllProviders,
    TestManagerExecute_APIKeyAliasForceMappingRewritesResponse,
    TestManagerExecuteStream_APIKeyAliasForceMappingRewritesResponse."""
    yaml, alias, upstream, fake = _setup(kind, fakes, tmp_path)
    proxy = await start_proxy(HEAD + yaml)
    # Kimi serves Claude clients on its Messages endpoint (the fake here), the rest on Chat
    for client in ("claude",) if kind == "kimi-oauth" else CLIENTS:
        fake.clear()
        text = await _ask(proxy.url, client, alias, stream)
        sent = fake.last
        assert upstream in (sent.json.get("model", ""), sent.path), (client, sent.path)
        names = _models(text, stream)
        assert names and set(names) == {alias}, (client, names, text[:400])
        assert f'"{upstream}"' not in text, (client, text[:400])
        if stream and client == "responses":
            assert text.count('"type":"response.created"') == 1, text[:400]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_without_force_mapping_the_upstream_name_comes_back(start_proxy, fakes, tmp_path, stream):
    """TestRewriteForceMappedResponse_NoRewriteWhenForceMappingDisabled,
    TestRewriteForceMappedStreamChunk_NoRewriteWhenRewriterNil (the stream case) and
    TestApplyOAuthModelAliasWithResult_NoForceMappingPreservesRequestedModelInOriginalAlias:
    a plain alias sends the upstream name and the answer is the upstream's own."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(
        HEAD + 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "plain"}]\n'
    )
    text = await _ask(proxy.url, "openai", "plain", stream)
    assert fakes.claude.last.json["model"] == "claude-sonnet-4-6"
    assert set(_models(text, stream)) == {"claude-sonnet-4-6"}


async def test_a_suffixed_force_mapped_request_reports_the_configured_alias(start_proxy, fakes, tmp_path):
    """TestApplyOAuthModelAliasWithResult_ForceMappingUsesConfigAliasNotRequestSuffix and
    TestResolveAPIKeyModelAliasWithResult_ForceMappingUsesConfigAliasNotRequestSuffix: a
    request for ``alias(high)`` reaches the upstream name with the suffix's thinking, and
    the answer names the configured alias without the suffix."""
    base = f"{fakes.responses.base_url}/backend-api/codex"
    models = '[{name: "gpt-5.4", alias: "gpt-5.4-fast", fork: true, force-mapping: true}]'
    proxy = await start_proxy(
        HEAD + f'codex-api-key:\n  - api-key: "cx"\n    base-url: "{base}"\n    models: {models}\n'
    )
    for stream in (False, True):
        text = await _ask(proxy.url, "responses", "gpt-5.4-fast(high)", stream)
        sent = fakes.responses.last.json
        assert sent["model"] == "gpt-5.4" and sent["reasoning"]["effort"] == "high"
        assert set(_models(text, stream)) == {"gpt-5.4-fast"}
