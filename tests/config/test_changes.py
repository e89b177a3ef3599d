"""The reload change list (cliproxy.config.changes), ported from CPA's internal/watcher/diff tests.

Inputs are written as config.yaml mappings and go through our model, so they are
normalised as a loaded file is: a ``codex-api-key`` / ``xai-api-key`` entry without
``base-url`` is dropped at load (as in CPA's loader, not its diff tests, which build
structs by hand), and the ported inputs give one where CPA's test left it out.
"""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.config import Config
from cliproxy.config.changes import (
    describe_changes,
    format_url,
)
from cliproxy.config.providers import OpenAICompatibility


def cfg(**yaml: Any) -> Config:
    return Config.model_validate({k.replace("_", "-"): v for k, v in yaml.items()})


def compat(*entries: dict[str, Any]) -> list[OpenAICompatibility]:
    return [OpenAICompatibility.model_validate(e) for e in entries]


def expect(lines: list[str], *wanted: str) -> None:
    missing = [w for w in wanted if w not in lines]
    assert not missing, f"missing {missing} in {lines}"


def test_change_details() -> None:
    """CPA TestBuildConfigChangeDetails."""
    old = cfg(
        port=8080,
        auth_dir="/tmp/auth-old",
        gemini_api_key=[{"api-key": "old", "base-url": "http://old", "excluded-models": ["old-model"]}],
        remote_management={"secret-key": "old", "panel-github-repository": "repo-old"},
        oauth_excluded_models={"providerA": ["m1"]},
        openai_compatibility=[
            {
                "name": "compat-a",
                "base-url": "http://a",
                "api-key-entries": [{"api-key": "k1"}],
                "models": [{"name": "m1"}],
            }
        ],
    )
    new = cfg(
        port=9090,
        auth_dir="/tmp/auth-new",
        codex={"disable-codex-cloaking": True},
        gemini_api_key=[
            {"api-key": "old", "base-url": "http://old", "excluded-models": ["old-model", "extra"]}
        ],
        remote_management={
            "allow-remote": True,
            "secret-key": "new",
            "disable-control-panel": True,
            "disable-auto-update-panel": True,
            "panel-github-repository": "repo-new",
        },
        oauth_excluded_models={"providerA": ["m1", "m2"], "providerB": ["x"]},
        openai_compatibility=[
            {
                "name": "compat-a",
                "base-url": "http://a",
                "api-key-entries": [{"api-key": "k1"}],
                "models": [{"name": "m1"}, {"name": "m2"}],
            },
            {"name": "compat-b", "base-url": "http://b", "api-key-entries": [{"api-key": "k2"}]},
        ],
    )
    lines = describe_changes(old, new)
    expect(
        lines,
        "port: 8080 -> 9090",
        "auth-dir: /tmp/auth-old -> /tmp/auth-new",
        "gemini[0].excluded-models: updated (1 -> 2 entries)",
        "remote-management.allow-remote: false -> true",
        "remote-management.disable-auto-update-panel: false -> true",
        "remote-management.secret-key: updated",
        "codex.disable-codex-cloaking: false -> true",
        "oauth-excluded-models[providera]: updated (1 -> 2 entries)",
        "oauth-excluded-models[providerb]: added (1 entries)",
        "openai-compatibility:",
        "  provider added: compat-b (api-keys=1, models=0)",
        "  provider updated: compat-a (models 1 -> 2)",
    )
    heading = lines.index("openai-compatibility:")  # the providers follow their heading
    assert lines[heading + 1].startswith("  provider ") and lines[heading + 2].startswith("  provider ")


def test_no_changes_and_missing_sides() -> None:
    """CPA TestBuildConfigChangeDetails_NoChanges and _NilSafe; also two equal loads (not the
    same object) give nothing."""
    config = cfg(port=8080)
    assert describe_changes(config, config) == []
    assert describe_changes(None, Config()) == []
    assert describe_changes(Config(), None) == []
    assert describe_changes(cfg(port=8080, api_keys=["a"]), cfg(port=8080, api_keys=["a"])) == []


