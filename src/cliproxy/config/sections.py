"""Small nested sections of config.yaml (server, management, plugins, routing...)."""

from __future__ import annotations

import ipaddress
from typing import Any, Literal

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, field_validator, model_validator

from ._base import ConfigModel, expand_home
from .durations import parse_duration

__all__ = [
    "DEFAULT_PANEL_REPOSITORY",
    "DEFAULT_PPROF_ADDR",
    "AntigravityConfig",
    "ClaudeCodeConfig",
    "ClaudeHeaderDefaults",
    "CodexConfig",
    "CodexHeaderDefaults",
    "CodexLiveICEServer",
    "CodexLiveMediaRelay",
    "LimitsConfig",
    "MetricsConfig",
    "OAuthModelAlias",
    "PluginInstanceConfig",
    "PluginsConfig",
    "PprofConfig",
    "QuotaExceeded",
    "RemoteManagement",
    "RoutingConfig",
    "StateConfig",
    "StreamingConfig",
    "TLSConfig",
    "TimeoutsConfig",
    "UsageLedgerConfig",
    "XAIConfig",
]

DEFAULT_PANEL_REPOSITORY = "https://github.com/router-for-me/Cli-Proxy-API-Management-Center"
DEFAULT_PPROF_ADDR = "127.0.0.1:8316"
DEFAULT_PLUGINS_DIR = "plugins"

RoutingStrategy = Literal["round-robin", "weighted-round-robin", "fill-first"]
_STRATEGY_ALIASES: dict[str, RoutingStrategy] = {
    "": "round-robin",
    "round-robin": "round-robin",
    "roundrobin": "round-robin",
    "rr": "round-robin",
    "weighted-round-robin": "weighted-round-robin",
    "weightedroundrobin": "weighted-round-robin",
    "wrr": "weighted-round-robin",
    "fill-first": "fill-first",
    "fillfirst": "fill-first",
    "ff": "fill-first",
}


def routing_strategy(value: str) -> RoutingStrategy | None:
    """The strategy a ``routing.strategy`` value names in any of CPA's spellings (case and
    surrounding spaces aside; empty is round-robin), or ``None``."""
    return _STRATEGY_ALIASES.get(value.strip().lower())


class TLSConfig(ConfigModel):
    """``tls``: serve HTTPS with ``cert`` / ``key`` files."""

    enable: bool = False
    cert: str = ""
    key: str = ""


class RemoteManagement(ConfigModel):
    """``remote-management``: the /v0/management API and control panel."""

    allow_remote: bool = False
    secret_key: str = ""
    disable_control_panel: bool = False
    disable_auto_update_panel: bool = False
    panel_github_repository: str = DEFAULT_PANEL_REPOSITORY

    @field_validator("panel_github_repository")
    @classmethod
    def _default_repo(cls, value: str) -> str:
        return value.strip() or DEFAULT_PANEL_REPOSITORY


class PprofConfig(ConfigModel):
    """``pprof``: a debug listener (kept for compatibility)."""

    enable: bool = False
    addr: str = DEFAULT_PPROF_ADDR

    @field_validator("addr")
    @classmethod
    def _default_addr(cls, value: str) -> str:
        return value.strip() or DEFAULT_PPROF_ADDR


class PluginInstanceConfig(ConfigModel):
    """``plugins.configs.<id>``: host-owned ``enabled`` / ``priority``; the rest is the plugin's."""

    enabled: bool = False
    priority: int = 0

    @property
    def settings(self) -> dict[str, Any]:
        """The plugin's own keys (everything but ``enabled`` and ``priority``)."""
        return dict(self.model_extra or {})


