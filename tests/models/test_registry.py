"""Routes: providers order, ``auto``, generations, and the ``supports`` function."""

from __future__ import annotations

import pytest

from cliproxy.errors import ModelNotFoundError

from .conftest import build, config, oauth


def test_providers_ordered_by_credential_count_then_name(registry):
    creds = [oauth("a1.json", "antigravity"), oauth("c1.json", "claude"), oauth("c2.json", "claude")]
    build(
        registry,
        {
            "oauth-model-alias": {
                "antigravity": [{"name": "claude-sonnet-4-6", "alias": "claude-sonnet-4-6-x"}]
            }
        },
        creds,
    )
    # claude-sonnet-4-6: claude (2) before antigravity (1)
    assert registry.resolve("claude-sonnet-4-6").providers == ["claude"]
    build(registry, {}, creds)
    assert registry.resolve("claude-sonnet-4-6").providers == ["claude", "antigravity"]
    build(registry, {}, [oauth("k.json", "claude"), oauth("z.json", "antigravity")])
    assert registry.resolve("claude-sonnet-4-6").providers == ["antigravity", "claude"]


def test_supports_is_one_function_per_generation(registry):
    cred, other = oauth("c.json", "claude"), oauth("k.json", "kimi")
    build(registry, {}, [cred, other])
    gen = registry.generation
    a, b = registry.resolve("claude-sonnet-4-6"), registry.resolve("kimi-k2(high)")
    assert a.supports is b.supports
    assert a.supports(cred, a.model) and not a.supports(other, a.model)
    assert b.supports(other, b.model) and not b.supports(cred, b.model)
    build(registry, {}, [cred])
    assert registry.generation == gen + 1
    c = registry.resolve("claude-sonnet-4-6")
    assert c.supports is not a.supports
    assert not c.supports(other, "kimi-k2")


def test_resolve_without_suffix_returns_the_cached_route(registry):
    build(registry, {}, [oauth("c.json", "claude")])
    first = registry.resolve("claude-sonnet-4-6")
    assert registry.resolve("claude-sonnet-4-6") is first
    assert first.requested == first.model == "claude-sonnet-4-6" and first.suffix is None
    suffixed = registry.resolve("claude-sonnet-4-6(16384)")
    assert suffixed.requested == "claude-sonnet-4-6(16384)" and suffixed.model == "claude-sonnet-4-6"
    assert suffixed.suffix == "16384" and suffixed.supports is first.supports


def test_model_registered_with_a_suffix_in_its_id_resolves_whole(registry):
    """The id is found whole, and its suffix is what the request asks for (CPA's
    TestResolveAPIKeyModelAliasWithResult_SameBasePreservesSuffix: the upstream gets
    ``name(suffix)``)."""
    build(
        registry,
        {"claude-api-key": [{"api-key": "k", "models": [{"name": "claude-opus-4-6", "alias": "opus(max)"}]}]},
    )
    route = registry.resolve("opus(max)")
    assert route.model == "opus(max)" and route.suffix == "max"


def test_auto_resolves_to_the_newest_registered_model(registry, catalog):
    build(registry, {}, [oauth("k.json", "kimi")])
    newest = max(catalog.family("kimi"), key=lambda m: m.created)
    route = registry.resolve("auto")
    assert route.model == newest.id and route.requested == "auto" and route.suffix is None
    route = registry.resolve("auto(high)")
    assert route.model == newest.id and route.suffix == "high"


def test_auto_without_models_is_not_found(registry):
    registry.rebuild([], config())
    with pytest.raises(ModelNotFoundError):
        registry.resolve("auto")


def test_model_info_by_provider_and_catalog_fallback(registry):
    build(registry, {}, [oauth("a.json", "antigravity"), oauth("c.json", "claude")])
    agy = registry.model_info("claude-sonnet-4-6", "antigravity")
    cla = registry.model_info("claude-sonnet-4-6", "claude")
    assert agy.owned_by == "antigravity" and cla.owned_by == "anthropic"
    assert registry.model_info("claude-sonnet-4-6(high)", "claude") == cla
    assert registry.model_info("gemini-2.5-pro").thinking.max == 32768  # not registered: catalog
    assert registry.model_info("nothing") is None


def test_rebuild_of_a_thousand_oauth_credentials_shares_work(registry):
    creds = [
        oauth(f"c{i}.json", "codex", metadata={"plan_type": ("plus", "free")[i % 2]}) for i in range(1000)
    ]
    build(registry, {"oauth-excluded-models": {"codex": ["*-mini"]}}, creds)
    route = registry.resolve("gpt-5.5")
    assert sum(route.supports(c, route.model) for c in creds) == 1000
    assert route.providers == ["codex"]
    assert registry.models_for(creds[0]) == registry.models_for(creds[2])


@pytest.mark.parametrize(
    ("asked", "model", "suffix"),
    [("claude-sonnet-4-6(8192)", "claude-sonnet-4-6", "8192"), ("claude-sonnet-4-6(none)", "claude-sonnet-4-6", "none"),
     ("claude-sonnet-4-6(auto)", "claude-sonnet-4-6", "auto"), ("claude-sonnet-4-6", "claude-sonnet-4-6", None)],
)  # fmt: skip
def test_a_suffix_is_kept_beside_the_model(registry, asked, model, suffix):
    """CPA: TestGetRequestDetails_PreservesSuffix (``auto(high)``:
    test_auto_resolves_to_the_newest_registered_model): a number or level suffix, ``none``
    and ``auto`` included, rides along with the model it names; an unknown model with a
    suffix is not found."""
    build(registry, {}, [oauth("c.json", "claude")])
    route = registry.resolve(asked)
    assert (route.providers, route.model, route.suffix, route.requested) == (["claude"], model, suffix, asked)
    with pytest.raises(ModelNotFoundError):
        registry.resolve("unknown-model(8192)")
