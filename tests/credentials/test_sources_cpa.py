"""CPA's config synthesizer cases (internal/watcher/synthesizer/config_test.go), ported: how
config.yaml's key lists become credentials.

Each case starts from the YAML keys a user writes, read by our ``Config`` (CPA's tests build
Go structs and skip the config's own sanitizing), and asserts the facts CPA asserts on the
credential records. Where CPA keeps a value in ``Attributes`` or ``Metadata`` our record has
a field (``weight``, ``disable_cooling``, ``request_retry``, ``request_scoped_errors``); the
``api_key``, ``base_url``, ``header:*``, ``websockets``... attributes are CPA's own.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from cliproxy.config.model import Config
from cliproxy.config.providers import MAX_CREDENTIAL_WEIGHT
from cliproxy.credentials.record import DEFAULT_WEIGHT, KIND_APIKEY, ModelAlias, ScopedErrorRule
from cliproxy.credentials.sources import from_config


def creds(data: dict[str, Any]) -> list[Any]:
    return from_config(Config.model_validate(data))


def test_gemini_keys() -> None:
    """TestConfigSynthesizer_GeminiKeys: provider, label, prefix, key, base URL, proxy,
    headers, cooling left unset unless asked; blank keys without a base URL are skipped."""
    (one,) = creds({"gemini-api-key": [{"api-key": "test-key-123", "prefix": "team-a"}]})
    assert (one.provider, one.prefix, one.label, one.kind) == (
        "gemini",
        "team-a",
        "gemini-apikey",
        KIND_APIKEY,
    )
    assert one.attributes["api_key"] == "test-key-123" and one.disable_cooling is None
    (cool,) = creds({"gemini-api-key": [{"api-key": "k", "disable-cooling": True}]})
    assert cool.disable_cooling is True
    entry = {
        "api-key": "api-key",
        "base-url": "https://custom.api.com",
        "proxy-url": "http://proxy.local:8080",
        "prefix": "custom",
        "headers": {"X-Custom": "value"},
    }
    (full,) = creds({"gemini-api-key": [entry]})
    assert full.attributes["base_url"] == "https://custom.api.com"
    assert full.proxy_url == "http://proxy.local:8080"
    assert full.attributes["header:X-Custom"] == "value"
    blank = [{"api-key": ""}, {"api-key": "  "}, {"api-key": "valid-key"}]
    assert [c.api_key for c in creds({"gemini-api-key": blank})] == ["valid-key"]
    three = [{"api-key": f"key-{n}", "prefix": p} for n, p in ((1, "a"), (2, "b"), (3, "c"))]
    assert [c.prefix for c in creds({"gemini-api-key": three})] == ["a", "b", "c"]


def test_interactions_keys() -> None:
    """TestConfigSynthesizer_InteractionsKeys."""
    entry = {
        "api-key": "interactions-key",
        "base-url": "https://interactions.example.com",
        "proxy-url": "http://proxy.local:8080",
        "prefix": "native",
        "headers": {"X-Custom": "value"},
    }
    (one,) = creds({"interactions-api-key": [entry]})
    assert (one.provider, one.label, one.prefix) == ("gemini-interactions", "interactions-apikey", "native")
    assert one.proxy_url == "http://proxy.local:8080"
    assert one.attributes["api_key"] == "interactions-key"
    assert one.attributes["base_url"] == "https://interactions.example.com"
    assert one.attributes["header:X-Custom"] == "value"


def test_claude_keys() -> None:
    """TestConfigSynthesizer_ClaudeKeys. Difference: CPA also writes a ``models_hash``
    attribute so its watcher sees a changed model list; our record holds the models
    themselves, and a reload compares them."""
    entry = {
        "api-key": "sk-ant-api-xxx",
        "prefix": "main",
        "base-url": "https://api.anthropic.com",
        "disable-cooling": True,
        "rebuild-mid-system-message": True,
        "fingerprint-profile": "claude-code-cli",
        "models": [{"name": "claude-3-opus"}, {"name": "claude-3-sonnet"}],
    }
    (one,) = creds({"claude-api-key": [entry]})
    assert (one.provider, one.label, one.prefix) == ("claude", "claude-apikey", "main")
    assert one.attributes["api_key"] == "sk-ant-api-xxx" and one.attributes["config_index"] == "0"
    assert one.models == (ModelAlias("claude-3-opus", ""), ModelAlias("claude-3-sonnet", ""))
    assert one.attributes["rebuild_mid_system_message"] == "true"
    assert one.attributes["fingerprint_profile"] == "claude-code-cli"
    assert one.disable_cooling is True


@pytest.mark.parametrize(
    ("section", "headers"),
    [("claude-api-key", {"X-Custom": "value"}), ("codex-api-key", {"Authorization": "Bearer xyz"})],
)
def test_blank_keys_skipped_and_headers_kept(section: str, headers: dict[str, str]) -> None:
    """TestConfigSynthesizer_ClaudeKeys_SkipsEmptyAndHeaders and
    TestConfigSynthesizer_CodexKeys_SkipsEmptyAndHeaders (a Codex key needs a base URL: the
    config drops one without, as CPA's SanitizeCodexKeys does before synthesizing); the
    default ``alpha-search: false`` writes no ``codex_alpha_search``."""
    base = {"base-url": "https://codex.example.com"} if section == "codex-api-key" else {}
    entries = [{"api-key": ""}, {"api-key": "   "}, {"api-key": "valid-key", "headers": headers, **base}]
    (one,) = creds({section: entries})
    assert all(one.attributes[f"header:{k}"] == v for k, v in headers.items())
    assert "codex_alpha_search" not in one.attributes


def test_codex_keys() -> None:
    """TestConfigSynthesizer_CodexKeys."""
    entry = {
        "api-key": "codex-key-123",
        "prefix": "dev",
        "base-url": "https://api.openai.com",
        "proxy-url": "http://proxy.local",
        "websockets": True,
        "alpha-search": True,
        "disable-cooling": True,
    }
    (one,) = creds({"codex-api-key": [entry]})
    assert (one.provider, one.label, one.proxy_url) == ("codex", "codex-apikey", "http://proxy.local")
    assert one.attributes["websockets"] == "true" and one.attributes["codex_alpha_search"] == "true"
    assert one.disable_cooling is True


def test_xai_keys() -> None:
    """TestConfigSynthesizer_XAIKeys: websockets yes, Codex's alpha search no (models_hash:
    see test_claude_keys)."""
    entry = {
        "api-key": "xai-key-123",
        "prefix": "grok",
        "base-url": "https://api.x.ai/v1",
        "proxy-url": "http://proxy.local",
        "websockets": True,
        "alpha-search": True,
        "disable-cooling": True,
        "headers": {"X-Custom": "value"},
        "models": [{"name": "grok-4.5", "alias": "grok-latest"}],
    }
    (one,) = creds({"xai-api-key": [entry]})
    assert (one.provider, one.label, one.prefix) == ("xai", "xai-apikey", "grok")
    assert one.attributes["websockets"] == "true" and "codex_alpha_search" not in one.attributes
    assert one.attributes["base_url"] == "https://api.x.ai/v1"
    assert one.attributes["header:X-Custom"] == "value"
    assert one.models == (ModelAlias("grok-4.5", "grok-latest"),)
    assert one.proxy_url == "http://proxy.local" and one.disable_cooling is True


@pytest.mark.parametrize("section", ["xai-api-key", "claude-api-key", "codex-api-key", "gemini-api-key"])
def test_blank_key_with_base_url_is_a_credential(section: str) -> None:
    """TestConfigSynthesizer_XAIKeys_AllowsEmptyAPIKeyWithBaseURL,
    TestConfigSynthesizer_ClaudeKeys_AllowsEmptyAPIKeyWithBaseURL,
    TestConfigSynthesizer_CodexKeys_AllowsEmptyAPIKeyWithBaseURL and
    TestConfigSynthesizer_GeminiKeys_AllowsEmptyAPIKeyWithBaseURL: a gateway that
    authenticates by header needs no key; the credential has no ``api_key`` attribute."""
    entries = [
        {"api-key": "", "base-url": "https://custom.example.com", "headers": {"Custom-Auth": "secret"}},
        {"api-key": "   ", "base-url": "https://custom-2.example.com"},
    ]
    data: dict[str, Any] = {section: entries}
    if section == "gemini-api-key":
        data = {
            section: entries[:1],
            "interactions-api-key": [{"base-url": "https://custom-interactions.example.com"}],
        }
    first, second = creds(data)
    assert first.attributes["base_url"] == "https://custom.example.com"
    assert first.attributes["header:Custom-Auth"] == "secret"
    assert first.attributes["auth_kind"] == "apikey" and "api_key" not in first.attributes
    assert "api_key" not in second.attributes
    if section == "gemini-api-key":
        assert second.attributes["base_url"] == "https://custom-interactions.example.com"


@pytest.mark.parametrize(
    ("compat", "count"),
    [
        ({"name": "CustomProvider", "api-key-entries": [{"api-key": "key-1"}, {"api-key": "key-2"}]}, 2),
        ({"name": "EmptyKeys", "api-key-entries": [{"api-key": ""}, {"api-key": "   "}]}, 2),
        ({"name": "NoKeyProvider"}, 1),
        ({"name": ""}, 1),
    ],
    ids=["key-entries", "blank-entries-kept", "no-entries", "empty-name"],
)
def test_openai_compat(compat: dict[str, Any], count: int) -> None:
    """TestConfigSynthesizer_OpenAICompat: one credential per key entry (blank ones too, as
    CPA keeps them), one without a key when there are none; an empty name is
    ``openai-compatibility``; the entry's disable-cooling reaches every credential."""
    out = creds(
        {"openai-compatibility": [{**compat, "base-url": "https://c.example.com", "disable-cooling": True}]}
    )
    assert len(out) == count and all(c.disable_cooling is True for c in out)
    if not compat["name"]:
        assert out[0].provider == "openai-compatibility"