def test_codex_live_media_relay() -> None:
    """CPA TestBuildConfigChangeDetails_CodexLiveMediaRelay: ICE server users and credentials
    never appear."""
    old = cfg(
        codex={
            "live-media-relay": {
                "max-sessions": 16,
                "ice-servers": [
                    {"urls": ["turn:old.example.com"], "username": "old-user", "credential": "old-secret"}
                ],
            }
        }
    )
    new = cfg(
        codex={
            "live-media-relay": {
                "enabled": True,
                "max-sessions": 32,
                "disable-private-remote-ips": True,
                "public-ip": "203.0.113.10",
                "udp-port-min": 40000,
                "udp-port-max": 40063,
                "ice-servers": [
                    {"urls": ["turn:new.example.com"], "username": "new-user", "credential": "new-secret"}
                ],
            }
        }
    )
    lines = describe_changes(old, new)
    expect(
        lines,
        "codex.live-media-relay.enabled: false -> true",
        "codex.live-media-relay.max-sessions: 16 -> 32",
        "codex.live-media-relay.disable-private-remote-ips: false -> true",
        "codex.live-media-relay.public-ip: <none> -> 203.0.113.10",
        "codex.live-media-relay.udp-port-min: 0 -> 40000",
        "codex.live-media-relay.udp-port-max: 0 -> 40063",
        "codex.live-media-relay.ice-servers: updated (1 -> 1 entries, credentials redacted)",
    )
    joined = "\n".join(lines)
    for secret in ("old-secret", "new-secret", "old-user", "new-user"):
        assert secret not in joined


def test_gemini_headers_and_exclusions() -> None:
    """CPA TestBuildConfigChangeDetails_GeminiVertexHeaders. Header values never appear.
    Vertex models need a name and an alias in our model (others are dropped at load), so
    the vertex entry's models carry both."""
    old = cfg(
        gemini_api_key=[{"api-key": "g1", "headers": {"H": "value-1"}, "excluded-models": ["a"]}],
        vertex_api_key=[
            {"api-key": "v1", "base-url": "http://v-old", "models": [{"name": "m1", "alias": "a1"}]}
        ],
    )
    new = cfg(
        gemini_api_key=[{"api-key": "g1", "headers": {"H": "value-2"}, "excluded-models": ["a", "b"]}],
        vertex_api_key=[
            {
                "api-key": "v1",
                "base-url": "http://v-new",
                "models": [{"name": "m1", "alias": "a1"}, {"name": "m2", "alias": "a2"}],
            }
        ],
    )
    lines = describe_changes(old, new)
    expect(lines, "gemini[0].headers: updated", "gemini[0].excluded-models: updated (1 -> 2 entries)")
    assert "value-" not in "\n".join(lines)


def test_model_prefixes() -> None:
    """CPA TestBuildConfigChangeDetails_ModelPrefixes."""

    def entries(tag: str) -> dict[str, Any]:
        def one(p: str) -> list[dict[str, str]]:
            return [
                {
                    "api-key": f"{p}1",
                    "prefix": f"{tag}-{p}",
                    "base-url": f"http://{p}",
                    "proxy-url": f"http://{p}p",
                }
            ]

        return {
            "gemini_api_key": one("g"),
            "claude_api_key": one("c"),
            "codex_api_key": one("x"),
            "vertex_api_key": one("v"),
        }

    lines = describe_changes(cfg(**entries("old")), cfg(**entries("new")))
    expect(
        lines,
        "gemini[0].prefix: old-g -> new-g",
        "claude[0].prefix: old-c -> new-c",
        "codex[0].prefix: old-x -> new-x",
        "vertex[0].prefix: old-v -> new-v",
    )


def test_codex_alpha_search() -> None:
    """CPA TestBuildConfigChangeDetails_CodexAlphaSearch."""
    key = {"api-key": "key", "base-url": "https://codex.example.com"}
    lines = describe_changes(cfg(codex_api_key=[key]), cfg(codex_api_key=[{**key, "alpha-search": True}]))
    expect(lines, "codex[0].alpha-search: false -> true")


