"""CPA's alias resolution cases (sdk/cliproxy/auth/oauth_model_alias_test.go,
api_key_model_alias_test.go, the alias-pool cases of openai_compat_pool_test.go) against
the model registry: which client-visible ids a credential registers, the upstream name(s)
each resolves to, the suffix the request asks for, and the name a force-mapped answer
reports.

CPA keeps a thinking suffix on the upstream name (``name(8192)``) for its executor to
parse; cliproxy keeps the name bare on the route and the suffix in ``Route.suffix``, and
a configured name that carries its own suffix keeps it in ``upstream_models`` (the
pipeline splits it off at the attempt, where it wins over the request's: see
tests/e2e/test_model_alias_cpa.py). Each case below asserts those two halves.
"""

from __future__ import annotations

import dataclasses

import pytest

from cliproxy.credentials.record import KIND_APIKEY, Credential
from cliproxy.errors import ModelNotFoundError
from cliproxy.models.aliases import oauth_channel

from .conftest import build, oauth

AG = {"antigravity": [{"name": "gemini-3-flash", "alias": "g25"}]}


@pytest.mark.parametrize(
    ("requested", "upstream", "suffix"),
    [
        ("g25(8192)", "gemini-3-flash", "8192"),  # numeric suffix preserved
        ("g25", "gemini-3-flash", None),  # no suffix unchanged
        ("g25(auto)", "gemini-3-flash", "auto"),
        ("g25(none)", "gemini-3-flash", "none"),
        ("g25()", "gemini-3-flash", ""),  # an empty suffix asks for nothing
    ],
)
def test_oauth_alias_keeps_the_request_suffix(registry, requested, upstream, suffix):
    """TestResolveOAuthUpstreamModel_SuffixPreservation, TestApplyOAuthModelAlias_SuffixPreservation."""
    cred = oauth("ag.json", "antigravity")
    build(registry, {"oauth-model-alias": AG}, [cred])
    route = registry.resolve(requested)
    assert route.upstream_models(cred) == [upstream] and route.suffix == suffix


def test_oauth_alias_misses(registry):
    """TestResolveOAuthUpstreamModel_SuffixPreservation: no alias, the wrong channel and an
    unclosed suffix (read as part of the name) resolve to nothing of the alias."""
    ag, claude = oauth("ag.json", "antigravity"), oauth("c.json", "claude")
    build(
        registry, {"oauth-model-alias": {**AG, "kimi": [{"name": "kimi-k2", "alias": "k2x"}]}}, [ag, claude]
    )
    with pytest.raises(ModelNotFoundError):
        registry.resolve("unknown-model(high)")
    assert not registry.resolve("g25(high)").supports(claude, "g25")  # antigravity's channel only
    with pytest.raises(ModelNotFoundError):
        registry.resolve("g25(high")


def test_an_unclosed_suffix_in_an_alias_is_part_of_its_name(registry):
    """TestResolveOAuthUpstreamModel_SuffixPreservation ("incomplete suffix")."""
    cred = oauth("ag.json", "antigravity")
    build(
        registry,
        {"oauth-model-alias": {"antigravity": [{"name": "gemini-3-flash", "alias": "g(high"}]}},
        [cred],
    )
    route = registry.resolve("g(high")
    assert route.upstream_models(cred) == ["gemini-3-flash"] and route.suffix is None


def test_oauth_alias_lookup_ignores_case(registry):
    """TestResolveOAuthUpstreamModel_SuffixPreservation ("case insensitive alias lookup"):
    the id registers as written; the alias rule itself matches in any case."""
    cred = oauth("ag.json", "antigravity")
    build(
        registry,
        {"oauth-model-alias": {"antigravity": [{"name": "GEMINI-3-FLASH", "alias": "Gem-Pro"}]}},
        [cred],
    )
    route = registry.resolve("Gem-Pro(high)")
    assert route.upstream_models(cred) == ["GEMINI-3-FLASH"] and route.suffix == "high"