def test_openai_compat_uses_namespaced_provider_key() -> None:
    """TestConfigSynthesizer_OpenAICompat_UsesNamespacedProviderKey."""
    compat = {
        "name": "kimi",
        "base-url": "https://kimi-compatible.example.com/v1",
        "api-key-entries": [{"api-key": "k"}],
    }
    (one,) = creds({"openai-compatibility": [compat]})
    assert one.provider == one.attributes["provider_key"] == "openai-compatible-kimi"
    assert (one.attributes["compat_name"], one.attributes["config_index"]) == ("kimi", "0")


def test_vertex_compat() -> None:
    """TestConfigSynthesizer_VertexCompat and TestConfigSynthesizer_VertexCompat_SkipsEmptyAndHeaders.
    CPA's synthesizer would make a blank Vertex key a credential without ``api_key``, but its
    config never hands it one (SanitizeVertexCompatKeys drops blank keys when config.yaml is
    read), and ours drops them at the same place: from config.yaml only the keyed entry
    comes, with its headers."""
    entry = {
        "api-key": "vertex-key-123",
        "base-url": "https://vertex.googleapis.com",
        "prefix": "vertex-prod",
    }
    (one,) = creds({"vertex-api-key": [entry]})
    assert (one.provider, one.label, one.prefix) == ("vertex", "vertex-apikey", "vertex-prod")
    entries = [
        {"api-key": "", "base-url": "https://vertex.api"},
        {"api-key": "  ", "base-url": "https://vertex.api"},
        {"api-key": "valid-key", "base-url": "https://vertex.api", "headers": {"X-Vertex": "test"}},
    ]
    (keyed,) = creds({"vertex-api-key": entries})
    assert keyed.attributes["api_key"] == "valid-key"
    assert keyed.attributes["header:X-Vertex"] == "test"


