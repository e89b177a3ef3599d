"""CPA's internal/config tests, ported: what a CPA config.yaml loads as in cliproxy.

Each test names the CPA test it ports. Inputs are CPA's; the asserted facts are the ones a
user sees (which entries survive, how values are normalised, which values are refused).
"""

from __future__ import annotations

import os

import pytest

from cliproxy.config import Config, ConfigDocument, load_config
from cliproxy.config.effective import not_effective_keys, unknown_keys
from cliproxy.errors import ConfigError
from cliproxy.plugins.store.auth import parse_rules


def parse(text: str) -> Config:
    return ConfigDocument.from_text(text, "config.yaml").config


_PROVIDER_MODELS = """
gemini-api-key:
  - api-key: g
    models:
      - {name: gemini-upstream, alias: gemini-alias, is-compat: true, display-name: Gemini Name, max-context-length: 1048576}
      - {name: gemini-native, alias: gemini-native}
interactions-api-key:
  - api-key: i
    models:
      - {name: interactions-upstream, alias: interactions-alias, is-compat: true, max-context-length: 1048576}
xai-api-key:
  - base-url: https://api.x.ai/v1
    models:
      - {name: xai-upstream, alias: xai-alias, is-compat: true, display-name: xAI Name, max-context-length: 1048576}
claude-api-key:
  - models:
      - {name: claude-upstream, alias: claude-alias, is-compat: true, display-name: Claude Name, max-context-length: 1048576}
codex-api-key:
  - base-url: https://codex.example.com
    models:
      - {name: codex-upstream, alias: codex-alias, is-compat: true, display-name: Codex Name, max-context-length: 1048576}
      - {name: native-upstream, alias: native-alias}
vertex-api-key:
  - api-key: v
    models:
      - {name: vertex-upstream, alias: vertex-alias, display-name: Vertex Name}
openai-compatibility:
  - name: deepseek
    base-url: https://compat.example.com
    models:
      - {name: deepseek-upstream, alias: deepseek-alias, is-compat: true, display-name: Compatibility Name, max-context-length: 1048576}
      - {name: openai-native, alias: openai-native}
"""


def test_model_entry_fields_decode_for_every_provider() -> None:
    """TestAPIKeyModelIsCompatConfigDecoding, TestCodexModelIsCompatConfigDecoding,
    TestMaxContextLengthConfigDecoding, TestModelDisplayNameConfigDecoding.

    CPA decodes without base-url checks (plain yaml.Unmarshal); the entries here carry a
    base-url where cliproxy's load, like CPA's ParseConfigBytes, drops those without one.
    CPA's JSON variants are the same decoder in Go; cliproxy reads YAML, of which JSON is a
    subset, so one parse covers both."""
    c = parse(_PROVIDER_MODELS)
    firsts = {
        "gemini": c.gemini_api_key[0].models,
        "interactions": c.interactions_api_key[0].models,
        "xai": c.xai_api_key[0].models,
        "claude": c.claude_api_key[0].models,
        "codex": c.codex_api_key[0].models,
        "compat": c.openai_compatibility[0].models,
    }
    for name, models in firsts.items():
        assert models[0].is_compat, name
        assert models[0].max_context_length == 1048576, name
    assert not c.gemini_api_key[0].models[1].is_compat
    assert not c.codex_api_key[0].models[1].is_compat
    assert not c.openai_compatibility[0].models[1].is_compat
    names = [firsts[k][0].display_name for k in ("codex", "xai", "claude", "gemini", "compat")]
    assert names == ["Codex Name", "xAI Name", "Claude Name", "Gemini Name", "Compatibility Name"]
    assert c.vertex_api_key[0].models[0].display_name == "Vertex Name"


def test_json_config_text_loads() -> None:
    """TestCodexModelIsCompatConfigDecoding (JSON case): a config written as JSON loads."""
    c = parse(
        '{"codex-api-key":[{"base-url":"https://c.example.com","models":'
        '[{"name":"a","alias":"b","is-compat":true},{"name":"n","alias":"m"}]}]}'
    )
    assert [m.is_compat for m in c.codex_api_key[0].models] == [True, False]


