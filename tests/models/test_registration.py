"""Which ids each kind of credential registers (CPA's registerModelsForAuth)."""

from __future__ import annotations

from cliproxy.models.catalog import Catalog
from cliproxy.models.registry import ModelRegistry
from cliproxy.providers.kimi import KimiProvider
from cliproxy.providers.openai_compat import OpenAICompatProvider
from cliproxy.providers.registry import provider_for

from .conftest import build, oauth


def ids(registry: ModelRegistry, cred) -> list[str]:
    return [m.id for m in registry.models_for(cred)]


def test_api_key_without_models_gets_the_provider_catalog(registry, catalog: Catalog):
    """CPA: TestGetStaticModelDefinitionsByChannelSupportsGeminiInteractions (an
    interactions-api-key without models serves the Gemini catalog)."""
    _, creds = build(
        registry,
        {
            "claude-api-key": [{"api-key": "k1"}],
            "gemini-api-key": [{"api-key": "g1"}],
            "interactions-api-key": [{"api-key": "i1"}],
            "xai-api-key": [{"api-key": "x1", "base-url": "https://x"}],
        },
    )
    by = {c.provider: c for c in creds}
    claude, gemini, xai = by["claude"], by["gemini"], by["xai"]
    assert ids(registry, claude) == [m.id for m in catalog.family("claude")]
    assert ids(registry, gemini) == [m.id for m in catalog.family("gemini")]
    assert ids(registry, by["gemini-interactions"]) == ids(registry, gemini) != []
    assert ids(registry, xai) == [m.id for m in catalog.family("xai")]


def test_api_key_with_models_serves_only_those(registry):
    _, (cred,) = build(
        registry,
        {
            "claude-api-key": [
                {
                    "api-key": "k1",
                    "models": [
                        {"name": "claude-sonnet-4-6", "alias": "sonnet"},
                        {"name": "claude-opus-4-6"},
                        {"name": "claude-haiku-4-5-20251001", "alias": "sonnet"},
                    ],
                }
            ]
        },
    )  # repeated alias: first wins
    assert ids(registry, cred) == ["sonnet", "claude-opus-4-6"]
    route = registry.resolve("sonnet")
    assert route.upstream_models(cred) == ["claude-sonnet-4-6"]
    assert registry.resolve("claude-opus-4-6").upstream_models(cred) == ["claude-opus-4-6"]
    info = registry.model_info("sonnet", "claude")
    # a configured model is what its entry resolves to (CPA's ResolveModelInfo): checked, not passed
    assert not info.user_defined and info.configured and info.owned_by == "anthropic"
    assert info.thinking is not None  # thinking caps of the upstream catalog model
    try:
        registry.resolve("claude-sonnet-4-6")
    except Exception as exc:
        assert exc.code == "model_not_found"
    else:
        raise AssertionError("upstream name of an alias must not be registered")


def test_configured_thinking_and_context_override(registry):
    build(
        registry,
        {
            "gemini-api-key": [
                {
                    "api-key": "g",
                    "models": [
                        {
                            "name": "my-model",
                            "alias": "mine",
                            "max-context-length": 4096,
                            "thinking": {"levels": ["low", "high", "none"]},
                        }
                    ],
                }
            ]
        },
    )
    info = registry.model_info("mine")
    assert info.context_window == 4096
    assert info.thinking.levels == ("low", "high", "none") and info.thinking.zero_allowed


def test_codex_oauth_by_plan_type(registry, catalog: Catalog):
    creds = [
        oauth("free.json", "codex", metadata={"plan_type": "free"}),
        oauth("plus.json", "codex", metadata={"plan_type": "Plus"}),
        oauth("biz.json", "codex", metadata={"plan_type": "business"}),
        oauth("none.json", "codex"),
        oauth("attr.json", "codex", attributes={"plan_type": "team"}),
    ]
    build(registry, {}, creds)
    expect = ["codex-free", "codex-plus", "codex-team", "codex-pro", "codex-team"]
    for cred, family in zip(creds, expect, strict=True):
        assert ids(registry, cred) == [m.id for m in catalog.family(family)], cred.id
    spark = registry.resolve("gpt-5.3-codex-spark")
    assert [c.id for c in creds if spark.supports(c, spark.model)] == ["plus.json", "none.json"]


