"""The contract for Python plugins: subclass ``Plugin`` and the capabilities you serve.

A plugin is one object. Its class inherits ``Plugin`` (metadata, ``configure``) and one
base class per CPA capability it offers; each capability is a few ``async`` methods that
take and return the typed dataclasses re-exported here. The host turns them into CPA's
RPC methods, so a Python plugin behaves exactly like a native CPA plugin::

    from cliproxy.plugins.api import ModelRouter, Plugin, RouteDecision, RouteRequest

    class Pinned(Plugin, ModelRouter):
        name, version, author = "pinned", "1.0.0", "me"
        github_repository = "https://github.com/me/pinned"

        async def configure(self, config, host):
            self.model = config.get("model", "gpt-5")

        async def route(self, request: RouteRequest) -> RouteDecision | None:
            if request.requested_model == "fast":
                return RouteDecision.provider("openai", self.model)
            return None  # not handled: the next router (or the default flow) decides

    plugin = Pinned()

Return ``None`` for "not handled / no change"; raise ``PluginError(message,
http_status=...)`` to fail with a status the client sees; any other exception is a
crash, and the host fuses the plugin until it is reloaded. Plugins are called
concurrently. Loading: a module in ``plugins.dir`` exposing ``plugin`` (or naming a
``Plugin`` subclass in ``__plugin__``), or an entry point in group ``cliproxy.plugins``;
it runs only when ``plugins.configs.<id>.enabled`` is true.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar, get_args

from cliproxy.plugins.abi import SCHEMA_VERSION, PluginError
from cliproxy.plugins.capabilities import CAPABILITIES as CAPABILITIES
from cliproxy.plugins.capabilities import (
    AuthProvider,
    CommandLinePlugin,
    Executor,
    FrontendAuthProvider,
    ManagementAPI,
    ModelProvider,
    ModelRegistrar,
    ModelRouter,
    RequestInterceptor,
    RequestLifecycle,
    RequestNormalizer,
    RequestTranslator,
    ResponseInterceptor,
    ResponseNormalizer,
    ResponseTranslator,
    Scheduler,
    StreamChunkInterceptor,
    ThinkingApplier,
    UsagePlugin,
    _Capability,
    capabilities_of,
    identifier_of,
    overrides,
)
from cliproxy.plugins.capabilities import CapabilityName as CapabilityName
from cliproxy.plugins.capabilities import ModelScope as ModelScope
from cliproxy.plugins.capabilities import StreamAnswer as StreamAnswer
from cliproxy.plugins.host_api import Body as Body
from cliproxy.plugins.host_api import Host, HostAuth, HostHttp, HostModel, HostStream
from cliproxy.plugins.host_api import callback_id as callback_id
from cliproxy.plugins.types import (
    AuthCandidate,
    AuthData,
    AuthFile,
    AuthFileContent,
    AuthModelRequest,
    AuthParseRequest,
    AuthParseResponse,
    AuthRefreshRequest,
    AuthRefreshResponse,
    ChunkInterceptRequest,
    ChunkInterceptResult,
    CommandLineFlag,
    CommandLineRegistrationRequest,
    CommandLineRequest,
    CommandLineResult,
    ConfigField,
    ExecutorHttpRequest,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStream,
    ExecutorStreamChunk,
    FlagValue,
    FrontendAuthRequest,
    FrontendAuthResponse,
    Headers,
    HostConfig,
    HttpResponse,
    InterceptRequest,
    InterceptResult,
    LoginPollRequest,
    LoginPollResponse,
    LoginStartRequest,
    LoginStartResponse,
    ManagementRegistrationRequest,
    ManagementRequest,
    ManagementResponse,
    ManagementRoute,
    Metadata,
    ModelAlias,
    ModelInfo,
    ModelList,
    ModelRegistrationRequest,
    ModelResponse,
    PayloadResponse,
    PickDecision,
    PickRequest,
    PluginMetadata,
    Query,
    RecentRequests,
    RequestCompletion,
    ResourceRoute,
    ResponseInterceptRequest,
    ResponseInterceptResult,
    ResponseTransformRequest,
    RouteDecision,
    RouteRequest,
    SavedAuth,
    SchedulerOptions,
    StaticModelRequest,
    ThinkingConfig,
    ThinkingRequest,
    ThinkingSupport,
    TransformRequest,
    UsageDetail,
    UsageFailure,
    UsageRecord,
)

__all__ = [
    "AuthCandidate",
    "AuthData",
    "AuthFile",
    "AuthFileContent",
    "AuthModelRequest",
    "AuthParseRequest",
    "AuthParseResponse",
    "AuthProvider",
    "AuthRefreshRequest",
    "AuthRefreshResponse",
    "ChunkInterceptRequest",
    "ChunkInterceptResult",
    "CommandLineFlag",
    "CommandLinePlugin",
    "CommandLineRegistrationRequest",
    "CommandLineRequest",
    "CommandLineResult",
    "ConfigField",
    "Executor",
    "ExecutorHttpRequest",
    "ExecutorRequest",
    "ExecutorResponse",
    "ExecutorStream",
    "ExecutorStreamChunk",
    "FlagValue",
    "FrontendAuthProvider",
    "FrontendAuthRequest",
    "FrontendAuthResponse",
    "Headers",
    "Host",
    "HostAuth",
    "HostConfig",
    "HostHttp",
    "HostModel",
    "HostStream",
    "HttpResponse",
    "InterceptRequest",
    "InterceptResult",
    "LoginPollRequest",
    "LoginPollResponse",
    "LoginStartRequest",
    "LoginStartResponse",
    "ManagementAPI",
    "ManagementRegistrationRequest",
    "ManagementRequest",
    "ManagementResponse",
    "ManagementRoute",
    "Metadata",
    "ModelAlias",
    "ModelInfo",
    "ModelList",
    "ModelProvider",
    "ModelRegistrar",
    "ModelRegistrationRequest",
    "ModelResponse",
    "ModelRouter",
    "PayloadResponse",
    "PickDecision",
    "PickRequest",
    "Plugin",
    "PluginError",
    "PluginMetadata",
    "Query",
    "RecentRequests",
    "RequestCompletion",
    "RequestInterceptor",
    "RequestLifecycle",
    "RequestNormalizer",
    "RequestTranslator",
    "ResourceRoute",
    "ResponseInterceptRequest",
    "ResponseInterceptResult",
    "ResponseInterceptor",
    "ResponseNormalizer",
    "ResponseTransformRequest",
    "ResponseTranslator",
    "RouteDecision",
    "RouteRequest",
    "SavedAuth",
    "Scheduler",
    "SchedulerOptions",
    "StaticModelRequest",
    "StreamChunkInterceptor",
    "ThinkingApplier",
    "ThinkingConfig",
    "ThinkingRequest",
    "ThinkingSupport",
    "TransformRequest",
    "UsageDetail",
    "UsageFailure",
    "UsagePlugin",
    "UsageRecord",
    "validate",
]

_CONFIG_TYPES = frozenset({"string", "number", "integer", "boolean", "enum", "array", "object"})
_MODEL_SCOPES: frozenset[str] = frozenset(get_args(ModelScope))


class Plugin:
    """Base of every Python plugin: metadata (CPA's ``Metadata``) and configuration.

    ``name``, ``version``, ``author`` and ``github_repository`` are required.
    ``config_fields`` describe config keys for management UIs. ``schema_version`` is the
    CPA JSON contract the plugin speaks (3 today).
    """

    name: str = ""
    version: str = ""
    author: str = ""
    github_repository: str = ""
    logo: str = ""
    config_fields: ClassVar[list[ConfigField]] = []
    schema_version: int = SCHEMA_VERSION
    host: Host
    config: dict[str, Any]

    async def configure(self, config: dict[str, Any], host: Host) -> None:
        """Called at load and on every reload with ``plugins.configs.<id>`` parsed from
        YAML (``enabled`` and ``priority`` included). ``self.host`` is already set; this
        default keeps the mapping in ``self.config``. Raise ``PluginError`` to refuse it.
        """
        self.config = config

    async def close(self) -> None:
        """Called once when the plugin is unloaded; release what ``configure`` opened."""

    def metadata(self) -> PluginMetadata:
        return PluginMetadata(
            self.name, self.version, self.author, self.github_repository, self.logo, list(self.config_fields)
        )


def validate(plugin: object) -> list[str]:
    """Problems that keep ``plugin`` from loading; an empty list means it is valid."""
    if not isinstance(plugin, Plugin):
        return [f"{type(plugin).__name__} does not inherit cliproxy.plugins.api.Plugin"]
    problems = [
        f"missing {attr}"
        for attr in ("name", "version", "author", "github_repository")
        if not str(getattr(plugin, attr, "") or "").strip()
    ]
    problems += [
        f"config field {f.name!r} has unknown type {f.type!r}"
        for f in plugin.config_fields
        if f.type not in _CONFIG_TYPES
    ]
    if not inspect.iscoroutinefunction(type(plugin).configure):
        problems.append("configure must be async def")
    problems += _signature_problems(plugin, "configure", "(self, config, host)", 2)
    caps = capabilities_of(plugin)
    if not caps:
        problems.append("declares no capability (inherit e.g. ModelRouter or Executor)")
    for cap in caps:
        problems += _cap_problems(plugin, cap)
    return problems


def _cap_problems(plugin: object, cap: type[_Capability]) -> list[str]:
    problems = [
        f"{cap.__name__}.{m} is not implemented" for m in cap.__required__ if not overrides(plugin, cap, m)
    ]
    if cap.__required_any__ and not any(overrides(plugin, cap, m) for m in cap.__required_any__):
        problems.append(f"{cap.__name__} needs one of {', '.join(cap.__required_any__)}")
    for method in (
        *cap.__required__,
        *cap.__required_any__,
        "execute_stream",
        "count_tokens",
        "http_request",
        "login_start",
        "login_poll",
        "refresh",
    ):
        if not hasattr(cap, method) or not overrides(plugin, cap, method):
            continue  # the capability's own defaults are fine
        fn = getattr(type(plugin), method, None)
        if fn is not None and not (inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)):
            problems.append(f"{cap.__name__}.{method} must be async def")
        problems += _signature_problems(plugin, method, "(self, request)", 1, cap.__name__ + ".")
    return problems + _attr_problems(plugin, cap)


def _signature_problems(plugin: object, method: str, wanted: str, args: int, owner: str = "") -> list[str]:
    """A method the host cannot call with ``args`` positional arguments (a missing or an
    extra required parameter), told at load rather than as a crash on the first request."""
    fn = getattr(type(plugin), method, None)
    try:
        signature = inspect.signature(fn) if fn is not None else None
    except (TypeError, ValueError):
        return []  # a builtin or C callable: nothing to read
    if signature is None:
        return []
    try:
        signature.bind(plugin, *([None] * args))
    except TypeError:
        return [f"{owner}{method}{signature} cannot be called as {method}{wanted}"]
    return []


def _attr_problems(plugin: object, cap: type[_Capability]) -> list[str]:
    specific = {
        AuthProvider: "auth_identifier",
        FrontendAuthProvider: "frontend_auth_identifier",
        ThinkingApplier: "thinking_identifier",
        Executor: "identifier",
    }.get(cap)
    problems = []
    if specific and not identifier_of(plugin, specific):
        problems.append(f"{cap.__name__} needs an identifier")
    if cap is Executor:
        if not list(getattr(plugin, "input_formats", [])) or not list(getattr(plugin, "output_formats", [])):
            problems.append("Executor needs input_formats and output_formats")
        if getattr(plugin, "model_scope", "both") not in _MODEL_SCOPES:
            problems.append("Executor.model_scope must be both, static or oauth")
    if cap is CommandLinePlugin and not list(getattr(plugin, "flags", [])):
        problems.append("CommandLinePlugin declares no flags")
    if cap is ManagementAPI and not (
        list(getattr(plugin, "routes", [])) or list(getattr(plugin, "resources", []))
    ):
        problems.append("ManagementAPI declares no routes or resources")
    return problems