@pytest.mark.parametrize(
    ("text", "want"), [("port: 8317\n", False), ("claude-code:\n  disable-cloaking-model-list: true\n", True)]
)
def test_claude_code_model_list_cloaking(text: str, want: bool) -> None:
    """TestParseConfigBytesClaudeCodeModelListCloaking."""
    assert parse(text).claude_code.disable_cloaking_model_list is want


def test_claude_fingerprint_profile_normalised_or_kept() -> None:
    """TestNormalizeClaudeFingerprintProfile, TestSanitizeClaudeKeysFingerprintProfile: a known
    spelling (any case, padded, or the legacy oauth-cli) becomes claude-code-cli; an unknown
    one is kept as written (trimmed), an absent one stays empty."""
    c = parse(
        "claude-api-key:\n"
        "  - {api-key: a, fingerprint-profile: '  OAuth-CLI  '}\n"
        "  - {api-key: b, fingerprint-profile: ' claude-code '}\n"
        "  - {api-key: c}\n"
        "  - {api-key: d, fingerprint-profile: '  Claude-Code-CLI '}\n"
        "  - {api-key: e, fingerprint-profile: '   '}\n"
    )
    got = [k.fingerprint_profile for k in c.claude_api_key]
    assert got == ["claude-code-cli", "claude-code", "", "claude-code-cli", ""]


def test_claude_header_defaults_are_trimmed(tmp_path) -> None:
    """TestLoadConfigOptional_ClaudeHeaderDefaults."""
    path = tmp_path / "config.yaml"
    path.write_text(
        "claude-header-defaults:\n"
        '  user-agent: "  claude-cli/2.1.70 (external, cli)  "\n'
        '  package-version: "  0.80.0  "\n'
        '  runtime-version: "  v24.5.0  "\n'
        '  os: "  MacOS  "\n'
        '  arch: "  arm64  "\n'
        '  timeout: "  900  "\n'
        '  timezone: "  Pacific/Honolulu  "\n'
        "  stabilize-device-profile: false\n"
    )
    h = load_config(path).claude_header_defaults
    assert h.user_agent == "claude-cli/2.1.70 (external, cli)"
    assert (h.package_version, h.runtime_version, h.os, h.arch) == ("0.80.0", "v24.5.0", "MacOS", "arm64")
    assert (h.timeout, h.timezone) == ("900", "Pacific/Honolulu")
    assert h.stabilize_device_profile is False


def test_codex_header_defaults_and_switches(tmp_path) -> None:
    """TestLoadConfigOptional_CodexHeaderDefaults, TestLoadConfigOptional_CodexIdentityConfuse."""
    path = tmp_path / "config.yaml"
    path.write_text(
        'codex-header-defaults:\n  user-agent: "  my-codex-client/1.0  "\n  beta-features: "  feature-a,feature-b  "\n'
    )
    c = load_config(path)
    assert c.codex_header_defaults.user_agent == "my-codex-client/1.0"
    assert c.codex_header_defaults.beta_features == "feature-a,feature-b"
    assert c.codex.disable_codex_cloaking is False
    path.write_text(
        "codex:\n  identity-confuse: true\n  disable-codex-cloaking: true\n  optimize-multi-agent-v2: true\n"
    )
    codex = load_config(path).codex
    assert codex.identity_confuse and codex.disable_codex_cloaking and codex.optimize_multi_agent_v2


