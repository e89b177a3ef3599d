"""The model lists a client gets by who it is, through a running proxy: Grok Build's
terminal client (CPA internal/api/server_grok_models_test.go, aiohttp), configured display
names and Claude-list cloaking (sdk/api/handlers/claude/code_handlers_model_test.go,
gemini/gemini_models_display_name_test.go, with the official SDKs)."""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from cliproxy.models.listing import cloak_claude_id
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

AUTH = {"Authorization": f"Bearer {KEY}"}
SHELLS = ["grok-shell/0.2.119 (macos; aarch64)", "grok-pager/0.2.119 grok-shell/0.2.119 (macos; aarch64)"]


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    return await start_proxy(matrix_config(fakes))


async def get(proxy: Any, path: str, agent: str) -> tuple[int, dict[str, Any]]:
    headers = {**AUTH, "User-Agent": agent}
    async with aiohttp.ClientSession() as http, http.get(proxy.url + path, headers=headers) as r:
        return r.status, orjson.loads(await r.read())


@pytest.mark.parametrize("agent", SHELLS, ids=["shell", "pager"])
async def test_grok_shell_gets_its_own_model_list(proxy, agent: str) -> None:
    """CPA TestModelsDispatchByGrokShellUserAgent: a ``User-Agent`` naming grok-shell gets
    the Grok Build list (before, the OpenAI list, which the shell cannot read), even with
    ``?client_version``: every served model, whatever its provider, with ``model`` = ``id``,
    its display name, its context window, ``api_backend: responses``,
    ``supported_in_api`` and its reasoning levels as ``reasoning_efforts``.
    CPA: TestGetAvailableModelInfosPreservesMetadataAndAvailability (the list is sorted by
    id, whatever the provider; before, it came in registration order)."""
    status, body = await get(proxy, "/v1/models?client_version", agent)
    assert status == 200 and body["object"] == "list"
    ids = [m["id"] for m in body["data"]]
    assert ids == sorted(ids)
    by_id = {m["id"]: m for m in body["data"]}
    assert {"codex-model", "claude-model", "gemini-model", "compat-model"} <= set(by_id)
    codex = by_id["codex-model"]
    assert codex["model"] == "codex-model" and codex["name"] == "gpt-5.4"
    assert codex["context_window"] > 0
    assert codex["api_backend"] == "responses" and codex["supported_in_api"] is True
    assert [e["value"] for e in codex["reasoning_efforts"]] == ["low", "medium", "high", "xhigh"]
    assert by_id["claude-model"]["api_backend"] == "responses"


async def test_grok_shell_list_omits_what_a_model_lacks(proxy) -> None:
    """CPA TestGrokHomeModelAdapterOmitsReasoning (through the registry: cliproxy has no
    Home): a model with no known context window has no ``context_window`` member, one with
    no reasoning levels no ``reasoning_efforts``, and the name falls back to the id."""
    _, body = await get(proxy, "/v1/models", SHELLS[0])
    by_id = {m["id"]: m for m in body["data"]}
    assert "reasoning_efforts" not in by_id["gemini-model"]
    assert by_id["gemini-model"]["context_window"] > 0
    compat = by_id["compat-model"]
    assert "context_window" not in compat and compat["name"] == "compat-model"


async def test_ordinary_clients_keep_the_openai_list(proxy) -> None:
    """CPA TestModelsDispatchKeepsOrdinaryOpenAIResponse: curl gets the OpenAI list, with
    no Grok member on any model."""
    status, body = await get(proxy, "/v1/models", "curl/8.7.1")
    assert status == 200 and body["object"] == "list"
    assert "codex-model" in {m["id"] for m in body["data"]}
    assert all("api_backend" not in m and m["object"] == "model" for m in body["data"])


# ---------------------------------------------------------------- display names and cloaking


def named_config(fakes: Any, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "sk-ant-1"
    base-url: "{fakes.claude.base_url}"
    models:
      - name: "claude-sonnet-4-6"
        alias: "claude-named"
        display-name: "Configured Claude Name"
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models:
      - name: "gpt-5.4"
        alias: "gpt-plain"
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - name: "gemini-2.5-flash"
        alias: "gemini-named"
        display-name: "Configured Gemini Name"
{extra}"""


async def claude_list(proxy: Any) -> dict[str, str]:
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    try:
        return {m.id: m.display_name async for m in client.models.list(limit=1000)}
    finally:
        await client.close()


async def test_claude_list_uses_the_configured_display_name(start_proxy, fakes) -> None:
    """CPA TestClaudeModelsResponseUsesConfiguredDisplayName: a model's ``display-name``
    from the config is its ``display_name`` in the Claude list (official SDK)."""
    proxy = await start_proxy(named_config(fakes))
    assert (await claude_list(proxy))["claude-named"] == "Configured Claude Name"


async def test_gemini_list_uses_the_configured_display_name(start_proxy, fakes) -> None:
    """CPA TestGeminiModelsResponseUsesConfiguredDisplayName: the same for ``displayName``
    in the Gemini list (official google-genai SDK)."""
    proxy = await start_proxy(named_config(fakes))
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    names = {m.name: m.display_name async for m in await client.aio.models.list()}
    assert names["models/gemini-named"] == "Configured Gemini Name"


async def test_claude_list_cloaks_other_models_and_a_cloaked_id_is_served(start_proxy, fakes) -> None:
    """CPA TestRewriteClaudeDDModelInBody: a non-Claude model is listed to Claude clients
    under a Claude-looking id, and a Messages request for that id (with a thinking suffix
    too) reaches the model behind it."""
    proxy = await start_proxy(named_config(fakes))
    listed = await claude_list(proxy)
    assert "gpt-plain" not in listed
    cloaked = cloak_claude_id("gpt-plain")
    assert cloaked.startswith("claude-fable-5-dd-") and cloaked in listed
    client = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)
    try:
        for model in (cloaked, cloaked + "(high)"):
            reply = await client.messages.create(
                model=model, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
            assert reply.content
    finally:
        await client.close()
    assert fakes.responses.requests[-1].json["model"] == "gpt-5.4"


async def test_claude_list_cloaking_follows_a_config_reload(start_proxy, fakes) -> None:
    """CPA TestClaudeModelListCloakingConfigHotReload: the Claude list cloaks another
    family's model; after a reload that sets ``disable-cloaking-model-list: true`` the same
    server lists it under its own id."""
    from cliproxy.config import load_or_default

    proxy = await start_proxy(named_config(fakes))
    assert cloak_claude_id("gpt-plain") in await claude_list(proxy)
    proxy.config_path.write_text(named_config(fakes, "claude-code:\n  disable-cloaking-model-list: true\n"))
    proxy.service.apply(load_or_default(proxy.config_path)[0])
    assert "gpt-plain" in await claude_list(proxy)


async def test_claude_list_without_cloaking_shows_real_ids(start_proxy, fakes) -> None:
    """CPA TestClaudeModelsResponseDisablesModelListCloaking:
    ``claude-code.disable-cloaking-model-list: true`` lists other models under their own id."""
    proxy = await start_proxy(named_config(fakes, "claude-code:\n  disable-cloaking-model-list: true\n"))
    listed = await claude_list(proxy)
    assert "gpt-plain" in listed and not any(i.startswith("claude-fable-5-dd-") for i in listed)
