"""Credential entries from config.yaml: ``*-api-key`` lists and ``openai-compatibility``."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, model_validator

from ._base import ConfigModel, normalize_excluded_models, normalize_headers, normalize_prefix

__all__ = [
    "MAX_CREDENTIAL_WEIGHT",
    "ClaudeKey",
    "CloakConfig",
    "CodexKey",
    "GeminiKey",
    "KeyModel",
    "OpenAICompatAPIKey",
    "OpenAICompatModel",
    "OpenAICompatibility",
    "RequestScopedErrorRule",
    "ThinkingSupport",
    "VertexKey",
    "XAIKey",
]

MAX_CREDENTIAL_WEIGHT = 1_000_000


def check_weight(value: Any) -> Any:
    """CPA accepts only YAML integers; non-positive means "excluded", the cap is 1,000,000."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be an integer")
    if value > MAX_CREDENTIAL_WEIGHT:
        raise ValueError(f"must not exceed {MAX_CREDENTIAL_WEIGHT}")
    return value


Weight = Annotated[int | None, BeforeValidator(check_weight)]


class ThinkingSupport(ConfigModel):
    """``models[].thinking``: a budget range or discrete levels."""

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: list[str] = Field(default_factory=list)


class RequestScopedErrorRule(ConfigModel):
    """``request-scoped-errors[]``: classify an upstream error by status and body."""

    status: int = 0
    match: list[str] = Field(default_factory=list)
    match_regexr: list[str] = Field(default_factory=list)
    action: str = ""

    def cleaned(self) -> RequestScopedErrorRule | None:
        """The rule trimmed and lower-cased, or None when CPA would drop it."""
        match = [m.strip() for m in self.match if m.strip()]
        regexr = [r.strip() for r in self.match_regexr if r.strip()]
        action = self.action.strip().lower()
        if self.status <= 0 or not (match or regexr) or not action:
            return None
        return self.model_copy(update={"match": match, "match_regexr": regexr, "action": action})


class KeyModel(ConfigModel):
    """``models[]`` on an API-key entry: upstream ``name`` exposed as ``alias``."""

    name: str = ""
    alias: str = ""
    display_name: str = ""
    max_context_length: int = 0
    force_mapping: bool = False
    is_compat: bool = False
    thinking: ThinkingSupport | None = None


class OpenAICompatModel(KeyModel):
    """``openai-compatibility[].models[]``; a repeated alias builds a model pool."""

    image: bool = False
    input_modalities: list[str] = Field(default_factory=list)
    output_modalities: list[str] = Field(default_factory=list)


class _KeyEntry(ConfigModel):
    api_key: str = ""
    priority: int = 0
    weight: Weight = None
    max_concurrency: int = 0  # requests in flight at once on this key (0: routing.max-concurrency's)
    prefix: str = ""
    base_url: str = ""
    proxy_url: str = ""
    models: list[KeyModel] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    excluded_models: list[str] = Field(default_factory=list)
    disable_cooling: bool | None = None
    request_retry: int | None = None
    request_scoped_errors: list[RequestScopedErrorRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _normalize(self) -> _KeyEntry:
        self.api_key = self.api_key.strip()
        self.base_url = self.base_url.strip()
        self.proxy_url = self.proxy_url.strip()
        self.prefix = normalize_prefix(self.prefix)
        self.headers = normalize_headers(self.headers)
        self.excluded_models = normalize_excluded_models(self.excluded_models)
        return self

    def dedup_id(self) -> tuple[str, ...]:
        """What CPA treats as "the same credential" for Gemini-style keys."""
        headers = tuple(sorted(self.headers.items()))
        return (self.api_key, self.base_url, self.proxy_url, self.prefix, repr(headers))


class GeminiKey(_KeyEntry):
    """``gemini-api-key[]`` and ``interactions-api-key[]``."""


class VertexKey(_KeyEntry):
    """``vertex-api-key[]``: Vertex-style paths with a plain API key."""

    @model_validator(mode="after")
    def _drop_incomplete_models(self) -> VertexKey:
        kept = []
        for model in self.models:
            model.name, model.alias = model.name.strip(), model.alias.strip()
            if model.name and model.alias:
                kept.append(model)
        self.models = kept
        return self


class CodexKey(_KeyEntry):
    """``codex-api-key[]`` (entries without ``base-url`` are dropped, as in CPA)."""

    websockets: bool = False
    alpha_search: bool = False


class XAIKey(CodexKey):
    """``xai-api-key[]``: the Codex shape; ``alpha-search`` is always off."""

    @model_validator(mode="after")
    def _no_alpha_search(self) -> XAIKey:
        self.alpha_search = False
        return self


class CloakConfig(ConfigModel):
    """``claude-api-key[].cloak``: Claude Code emulation for other clients."""

    mode: str = ""
    strict_mode: bool = False
    sensitive_words: list[str] = Field(default_factory=list)
    cache_user_id: bool | None = None


class ClaudeKey(_KeyEntry):
    """``claude-api-key[]``."""

    rebuild_mid_system_message: bool = False
    cloak: CloakConfig | None = None
    fingerprint_profile: str = ""
    experimental_cch_signing: bool = False

    @model_validator(mode="after")
    def _normalize_profile(self) -> ClaudeKey:
        profile = self.fingerprint_profile.strip()
        if profile.lower() in ("claude-code-cli", "oauth-cli"):
            profile = "claude-code-cli"
        self.fingerprint_profile = profile  # unknown values are kept as written, like CPA
        return self


class OpenAICompatAPIKey(ConfigModel):
    """``openai-compatibility[].api-key-entries[]``."""

    api_key: str = ""
    weight: Weight = None
    max_concurrency: int = 0  # as _KeyEntry's
    proxy_url: str = ""


class OpenAICompatibility(ConfigModel):
    """``openai-compatibility[]``: one OpenAI-compatible upstream provider."""

    name: str = ""
    priority: int = 0
    disabled: bool = False
    prefix: str = ""
    base_url: str = ""
    api_key_entries: list[OpenAICompatAPIKey] = Field(default_factory=list)
    models: list[OpenAICompatModel] = Field(default_factory=list)
    headers: dict[str, str] = Field(default_factory=dict)
    support_prompt_cache_key: bool = False
    disable_cooling: bool | None = None
    request_retry: int | None = None
    request_scoped_errors: list[RequestScopedErrorRule] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _legacy_api_keys(cls, data: Any) -> Any:
        # Old configs listed plain strings under ``api-keys``; CPA migrated them.
        if isinstance(data, dict) and "api-keys" in data and not data.get("api-key-entries"):
            legacy = data.get("api-keys") or []
            if isinstance(legacy, list):
                data = {k: v for k, v in data.items() if k != "api-keys"}
                data["api-key-entries"] = [{"api-key": k} for k in legacy if isinstance(k, str) and k.strip()]
        return data

    @model_validator(mode="after")
    def _normalize(self) -> OpenAICompatibility:
        self.name = self.name.strip()
        self.prefix = normalize_prefix(self.prefix)
        self.base_url = self.base_url.strip()
        self.headers = normalize_headers(self.headers)
        return self