def test_xai_keys() -> None:
    """CPA TestBuildConfigChangeDetails_XAIKeys. Neither key appears."""

    def entry(tag: str, priority: int, websockets: bool, cooling: bool, retry: int) -> dict[str, Any]:
        return {
            "api-key": f"{tag}-key",
            "priority": priority,
            "prefix": tag,
            "base-url": f"https://{tag}.example.com/v1",
            "proxy-url": f"http://{tag}-proxy",
            "websockets": websockets,
            "disable-cooling": cooling,
            "request-retry": retry,
            "headers": {"X-Test": tag},
            "models": [{"name": f"grok-{tag}", "alias": "grok"}],
            "excluded-models": ["grok-hidden" if tag == "old" else "grok-other"],
        }

    lines = describe_changes(
        cfg(xai_api_key=[entry("old", 1, False, False, 1)]), cfg(xai_api_key=[entry("new", 2, True, True, 0)])
    )
    expect(
        lines,
        "xai[0].base-url: https://old.example.com -> https://new.example.com",
        "xai[0].proxy-url: http://old-proxy -> http://new-proxy",
        "xai[0].prefix: old -> new",
        "xai[0].priority: 1 -> 2",
        "xai[0].websockets: false -> true",
        "xai[0].disable-cooling: false -> true",
        "xai[0].request-retry: 1 -> 0",
        "xai[0].api-key: updated",
        "xai[0].headers: updated",
        "xai[0].models: updated (1 -> 1 entries)",
        "xai[0].excluded-models: updated (1 -> 1 entries)",
    )
    assert "old-key" not in "\n".join(lines) and "new-key" not in "\n".join(lines)


def test_xai_force_mapping_only() -> None:
    """CPA TestBuildConfigChangeDetails_XAIForceMappingOnly."""
    key = {"api-key": "xai-key", "base-url": "https://api.x.ai/v1"}
    model = {"name": "grok-4.5", "alias": "grok-latest"}
    lines = describe_changes(
        cfg(xai_api_key=[{**key, "models": [model]}]),
        cfg(xai_api_key=[{**key, "models": [{**model, "force-mapping": True}]}]),
    )
    expect(lines, "xai[0].models: updated (1 -> 1 entries)")


def test_secrets_and_counts() -> None:
    """CPA TestBuildConfigChangeDetails_SecretsAndCounts and _RemoteManagementSecretUpdated."""
    lines = describe_changes(
        cfg(api_keys=["a"]), cfg(api_keys=["a", "b", "c"], remote_management={"secret-key": "new-secret"})
    )
    expect(lines, "api-keys count: 1 -> 3", "remote-management.secret-key: created")
    assert "new-secret" not in "\n".join(lines)
    lines = describe_changes(
        cfg(remote_management={"secret-key": "old"}), cfg(remote_management={"secret-key": "new"})
    )
    expect(lines, "remote-management.secret-key: updated")


def test_redacts_endpoint_urls() -> None:
    """CPA TestBuildConfigChangeDetails_RedactsEndpointURLs: user, password, path and query of
    a base URL, the panel repository and an openai-compatibility provider's URL never appear."""

    def side(tag: str) -> Config:
        def url(host: str) -> str:
            return f"https://{tag}-user:{tag}-pass@{host}/v1?token={tag}-token"

        return cfg(
            gemini_api_key=[{"base-url": url(f"{tag}.example")}],
            remote_management={
                "panel-github-repository": url(f"{tag}-panel.example").replace("/v1", "/private")
            },
            openai_compatibility=[{"base-url": url(f"{tag}-compat.example")}],
        )

    lines = describe_changes(side("old"), side("new"))
    expect(
        lines,
        "gemini[0].base-url: https://old.example -> https://new.example",
        "remote-management.panel-github-repository: https://old-panel.example -> https://new-panel.example",
    )
    joined = "\n".join(lines)
    for sensitive in (
        "old-user",
        "new-user",
        "old-pass",
        "new-pass",
        "old-token",
        "new-token",
        "/private",
        "/v1",
    ):
        assert sensitive not in joined


FLAGS_OLD: dict[str, Any] = {
    "port": 1,
    "auth_dir": "/a",
    "request_retry": 1,
    "max_retry_credentials": 1,
    "max_retry_interval": 1,
    "ws_auth": False,
    "proxy_url": "http://old-proxy",
    "remote_management": {"panel-github-repository": "old/repo", "secret-key": "keep"},
}
FLAGS_NEW: dict[str, Any] = {
    "port": 2,
    "auth_dir": "/b",
    "debug": True,
    "logging_to_file": True,
    "usage_statistics_enabled": True,
    "disable_cooling": True,
    "save_cooldown_status": True,
    "transient_error_cooldown_seconds": -1,
    "request_retry": 2,
    "max_retry_credentials": 3,
    "max_retry_interval": 3,
    "ws_auth": True,
    "quota_exceeded": {"switch-project": True, "switch-preview-model": True, "antigravity-credits": True},
    "request_log": True,
    "proxy_url": "http://new-proxy",
    "force_model_prefix": True,
    "nonstream_keepalive_interval": 5,
    "disable_image_generation": True,
    "claude_code": {"disable-cloaking-model-list": True},
    "remote_management": {
        "allow-remote": True,
        "disable-control-panel": True,
        "disable-auto-update-panel": True,
        "panel-github-repository": "new/repo",
    },
}