def test_explicit_false_disable_cooling_is_kept() -> None:
    """TestParseConfigBytesPreservesCoolingOverridePresence: an entry's disable-cooling: false
    overrides a global true, so it must load as False, not as "unset"."""
    c = parse(
        "disable-cooling: true\n"
        "gemini-api-key: [{api-key: g, disable-cooling: false}]\n"
        "interactions-api-key: [{api-key: i, disable-cooling: false}]\n"
        "claude-api-key: [{api-key: c, disable-cooling: false}]\n"
        "codex-api-key: [{api-key: x, base-url: 'https://codex.example.com', disable-cooling: false}]\n"
        "xai-api-key: [{api-key: x, base-url: 'https://api.x.ai/v1', disable-cooling: false}]\n"
        "openai-compatibility:\n"
        "  - {name: compat, base-url: 'https://compat.example.com', disable-cooling: false,"
        " api-key-entries: [{api-key: k}]}\n"
        "vertex-api-key: [{api-key: v, base-url: 'https://vertex.example.com', disable-cooling: false}]\n"
    )
    entries = [
        c.gemini_api_key[0],
        c.interactions_api_key[0],
        c.claude_api_key[0],
        c.codex_api_key[0],
        c.xai_api_key[0],
        c.openai_compatibility[0],
        c.vertex_api_key[0],
    ]
    assert [e.disable_cooling for e in entries] == [False] * 7
    assert parse("gemini-api-key: [{api-key: g}]\n").gemini_api_key[0].disable_cooling is None


@pytest.mark.parametrize(
    ("value", "mode"),
    [("false", "off"), ("true", "all"), ("chat", "chat"), ("passthrough", "passthrough"), ('"chat"', "chat")],
)
def test_disable_image_generation_modes(value: str, mode: str) -> None:
    """TestDisableImageGenerationMode_UnmarshalYAML, TestDisableImageGenerationMode_UnmarshalJSON."""
    assert parse(f"disable-image-generation: {value}\n").image_generation_mode == mode


def test_gemini_keys_without_key_survive_with_base_url() -> None:
    """TestSanitizeGeminiKeys_AllowsEmptyAPIKeyWithBaseURL: an entry with neither key nor
    base-url is dropped; one with only a base-url is kept (headers make two such entries
    distinct)."""
    c = parse(
        "gemini-api-key:\n"
        "  - api-key: ''\n"
        "  - api-key: '  '\n"
        "  - {api-key: '', base-url: 'https://custom-gemini.example.com', headers: {Header-A: '1'}}\n"
        "  - {api-key: '', base-url: 'https://custom-gemini.example.com', headers: {Header-B: '2'}}\n"
        "  - {api-key: key-1, base-url: 'https://custom-gemini.example.com'}\n"
        "interactions-api-key:\n"
        "  - api-key: ''\n"
        "  - api-key: '  '\n"
        "  - {api-key: '', base-url: 'https://custom-interactions.example.com'}\n"
    )
    assert len(c.gemini_api_key) == 3
    assert c.gemini_api_key[0].base_url == "https://custom-gemini.example.com"
    assert [k.base_url for k in c.interactions_api_key] == ["https://custom-interactions.example.com"]


def test_home_section_is_ignored() -> None:
    """TestParseConfigBytesIgnoresHomeConfig: CPA never reads ``home:`` from config.yaml.

    Differs on purpose: cliproxy names it in the start-up warning of unknown keys rather than
    dropping it in silence (nothing a user sets is ignored quietly)."""
    c = parse("home:\n  enabled: true\n  host: home.example.com\n  port: 444\n  tls: {enable: true}\n")
    assert unknown_keys(c) == ["home"]
    assert (c.host, c.port, c.tls.enable) == ("127.0.0.1", 8317, False)


def test_antigravity_sensitive_words() -> None:
    """TestParseConfigBytes_AntigravitySensitiveWords."""
    assert parse('antigravity:\n  sensitive-words: ["API", "proxy"]\n').antigravity.sensitive_words == [
        "API",
        "proxy",
    ]


