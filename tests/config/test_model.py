from __future__ import annotations

import os

import pytest

from cliproxy.config import Config, ConfigDocument, default_config
from cliproxy.errors import ConfigError


def parse(text: str) -> Config:
    return ConfigDocument.from_text(text, "config.yaml").config


def test_full_fixture_values(full_yaml):
    c = parse(full_yaml)
    assert (c.host, c.port, c.debug) == ("127.0.0.1", 8420, True)
    assert c.tls.enable is False and c.tls.key == ""
    rm = c.remote_management
    assert rm.allow_remote and rm.disable_control_panel and rm.disable_auto_update_panel
    assert rm.panel_github_repository == "https://github.com/example/panel"
    assert c.auth_dir == os.path.join(os.path.expanduser("~"), ".cli-proxy-api-test")
    assert c.api_keys == ["key-one", "key-two"]
    assert c.pprof.enable and c.pprof.addr == "127.0.0.1:9999"
    assert c.credential_concurrency.cpa_heartbeat_timeout == 4.0
    assert c.credential_concurrency.release_flush_interval == 0.5
    assert c.credential_concurrency.reclaim_grace == 5.0
    assert c.credential_in_flight.max_string_bytes == 128
    assert c.plugins.enabled and c.plugins.dir == "my-plugins"
    assert c.plugins.configs["example"].enabled and c.plugins.configs["example"].priority == 7
    assert c.plugins.configs["example"].settings == {"config1": True, "mode": "safe"}
    assert c.plugins.configs["bare"].enabled is False
    assert c.commercial_mode and c.logging_to_file and c.request_log
    assert (c.logs_max_total_size_mb, c.error_logs_max_files) == (512, 20)
    assert c.redis_usage_queue_retention_seconds == 3600  # clamped
    assert c.proxy_url.startswith("socks5://")
    assert (c.request_retry, c.max_retry_credentials, c.max_retry_interval) == (3, 2, 30)
    assert c.disable_cooling and c.save_cooldown_status and c.transient_error_cooldown_seconds == 15
    assert c.disable_claude_cloak_mode and c.claude_code.disable_cloaking_model_list
    assert c.disable_image_generation == "chat" and c.image_generation_mode == "chat"
    assert c.gpt_image_2_base_model == "gpt-5.5"
    assert c.video_result_auth_cache_ttl_seconds == 1800
    assert c.auth_auto_refresh_workers == 4
    assert c.quota_exceeded.antigravity_credits
    assert c.routing.strategy == "fill-first" and c.routing.session_affinity
    assert c.routing.session_affinity_ttl_seconds == 9000
    relay = c.codex.live_media_relay
    assert c.codex.identity_confuse and relay.enabled and relay.ice_servers[0].username == "u"
    assert c.antigravity.sensitive_words == ["API", "proxy"]
    assert c.xai.inject_x_search and c.ws_auth is False
    assert c.nonstream_keepalive_interval == 10
    assert (c.streaming.keepalive_seconds, c.streaming.bootstrap_retries) == (15, 2)
    assert c.antigravity_signature_cache_enabled is False and c.antigravity_signature_bypass_strict


def test_full_fixture_credentials(full_yaml):
    c = parse(full_yaml)
    assert len(c.gemini_api_key) == 1  # duplicate dropped
    g = c.gemini_api_key[0]
    assert (g.weight, g.priority, g.prefix, g.proxy_url) == (5, 2, "test", "direct")
    assert g.headers == {"X-Team": "alpha"}  # from the anchor
    assert g.models[0].alias == "gemini-flash" and g.models[0].thinking.levels == ["high", "medium", "low"]
    assert g.excluded_models == ["gemini-2.5-pro", "*-preview"]
    assert g.disable_cooling is False and g.request_retry == 1
    assert g.request_scoped_errors[0].match_regexr == ["^context_length_exceeded"]
    assert c.interactions_api_key[0].prefix == "native"
    assert [k.api_key for k in c.codex_api_key] == ["sk-codex"]
    assert c.codex_api_key[0].websockets and c.codex_api_key[0].alpha_search
    assert c.xai_api_key[0].alpha_search is False
    claude = c.claude_api_key[1]
    assert claude.weight == 1_000_000 and claude.fingerprint_profile == "claude-code-cli"
    assert claude.cloak.mode == "always" and claude.cloak.cache_user_id is True
    assert claude.models[0].thinking.zero_allowed is True
    assert claude.models[0].thinking.max == 32000
    assert [m.alias for m in c.vertex_api_key[0].models] == ["vertex-pro"]
    assert c.claude_header_defaults.user_agent == "claude-cli/2.1.220 (external, cli)"
    assert c.claude_header_defaults.timeout == "600"
    assert c.codex_header_defaults.beta_features == "multi_agent"
    compat = c.openai_compatibility[0]
    assert (compat.name, compat.prefix, compat.priority, compat.support_prompt_cache_key) == (
        "openrouter",
        "or",
        3,
        True,
    )
    assert [e.weight for e in compat.api_key_entries] == [3, None]
    assert compat.models[0].image and compat.models[0].input_modalities == ["text", "image"]
    assert [m.alias for m in compat.models].count("pool") == 2
    assert [e.api_key for e in c.openai_compatibility[1].api_key_entries] == ["sk-legacy"]