def test_models_are_carried() -> None:
    """TestConfigSynthesizer_OpenAICompat_WithModelsHash,
    TestConfigSynthesizer_OpenAICompat_FallbackWithModels and
    TestConfigSynthesizer_VertexCompat_WithModels: the models reach the credential, with
    the key or the compat headers (CPA's ``models_hash``: see test_claude_keys)."""
    compat = {"name": "T", "base-url": "https://t", "models": [{"name": "model-a"}, {"name": "model-b"}]}
    (keyed,) = creds(
        {"openai-compatibility": [{**compat, "api-key-entries": [{"api-key": "key-with-models"}]}]}
    )
    assert keyed.models == (ModelAlias("model-a", ""), ModelAlias("model-b", ""))
    assert keyed.attributes["api_key"] == "key-with-models"
    (bare,) = creds({"openai-compatibility": [{**compat, "headers": {"X-API": "header-value"}}]})
    assert bare.models == keyed.models and bare.attributes["header:X-API"] == "header-value"
    models = [{"name": "gemini-pro", "alias": "pro"}, {"name": "gemini-ultra", "alias": "ultra"}]
    (vertex,) = creds(
        {"vertex-api-key": [{"api-key": "v", "base-url": "https://vertex.api", "models": models}]}
    )
    assert vertex.models == (ModelAlias("gemini-pro", "pro"), ModelAlias("gemini-ultra", "ultra"))


def test_ids_are_stable() -> None:
    """TestConfigSynthesizer_IDStability."""
    data = {"gemini-api-key": [{"api-key": "stable-key", "prefix": "test"}]}
    assert creds(data)[0].id == creds(data)[0].id


SECTIONS = {
    "gemini-api-key": {},
    "interactions-api-key": {},
    "claude-api-key": {},
    "codex-api-key": {"base-url": "https://codex"},
    "xai-api-key": {"base-url": "https://xai"},
    "vertex-api-key": {"base-url": "https://vertex"},
}