def test_oauth_model_alias_keeps_optional_fields() -> None:
    """TestSanitizeOAuthModelAlias_PreservesOptionalFields,
    TestSanitizeOAuthModelAlias_AllowsMultipleAliasesForSameName."""
    c = parse(
        "oauth-model-alias:\n"
        "  ' CoDeX ':\n"
        "    - {name: ' gpt-5 ', alias: ' g5 ', fork: true, display-name: ' GPT Five ', force-mapping: true}\n"
        "    - {name: gpt-6, alias: g6}\n"
        "  antigravity:\n"
        "    - {name: gemini-claude-opus-4-5-thinking, alias: claude-opus-4-5-20251101, fork: true}\n"
        "    - {name: gemini-claude-opus-4-5-thinking, alias: claude-opus-4-5-20251101-thinking, fork: true}\n"
        "    - {name: gemini-claude-opus-4-5-thinking, alias: claude-opus-4-5, fork: true}\n"
    )
    first, second = c.oauth_model_alias["codex"]
    assert (first.name, first.alias, first.fork, first.display_name, first.force_mapping) == (
        "gpt-5",
        "g5",
        True,
        "GPT Five",
        True,
    )
    assert (second.name, second.alias, second.fork, second.display_name, second.force_mapping) == (
        "gpt-6",
        "g6",
        False,
        "",
        False,
    )
    ag = c.oauth_model_alias["antigravity"]
    assert [(a.alias, a.fork) for a in ag] == [
        ("claude-opus-4-5-20251101", True),
        ("claude-opus-4-5-20251101-thinking", True),
        ("claude-opus-4-5", True),
    ]


_SCOPED = """
gemini-api-key:
  - api-key: gemini-key-1
    request-scoped-errors:
      - status: 400
        match: ["maximum_context_length", "context_length_exceeded"]
        match-regexr: ["maximum_context_length$", "^context_length_exceeded"]
        action: stop
interactions-api-key:
  - api-key: interactions-key-1
    request-scoped-errors: [{status: 400, match: [invalid_argument], action: continue}]
codex-api-key:
  - api-key: codex-key-1
    base-url: https://api.openai.com/v1
    request-scoped-errors: [{status: 400, match: [context_window_exceeded], action: stop-and-cooldown}]
xai-api-key:
  - api-key: xai-key-1
    base-url: https://api.x.ai/v1
    request-scoped-errors: [{status: 500, match: [rate_limit_exceeded], action: continue-and-cooldown}]
claude-api-key:
  - api-key: claude-key-1
    request-scoped-errors: [{status: 400, match: [prompt is too long], action: stop}]
openai-compatibility:
  - name: test-openai-compat
    base-url: https://api.openai.compat/v1
    api-key-entries: [{api-key: compat-key-1}]
    request-scoped-errors:
      - status: 400
        match: [maximum_context_length, context_length_exceeded]
        match-regexr: ["maximum_context_length$", "^context_length_exceeded"]
        action: stop
"""


def test_request_scoped_errors_per_entry() -> None:
    """TestParseConfigRequestScopedErrors."""
    c = parse(_SCOPED)
    g = c.gemini_api_key[0].request_scoped_errors[0]
    assert (g.status, len(g.match), len(g.match_regexr), g.action) == (400, 2, 2, "stop")
    assert c.interactions_api_key[0].request_scoped_errors[0].action == "continue"
    assert c.codex_api_key[0].request_scoped_errors[0].action == "stop-and-cooldown"
    x = c.xai_api_key[0].request_scoped_errors[0]
    assert (x.status, x.action) == (500, "continue-and-cooldown")
    assert c.claude_api_key[0].request_scoped_errors[0].action == "stop"
    o = c.openai_compatibility[0].request_scoped_errors[0]
    assert (len(o.match), len(o.match_regexr), o.action) == (2, 2, "stop")


def test_oauth_request_scoped_errors_channels_and_cleaning() -> None:
    """TestParseConfigOAuthRequestScopedErrors, TestSanitizeOAuthRequestScopedErrors."""
    channels = ("vertex", "aistudio", "antigravity", "claude", "codex", "kimi", "xai")
    text = "oauth-request-scoped-errors:\n" + "".join(
        f"  {ch}: [{{status: 400, match: [x_{ch}], action: stop}}]\n" for ch in channels
    )
    assert sorted(parse(text).oauth_request_scoped_errors) == sorted(channels)
    c = parse(
        "oauth-request-scoped-errors:\n"
        "  ' Vertex ':\n"
        "    - {status: 400, match: ['  context_length  ', ''], match-regexr: ['  ^error.*  ', ''], action: ' STOP '}\n"
        "    - {status: 0, match: [foo], action: stop}\n"
        "    - {status: 400}\n"
        "  ' empty-channel ': []\n"
    )
    assert list(c.oauth_request_scoped_errors) == ["vertex"]
    (rule,) = c.oauth_request_scoped_errors["vertex"]
    assert (rule.status, rule.action, rule.match, rule.match_regexr) == (
        400,
        "stop",
        ["context_length"],
        ["^error.*"],
    )