def test_full_fixture_maps_and_payload(full_yaml):
    c = parse(full_yaml)
    assert list(c.oauth_model_alias) == ["claude", "codex"]
    assert [a.alias for a in c.oauth_model_alias["claude"]] == ["cs4.5"]
    assert c.oauth_model_alias["claude"][0].fork
    assert c.oauth_excluded_models == {"claude": ["claude-3-5-haiku-20241022"]}
    rules = c.oauth_request_scoped_errors["codex"]
    assert len(rules) == 1 and rules[0].action == "stop"
    rule = c.payload.default[0].models[0]
    assert (rule.protocol, rule.from_protocol, rule.headers) == (
        "gemini",
        "responses",
        {"X-Client-Tier": "tenant-*"},
    )
    assert rule.match == [{"metadata.client": "codex"}] and rule.not_exist == ["metadata.disable_payload"]
    assert c.payload.default[0].params == {"generationConfig.thinkingConfig.thinkingBudget": 32768}
    assert len(c.payload.default_raw) == 1  # the invalid raw JSON rule is dropped
    assert c.payload.filter[0].params == ["generationConfig.responseJsonSchema"]


def test_defaults_match_cpa_code_defaults():
    c = parse("")
    assert c == default_config()
    # deliberate difference: CPA's code default "" binds every interface; ours is this machine
    # only, so a proxy started with no config exposes nothing. An explicit ``host: ""`` still
    # binds every interface, as in CPA.
    assert (c.host, c.port) == ("127.0.0.1", 8317)
    assert parse('host: ""\n').host == ""
    assert c.allow_unauthenticated_remote is False
    assert c.timeouts.seconds("upstream_connect") == 30 and c.timeouts.seconds("upstream_idle") == 600
    assert c.limits.max_body_bytes == 64 * 1024 * 1024
    assert c.auth_dir == os.path.join(os.path.expanduser("~"), ".cli-proxy-api")
    assert c.api_keys == [] and c.debug is False
    assert c.error_logs_max_files == 10 and c.redis_usage_queue_retention_seconds == 60
    assert c.ws_auth is True and c.antigravity_signature_cache_enabled is True
    assert c.antigravity_signature_bypass_strict is False
    assert c.pprof.addr == "127.0.0.1:8316"
    assert c.remote_management.panel_github_repository.endswith(
        "router-for-me/Cli-Proxy-API-Management-Center"
    )
    assert c.routing.strategy == "round-robin" and c.routing.session_affinity_ttl_seconds == 3600
    assert c.auth_auto_refresh_workers == 16 and c.gpt_image_2_base_model == "gpt-5.4-mini"
    assert c.video_result_auth_cache_ttl_seconds == 3 * 3600
    assert c.disable_image_generation is False and c.image_generation_mode == "off"
    assert c.plugins.dir == "plugins" and c.plugins.enabled is False
    assert (c.request_retry, c.max_retry_interval, c.max_retry_credentials) == (0, 0, 0)
    assert c.credential_in_flight.snapshot_interval == "2s"
    assert c.streaming.keepalive_seconds == 0 and c.nonstream_keepalive_interval == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("error-logs-max-files: -1\n", ("error_logs_max_files", 10)),
        ("logs-max-total-size-mb: -5\n", ("logs_max_total_size_mb", 0)),
        ("redis-usage-queue-retention-seconds: 0\n", ("redis_usage_queue_retention_seconds", 60)),
        ("max-retry-credentials: -2\n", ("max_retry_credentials", 0)),
        ("auth-auto-refresh-workers: 0\n", ("auth_auto_refresh_workers", 16)),
        ("gpt-image-2-base-model: claude\n", ("gpt_image_2_base_model", "gpt-5.4-mini")),
        ("disable-image-generation: true\n", ("image_generation_mode", "all")),
        ("disable-image-generation: passthrough\n", ("image_generation_mode", "passthrough")),
        ("routing:\n  strategy: wrr\n", ("routing", "weighted-round-robin")),
        ("ws-auth:\n", ("ws_auth", True)),
        ("auth-dir: ''\n", ("auth_dir", os.path.join(os.path.expanduser("~"), ".cli-proxy-api"))),
    ],
)
def test_tolerated_values(text, expected):
    """Values CPA normalises instead of refusing. CPA: TestWeightedRoundRobinRoutingSelector
    (``wrr`` is weighted-round-robin)."""
    c = parse(text)
    name, value = expected
    got = c.routing.strategy if name == "routing" else getattr(c, name)
    assert got == value