def test_codex_api_key_serves_configured_models(registry, catalog: Catalog):
    _, (listed, bare) = build(
        registry,
        {
            "codex-api-key": [
                {"api-key": "c1", "base-url": "https://a", "models": [{"name": "gpt-5.5", "alias": "five"}]},
                {"api-key": "c2", "base-url": "https://b"},
            ]
        },
    )
    assert ids(registry, listed) == ["five"]
    # An entry without models falls back to the pro catalog (CPA's buildCodexConfigModels;
    # CPA: TestBuildCodexConfigModelsSelectsDefaultsOrConfiguredModels, with the image models).
    assert {"gpt-image-1.5", "gpt-image-2"} <= set(ids(registry, bare))
    assert ids(registry, bare) == [m.id for m in catalog.family("codex-pro")]


def test_openai_compat_serves_only_configured_models(registry):
    """CPA: TestRegisterModelsForAuth_OpenAICompatibilityImageModelType (an ``image`` model is
    ``openai-image`` without thinking; a chat model keeps the default levels),
    TestRegisterModelsForAuth_OpenAICompatibilityInputModalities (configured modalities are
    kept; the image model takes none)."""
    _, creds = build(
        registry,
        {
            "openai-compatibility": [
                {
                    "name": "OpenRouter",
                    "base-url": "https://openrouter.ai/api/v1",
                    "api-key-entries": [{"api-key": "a"}, {"api-key": "b"}],
                    "models": [
                        {"name": "moonshotai/kimi-k2", "alias": "kimi"},
                        {
                            "name": "qwen/qwen3",
                            "input-modalities": ["text", "image"],
                            "output-modalities": ["text"],
                        },
                        {"name": "img/x", "alias": "pic", "image": True},
                    ],
                }
            ]
        },
    )
    assert len(creds) == 2
    for cred in creds:
        assert cred.provider == "openai-compatible-openrouter"
        assert ids(registry, cred) == ["kimi", "qwen/qwen3", "pic"]
    assert registry.resolve("kimi").providers == ["openai-compatible-openrouter"]
    info = registry.model_info("kimi")
    assert info.owned_by == "OpenRouter" and info.thinking.levels == ("low", "medium", "high")
    assert not info.user_defined
    assert registry.model_info("pic").thinking is None and registry.model_info("pic").type == "openai-image"
    assert registry.model_info("pic").input_modalities == ()
    qwen = registry.model_info("qwen/qwen3")
    assert (qwen.type, qwen.input_modalities, qwen.output_modalities) == (
        "openai-compatibility",
        ("text", "image"),
        ("text",),
    )


def test_oauth_providers_use_their_catalog(registry, catalog: Catalog):
    creds = [
        oauth("c.json", "claude"),
        oauth("k.json", "kimi"),
        oauth("a.json", "antigravity"),
        oauth("v.json", "vertex"),
        oauth("s.json", "aistudio"),
        oauth("u.json", "unknown"),
    ]
    build(registry, {}, creds)
    for cred, family in zip(creds, ["claude", "kimi", "antigravity", "vertex", "aistudio"], strict=False):
        assert ids(registry, cred) == [m.id for m in catalog.family(family)]
    assert ids(registry, creds[-1]) == []


def test_disabled_credentials_register_nothing(registry):
    cred = oauth("c.json", "claude", disabled=True)
    build(registry, {}, [cred])
    assert ids(registry, cred) == []
    assert registry.listable() == []