def test_alias_channels():
    """TestOAuthModelAliasChannel_APIKeyOnlyProviderUnsupported, TestOAuthModelAliasChannel_Kimi
    and TestOAuthModelAliasChannel_PluginProvider."""
    assert oauth_channel(oauth("g.json", "gemini")) == ""
    assert oauth_channel(oauth("k.json", "kimi")) == "kimi"
    assert oauth_channel(oauth("s.json", " Sample-Provider ")) == "sample-provider"
    assert oauth_channel(Credential(id="s", provider="sample-provider", kind=KIND_APIKEY)) == ""


def test_a_same_base_force_mapped_alias_keeps_its_suffix(registry):
    """TestApplyOAuthModelAlias_ForceMappingSameBasePreservesSuffix and
    TestApplyOAuthModelAlias_PerAuthForceMappingSameBasePreservesSuffix: alias ``gemini-2.5-pro(8192)`` of
    ``gemini-2.5-pro`` (here ``gemini-3-flash``) asks for 8192 and reports the alias."""
    rule = {"name": "gemini-3-flash", "alias": "gemini-3-flash(8192)", "force-mapping": True}
    shared = oauth("a.json", "antigravity")
    own = oauth("b.json", "antigravity", model_aliases=(rule,))
    build(registry, {"oauth-model-alias": {"antigravity": [rule]}}, [shared])
    route = registry.resolve("gemini-3-flash(8192)")
    assert route.model == "gemini-3-flash(8192)" and route.suffix == "8192"
    assert route.upstream_models(shared) == ["gemini-3-flash"] and route.response_model(shared) == route.model
    build(registry, {}, [own])
    route = registry.resolve("gemini-3-flash(8192)")
    assert route.upstream_models(own) == ["gemini-3-flash"] and route.force_mapping(own)


def test_per_credential_alias_overrides_the_global_one(registry):
    """TestApplyOAuthModelAlias_PerAuthOverridesGlobalAlias."""
    cred = oauth("cx.json", "codex", model_aliases=({"name": "gpt-5.3-codex-spark", "alias": "gpt-5.5"},))
    build(registry, {"oauth-model-alias": {"codex": [{"name": "gpt-5.4", "alias": "gpt-5.5"}]}}, [cred])
    route = registry.resolve("gpt-5.5(high)")
    assert route.upstream_models(cred) == ["gpt-5.3-codex-spark"] and route.suffix == "high"


def test_per_credential_aliases_skip_api_keys(registry, catalog):
    """TestApplyOAuthModelAlias_PerAuthAliasSkipsAPIKey and
    TestApplyOAuthModelAlias_PluginProviderSkipsAPIKey (both files; Codex stands for the
    plugin provider): neither the channel's aliases nor a credential's own apply to an API
    key."""
    data = {
        "oauth-model-alias": {"codex": [{"name": "gpt-5.4", "alias": "gpt-5.4x"}]},
        "codex-api-key": [{"api-key": "x", "base-url": "https://c", "models": [{"name": "gpt-5.4"}]}],
    }
    cfg, (key,) = build(registry, data)
    key = dataclasses.replace(key, model_aliases=({"name": "gpt-5.4", "alias": "gpt-5.5x"},))
    registry.rebuild([key], cfg)
    assert [m.id for m in registry.models_for(key)] == ["gpt-5.4"]
    for alias in ("gpt-5.5x", "gpt-5.4x"):
        with pytest.raises(ModelNotFoundError):
            registry.resolve(alias)


def test_exact_suffixed_alias_wins_over_its_base(registry):
    """TestApplyOAuthModelAliasWithResultPrefersExactSuffixedAlias (and
    TestResolveModelAliasPoolPrefersExactSuffixedAlias for an API key's models)."""
    cred = oauth("cx.json", "codex")
    rules = [
        {"name": "gpt-5.4", "alias": "public", "fork": True},
        {"name": "gpt-5.4-mini", "alias": "public(low)", "fork": True, "force-mapping": True},
    ]
    build(registry, {"oauth-model-alias": {"codex": rules}}, [cred])
    exact = registry.resolve("public(low)")
    assert exact.upstream_models(cred) == ["gpt-5.4-mini"] and exact.suffix == "low"
    assert exact.force_mapping(cred) and exact.response_model(cred) == "public(low)"
    base = registry.resolve("public(high)")
    assert (
        base.upstream_models(cred) == ["gpt-5.4"] and base.suffix == "high" and not base.force_mapping(cred)
    )


