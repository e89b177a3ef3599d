"""Registration, model, credential and frontend-auth shapes."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime

from cliproxy.plugins.types.wire import Headers, Metadata, Query, WireModel, wire

__all__ = [
    "AuthData",
    "AuthModelRequest",
    "AuthParseRequest",
    "AuthParseResponse",
    "AuthRefreshRequest",
    "AuthRefreshResponse",
    "ConfigField",
    "FrontendAuthRequest",
    "FrontendAuthResponse",
    "HostConfig",
    "LoginPollRequest",
    "LoginPollResponse",
    "LoginStartRequest",
    "LoginStartResponse",
    "ModelAlias",
    "ModelInfo",
    "ModelList",
    "ModelRegistrationRequest",
    "PluginMetadata",
    "StaticModelRequest",
    "ThinkingSupport",
]


# -- registration and shared shapes


@wire
class ConfigField(WireModel):
    """A config key shown in management UIs; ``type`` is one of string number integer
    boolean enum array object."""

    name: str = ""
    type: str = "string"
    enum_values: list[str] = field(default_factory=list)
    description: str = ""


@wire
class PluginMetadata(WireModel):
    name: str = ""
    version: str = ""
    author: str = ""
    github_repository: str = ""
    logo: str = ""
    config_fields: list[ConfigField] = field(default_factory=list)


@wire
class ModelAlias(WireModel):
    name: str = ""
    alias: str = ""


@wire
class HostConfig(WireModel):
    """CPA's ``HostConfigSummary``: the parts of the host config a plugin may need."""

    auth_dir: str = ""
    proxy_url: str = ""
    force_model_prefix: bool = False
    oauth_model_alias: dict[str, list[ModelAlias]] = field(default_factory=dict)
    excluded_models: dict[str, list[str]] = field(default_factory=dict)


@wire
class ThinkingSupport(WireModel):
    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: list[str] = field(default_factory=list)


@wire
class ModelInfo(WireModel):
    id: str = ""
    object: str = ""
    created: int = 0
    owned_by: str = ""
    type: str = ""
    display_name: str = ""
    name: str = ""
    version: str = ""
    description: str = ""
    input_token_limit: int = 0
    output_token_limit: int = 0
    supported_generation_methods: list[str] = field(default_factory=list)
    context_length: int = 0
    max_completion_tokens: int = 0
    supported_parameters: list[str] = field(default_factory=list)
    supported_input_modalities: list[str] = field(default_factory=list)
    supported_output_modalities: list[str] = field(default_factory=list)
    thinking: ThinkingSupport | None = None
    user_defined: bool = False


@wire
class AuthData(WireModel):
    """A credential a plugin creates or updates; ``provider`` is required by the host."""

    provider: str = ""
    id: str = ""
    file_name: str = ""
    label: str = ""
    prefix: str = ""
    proxy_url: str = ""
    disabled: bool = False
    storage_json: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    next_refresh_after: datetime | None = None


# -- model registrar / provider


@wire
class ModelRegistrationRequest(WireModel):
    plugin: PluginMetadata = field(default_factory=PluginMetadata)


@wire
class StaticModelRequest(WireModel):
    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    host: HostConfig = field(default_factory=HostConfig)


@wire
class AuthModelRequest(WireModel):
    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    auth_id: str = ""
    auth_provider: str = ""
    storage_json: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    host: HostConfig = field(default_factory=HostConfig)


@wire
class ModelList(WireModel):
    """Models a plugin offers under ``provider``; ``auth_update`` merges into the auth
    (``model.for_auth`` only)."""

    provider: str = ""
    models: list[ModelInfo] = field(default_factory=list)
    auth_update: AuthData | None = None


# -- auth providers


@wire
class AuthParseRequest(WireModel):
    provider: str = ""
    path: str = ""
    file_name: str = ""
    raw_json: bytes = b""
    host: HostConfig = field(default_factory=HostConfig)


@wire
class AuthParseResponse(WireModel):
    handled: bool = False
    auth: AuthData | None = None
    auths: list[AuthData] = field(default_factory=list)


@wire
class LoginStartRequest(WireModel):
    provider: str = ""
    base_url: str = ""
    host: HostConfig = field(default_factory=HostConfig)
    metadata: Metadata = field(default_factory=dict)


@wire
class LoginStartResponse(WireModel):
    provider: str = ""
    url: str = ""
    state: str = ""
    expires_at: datetime | None = None
    metadata: Metadata = field(default_factory=dict)


@wire
class LoginPollRequest(WireModel):
    provider: str = ""
    state: str = ""
    host: HostConfig = field(default_factory=HostConfig)
    metadata: Metadata = field(default_factory=dict)


@wire
class LoginPollResponse(WireModel):
    """``status`` is ``pending``, ``success`` or ``error``."""

    status: str = "pending"
    message: str = ""
    auth: AuthData | None = None
    auths: list[AuthData] = field(default_factory=list)


@wire
class AuthRefreshRequest(WireModel):
    auth_id: str = ""
    auth_provider: str = ""
    storage_json: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)
    host: HostConfig = field(default_factory=HostConfig)


@wire
class AuthRefreshResponse(WireModel):
    auth: AuthData | None = None
    next_refresh_after: datetime | None = None


@wire
class FrontendAuthRequest(WireModel):
    method: str = ""
    path: str = ""
    headers: Headers = field(default_factory=dict)
    query: Query = field(default_factory=dict)
    body: bytes = b""


@wire
class FrontendAuthResponse(WireModel):
    authenticated: bool = False
    principal: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