def test_plugins_defaults_and_dir_expansion(tmp_path, monkeypatch) -> None:
    """TestParseConfigBytes_PluginsDefaults, TestParseConfigBytes_PluginsDirExpandsLeadingTilde,
    TestLoadConfig_PluginsDirExpandsLeadingTilde."""
    c = parse("plugins: {}\n")
    assert c.plugins.enabled is False and c.plugins.dir == "plugins" and c.plugins.configs == {}
    monkeypatch.setenv("HOME", str(tmp_path))
    path = tmp_path / "config.yaml"
    path.write_text('plugins:\n  dir: "~/.cli-proxy-api/plugins"\n')
    assert load_config(path).plugins.dir == os.path.join(str(tmp_path), ".cli-proxy-api", "plugins")


def test_plugin_store_keys_load_and_are_effective() -> None:
    """TestParseConfigBytes_PluginStoreSources, TestParseConfigBytes_PluginStoreAuth,
    TestParseConfigBytes_PluginAuthRevision.

    The store keys are read by the plugin store (tests/plugins/test_store_api.py); the auth
    revision belongs to CPA's Home plugin sync and is still named as without effect."""
    c = parse(
        "plugins:\n  store-sources: [' https://community.example/registry.json ', '']\n"
        "  store-auth: [{match: ' https://plugins.example.com/ ', type: bearer}]\n  auth-revision: 42\n"
    )
    assert c.plugins.auth_revision == 42
    assert c.plugins.store_sources == ["https://community.example/registry.json"]
    assert [r.match for r in parse_rules(c.plugins.store_auth)] == ["https://plugins.example.com/"]
    assert "plugins.auth-revision" in not_effective_keys(c)
    assert not {"plugins.store-sources", "plugins.store-auth"} & set(not_effective_keys(c))


def test_plugin_instance_settings() -> None:
    """TestParseConfigBytes_PluginInstanceEmptyRawYAML, TestParseConfigBytes_PluginInstanceRawYAML."""
    empty = parse("plugins:\n  configs:\n    sample: {}\n").plugins.configs["sample"]
    assert (empty.enabled, empty.priority, empty.settings) == (False, 0, {})
    c = parse(
        "plugins:\n  enabled: true\n  dir: custom-plugins\n  configs:\n    sample:\n      enabled: false\n"
        "      priority: 7\n      config1: value1\n      config2:\n        nested: value2\n"
    )
    sample = c.plugins.configs["sample"]
    assert (sample.enabled, sample.priority) == (False, 7)
    assert sample.settings == {"config1": "value1", "config2": {"nested": "value2"}}
    assert c.plugins.dir == "custom-plugins"


def test_request_retry_per_entry() -> None:
    """TestParseConfigBytesRequestRetry: an entry's request-retry, 0 and negatives included,
    is kept; an absent one stays unset (the global value applies)."""
    c = parse(
        "gemini-api-key: [{api-key: gemini-zero, request-retry: 0}, {api-key: gemini-unset}]\n"
        "interactions-api-key: [{api-key: i, request-retry: 2}]\n"
        "codex-api-key: [{api-key: c, base-url: 'https://codex.example.com', request-retry: -1}]\n"
        "xai-api-key: [{api-key: x, base-url: 'https://api.x.ai/v1', request-retry: 0}]\n"
        "claude-api-key: [{api-key: c, request-retry: 3}]\n"
        "openai-compatibility: [{name: compat, base-url: 'https://compat.example.com/v1', request-retry: 0,"
        " api-key-entries: [{api-key: k}]}]\n"
        "vertex-api-key: [{api-key: v, request-retry: 4}]\n"
    )
    assert [e.request_retry for e in c.gemini_api_key] == [0, None]
    got = [
        c.interactions_api_key[0].request_retry,
        c.codex_api_key[0].request_retry,
        c.xai_api_key[0].request_retry,
        c.claude_api_key[0].request_retry,
        c.openai_compatibility[0].request_retry,
        c.vertex_api_key[0].request_retry,
    ]
    assert got == [2, -1, 0, 3, 0, 4]


