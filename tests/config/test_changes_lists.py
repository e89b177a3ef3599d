"""The reload change list for maps and openai-compatibility (cliproxy.config.changes),
ported from CPA's internal/watcher/diff oauth_*_test.go and openai_compat_test.go.

Inputs are config.yaml mappings read through our model (see test_changes.py).
"""

from __future__ import annotations

from typing import Any

from cliproxy.config import Config
from cliproxy.config.changes import (
    compat_key,
    compat_signature,
    count_models,
    describe_changes,
    describe_compat_changes,
)
from cliproxy.config.providers import OpenAICompatibility, OpenAICompatModel


def cfg(**yaml: Any) -> Config:
    return Config.model_validate({k.replace("_", "-"): v for k, v in yaml.items()})


def compat(*entries: dict[str, Any]) -> list[OpenAICompatibility]:
    return [OpenAICompatibility.model_validate(e) for e in entries]


def expect(lines: list[str], *wanted: str) -> None:
    missing = [w for w in wanted if w not in lines]
    assert not missing, f"missing {missing} in {lines}"


# -- exclusions, aliases, request-scoped errors (CPA's oauth_*_test.go)


def test_excluded_models_normalise_and_dedupe() -> None:
    """CPA TestSummarizeExcludedModels_NormalizesAndDedupes: A, a, B, b count as two, and a
    change of order alone is no change. CPA: TestComputeExcludedModelsHash_Normalizes (the
    same list trimmed, in another case or order is no change; another list is)."""
    lines = describe_changes(
        Config(), cfg(gemini_api_key=[{"api-key": "g", "excluded-models": ["A", " a ", "B", "b"]}])
    )
    assert lines == ["gemini-api-key count: 0 -> 1"]
    old = cfg(gemini_api_key=[{"api-key": "g"}])
    new = cfg(gemini_api_key=[{"api-key": "g", "excluded-models": ["A", " a ", "B", "b"]}])
    assert describe_changes(old, new) == ["gemini[0].excluded-models: updated (0 -> 2 entries)"]
    reordered = cfg(gemini_api_key=[{"api-key": "g", "excluded-models": ["b", "a"]}])
    assert describe_changes(new, reordered) == []


def test_oauth_excluded_model_changes() -> None:
    """CPA TestDiffOAuthExcludedModelChanges and TestSummarizeOAuthExcludedModels_NormalizesKeys
    (channel names are case-folded, an empty one is dropped). CPA also returns the affected
    channels to reload their clients; cliproxy rebuilds every credential's models on a
    reload, so there is no such list."""
    old = cfg(oauth_excluded_models={"ProviderA": ["model-1", "model-2"], "providerB": ["x"]})
    new = cfg(oauth_excluded_models={"providerA": ["model-1", "model-3"], "providerC": ["y"]})
    assert describe_changes(old, new) == [
        "oauth-excluded-models[providera]: updated (2 -> 2 entries)",
        "oauth-excluded-models[providerb]: removed",
        "oauth-excluded-models[providerc]: added (1 entries)",
    ]
    assert describe_changes(Config(), cfg(oauth_excluded_models={"ProvA": ["X"], "": ["ignored"]})) == [
        "oauth-excluded-models[prova]: added (1 entries)"
    ]


def test_model_lists_count_named_entries() -> None:
    """CPA TestSummarizeVertexModels: an entry with neither name nor alias is not counted.
    Shown on a Gemini key: our Vertex entries drop a model without both at load."""
    models = [{"name": "m1"}, {"name": " ", "alias": "alias"}, {}]
    lines = describe_changes(
        cfg(gemini_api_key=[{"api-key": "g"}]), cfg(gemini_api_key=[{"api-key": "g", "models": models}])
    )
    assert lines == ["gemini[0].models: updated (0 -> 2 entries)"]


def test_oauth_model_alias_display_name() -> None:
    """CPA TestDiffOAuthModelAliasChanges_IncludesDisplayName."""

    def alias(display: str) -> Config:
        entry = {"name": "claude-opus-4-6-thinking", "alias": "claude-antigravity-opus-4-6-thinking"}
        return cfg(oauth_model_alias={"antigravity": [{**entry, "display-name": display}]})

    lines = describe_changes(alias("Antigravity Opus 4.6"), alias("Antigravity Opus 4.6 (Thinking)"))
    assert lines == ["oauth-model-alias[antigravity]: updated (1 -> 1 entries)"]