def test_legacy_generative_language_keys():
    c = parse("generative-language-api-key:\n  - a\n  - ' '\ngemini-api-key:\n  - api-key: b\n")
    assert [k.api_key for k in c.gemini_api_key] == ["b", "a"]


def test_unknown_keys_kept_at_every_level():
    c = parse("zz-top: 1\nrouting:\n  later: x\nclaude-api-key:\n  - api-key: k\n    new-field: [1]\n")
    assert c.model_extra == {"zz-top": 1}
    assert c.routing.model_extra == {"later": "x"}
    assert c.claude_api_key[0].model_extra == {"new-field": [1]}
    dumped = c.model_dump(by_alias=True)
    assert dumped["zz-top"] == 1 and dumped["claude-api-key"][0]["new-field"] == [1]


@pytest.mark.parametrize(
    ("text", "path", "words"),
    [
        (
            "claude-api-key:\n  - api-key: a\n  - api-key: b\n  - api-key: c\n    weight: 1000001\n",
            "claude-api-key[2].weight",
            "must not exceed 1000000",
        ),
        (
            "gemini-api-key:\n  - api-key: a\n    weight: '5'\n",
            "gemini-api-key[0].weight",
            "must be an integer",
        ),
        (
            "openai-compatibility:\n  - base-url: x\n    api-key-entries:\n      - api-key: k\n        weight: 2.5\n",
            "openai-compatibility[0].api-key-entries[0].weight",
            "must be an integer",
        ),
        ("port: eighty\n", "port", "valid integer"),
        ("port: 70000\n", "port", "65535"),
        ("debug: maybe\n", "debug", "valid boolean"),
        ("tls: yes-please\n", "tls", "valid dictionary"),
        ("disable-image-generation: sometimes\n", "disable-image-generation", "allowed: true, false, chat"),
        ("credential-in-flight:\n  snapshot-interval: 5s\n", "credential-in-flight", "three snapshot"),
        (
            "codex:\n  live-media-relay:\n    enabled: true\n    udp-port-min: 10\n",
            "codex.live-media-relay",
            "must both be set",
        ),
    ],
)
def test_bad_values_name_the_key_path(text, path, words):
    """CPA: TestBuilderBuildRejectsInvalidWithConfigCredentialWeight (the error names
    ``claude-api-key[N].weight``)."""
    with pytest.raises(ConfigError) as info:
        parse(text)
    err = info.value
    assert err.path == path
    assert str(err).startswith(f"{path}: ")
    assert words in str(err)
    assert "config.yaml" in str(err)


def test_error_message_has_line_number():
    with pytest.raises(ConfigError) as info:
        parse("host: x\nrouting:\n  session-affinity: maybe\n")
    assert "line 3" in str(info.value)


def test_weight_non_positive_is_allowed_like_cpa():
    c = parse("claude-api-key:\n  - api-key: a\n    weight: 0\n  - api-key: b\n    weight: -3\n")
    assert [k.weight for k in c.claude_api_key] == [0, -3]