@pytest.mark.parametrize(
    ("weight", "valid"),
    [("-1", True), ("1000000", True), ("1.5", False), ("1000001", False), ("9223372036854775808", False)],
)
def test_api_key_weight_validation(weight: str, valid: bool) -> None:
    """TestAPIKeyWeightValidation: a fraction, a value over 1,000,000 or an overflow refuses
    the whole file (CPA fails to load it too)."""
    text = f"gemini-api-key:\n  - api-key: key\n    weight: {weight}\n"
    if valid:
        assert parse(text).gemini_api_key[0].weight == int(weight)
    else:
        with pytest.raises(ConfigError):
            parse(text)


def test_api_key_weight_zero_is_kept_and_saved(tmp_path) -> None:
    """TestAPIKeyWeightParsingAndZeroPersistence: weight 0 is a value, not "unset"; saving
    the config keeps it."""
    path = tmp_path / "config.yaml"
    path.write_text("xai-api-key:\n  - api-key: key\n    base-url: https://api.x.ai/v1\n    weight: 0\n")
    doc = ConfigDocument.load(path)
    assert doc.config.xai_api_key[0].weight == 0
    doc.save()
    assert "weight: 0" in path.read_text()


def test_xai_settings_and_key_shape() -> None:
    """TestParseConfigBytesXAIConfig, TestParseConfigBytesXAIAPIKeyMatchesCodexShape,
    TestSanitizeXAIKeysClearsCodexAlphaSearchCapability.

    Differs on purpose: CPA keeps api-key and proxy-url with their padding; cliproxy trims
    them (a padded key can only fail upstream)."""
    assert parse("{}").xai.inject_x_search is False
    assert parse("xai:\n  inject-x-search: true\n").xai.inject_x_search is True
    c = parse(
        "xai-api-key:\n"
        "  - api-key: ' xai-key '\n"
        "    priority: 3\n    weight: 5\n    prefix: ' team-xai '\n"
        "    base-url: ' https://api.x.ai/v1 '\n    websockets: true\n    alpha-search: true\n"
        "    proxy-url: ' http://proxy.local '\n    headers: {X-Custom: value}\n"
        "    models: [{name: grok-4.5, alias: grok-latest, display-name: Grok Latest, force-mapping: true}]\n"
        "    excluded-models: [' grok-3-* ']\n    disable-cooling: true\n    request-retry: 0\n"
        "  - {api-key: dropped, base-url: ' '}\n"
    )
    (e,) = c.xai_api_key
    assert (e.api_key, e.priority, e.weight, e.prefix, e.base_url) == (
        "xai-key",
        3,
        5,
        "team-xai",
        "https://api.x.ai/v1",
    )
    assert e.websockets and e.alpha_search is False and e.proxy_url == "http://proxy.local"
    assert (e.disable_cooling, e.request_retry, e.headers) == (True, 0, {"X-Custom": "value"})
    m = e.models[0]
    assert (m.name, m.alias, m.display_name, m.force_mapping) == (
        "grok-4.5",
        "grok-latest",
        "Grok Latest",
        True,
    )
    assert e.excluded_models == ["grok-3-*"]


def test_home_mode_sections_are_announced() -> None:
    """TestCredentialConcurrencyLimiterConfig and the other credential-concurrency /
    credential-in-flight cases: CPA's distributed Home mode is not built in cliproxy; the
    sections load and are named in the start-up warning of keys without effect."""
    c = parse("credential-concurrency: {}\ncredential-in-flight: {}\n")
    assert {"credential-concurrency", "credential-in-flight"} <= set(not_effective_keys(c))