def _every_section(extra: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {name: [{"api-key": name, **base, **extra}] for name, base in SECTIONS.items()}
    data["openai-compatibility"] = [
        {"name": "compat", "base-url": "https://compat", "api-key-entries": [{"api-key": "compat", **extra}]}
    ]
    return data


@pytest.mark.parametrize(
    "path", [*(f"{s}.0.weight" for s in SECTIONS), "openai-compatibility.0.api-key-entries.0.weight"]
)
def test_weight_over_the_maximum_is_refused(path: str) -> None:
    """TestConfigSynthesizer_RejectsInvalidWeightsForAllAPIKeyTypes: the error names the
    entry. Ours refuses it when the config is read (CPA: when credentials are made)."""
    section = path.split(".", 1)[0]
    data = {section: _every_section({"weight": MAX_CREDENTIAL_WEIGHT + 1})[section]}
    with pytest.raises(ValidationError, match=path.replace(".", r"\.")):
        creds(data)


def test_weights() -> None:
    """TestConfigSynthesizer_OmittedWeightRemainsUnset,
    TestConfigSynthesizer_NormalizesNonPositiveWeightToZero and
    TestConfigSynthesizer_PropagatesWeightsForAllAPIKeyTypes: an omitted weight is the
    selector's default, a negative one 0, a given one reaches every kind of credential."""
    assert creds({"gemini-api-key": [{"api-key": "k"}]})[0].weight == DEFAULT_WEIGHT
    assert creds({"gemini-api-key": [{"api-key": "k", "weight": -5}]})[0].weight == 0
    data = _every_section({})
    for n, entries in enumerate(data.values(), start=1):
        target = entries[0]["api-key-entries"][0] if "api-key-entries" in entries[0] else entries[0]
        target["weight"] = n
    assert sorted(c.weight for c in creds(data)) == list(range(1, len(data) + 1))


def test_every_provider() -> None:
    """TestConfigSynthesizer_AllProviders."""
    data = _every_section({})
    del data["interactions-api-key"]
    assert [c.provider for c in creds(data)] == [
        "gemini",
        "claude",
        "codex",
        "xai",
        "openai-compatible-compat",
        "vertex",
    ]


def test_request_retry() -> None:
    """TestConfigSynthesizer_RequestRetry: 0 and positive counts are kept per key (and per
    compat entry), a negative or missing one leaves the global setting in charge.
    CPA: TestAddRequestRetryToMetadata."""
    data = _every_section({"request-retry": 2})
    data["gemini-api-key"] = [
        {"api-key": "gemini-zero", "request-retry": 0},
        {"api-key": "gemini-positive", "request-retry": 2},
        {"api-key": "gemini-negative", "request-retry": -1},
        {"api-key": "gemini-unset"},
    ]
    data["openai-compatibility"][0]["request-retry"] = 0
    got = {c.api_key: c.request_retry for c in creds(data)}
    assert got == {
        "gemini-zero": 0,
        "gemini-positive": 2,
        "gemini-negative": None,
        "gemini-unset": None,
        "interactions-api-key": 2,
        "claude-api-key": 2,
        "codex-api-key": 2,
        "xai-api-key": 2,
        "compat": 0,
        "vertex-api-key": 2,
    }


def test_request_scoped_errors() -> None:
    """TestConfigSynthesizer_RequestScopedErrors: every key kind and compat entry carries its
    rules (Vertex has none, as in CPA)."""
    rules = [{"status": 400, "match": ["maximum_context_length"], "action": "stop"}]
    data = _every_section({})
    del data["vertex-api-key"]
    for entries in data.values():
        for entry in entries:
            entry["request-scoped-errors"] = rules
    want = (ScopedErrorRule(400, ("maximum_context_length",), (), "stop"),)
    out = creds(data)
    assert len(out) == 6 and all(c.request_scoped_errors == want for c in out)


@pytest.mark.parametrize(
    ("key", "entry"),
    [
        ("gemini-api-key", {"api-key": "g"}),
        ("interactions-api-key", {"api-key": "i"}),
        ("claude-api-key", {"api-key": "c"}),
        ("codex-api-key", {"api-key": "x", "base-url": "https://codex.example.com"}),
        ("xai-api-key", {"api-key": "x", "base-url": "https://api.x.ai/v1"}),
        ("vertex-api-key", {"api-key": "v", "base-url": "https://vertex.example.com"}),
        (
            "openai-compatibility",
            {
                "name": "compat",
                "base-url": "https://compat.example.com",
                "api-key-entries": [{"api-key": "k"}],
            },
        ),
    ],
)
def test_an_explicit_false_disable_cooling_is_kept(key: str, entry: dict[str, Any]) -> None:
    """TestConfigSynthesizerPreservesExplicitFalseCoolingOverrides: ``disable-cooling: false``
    on any key kind is an override (it beats a global ``disable-cooling: true``), not unset."""
    (one,) = creds({key: [{**entry, "disable-cooling": False}]})
    assert one.disable_cooling is False