def test_exclusions_per_key_and_per_oauth_channel(registry):
    data = {
        "claude-api-key": [{"api-key": "k", "excluded-models": ["*opus*", "CLAUDE-3-*"]}],
        "oauth-excluded-models": {"codex": ["gpt-5.4*", "*-spark"], "claude": ["*"]},
    }
    codex = oauth("x.json", "codex", excluded_models=("codex-auto-review",))
    _, creds = build(registry, data, [codex])
    key = creds[0]
    got = ids(registry, key)
    assert got and not any("opus" in m or m.startswith("claude-3-") for m in got)
    assert "claude-sonnet-4-6" in got
    codex_ids = ids(registry, codex)
    assert "gpt-5.5" in codex_ids
    assert not [m for m in codex_ids if m.startswith("gpt-5.4") or m.endswith("-spark")]
    assert "codex-auto-review" not in codex_ids  # the file's own list adds to the channel's
    # OAuth exclusions do not touch API keys of the same provider.
    assert "claude-opus-4-6" not in got and "claude-sonnet-4-6" in got


def test_configured_models_inherit_or_declare_thinking(registry, catalog: Catalog):
    """CPA: TestResolveModelInfoUsesSuffixFreeStaticCapabilities (a configured upstream name
    with a thinking suffix takes the suffix-free catalog model's capabilities),
    TestResolveModelInfoUnknownModelKeepsMissingCapability (an unknown name has none),
    TestResolveModelInfoExplicitThinkingOverridesAndClones (configured levels are trimmed,
    lower-cased and deduplicated), TestNormalizeThinkingSupportDerivesSpecialLevelFlags
    (levels naming ``none`` and ``auto`` allow zero and dynamic budgets)."""
    models = [
        {"name": "claude-opus-4-6(high)"},
        {"name": "unknown-configured-model"},
        {"name": "custom-model", "thinking": {"levels": [" XHIGH ", "xhigh", " High "]}},
        {"name": "special", "thinking": {"levels": ["low", "none", "auto"]}},
    ]
    build(registry, {"claude-api-key": [{"api-key": "k", "models": models}]})
    known = catalog.lookup("claude-opus-4-6")
    assert known is not None and known.thinking is not None
    assert registry.model_info("claude-opus-4-6(high)", "claude").thinking == known.thinking
    assert registry.model_info("unknown-configured-model", "claude").thinking is None
    assert registry.model_info("custom-model", "claude").thinking.levels == ("xhigh", "high")
    special = registry.model_info("special", "claude").thinking
    assert special.zero_allowed and special.dynamic_allowed


def test_configured_models_carry_display_name_and_context_length(registry):
    """CPA: TestBuildConfigModelsDisplayName (each key kind's ``display-name``),
    TestBuildConfigModelsDisplayNameFallback (else the upstream name),
    TestBuildConfigModelsPropagatesMaxContextLength (``max-context-length`` on every kind),
    TestBuildOpenAICompatibilityConfigModels_InputModalities (an OpenAI-compatible model's
    input modalities lower-cased and deduplicated; an image model takes its alias as name
    and no modalities)."""
    size = 1048576

    def one(name: str, alias: str, display: str = "") -> list[dict]:
        entry = {"name": name, "alias": alias, "max-context-length": size}
        return [{**entry, "display-name": display} if display else entry]

    build(
        registry,
        {
            "claude-api-key": [
                {
                    "api-key": "c",
                    "models": [*one("claude-upstream", "claude-catalog", "Claude Catalog Name")],
                },
                {"api-key": "c2", "models": [{"name": "claude-upstream", "alias": "claude-plain"}]},
            ],
            "gemini-api-key": [
                {"api-key": "g", "models": one("gemini-upstream", "gemini-catalog", "Gemini Catalog Name")}
            ],
            "interactions-api-key": [
                {"api-key": "i", "models": one("interactions-upstream", "interactions-alias")}
            ],
            "vertex-api-key": [
                {
                    "api-key": "v",
                    "base-url": "https://v",
                    "models": one("vertex-upstream", "vertex-catalog", "Vertex Catalog Name"),
                }
            ],
            "codex-api-key": [
                {
                    "api-key": "x",
                    "base-url": "https://c",
                    "models": one("gpt-5.5", "gpt-5.5", "Codex Catalog Name"),
                }
            ],
            "xai-api-key": [
                {
                    "api-key": "x",
                    "base-url": "https://x",
                    "models": one("grok-4.5", "grok-latest", "xAI Catalog Name"),
                }
            ],
            "openai-compatibility": [
                {
                    "name": "mimo",
                    "base-url": "https://m",
                    "api-key-entries": [{"api-key": "o"}],
                    "models": [
                        {
                            **one("upstream-vision", "mimo-v2.5-pro", "Mimo Vision")[0],
                            "input-modalities": ["TEXT", "image", "image"],
                        },
                        {"name": "upstream-image", "alias": "compat-image", "image": True},
                    ],
                }
            ],
        },
    )
    names = {
        "claude-catalog": "Claude Catalog Name",
        "gemini-catalog": "Gemini Catalog Name",
        "vertex-catalog": "Vertex Catalog Name",
        "gpt-5.5": "Codex Catalog Name",
        "grok-latest": "xAI Catalog Name",
        "mimo-v2.5-pro": "Mimo Vision",
        "claude-plain": "claude-upstream",
        "compat-image": "compat-image",
    }
    assert {model: registry.model_info(model).display_name for model in names} == names
    sized = [
        "claude-catalog",
        "gemini-catalog",
        "interactions-alias",
        "gpt-5.5",
        "grok-latest",
        "mimo-v2.5-pro",
    ]
    assert {model: registry.model_info(model).context_window for model in sized} == dict.fromkeys(sized, size)
    assert registry.model_info("mimo-v2.5-pro").input_modalities == ("text", "image")
    assert registry.model_info("compat-image").input_modalities == ()