def test_oauth_request_scoped_errors() -> None:
    """CPA TestDiffOAuthRequestScopedErrorsChanges and TestSummarizeOAuthRequestScopedErrors_NormalizesKeys."""

    def rule(status: int, match: str, action: str) -> list[dict[str, Any]]:
        return [{"status": status, "match": [match], "action": action}]

    old = cfg(
        oauth_request_scoped_errors={
            "vertex": rule(400, "context_length", "stop"),
            "claude": rule(429, "rate_limit", "continue"),
        }
    )
    new = cfg(
        oauth_request_scoped_errors={
            "vertex": rule(400, "context_length_updated", "stop"),
            "codex": rule(400, "window_exceeded", "stop"),
        }
    )
    assert describe_changes(old, new) == [
        "oauth-request-scoped-errors[claude]: removed",
        "oauth-request-scoped-errors[codex]: added (1 entries)",
        "oauth-request-scoped-errors[vertex]: updated (1 -> 1 entries)",
    ]
    normalised = cfg(
        oauth_request_scoped_errors={" Vertex ": rule(400, "error", "stop"), "": rule(500, "err", "continue")}
    )
    assert describe_changes(Config(), normalised) == [
        "oauth-request-scoped-errors[vertex]: added (1 entries)"
    ]


# -- openai-compatibility (CPA's openai_compat_test.go)


def test_compat_added_and_updated() -> None:
    """CPA TestDiffOpenAICompatibility."""
    old = compat(
        {"name": "provider-a", "api-key-entries": [{"api-key": "key-a"}], "models": [{"name": "m1"}]}
    )
    new = compat(
        {
            "name": "provider-a",
            "api-key-entries": [{"api-key": "key-a"}, {"api-key": "key-b"}],
            "models": [{"name": "m1"}, {"name": "m2"}],
            "headers": {"X-Test": "1"},
        },
        {"name": "provider-b", "api-key-entries": [{"api-key": "key-b"}]},
    )
    lines = describe_compat_changes(old, new)
    expect(
        lines,
        "provider added: provider-b (api-keys=1, models=0)",
        "provider updated: provider-a (api-keys 1 -> 2, models 1 -> 2, headers updated)",
    )


def test_compat_prompt_cache_key_and_duplicate_names() -> None:
    """CPA TestDiffOpenAICompatibilityPromptCacheKey, TestDiffOpenAICompatibilityDuplicateNames
    and TestDiffOpenAICompatibilityDuplicateKeyDoesNotCollide."""
    lines = describe_compat_changes(
        compat({"name": "provider-a"}), compat({"name": "provider-a", "support-prompt-cache-key": True})
    )
    assert lines == ["provider updated: provider-a (support-prompt-cache-key false -> true)"]
    lines = describe_compat_changes(
        compat({"name": "duplicate"}, {"name": "duplicate"}),
        compat({"name": "duplicate", "support-prompt-cache-key": True}, {"name": "duplicate"}),
    )
    assert lines == ["provider updated: duplicate (support-prompt-cache-key false -> true)"]
    lines = describe_compat_changes(
        compat({"name": "foo"}, {"name": "foo#1"}),
        compat({"name": "foo"}, {"name": "foo"}, {"name": "foo#1"}),
    )
    assert lines == ["provider added: foo (api-keys=0, models=0)"]


def test_is_compat_alone_is_a_model_change() -> None:
    """CPA TestModelHashesIncludeIsCompat: turning ``is-compat`` on for a Claude, Gemini or
    OpenAI-compatible model is a change of its models."""
    model = {"name": "m"}
    for key in ("claude-api-key", "gemini-api-key"):
        old, new = ({key: [{"api-key": "k", "models": [m]}]} for m in (model, {**model, "is-compat": True}))
        assert describe_changes(cfg(**old), cfg(**new)) != []
    entry = {"name": "c", "base-url": "http://x", "api-key-entries": [{"api-key": "k"}]}
    lines = describe_compat_changes(
        compat({**entry, "models": [model]}), compat({**entry, "models": [{**model, "is-compat": True}]})
    )
    assert lines == ["provider updated: c (models updated)"]