GEMINI_KEY = {
    "gemini-api-key": [
        {
            "api-key": "k",
            "base-url": "https://example.com",
            "models": [
                {"name": "gemini-2.5-pro", "alias": "g25p"},
                {"name": "gemini-2.5-flash(low)", "alias": "g25f"},
            ],
        }
    ]
}


@pytest.mark.parametrize(
    ("requested", "upstream", "suffix"),
    [
        ("g25p(8192)", "gemini-2.5-pro", "8192"),
        ("g25p", "gemini-2.5-pro", None),
        ("g25f(high)", "gemini-2.5-flash(low)", "high"),  # the name's own suffix wins at the attempt
        ("g25f", "gemini-2.5-flash(low)", None),
    ],
)
def test_api_key_alias_lookup(registry, requested, upstream, suffix):
    """TestLookupAPIKeyUpstreamModel, TestApplyAPIKeyModelAlias."""
    _, (cred,) = build(registry, GEMINI_KEY)
    route = registry.resolve(requested)
    assert route.upstream_models(cred) == [upstream] and route.suffix == suffix


def test_api_key_alias_misses(registry):
    """TestLookupAPIKeyUpstreamModel: an unknown alias and an empty name are not found.
    Differs on purpose: the upstream name of an aliased model is not registered as well
    (CPA's lookup answers it; its registry lists only the alias, as ours does)."""
    build(registry, GEMINI_KEY)
    for requested in ("unknown-alias", "", "gemini-2.5-pro", "G25P"):
        with pytest.raises(ModelNotFoundError):
            registry.resolve(requested)


def test_api_key_aliases_of_every_provider(registry):
    """TestAPIKeyModelAlias_MultipleProviders and TestLookupAPIKeyUpstreamModel_InteractionsKey."""
    data = {
        "gemini-api-key": [{"api-key": "g", "models": [{"name": "gemini-2.5-pro", "alias": "gp"}]}],
        "claude-api-key": [{"api-key": "c", "models": [{"name": "claude-sonnet-4", "alias": "cs4"}]}],
        "codex-api-key": [
            {"api-key": "x", "base-url": "https://c", "models": [{"name": "o3", "alias": "o"}]}
        ],
        "xai-api-key": [
            {
                "api-key": "g",
                "base-url": "https://x",
                "models": [{"name": "grok-4.5", "alias": "grok-latest"}],
            }
        ],
        "interactions-api-key": [
            {"api-key": "i", "models": [{"name": "gemini-2.5-flash", "alias": "native-flash"}]}
        ],
    }
    _, creds = build(registry, data)
    want = {"gp": "gemini-2.5-pro", "cs4": "claude-sonnet-4", "o": "o3", "grok-latest": "grok-4.5"}
    want["native-flash"] = "gemini-2.5-flash"
    for alias, upstream in want.items():
        route = registry.resolve(alias)
        (cred,) = [c for c in creds if route.supports(c, alias)]
        assert route.upstream_models(cred) == [upstream]


def test_api_key_force_mapping(registry):
    """TestResolveAPIKeyModelAliasWithResult_ForceMapping,
    _SameBasePreservesSuffix and _ForceMappingUsesConfigAliasNotRequestSuffix."""
    models = [
        {"name": "glm-5.2", "alias": "claude-sonnet-latest", "force-mapping": True},
        {"name": "gemini-2.5-pro", "alias": "gemini-2.5-pro(8192)", "force-mapping": True},
    ]
    _, (cred,) = build(registry, {"claude-api-key": [{"api-key": "c", "models": models}]})
    route = registry.resolve("claude-sonnet-latest(high)")
    assert route.upstream_models(cred) == ["glm-5.2"] and route.suffix == "high"
    assert route.force_mapping(cred) and route.response_model(cred) == "claude-sonnet-latest"
    same = registry.resolve("gemini-2.5-pro(8192)")
    assert same.upstream_models(cred) == ["gemini-2.5-pro"] and same.suffix == "8192"
    assert same.force_mapping(cred) and same.response_model(cred) == "gemini-2.5-pro(8192)"