def test_flags_and_keys() -> None:
    """CPA TestBuildConfigChangeDetails_FlagsAndKeys. The Codex entries carry a base-url (an
    entry without one is dropped at load)."""
    old = cfg(
        **FLAGS_OLD,
        antigravity={"sensitive-words": ["old-word"]},
        claude_api_key=[{"api-key": "c1"}],
        codex_api_key=[{"api-key": "x1", "base-url": "http://x"}],
        api_keys=["key-1"],
    )
    new = cfg(
        **FLAGS_NEW,
        antigravity={"sensitive-words": ["new-word-1", "new-word-2"]},
        xai={"inject-x-search": True},
        claude_api_key=[
            {"api-key": "c1", "base-url": "http://new", "headers": {"H": "1"}},
            {"api-key": "c2"},
        ],
        codex_api_key=[{"api-key": "x1", "base-url": "http://x"}, {"api-key": "x2", "base-url": "http://x2"}],
        api_keys=[" key-1 ", "key-2"],
    )
    lines = describe_changes(old, new)
    expect(
        lines,
        "debug: false -> true",
        "logging-to-file: false -> true",
        "usage-statistics-enabled: false -> true",
        "disable-cooling: false -> true",
        "save-cooldown-status: false -> true",
        "transient-error-cooldown-seconds: 0 -> -1",
        "disable-image-generation: false -> true",
        "claude-code.disable-cloaking-model-list: false -> true",
        "request-log: false -> true",
        "request-retry: 1 -> 2",
        "max-retry-credentials: 1 -> 3",
        "max-retry-interval: 1 -> 3",
        "proxy-url: http://old-proxy -> http://new-proxy",
        "ws-auth: false -> true",
        "force-model-prefix: false -> true",
        "nonstream-keepalive-interval: 0 -> 5",
        "quota-exceeded.switch-project: false -> true",
        "quota-exceeded.switch-preview-model: false -> true",
        "quota-exceeded.antigravity-credits: false -> true",
        "antigravity.sensitive-words: 1 -> 2",
        "xai.inject-x-search: false -> true",
        "api-keys count: 1 -> 2",
        "claude-api-key count: 1 -> 2",
        "codex-api-key count: 1 -> 2",
        "remote-management.disable-control-panel: false -> true",
        "remote-management.disable-auto-update-panel: false -> true",
        "remote-management.panel-github-repository: old -> new",
        "remote-management.secret-key: deleted",
    )
    assert "old-word" not in "\n".join(lines) and "key-1" not in "\n".join(lines)