class PluginsConfig(ConfigModel):
    """``plugins``: discovery directory and per-plugin settings."""

    enabled: bool = False
    dir: str = DEFAULT_PLUGINS_DIR
    store_sources: list[str] = Field(default_factory=list)
    store_auth: list[dict[str, Any]] = Field(default_factory=list)
    auth_revision: int = 0
    configs: dict[str, PluginInstanceConfig] = Field(default_factory=dict)

    @field_validator("configs", mode="before")
    @classmethod
    def _null_instances(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {str(k): ({} if v is None else v) for k, v in value.items()}
        return {} if value is None else value

    @model_validator(mode="after")
    def _normalize(self) -> PluginsConfig:
        self.dir = expand_home(self.dir.strip() or DEFAULT_PLUGINS_DIR)
        self.store_sources = [s.strip() for s in self.store_sources if s.strip()]
        return self


class QuotaExceeded(ConfigModel):
    """``quota-exceeded``; only ``antigravity-credits`` still changes behaviour in CPA."""

    switch_project: bool = False
    switch_preview_model: bool = False
    antigravity_credits: bool = False


class ProbeConfig(ConfigModel):
    """``routing.probe``: half-open probes of credentials cooling for a long time."""

    enabled: bool = False
    after: str = "5m"  # a cooldown with more than this left is probed
    interval: str = "1m"  # between two probes of one credential
    kinds: dict[str, str] = Field(default_factory=dict)  # provider -> models | count | generate

    def seconds(self, name: str) -> float:
        return max(0.0, parse_duration(getattr(self, name) or "0s"))


class ConcurrencyQueueConfig(ConfigModel):
    """``routing.concurrency-queue``: requests waiting for a credential at its ``max-concurrency``."""

    max_length: int = 64  # waiting requests per credential group, then 429
    max_wait: str = "30s"  # then 429 with Retry-After

    @property
    def max_wait_seconds(self) -> float:
        return max(0.0, parse_duration(self.max_wait or "0s"))


class RoutingConfig(ConfigModel):
    """``routing``: credential selection strategy and session affinity."""

    strategy: RoutingStrategy = "round-robin"
    session_affinity: bool = False
    session_affinity_ttl: str = "1h"
    # issue 20 (all off by default; each zero-cost when off)
    explain: bool = False  # X-Cliproxy-Route-* headers on every answer
    explain_keys: list[str] = Field(default_factory=list)  # client keys that may ask per request
    quota_steering: float = 0.0  # used-percent at or above which a credential yields (0 = off)
    probe: ProbeConfig = Field(default_factory=lambda: ProbeConfig())
    max_concurrency: dict[str, int] = Field(default_factory=dict)  # provider kind -> in-flight limit
    concurrency_queue: ConcurrencyQueueConfig = Field(default_factory=lambda: ConcurrencyQueueConfig())

    _unknown_strategy: str = PrivateAttr(default="")

    @model_validator(mode="wrap")
    @classmethod
    def _round_robin_unless_known(cls, data: Any, handler: ModelWrapValidatorHandler[RoutingConfig]) -> Any:
        # CPA runs round-robin for a strategy it does not know (and starts); the value is
        # kept so that the start-up warning can name it (cliproxy.config.effective)
        unknown = ""
        raw = data.get("strategy") if isinstance(data, dict) else None
        if isinstance(raw, str | int | float | bool) and routing_strategy(str(raw)) is None:
            unknown, data = str(raw), {**data, "strategy": "round-robin"}
        model = handler(data)
        if isinstance(model, RoutingConfig):
            model._unknown_strategy = unknown
        return model

    @property
    def unknown_strategy(self) -> str:
        """The ``strategy`` value the YAML held when it names no strategy ("" otherwise)."""
        return self._unknown_strategy

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> Any:
        strategy = routing_strategy("" if value is None else str(value))
        if strategy is None:
            raise ValueError("must be one of round-robin, weighted-round-robin, fill-first")
        return strategy

    @property
    def session_affinity_ttl_seconds(self) -> float:
        """The TTL in seconds; an empty or invalid value means CPA's 1 hour."""
        try:
            seconds = parse_duration(self.session_affinity_ttl or "1h")
        except ValueError:
            return 3600.0
        return seconds if seconds > 0 else 3600.0


_ICE_SCHEMES = frozenset(("stun", "stuns", "turn", "turns"))


class CodexLiveICEServer(ConfigModel):
    """``codex.live-media-relay.ice-servers[]``."""

    urls: list[str] = Field(default_factory=list)
    username: str = ""
    credential: str = ""


class CodexLiveMediaRelay(ConfigModel):
    """``codex.live-media-relay``: in-process Codex Live WebRTC relay."""

    enabled: bool = False
    max_sessions: int = 0
    disable_private_remote_ips: bool = False
    public_ip: str = ""
    udp_port_min: int = Field(default=0, ge=0, le=65535)
    udp_port_max: int = Field(default=0, ge=0, le=65535)
    ice_servers: list[CodexLiveICEServer] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _legacy_allow_private(cls, data: Any) -> Any:
        if isinstance(data, dict) and "allow-private-remote-ips" in data:
            if "disable-private-remote-ips" in data:
                raise ValueError("cannot set both allow-private-remote-ips and disable-private-remote-ips")
            data = dict(data)
            data["disable-private-remote-ips"] = not bool(data["allow-private-remote-ips"])
        return data

    @model_validator(mode="after")
    def _validate(self) -> CodexLiveMediaRelay:
        if not self.enabled:
            return self
        if self.max_sessions < 0:
            raise ValueError("max-sessions must not be negative")
        if (self.udp_port_min == 0) != (self.udp_port_max == 0):
            raise ValueError("udp-port-min and udp-port-max must both be set")
        if self.udp_port_min > self.udp_port_max:
            raise ValueError("udp-port-min must not exceed udp-port-max")
        sessions = self.max_sessions or 32
        if self.udp_port_min and self.udp_port_max - self.udp_port_min + 1 < 2 * sessions:
            raise ValueError(f"UDP range needs at least {2 * sessions} ports for {sessions} sessions")
        if public := self.public_ip.strip():
            try:
                ipaddress.ip_address(public)
            except ValueError:
                raise ValueError(f"public-ip is not an IP address: {public!r}") from None
        for index, server in enumerate(self.ice_servers):
            if not server.urls:
                raise ValueError(f"ice-servers[{index}].urls is required")
            for raw in server.urls:  # (the URL itself is not repeated: it may hold a TURN secret)
                scheme, colon, _ = raw.strip().partition(":")
                if not colon or scheme.lower() not in _ICE_SCHEMES:
                    raise ValueError(f"ice-servers[{index}]: a URL must be stun:, stuns:, turn: or turns:")
        return self


class CodexConfig(ConfigModel):
    """``codex``: provider-wide Codex behaviour."""

    identity_confuse: bool = False
    disable_codex_cloaking: bool = False
    # CPA defaults to false; true here: an overload smuggled into a 200 fails over
    stream_bootstrap_buffering: bool = True
    optimize_multi_agent_v2: bool = False
    live_media_relay: CodexLiveMediaRelay = Field(default_factory=CodexLiveMediaRelay)


class AntigravityConfig(ConfigModel):
    """``antigravity``: words obfuscated in system instructions."""

    sensitive_words: list[str] = Field(default_factory=list)


class XAIConfig(ConfigModel):
    """``xai``: inject the native ``x_search`` tool."""

    inject_x_search: bool = False


class StreamingConfig(ConfigModel):
    """``streaming``: SSE keep-alive period and retries before the first byte (0 = off)."""

    keepalive_seconds: int = 0
    bootstrap_retries: int = 0


class ClaudeCodeConfig(ConfigModel):
    """``claude-code``: Claude Code compatibility switches."""

    disable_cloaking_model_list: bool = False


class ClaudeHeaderDefaults(ConfigModel):
    """``claude-header-defaults``: the Claude Code software baseline for cloaked requests."""

    user_agent: str = ""
    package_version: str = ""
    runtime_version: str = ""
    os: str = ""
    arch: str = ""
    timeout: str = ""
    timezone: str = ""
    stabilize_device_profile: bool | None = None

    @field_validator("user_agent", "package_version", "runtime_version", "os", "arch", "timeout", "timezone")
    @classmethod
    def _trim(cls, value: str) -> str:
        return value.strip()


class CodexHeaderDefaults(ConfigModel):
    """``codex-header-defaults``: fallback headers for OAuth Codex requests."""

    user_agent: str = ""
    beta_features: str = ""

    @field_validator("user_agent", "beta_features")
    @classmethod
    def _trim(cls, value: str) -> str:
        return value.strip()


class OAuthModelAlias(ConfigModel):
    """``oauth-model-alias.<channel>[]``: expose upstream ``name`` as ``alias``."""

    name: str = ""
    alias: str = ""
    fork: bool = False
    display_name: str = ""
    force_mapping: bool = False


def _seconds(value: str, default: float) -> float:
    """A Go duration in seconds; empty means ``default``, ``0`` means no limit."""
    text = value.strip() if isinstance(value, str) else value
    if text == "" or text is None:
        return default
    return max(0.0, parse_duration(text))


class TimeoutsConfig(ConfigModel):
    """``timeouts`` (cliproxy): every socket's limits, as Go durations; ``0`` switches one off.

    Upstream: ``upstream-connect`` (TCP + TLS + proxy), ``upstream-first-byte`` (until the
    response headers arrive: slow reasoning models answer whole only at the end),
    ``upstream-idle`` (the longest gap between two reads of an upstream body or stream).
    Clients: ``client-header`` (a connection must deliver a whole request head within this
    from its first byte or from the end of the previous response: slowloris),
    ``client-body`` (reading a request body, whole), ``client-keepalive`` (an idle
    keep-alive connection is closed after this), ``client-websocket-idle`` (a Responses
    WebSocket with no client message between turns is closed, 1000, after this; CPA has
    no such limit).
    """

    upstream_connect: str = "30s"
    upstream_first_byte: str = "10m"
    upstream_idle: str = "10m"
    client_header: str = "30s"
    client_body: str = "2m"
    client_keepalive: str = "75s"
    client_websocket_idle: str = "10m"

    @field_validator(
        "upstream_connect",
        "upstream_first_byte",
        "upstream_idle",
        "client_header",
        "client_body",
        "client_keepalive",
        "client_websocket_idle",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> str:
        text = "" if value is None else str(value).strip()
        if text:
            parse_duration(text)  # raises ValueError: reported with the key path
        return text

    def seconds(self, name: str) -> float | None:
        """The timeout ``name`` (python name) in seconds, ``None`` when switched off."""
        default = parse_duration(type(self).model_fields[name].default)
        value = _seconds(getattr(self, name), default)
        return value or None


DEFAULT_MAX_BODY_MB = 64


class LimitsConfig(ConfigModel):
    """``limits`` (cliproxy): request size and connection caps.

    ``max-body-mb``: the largest request body accepted (413 above it).
    ``max-connections``: open client connections in total; ``0`` derives it from the
    process's open-file limit (half of it, less a reserve, since each proxied request
    also needs an upstream socket). ``max-connections-per-ip``: per peer address; ``0``
    means no per-peer cap. Past a cap the oldest idle keep-alive connection is closed
    first; when none is idle, the new connection gets a 503.
    """

    max_body_mb: int = Field(default=DEFAULT_MAX_BODY_MB, ge=0)
    max_connections: int = Field(default=0, ge=0)
    max_connections_per_ip: int = Field(default=0, ge=0)

    @property
    def max_body_bytes(self) -> int:
        return (self.max_body_mb or DEFAULT_MAX_BODY_MB) * 1024 * 1024


class MetricsConfig(ConfigModel):
    """``metrics`` (cliproxy): Prometheus ``GET /metrics`` on the main port, off by default.

    Loopback peers read it freely; any other peer needs the management key."""

    enabled: bool = False


class UsageLedgerConfig(ConfigModel):
    """``usage-ledger`` (cliproxy): one row per finished request, written in batches off
    the request path.

    ``path``: the SQLite file (default ``usage.sqlite`` beside ``auth-dir``, in its
    parent); ``postgres-url``: a Postgres database instead (the same table, created on
    start); ``retention-days``: rows older than this are deleted (``0`` keeps all)."""

    enabled: bool = True
    path: str = ""
    postgres_url: str = ""
    retention_days: int = Field(default=90, ge=0)

    @field_validator("path")
    @classmethod
    def _expand(cls, value: str) -> str:
        return expand_home(value.strip()) if value.strip() else ""


class StateConfig(ConfigModel):
    """``state`` (cliproxy): where runtime state lives (cooldowns, rotation cursors,
    session affinity, refresh leases, bans, login sessions, usage counters).

    ``backend``: ``memory`` (this process, the default) or ``redis`` (shared by every
    process and host that uses the same ``url`` and ``prefix``). Read at start; a change
    takes effect after a restart."""

    backend: Literal["memory", "redis"] = "memory"
    url: str = "redis://127.0.0.1:6379/0"
    prefix: str = "cliproxy:"
