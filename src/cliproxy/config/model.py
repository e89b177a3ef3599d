"""The whole of config.yaml as one typed model, with CPA's code defaults.

Built at startup and on reload only; the hot path reads its plain attributes.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import (
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from ._base import ConfigModel, expand_home, normalize_excluded_models, trimmed_unique
from .client_keys import ClientKey, ModelPrice
from .durations import parse_duration
from .home import CredentialConcurrencyConfig, CredentialInFlightConfig
from .payload import PayloadConfig
from .providers import (
    ClaudeKey,
    CodexKey,
    GeminiKey,
    OpenAICompatibility,
    RequestScopedErrorRule,
    VertexKey,
    XAIKey,
)
from .sections import (
    AntigravityConfig,
    ClaudeCodeConfig,
    ClaudeHeaderDefaults,
    CodexConfig,
    CodexHeaderDefaults,
    LimitsConfig,
    MetricsConfig,
    OAuthModelAlias,
    PluginsConfig,
    PprofConfig,
    QuotaExceeded,
    RemoteManagement,
    RoutingConfig,
    StateConfig,
    StreamingConfig,
    TimeoutsConfig,
    TLSConfig,
    UsageLedgerConfig,
    XAIConfig,
)

__all__ = [
    "DEFAULT_AUTH_DIR",
    "DEFAULT_GPT_IMAGE_2_BASE_MODEL",
    "DEFAULT_PORT",
    "Config",
    "ImageGenerationMode",
    "default_config",
]

DEFAULT_PORT = 8317
DEFAULT_AUTH_DIR = "~/.cli-proxy-api"
DEFAULT_GPT_IMAGE_2_BASE_MODEL = "gpt-5.4-mini"
DEFAULT_AUTH_REFRESH_WORKERS = 16
DEFAULT_VIDEO_TTL_SECONDS = 3 * 3600.0

ImageGenerationMode = Literal["off", "all", "chat", "passthrough"]
_IMAGE_OFF = ("", "false", "0", "off", "no")
_IMAGE_ALL = ("true", "1", "on", "yes")


def _image_generation(value: Any) -> bool | str:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in _IMAGE_OFF or text in _IMAGE_ALL:
        return text in _IMAGE_ALL
    if text in ("chat", "passthrough"):
        return text
    raise ValueError(f"invalid value {text!r} (allowed: true, false, chat, passthrough)")


STORE_AUTH_DIR_ENV = "CLIPROXY_STORE_AUTH_DIR"


class Config(ConfigModel):
    """CPA's ``config.yaml``. Attribute ``x_y`` is YAML key ``x-y``; unknown keys are kept."""

    # built-in default: this machine only (CPA's "" = every interface; a config that sets
    # ``host: ""`` still binds every interface, as in CPA)
    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_PORT, ge=0, le=65535)
    # cliproxy: worker processes on the one port (SO_REUSEPORT); > 1 needs a shared state backend
    workers: int = Field(default=1, ge=1, le=256)
    tls: TLSConfig = Field(default_factory=TLSConfig)
    remote_management: RemoteManagement = Field(default_factory=RemoteManagement)
    auth_dir: str = DEFAULT_AUTH_DIR
    api_keys: list[str] = Field(default_factory=list)
    # cliproxy: with no api-keys, peers other than loopback are refused (401) unless this is on
    allow_unauthenticated_remote: bool = False
    timeouts: TimeoutsConfig = Field(default_factory=TimeoutsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    debug: bool = False
    pprof: PprofConfig = Field(default_factory=PprofConfig)
    plugins: PluginsConfig = Field(default_factory=PluginsConfig)
    credential_concurrency: CredentialConcurrencyConfig = Field(default_factory=CredentialConcurrencyConfig)
    credential_in_flight: CredentialInFlightConfig = Field(default_factory=CredentialInFlightConfig)
    commercial_mode: bool = False
    logging_to_file: bool = False
    logs_max_total_size_mb: int = 0
    error_logs_max_files: int = 10
    usage_statistics_enabled: bool = False
    redis_usage_queue_retention_seconds: int = 60
    usage_ledger: UsageLedgerConfig = Field(default_factory=UsageLedgerConfig)  # cliproxy
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)  # cliproxy
    state: StateConfig = Field(default_factory=StateConfig)  # cliproxy: memory | redis
    request_log: bool = False
    proxy_url: str = ""
    # cliproxy: the client for direct upstream requests: fast (asyncio + httptools) | aiohttp
    upstream_http: Literal["fast", "aiohttp"] = "fast"
    # cliproxy: the client-facing server: fast (hot routes on asyncio + httptools) | aiohttp
    server_engine: Literal["fast", "aiohttp"] = "fast"
    force_model_prefix: bool = False
    passthrough_headers: bool = False
    request_retry: int = 0
    max_retry_credentials: int = 0
    max_retry_interval: int = 0
    disable_cooling: bool = False
    save_cooldown_status: bool = False
    transient_error_cooldown_seconds: int = 0
    disable_claude_cloak_mode: bool = False
    claude_code: ClaudeCodeConfig = Field(default_factory=ClaudeCodeConfig)
    disable_image_generation: bool | Literal["chat", "passthrough"] = False
    gpt_image_2_base_model: str = DEFAULT_GPT_IMAGE_2_BASE_MODEL
    video_result_auth_cache_ttl: str = "3h"
    auth_auto_refresh_workers: int = DEFAULT_AUTH_REFRESH_WORKERS
    quota_exceeded: QuotaExceeded = Field(default_factory=QuotaExceeded)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    codex: CodexConfig = Field(default_factory=CodexConfig)
    antigravity: AntigravityConfig = Field(default_factory=AntigravityConfig)
    xai: XAIConfig = Field(default_factory=XAIConfig)
    ws_auth: bool = True
    # cliproxy: whose requests an AI Studio relay attached with a client key is sent: that
    # key's alone (own-key), or every key's as in CPA (all-keys)
    ws_relay_serves: Literal["own-key", "all-keys"] = "own-key"
    nonstream_keepalive_interval: int = 0
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    antigravity_signature_cache_enabled: bool = True
    antigravity_signature_bypass_strict: bool = False
    gemini_api_key: list[GeminiKey] = Field(default_factory=list)
    interactions_api_key: list[GeminiKey] = Field(default_factory=list)
    codex_api_key: list[CodexKey] = Field(default_factory=list)
    xai_api_key: list[XAIKey] = Field(default_factory=list)
    claude_api_key: list[ClaudeKey] = Field(default_factory=list)
    vertex_api_key: list[VertexKey] = Field(default_factory=list)
    openai_compatibility: list[OpenAICompatibility] = Field(default_factory=list)
    claude_header_defaults: ClaudeHeaderDefaults = Field(default_factory=ClaudeHeaderDefaults)
    codex_header_defaults: CodexHeaderDefaults = Field(default_factory=CodexHeaderDefaults)
    oauth_model_alias: dict[str, list[OAuthModelAlias]] = Field(default_factory=dict)
    oauth_excluded_models: dict[str, list[str]] = Field(default_factory=dict)
    oauth_request_scoped_errors: dict[str, list[RequestScopedErrorRule]] = Field(default_factory=dict)
    payload: PayloadConfig = Field(default_factory=PayloadConfig)
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)  # cliproxy (docs/keys.md)
    # the mapping entries of api-keys (keys with a policy); api_keys holds their plain keys too
    _client_keys: list[ClientKey] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _key_policies(cls, data: Any, handler: ModelWrapValidatorHandler[Config]) -> Config:
        # api-keys may mix CPA's strings with policy mappings (cliproxy.policies): the
        # mappings are kept aside, api_keys stays the list of plain keys every reader knows
        entries: list[ClientKey] = []
        if isinstance(data, dict):
            name = "api-keys" if "api-keys" in data else "api_keys"
            raw = data.get(name)
            if isinstance(raw, list) and any(isinstance(e, dict) for e in raw):
                plain: list[Any] = []
                for i, entry in enumerate(raw):
                    if not isinstance(entry, dict):
                        plain.append(entry)
                        continue
                    try:
                        parsed = ClientKey.model_validate(entry)
                    except ValidationError as exc:
                        problems = "; ".join(
                            f"{'.'.join(str(p) for p in e['loc']) or 'entry'}: {e['msg']}"
                            for e in exc.errors()
                        )
                        raise ValueError(f"api-keys[{i}]: {problems}") from None
                    entries.append(parsed)
                    if parsed.key:
                        plain.append(parsed.key)
                data = {**data, name: plain}
        model = handler(data)
        model._client_keys = entries
        return model

    @property
    def client_keys(self) -> list[ClientKey]:
        """The ``api-keys`` entries that carry a policy (mappings), in file order."""
        return self._client_keys

    @field_validator("disable_image_generation", mode="before")
    @classmethod
    def _image_mode(cls, value: Any) -> bool | str:
        return _image_generation(value)

    @model_validator(mode="before")
    @classmethod
    def _legacy_gemini_keys(cls, data: Any) -> Any:
        # ``generative-language-api-key`` (plain strings) predates ``gemini-api-key``.
        if isinstance(data, dict) and isinstance(data.get("generative-language-api-key"), list):
            data = dict(data)
            legacy = data.pop("generative-language-api-key")
            current = list(data.get("gemini-api-key") or [])
            current += [{"api-key": k} for k in legacy if isinstance(k, str) and k.strip()]
            data["gemini-api-key"] = current
        return data

    @model_validator(mode="after")
    def _normalize(self) -> Config:
        self.api_keys = trimmed_unique(self.api_keys)
        # a token store (cliproxy.credentials.stores) pins auth-dir to its workspace, reloads included
        pinned = os.environ.get(STORE_AUTH_DIR_ENV, "").strip()
        self.auth_dir = expand_home(pinned or self.auth_dir.strip() or DEFAULT_AUTH_DIR)
        self._clamp_numbers()
        self._sanitize_credentials()
        self._sanitize_oauth_maps()
        self.payload.drop_invalid_raw_rules()
        return self

    def _clamp_numbers(self) -> None:
        self.logs_max_total_size_mb = max(self.logs_max_total_size_mb, 0)
        if self.error_logs_max_files < 0:
            self.error_logs_max_files = 10
        retention = self.redis_usage_queue_retention_seconds
        self.redis_usage_queue_retention_seconds = 60 if retention <= 0 else min(retention, 3600)
        self.max_retry_credentials = max(self.max_retry_credentials, 0)
        if self.auth_auto_refresh_workers <= 0:
            self.auth_auto_refresh_workers = DEFAULT_AUTH_REFRESH_WORKERS
        base = self.gpt_image_2_base_model.strip()
        self.gpt_image_2_base_model = (
            base if base.lower().startswith("gpt-") else DEFAULT_GPT_IMAGE_2_BASE_MODEL
        )

    def _sanitize_credentials(self) -> None:
        self.gemini_api_key = _dedup_gemini(self.gemini_api_key)
        self.interactions_api_key = _dedup_gemini(self.interactions_api_key)
        seen: set[tuple[str, str]] = set()
        vertex = []
        for entry in self.vertex_api_key:
            if entry.api_key and (entry.api_key, entry.base_url) not in seen:
                seen.add((entry.api_key, entry.base_url))
                vertex.append(entry)
        self.vertex_api_key = vertex
        self.codex_api_key = [e for e in self.codex_api_key if e.base_url]
        self.xai_api_key = [e for e in self.xai_api_key if e.base_url]
        self.openai_compatibility = [e for e in self.openai_compatibility if e.base_url]

    def _sanitize_oauth_maps(self) -> None:
        excluded: dict[str, list[str]] = {}
        for channel, models in self.oauth_excluded_models.items():
            key, clean = channel.strip().lower(), normalize_excluded_models(models)
            if key and clean:
                excluded[key] = clean
        self.oauth_excluded_models = excluded
        self.oauth_model_alias = {
            k: v
            for k, v in ((c.strip().lower(), _clean_aliases(a)) for c, a in self.oauth_model_alias.items())
            if k and v
        }
        rules: dict[str, list[RequestScopedErrorRule]] = {}
        for channel, entries in self.oauth_request_scoped_errors.items():
            kept = [r for r in (e.cleaned() for e in entries) if r is not None]
            if channel.strip() and kept:
                rules[channel.strip().lower()] = kept
        self.oauth_request_scoped_errors = rules

    @property
    def image_generation_mode(self) -> ImageGenerationMode:
        """``disable-image-generation`` as one word: off, all, chat or passthrough."""
        value = self.disable_image_generation
        if isinstance(value, str):
            return value
        return "all" if value else "off"

    @property
    def video_result_auth_cache_ttl_seconds(self) -> float:
        """Video-id binding TTL in seconds; empty or invalid means CPA's 3 hours."""
        try:
            seconds = (
                parse_duration(self.video_result_auth_cache_ttl) if self.video_result_auth_cache_ttl else 0
            )
        except ValueError:
            return DEFAULT_VIDEO_TTL_SECONDS
        return seconds if seconds > 0 else DEFAULT_VIDEO_TTL_SECONDS


def _dedup_gemini(entries: list[GeminiKey]) -> list[GeminiKey]:
    seen: set[tuple[str, ...]] = set()
    out = []
    for entry in entries:
        ident = entry.dedup_id()
        if (entry.api_key or entry.base_url) and ident not in seen:
            seen.add(ident)
            out.append(entry)
    return out


def _clean_aliases(entries: list[OAuthModelAlias]) -> list[OAuthModelAlias]:
    seen: set[str] = set()
    out = []
    for entry in entries:
        name, alias = entry.name.strip(), entry.alias.strip()
        if not name or not alias or name.lower() == alias.lower() or alias.lower() in seen:
            continue
        seen.add(alias.lower())
        out.append(
            entry.model_copy(
                update={"name": name, "alias": alias, "display_name": entry.display_name.strip()}
            )
        )
    return out


def default_config() -> Config:
    """The configuration CPA runs with when no keys are set (port 8317)."""
    return Config()