def test_entries_sharing_a_key_or_name_keep_their_own_models(registry):
    """CPA: TestResolveConfigClaudeKeyUsesConfigIndex (two claude-api-key entries with the
    same key each serve their own models), TestOpenAICompatibilityRegistrationCacheUsesConfigIndex
    (two openai-compatibility entries with the same name, likewise)."""
    _, creds = build(
        registry,
        {
            "claude-api-key": [
                {"api-key": "shared-key", "models": [{"name": "first"}]},
                {"api-key": "shared-key", "models": [{"name": "second"}]},
            ],
            "openai-compatibility": [
                {
                    "name": "shared",
                    "base-url": "https://a",
                    "api-key-entries": [{"api-key": "k"}],
                    "models": [{"name": "c-first"}],
                },
                {
                    "name": "shared",
                    "base-url": "https://a",
                    "api-key-entries": [{"api-key": "k"}],
                    "models": [{"name": "c-second"}],
                },
            ],
        },
    )
    assert [ids(registry, c) for c in creds] == [["first"], ["second"], ["c-first"], ["c-second"]]


def test_a_compat_provider_named_like_a_native_one_stays_apart(registry):
    """CPA: TestRegisterExecutorForAuth_OpenAICompatUsesNamespacedProviderKey: an
    openai-compatibility entry named ``kimi`` is served as ``openai-compatible-kimi`` by the
    OpenAI-compatible provider, beside the native Kimi sign-in, whichever comes first."""
    compat = {
        "openai-compatibility": [
            {
                "name": "kimi",
                "base-url": "https://k",
                "api-key-entries": [{"api-key": "k"}],
                "models": [{"name": "compat-kimi"}],
            }
        ]
    }
    cfg, creds = build(registry, compat, [oauth("native-kimi.json", "kimi")])
    for order in (creds, creds[::-1]):
        registry.rebuild(order, cfg)
        by = {c.provider: c for c in order}
        assert set(by) == {"kimi", "openai-compatible-kimi"}
        assert isinstance(provider_for(by["kimi"]), KimiProvider)
        assert isinstance(provider_for(by["openai-compatible-kimi"]), OpenAICompatProvider)
        assert registry.resolve("compat-kimi").providers == ["openai-compatible-kimi"]
        assert registry.resolve("kimi-k2").providers == ["kimi"]
