"""CPA's alias cases with a thinking suffix (sdk/cliproxy/auth/oauth_model_alias_test.go,
api_key_model_alias_test.go, openai_compat_pool_test.go) through a running proxy: what
name and thinking setting the upstream gets, and that an alias whose own id carries a
suffix is served at all.

CPA hands its executor ``name(suffix)`` and the executor splits it; cliproxy sends the
bare name and writes the suffix's setting into the body, which is what CPA's executors
send too.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.e2e.test_oauth_files import claude_file, write_auth

HEAD = f'api-keys: ["{KEY}"]\n'


async def _chat(url: str, model: str) -> tuple[int, dict[str, Any]]:
    body = {"model": model, "max_tokens": 2048, "messages": [{"role": "user", "content": "x"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}) as r,
    ):
        return r.status, await r.json()


def _effort(sent: dict[str, Any]) -> str | None:
    """The thinking level a Claude or Chat upstream body asks for."""
    return (sent.get("output_config") or {}).get("effort") or sent.get("reasoning_effort")


async def test_an_oauth_alias_carries_the_request_suffix(start_proxy, fakes, tmp_path):
    """TestResolveOAuthUpstreamModel_SuffixPreservation ("level suffix preserved"),
    TestApplyOAuthModelAlias_PerAuthOverridesGlobalAlias: ``alias(high)`` reaches the
    upstream name with high thinking."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    proxy = await start_proxy(
        HEAD + 'oauth-model-alias:\n  claude: [{name: "claude-sonnet-4-6", alias: "s"}]\n'
    )
    status, body = await _chat(proxy.url, "s(high)")
    assert status == 200, body
    sent = fakes.claude.last.json
    assert sent["model"] == "claude-sonnet-4-6" and _effort(sent) == "high"


async def test_an_alias_whose_id_carries_a_suffix_is_served_with_it(start_proxy, fakes, tmp_path):
    """TestApplyOAuthModelAlias_ForceMappingSameBasePreservesSuffix,
    TestApplyOAuthModelAliasWithResultPrefersExactSuffixedAlias and
    TestResolveAPIKeyModelAliasWithResult_SameBasePreservesSuffix: an alias such as
    ``opus(low)`` is served (it was refused with 503 "no auth available": the credential
    pool looked for its credentials under the id without the suffix), the upstream gets
    the name with the alias's thinking, and a force-mapped answer names the alias."""
    write_auth(tmp_path, "claude-a.json", claude_file(fakes.claude.base_url, "at-a"))
    rules = '[{name: "claude-opus-4-8", alias: "o(low)", force-mapping: true}, {name: "claude-opus-4-8", alias: "o"}]'
    keys = (
        f'claude-api-key:\n  - api-key: "ck"\n    base-url: "{fakes.claude.base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "k(medium)", force-mapping: true}]\n'
    )
    proxy = await start_proxy(HEAD + f"oauth-model-alias:\n  claude: {rules}\n" + keys)
    for model, upstream, effort in (
        ("o(low)", "claude-opus-4-8", "low"),
        ("k(medium)", "claude-sonnet-4-6", "medium"),
    ):
        status, body = await _chat(proxy.url, model)
        assert status == 200, body
        sent = fakes.claude.last.json
        assert (sent["model"], _effort(sent)) == (upstream, effort)
        assert body["model"] == model
    status, body = await _chat(proxy.url, "o(high)")  # the plain alias with a suffix of its own
    assert status == 200 and _effort(fakes.claude.last.json) == "high"
    assert body["model"] == "claude-opus-4-8"


async def test_a_configured_name_with_a_suffix_wins_over_the_request(start_proxy, fakes):
    """TestResolveOAuthUpstreamModel_SuffixPreservation ("config suffix takes priority") and
    TestLookupAPIKeyUpstreamModel ("config suffix priority", "config suffix no user
    suffix"): ``name: claude-sonnet-4-6(low)`` sends the bare name with low thinking, for
    ``alias`` and ``alias(high)`` alike (the upstream got the name with its parentheses)."""
    proxy = await start_proxy(
        HEAD
        + f"""
claude-api-key:
  - api-key: "ck"
    base-url: "{fakes.claude.base_url}"
    models: [{{name: "claude-sonnet-4-6(low)", alias: "sl"}}]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "ok"}}]
    models: [{{name: "gpt-5(high)", alias: "g"}}, {{name: "gpt-5", alias: "g2(low)"}}]
"""
    )
    for model in ("sl", "sl(high)"):
        status, body = await _chat(proxy.url, model)
        assert status == 200, body
        sent = fakes.claude.last.json
        assert (sent["model"], _effort(sent)) == ("claude-sonnet-4-6", "low")
    for model, effort in (("g", "high"), ("g(low)", "high"), ("g2(low)", "low")):
        status, body = await _chat(proxy.url, model)
        assert status == 200, body
        sent = fakes.openai.last.json
        assert (sent["model"], _effort(sent)) == ("gpt-5", effort)
