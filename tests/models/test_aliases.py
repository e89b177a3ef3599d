"""OAuth aliases, per-credential aliases, prefixes and compat model pools."""

from __future__ import annotations

import pytest

from cliproxy.errors import ModelNotFoundError

from .conftest import build, oauth


def ids(registry, cred) -> list[str]:
    return [m.id for m in registry.models_for(cred)]


ALIASES = {
    "oauth-model-alias": {
        "claude": [
            {"name": "claude-sonnet-4-6", "alias": "sonnet"},
            {
                "name": "claude-opus-4-6",
                "alias": "opus",
                "fork": True,
                "force-mapping": True,
                "display-name": "Opus!",
            },
        ]
    }
}


def test_oauth_alias_renames_and_fork_keeps_original(registry):
    cred = oauth("c.json", "claude")
    build(registry, ALIASES, [cred])
    got = ids(registry, cred)
    assert "sonnet" in got and "claude-sonnet-4-6" not in got
    assert "opus" in got and "claude-opus-4-6" in got
    assert registry.model_info("opus").display_name == "Opus!"
    sonnet = registry.resolve("sonnet")
    assert sonnet.upstream_models(cred) == ["claude-sonnet-4-6"]
    assert not sonnet.force_mapping(cred)
    opus = registry.resolve("opus(high)")
    assert opus.model == "opus" and opus.suffix == "high"
    assert opus.upstream_models(cred) == ["claude-opus-4-6"]
    assert opus.force_mapping(cred) and opus.response_model(cred) == "opus"
    original = registry.resolve("claude-opus-4-6")
    assert original.upstream_models(cred) == ["claude-opus-4-6"] and not original.force_mapping(cred)


def test_oauth_aliases_do_not_apply_to_api_keys(registry):
    _, (key,) = build(registry, {**ALIASES, "claude-api-key": [{"api-key": "k"}]})
    assert "claude-sonnet-4-6" in ids(registry, key) and "sonnet" not in ids(registry, key)


def test_per_credential_aliases_win_over_global(registry):
    own = oauth(
        "own.json",
        "claude",
        model_aliases=({"name": "claude-haiku-4-5-20251001", "alias": "sonnet", "force-mapping": True},),
    )
    plain = oauth("plain.json", "claude")
    build(registry, ALIASES, [own, plain])
    route = registry.resolve("sonnet")
    assert route.upstream_models(own) == ["claude-haiku-4-5-20251001"] and route.force_mapping(own)
    assert route.upstream_models(plain) == ["claude-sonnet-4-6"] and not route.force_mapping(plain)
    # The global alias for a different name still applies to the credential with its own list.
    assert "opus" in ids(registry, own)
    # Own alias took "sonnet": the global sonnet rule is dropped, so the original id stays.
    assert "claude-sonnet-4-6" in ids(registry, own)


def test_prefix_registers_both_forms(registry):
    cred = oauth("p.json", "claude", prefix="team")
    build(registry, {}, [cred])
    got = ids(registry, cred)
    assert "claude-sonnet-4-6" in got and "team/claude-sonnet-4-6" in got
    route = registry.resolve("team/claude-sonnet-4-6(8192)")
    assert route.model == "team/claude-sonnet-4-6" and route.suffix == "8192"
    assert route.upstream_models(cred) == ["claude-sonnet-4-6"]


def test_force_model_prefix_exposes_only_prefixed(registry):
    pref = oauth("p.json", "claude", prefix="team")
    bare = oauth("b.json", "kimi")
    self_named = oauth("s.json", "claude", prefix="claude-sonnet-4-6")
    build(registry, {"force-model-prefix": True}, [pref, bare, self_named])
    got = ids(registry, pref)
    assert "team/claude-sonnet-4-6" in got and "claude-sonnet-4-6" not in got
    assert "kimi-k2" in ids(registry, bare)  # no prefix: unchanged
    assert "claude-sonnet-4-6" in ids(registry, self_named)  # prefix == model keeps the id
    route = registry.resolve("claude-sonnet-4-6")
    assert [c.id for c in (pref, bare, self_named) if route.supports(c, route.model)] == ["s.json"]


def test_prefix_with_alias_upstream_strips_prefix_then_alias(registry):
    cred = oauth("p.json", "claude", prefix="t")
    build(registry, ALIASES, [cred])
    assert registry.resolve("t/sonnet").upstream_models(cred) == ["claude-sonnet-4-6"]


def test_api_key_alias_force_mapping(registry):
    _, (cred,) = build(
        registry,
        {
            "claude-api-key": [
                {
                    "api-key": "k",
                    "prefix": "p",
                    "models": [{"name": "claude-sonnet-4-6", "alias": "fast", "force-mapping": True}],
                }
            ]
        },
    )
    route = registry.resolve("p/fast")
    assert route.upstream_models(cred) == ["claude-sonnet-4-6"]
    assert route.force_mapping(cred) and route.response_model(cred) == "fast"


def test_compat_alias_pool_rotates_per_call(registry):
    _, (a, b) = build(
        registry,
        {
            "openai-compatibility": [
                {
                    "name": "pool",
                    "base-url": "https://p",
                    "api-key-entries": [{"api-key": "1"}, {"api-key": "2"}],
                    "models": [
                        {"name": "up-1", "alias": "m"},
                        {"name": "up-2", "alias": "m"},
                        {"name": "up-3", "alias": "m"},
                        {"name": "solo", "alias": "s"},
                    ],
                }
            ]
        },
    )
    route = registry.resolve("m")
    assert route.upstream_models(a) == ["up-1", "up-2", "up-3"]
    assert route.upstream_models(a) == ["up-2", "up-3", "up-1"]
    assert route.upstream_models(b) == ["up-1", "up-2", "up-3"]  # cursor per credential
    assert route.upstream_models(a) == ["up-3", "up-1", "up-2"]
    assert registry.resolve("m(low)").upstream_models(a) == ["up-1", "up-2", "up-3"]
    assert registry.resolve("s").upstream_models(a) == ["solo"]
    assert ids(registry, a) == ["m", "s"]


def test_unknown_model_raises_model_not_found(registry):
    build(registry, {}, [oauth("c.json", "claude")])
    with pytest.raises(ModelNotFoundError) as info:
        registry.resolve("gpt-5.5")
    assert info.value.code == "model_not_found" and info.value.status == 400
    assert info.value.model == "gpt-5.5"
    with pytest.raises(ModelNotFoundError):
        registry.resolve("nope(high)")