def test_all_branches() -> None:
    """CPA TestBuildConfigChangeDetails_AllBranches (the per-entry and map lines; the flags it
    shares with _FlagsAndKeys are checked there). Vertex models carry an alias (one
    without is dropped at load)."""

    def entry(tag: str, header: str, **more: Any) -> dict[str, Any]:
        return {
            "api-key": f"{tag}-secret",
            "base-url": f"http://{tag}",
            "proxy-url": f"http://{tag}p",
            "headers": {"H": header},
            **more,
        }

    old = cfg(
        **FLAGS_OLD,
        api_keys=[" keyA "],
        gemini_api_key=[entry("g-old", "1")],
        claude_api_key=[entry("c-old", "1", **{"excluded-models": ["x"]})],
        codex_api_key=[entry("x-old", "1", **{"excluded-models": ["x"]})],
        vertex_api_key=[entry("v-old", "1", models=[{"name": "m1", "alias": "a1"}])],
        oauth_excluded_models={"p1": ["a"]},
        openai_compatibility=[
            {
                "name": "prov-old",
                "base-url": "http://o",
                "api-key-entries": [{"api-key": "k1"}],
                "models": [{"name": "m1"}],
            }
        ],
    )
    new = cfg(
        **FLAGS_NEW,
        api_keys=["keyB"],
        gemini_api_key=[entry("g-new", "2", **{"excluded-models": ["x", "y"]})],
        claude_api_key=[entry("c-new", "2", **{"excluded-models": ["x", "y"]})],
        codex_api_key=[entry("x-new", "2", **{"excluded-models": ["x", "y"]})],
        vertex_api_key=[
            entry("v-new", "2", models=[{"name": "m1", "alias": "a1"}, {"name": "m2", "alias": "a2"}])
        ],
        oauth_excluded_models={"p1": ["b", "c"], "p2": ["d"]},
        openai_compatibility=[
            {
                "name": "prov-old",
                "base-url": "http://o",
                "api-key-entries": [{"api-key": "k1"}, {"api-key": "k2"}],
                "models": [{"name": "m1"}, {"name": "m2"}],
            },
            {"name": "prov-new", "base-url": "http://n", "api-key-entries": [{"api-key": "k3"}]},
        ],
    )
    lines = describe_changes(old, new)
    expected = ["api-keys: values updated (count unchanged, redacted)"]
    for label, tag, excluded in (
        ("gemini", "g", "0 -> 2"),
        ("claude", "c", "1 -> 2"),
        ("codex", "x", "1 -> 2"),
    ):
        expected += [
            f"{label}[0].base-url: http://{tag}-old -> http://{tag}-new",
            f"{label}[0].proxy-url: http://{tag}-oldp -> http://{tag}-newp",
            f"{label}[0].api-key: updated",
            f"{label}[0].headers: updated",
            f"{label}[0].excluded-models: updated ({excluded} entries)",
        ]
    expected += [
        "vertex[0].base-url: http://v-old -> http://v-new",
        "vertex[0].proxy-url: http://v-oldp -> http://v-newp",
        "vertex[0].api-key: updated",
        "vertex[0].models: updated (1 -> 2 entries)",
        "vertex[0].headers: updated",
        "oauth-excluded-models[p1]: updated (1 -> 2 entries)",
        "oauth-excluded-models[p2]: added (1 entries)",
        "remote-management.allow-remote: false -> true",
        "openai-compatibility:",
    ]
    expect(lines, *expected)
    assert "-secret" not in "\n".join(lines) and "keyA" not in "\n".join(lines)


def test_count_branches() -> None:
    """CPA TestBuildConfigChangeDetails_CountBranches (the Codex and xAI entries carry a base-url)."""
    new = cfg(
        gemini_api_key=[{"api-key": "g"}],
        claude_api_key=[{"api-key": "c"}],
        codex_api_key=[{"api-key": "c", "base-url": "http://c"}],
        xai_api_key=[{"api-key": "x", "base-url": "http://x"}],
        vertex_api_key=[{"api-key": "v", "base-url": "http://v"}],
    )
    expect(
        describe_changes(Config(), new),
        "gemini-api-key count: 0 -> 1",
        "claude-api-key count: 0 -> 1",
        "codex-api-key count: 0 -> 1",
        "xai-api-key count: 0 -> 1",
        "vertex-api-key count: 0 -> 1",
    )


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("", "<none>"),
        ("http://[::1", "<redacted>"),
        ("http://user:pass@example.com:8080/path?x=1#frag", "http://example.com:8080"),
        ("socks5://user:pass@192.168.1.1:1080/path?x=1", "socks5://192.168.1.1:1080"),
        ("socks5://proxy.example.com:1080/", "socks5://proxy.example.com:1080"),
        ("example.com:1234/path?x=1", "example.com:1234"),
        ("/just/path", "<redacted>"),
        ("https://example.com", "https://example.com"),
        # cliproxy: a "port" that is not a number is refused, as Go's parser refuses it
        ("proxy.local:s3cret", "<redacted>"),
        ("redis://:pw@redis.local:6379/0", "redis://redis.local:6379"),
    ],
)
def test_format_url(raw: str, want: str) -> None:
    """CPA TestFormatProxyURL (its table, plus two cases of ours)."""
    assert format_url(raw) == want