def test_compat_removed_and_unchanged() -> None:
    """CPA TestDiffOpenAICompatibility_RemovedAndUnchanged."""
    entry = {"name": "provider-a", "api-key-entries": [{"api-key": "key-a"}], "models": [{"name": "m1"}]}
    assert describe_compat_changes(compat(entry), compat(entry)) == []
    assert describe_compat_changes(compat(entry), []) == [
        "provider removed: provider-a (api-keys=1, models=1)"
    ]


def test_compat_key_fallbacks() -> None:
    """CPA TestOpenAICompatKeyFallbacks, TestOpenAICompatKey_UsesName,
    TestOpenAICompatKey_SignatureFallbackWhenOnlyAPIKeys and
    TestOpenAICompatKeyUsesModelNameWhenAliasEmpty."""
    (entry,) = compat({"base-url": "http://base", "models": [{"alias": "alias-only"}]})
    assert compat_key(entry, 0) == ("base:http://base", "http://base")
    entry.base_url = ""
    assert compat_key(entry, 1) == ("alias:alias-only", "alias-only")
    entry.models = []
    assert compat_key(entry, 2) == ("index:2", "entry-3")
    assert compat_key(compat({"name": "My-Provider"})[0], 0) == ("name:My-Provider", "My-Provider")
    key, label = compat_key(compat({"api-key-entries": [{"api-key": "k1"}, {"api-key": "k2"}]})[0], 0)
    assert key.startswith("sig:") and label.startswith("compat-")
    assert compat_key(compat({"models": [{"name": "model-name"}]})[0], 5) == (
        "alias:model-name",
        "model-name",
    )


def test_compat_signature() -> None:
    """CPA TestOpenAICompatSignature_EmptyReturnsEmpty and
    TestOpenAICompatSignature_StableAndNormalized."""
    assert compat_signature(OpenAICompatibility()) == ""
    a, b = compat(
        {
            "name": "  Provider  ",
            "base-url": "http://base",
            "models": [{"name": "m1"}, {"name": "  "}, {"alias": "A1"}],
            "headers": {"X-Test": "1", "  ": "ignored"},
            "api-key-entries": [{"api-key": "k1"}, {"api-key": " "}],
        },
        {
            "name": "provider",
            "base-url": "http://base",
            "models": [{"alias": "a1"}, {"name": "m1"}],
            "headers": {"x-test": "2"},
            "api-key-entries": [{"api-key": "k2"}],
        },
    )
    assert compat_signature(a) and compat_signature(a) == compat_signature(b)
    b.models.append(OpenAICompatModel(name="m2"))
    assert compat_signature(b) != compat_signature(a)


def test_count_models_skips_blanks() -> None:
    """CPA TestCountOpenAIModelsSkipsBlanks."""
    models = [
        OpenAICompatModel(name=n, alias=a) for n, a in (("m1", ""), ("", ""), ("", ""), (" ", ""), ("", "a1"))
    ]
    assert count_models(models) == 2


def test_compat_reports_what_cpa_leaves_unsaid() -> None:
    """CPA reports a provider's key and model counts only; cliproxy also says when keys or
    models changed at the same count, and its base URL (redacted), prefix and priority."""
    old = compat(
        {
            "name": "p",
            "base-url": "https://u:pw@a.example/v1",
            "api-key-entries": [{"api-key": "k-old"}],
            "models": [{"name": "m1"}],
        }
    )
    new = compat(
        {
            "name": "p",
            "base-url": "https://b.example/v1",
            "prefix": "team",
            "priority": 3,
            "api-key-entries": [{"api-key": "k-new"}],
            "models": [{"name": "m2"}],
        }
    )
    assert describe_compat_changes(old, new) == [
        "provider updated: p (base-url https://a.example -> https://b.example, prefix <none> -> team, "
        "priority 0 -> 3, api-keys updated, models updated)"
    ]
