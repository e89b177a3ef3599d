"""CPA's per-credential model capabilities (sdk/cliproxy/auth/api_key_model_capabilities_test.go)
through a running proxy: the ``thinking:`` an API key's configured model declares is the one
checked for a request that credential serves, even when another key exposes the same name
with other levels."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY


def _claude_keys(fakes: Any, keys: tuple[str, str], levels: tuple[str, str], extra: str = "") -> str:
    entries = "".join(
        f"""  - api-key: "{key}"
    base-url: "{fakes.claude.base_url}"
    prefix: tenant
    models: [{{name: "shared-upstream", alias: "public-model", thinking: {{levels: [{level}]}}}}]
"""
        for key, level in zip(keys, levels, strict=True)
    )
    return f'api-keys: ["{KEY}"]\n{extra}claude-api-key:\n{entries}'


async def _efforts(proxy: Any, fakes: Any, model: str, n: int) -> list[tuple[str, str]]:
    """(key, effort) of ``n`` Chat requests asking the top effort ("xhigh")."""
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        for _ in range(n):
            await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"reasoning_effort": "xhigh"},
            )
    return [(r.key, r.json["output_config"]["effort"]) for r in fakes.claude.requests]


@pytest.mark.parametrize("same_key", [False, True], ids=["two_keys", "one_key_twice"])
async def test_each_credential_checks_its_own_configured_levels(start_proxy, fakes, same_key):
    """TestAttachResolvedAPIKeyModelInfoUsesSelectedCredential and
    TestAttachResolvedAPIKeyModelInfoUsesExactDuplicateCredentialConfig: two Claude keys
    expose ``tenant/public-model``, one listing the level ``high``, the other ``max``; a
    Chat client's top intent becomes each serving key's own top level (the same key listed
    twice is told apart by its place in the list)."""
    keys = ("shared-key", "shared-key") if same_key else ("key-high", "key-max")
    proxy = await start_proxy(_claude_keys(fakes, keys, ("high", "max")))
    seen = await _efforts(proxy, fakes, "tenant/public-model", 4)
    assert {effort for _, effort in seen} == {"high", "max"}
    if not same_key:
        assert set(seen) == {("key-high", "high"), ("key-max", "max")}


async def test_a_suffixed_configured_model_checks_its_own_entry(start_proxy, fakes):
    """TestAttachResolvedAPIKeyModelInfoPrefersExactConfiguredSuffix: one key lists
    ``shared-upstream(high)`` / ``(low)`` under two aliases and one upstream under the
    aliases ``public(high)`` / ``public(low)``, each with only its own level; a request for
    either low alias reaches its upstream with the low level, checked against the entry it
    named (not refused against its sibling's ``high``)."""
    models = """
      - {name: "shared-upstream(high)", alias: "public-high", thinking: {levels: [high]}}
      - {name: "shared-upstream(low)", alias: "public-low", thinking: {levels: [low]}}
      - {name: "alias-upstream", alias: "public(high)", thinking: {levels: [high]}}
      - {name: "alias-upstream", alias: "public(low)", thinking: {levels: [low]}}"""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "k"\n    base-url: "{fakes.claude.base_url}"\n'
        f"    prefix: tenant\n    models:{models}\n"
    )
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0, timeout=15) as client:
        for model, upstream in (
            ("tenant/public-low", "shared-upstream"),
            ("tenant/public(low)", "alias-upstream"),
        ):
            await client.messages.create(
                model=model, max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            )
            sent = fakes.claude.last.json
            assert (sent["model"], sent["output_config"]["effort"]) == (upstream, "low"), sent


async def test_keyless_compat_pool_force_maps_only_its_own_entry(start_proxy, fakes):
    """TestAttachResolvedAPIKeyModelInfoSupportsKeylessOpenAICompatibility: a keyless
    openai-compatibility entry pools two upstream names under one alias, the first
    force-mapped; the pool turns per request, and only an answer from the force-mapped
    name reports the alias (the other entry asked for nothing of the kind)."""
    proxy = await start_proxy(
        f"""api-keys: ["{KEY}"]
openai-compatibility:
  - name: keyless
    prefix: tenant
    base-url: "{fakes.openai.base_url}/v1"
    models:
      - {{name: "shared-upstream", alias: "public-model", force-mapping: true, is-compat: true, thinking: {{levels: [high]}}}}
      - {{name: "fallback-upstream", alias: "public-model", thinking: {{levels: [high]}}}}
"""
    )
    seen = []
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        for _ in range(2):
            answer = await client.chat.completions.create(
                model="tenant/public-model", messages=[{"role": "user", "content": "hi"}]
            )
            seen.append((fakes.openai.last.json["model"], answer.model))
    assert seen == [("shared-upstream", "public-model"), ("fallback-upstream", "fallback-upstream")]


async def test_a_configured_model_without_thinking_is_what_its_entry_says(start_proxy, fakes):
    """TestAttachResolvedAPIKeyModelInfoBindsUnknownConfiguredCapability: an API key's
    model with an upstream name nothing is known of and no ``thinking:`` does not think, so
    the client's effort is dropped (before, it went up as asked); a key without a
    ``models:`` list serves the catalog's models with the catalog's capabilities."""
    proxy = await start_proxy(
        f"""api-keys: ["{KEY}"]
claude-api-key:
  - api-key: "k1"
    base-url: "{fakes.claude.base_url}"
    prefix: tenant
    models: [{{name: "unknown-upstream", alias: "unknown-public"}}]
  - api-key: "k2"
    base-url: "{fakes.claude.base_url}"
"""
    )
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        for model in ("tenant/unknown-public", "claude-sonnet-4-6"):
            await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": "hi"}],
                extra_body={"reasoning_effort": "high"},
            )
            sent = fakes.claude.last.json
            thinks = "thinking" in sent or "output_config" in sent
            assert (sent["model"], thinks) == (
                model.removeprefix("tenant/").replace("public", "upstream"),
                model == "claude-sonnet-4-6",
            )