@pytest.mark.parametrize(
    ("provider", "old", "new", "want"),
    [
        ("gemini", {}, {"disable-cooling": False}, "gemini[0].disable-cooling: inherit -> false"),
        (
            "interactions",
            {"disable-cooling": False},
            {"disable-cooling": True},
            "interactions[0].disable-cooling: false -> true",
        ),
        (
            "claude",
            {"disable-cooling": False},
            {"disable-cooling": True},
            "claude[0].disable-cooling: false -> true",
        ),
        ("codex", {"disable-cooling": True}, {}, "codex[0].disable-cooling: true -> inherit"),
        ("xai", {}, {"disable-cooling": True}, "xai[0].disable-cooling: inherit -> true"),
        ("vertex", {}, {"disable-cooling": False}, "vertex[0].disable-cooling: inherit -> false"),
    ],
)
def test_cooling_overrides(provider: str, old: dict[str, Any], new: dict[str, Any], want: str) -> None:
    """CPA TestBuildConfigChangeDetailsIncludesAllCoolingOverrides (key lists)."""
    base = {"api-key": f"{provider}-key", "base-url": "http://upstream"}
    field = f"{provider}_api_key"
    lines = describe_changes(cfg(**{field: [{**base, **old}]}), cfg(**{field: [{**base, **new}]}))
    expect(lines, want)


def test_cooling_override_of_a_compatible_provider() -> None:
    """CPA TestBuildConfigChangeDetailsIncludesAllCoolingOverrides, "openai compatibility
    false to inherit"."""
    entry = {"name": "compat", "base-url": "https://compat.example.com"}
    lines = describe_changes(
        cfg(openai_compatibility=[{**entry, "disable-cooling": False}]), cfg(openai_compatibility=[entry])
    )
    expect(lines, "  provider updated: compat (disable-cooling false -> inherit)")


# -- cliproxy: keys CPA lacks, and what CPA leaves unsaid


def test_keys_cpa_does_not_report_are_reported_redacted() -> None:
    """Every changed key is reported (CPA lists a fixed set and is silent on, for example,
    ``host``): our own keys by their YAML names, URLs with scheme and host only,
    ``routing.explain-keys`` (client keys) as a count, a key policy without its key,
    unknown keys without their value."""
    old = cfg(api_keys=["sk-plain"])
    new = cfg(
        host="0.0.0.0",
        api_keys=["sk-plain", {"key": "sk-policy-secret", "rpm": 5}],
        state={"url": "redis://:redis-pass@redis.local:6379/0"},
        usage_ledger={"postgres-url": "postgres://u:pg-pass@db.local:5432/ledger"},
        routing={
            "strategy": "fill-first",
            "explain-keys": ["sk-explain-secret"],
            "max-concurrency": {"claude": 4},
        },
        timeouts={"upstream-idle": "5m"},
        tls={"key": "/etc/tls/private.pem"},
        model_prices={"gpt-5": {"input": 1.25, "output": 10}},
        not_a_cpa_key={"token": "unknown-secret"},
    )
    lines = describe_changes(old, new)
    expect(
        lines,
        "host: 127.0.0.1 -> 0.0.0.0",
        "api-keys count: 1 -> 2",
        "api-keys: key policies updated (0 -> 1 entries, redacted)",
        "state.url: redis://127.0.0.1:6379 -> redis://redis.local:6379",
        "usage-ledger.postgres-url: <none> -> postgres://db.local:5432",
        "routing.strategy: round-robin -> fill-first",
        "routing.explain-keys count: 0 -> 1",
        "routing.max-concurrency[claude]: added",
        "timeouts.upstream-idle: 10m -> 5m",
        "tls.key: updated",
        "model-prices[gpt-5]: added",
        "not-a-cpa-key: updated",
    )
    joined = "\n".join(lines)
    for secret in ("-secret", "pass", "private.pem", "/ledger"):
        assert secret not in joined


def test_a_big_config_with_one_change_reports_one_line() -> None:
    """Hundreds of keys: one changed entry gives one line (only differing entries are walked)."""
    keys = [
        {"api-key": f"k{i}", "base-url": f"http://h{i}", "models": [{"name": "m", "alias": "a"}]}
        for i in range(300)
    ]
    old = cfg(claude_api_key=keys, codex_api_key=keys)
    changed = [dict(k) for k in keys]
    changed[123]["prefix"] = "p"
    assert describe_changes(old, cfg(claude_api_key=changed, codex_api_key=keys)) == [
        "claude[123].prefix: <none> -> p"
    ]