COMPAT = {
    "openai-compatibility": [
        {
            "name": "pool",
            "base-url": "https://p",
            "api-key-entries": [{"api-key": "1"}],
            "models": [
                {"name": "qwen3.5-plus", "alias": "claude-opus-4.66"},
                {"name": "glm-5", "alias": "claude-opus-4.66"},
                {"name": "kimi-k2.5", "alias": "claude-opus-4.66"},
                {"name": "gpt-5.4-mini", "alias": "claude-opus-4.66(low)"},
            ],
        }
    ]
}


def test_compat_alias_pool_from_config_models(registry):
    """TestResolveModelAliasPoolFromConfigModels and
    TestResolveModelAliasPoolPrefersExactSuffixedAlias."""
    _, (cred,) = build(registry, COMPAT)
    pool = registry.resolve("claude-opus-4.66(high)")
    assert pool.upstream_models(cred) == ["qwen3.5-plus", "glm-5", "kimi-k2.5"] and pool.suffix == "high"
    exact = registry.resolve("claude-opus-4.66(low)")
    assert exact.upstream_models(cred) == ["gpt-5.4-mini"] and exact.suffix == "low"


def _shown(registry, cred) -> dict[str, str]:
    return {m.id: m.display_name for m in registry.models_for(cred)}


def test_oauth_alias_names_and_display_names(registry, catalog):
    """sdk/cliproxy/service_oauth_model_alias_test.go: TestApplyOAuthModelAlias_Rename (the
    alias replaces the id and shows its configured display name),
    TestApplyOAuthModelAlias_PreservesUpstreamDisplayNameByDefault (without one, the
    upstream model's), TestApplyOAuthModelAlias_ForkAddsAlias and
    TestApplyOAuthModelAlias_ForkAddsMultipleAliases (a fork keeps the original with its own
    display name and adds each alias, resolving to the original)."""
    cred = oauth("c.json", "codex")
    rules = [
        {"name": "gpt-5.5", "alias": "g5", "display-name": "Configured GPT Five"},
        {"name": "gpt-5.4", "alias": "g4"},
        {"name": "gpt-5.4-mini", "alias": "m1", "fork": True, "display-name": "Configured Mini"},
        {"name": "gpt-5.4-mini", "alias": "m2", "fork": True},
    ]
    build(registry, {"oauth-model-alias": {"codex": rules}}, [cred])
    shown = _shown(registry, cred)
    assert shown["g5"] == "Configured GPT Five" and "gpt-5.5" not in shown
    assert shown["g4"] == catalog.lookup("gpt-5.4").display_name and "gpt-5.4" not in shown
    mini = catalog.lookup("gpt-5.4-mini").display_name
    assert (shown["gpt-5.4-mini"], shown["m1"], shown["m2"]) == (mini, "Configured Mini", mini)
    for alias in ("m1", "m2"):
        assert registry.resolve(alias).upstream_models(cred) == ["gpt-5.4-mini"]


def test_per_credential_alias_renames_with_its_display_name(registry):
    """TestApplyOAuthModelAlias_PerAuthAlias (service_oauth_model_alias_test.go): a
    credential's own alias replaces the id with its display name."""
    rule = {"name": "gpt-5.3-codex-spark", "alias": "gpt-5.5", "display-name": "Configured GPT Five"}
    cred = oauth("own.json", "codex", model_aliases=(rule,))
    build(registry, {}, [cred])
    shown = _shown(registry, cred)
    assert shown["gpt-5.5"] == "Configured GPT Five" and "gpt-5.3-codex-spark" not in shown
    assert registry.resolve("gpt-5.5").upstream_models(cred) == ["gpt-5.3-codex-spark"]
