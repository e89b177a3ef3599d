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
from collections.abc import AsyncIterator, Awaitable
from typing import Any, ClassVar, Literal, get_args

from cliproxy.plugins.abi import SCHEMA_VERSION, PluginError
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

CapabilityName = Literal[
    "model_registrar",
    "model_provider",
    "auth_provider",
    "frontend_auth_provider",
    "scheduler",
    "model_router",
    "executor",
    "request_translator",
    "request_normalizer",
    "response_translator",
    "response_before_translator",
    "request_interceptor",
    "request_lifecycle_plugin",
    "response_interceptor",
    "response_stream_interceptor",
    "thinking_applier",
    "usage_plugin",
    "command_line_plugin",
    "management_api",
]
"""The CPA capability flag each capability class sets in its registration."""

ModelScope = Literal["both", "static", "oauth"]
"""Where an executor's models are usable: everywhere, on router direct routes without a
credential, or only with a credential."""

StreamAnswer = AsyncIterator[bytes] | Awaitable[AsyncIterator[bytes] | ExecutorStream]
"""What ``Executor.execute_stream`` gives: an async generator's chunks, or (from an
``async def``) the chunks or an ``ExecutorStream`` with response headers."""

_CONFIG_TYPES = frozenset({"string", "number", "integer", "boolean", "enum", "array", "object"})
_MODEL_SCOPES: frozenset[str] = frozenset(get_args(ModelScope))


def _unsupported(what: str) -> PluginError:
    return PluginError(f"{what} is not supported by this plugin", http_status=501, code="unsupported")


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


class _Capability:
    __capability__: ClassVar[CapabilityName]  # set by every capability class
    __required__: ClassVar[tuple[str, ...]] = ()  # every one must be overridden
    __required_any__: ClassVar[tuple[str, ...]] = ()  # at least one must be overridden


class ModelRegistrar(_Capability):
    """Registers a fixed model list at load (``model.register``)."""

    __capability__: ClassVar[CapabilityName] = "model_registrar"
    __required__ = ("register_models",)

    async def register_models(self, request: ModelRegistrationRequest) -> ModelList:
        """The models to expose and the provider key they belong to."""
        raise NotImplementedError


class ModelProvider(_Capability):
    """Lists models statically (``model.static``, preferred over ``model.register``) and
    per credential (``model.for_auth``, whose ``auth_update`` merges into the auth)."""

    __capability__: ClassVar[CapabilityName] = "model_provider"
    __required_any__ = ("static_models", "models_for_auth")

    async def static_models(self, request: StaticModelRequest) -> ModelList:
        return ModelList()

    async def models_for_auth(self, request: AuthModelRequest) -> ModelList:
        return ModelList()


class AuthProvider(_Capability):
    """Owns credentials of provider ``identifier`` (or ``auth_identifier`` when set):
    parses auth files, runs OAuth-style logins and refreshes tokens."""

    __capability__: ClassVar[CapabilityName] = "auth_provider"
    __required__ = ("parse",)
    identifier: str = ""
    auth_identifier: str = ""

    async def parse(self, request: AuthParseRequest) -> AuthParseResponse | None:
        """Turn an auth file into one or more credentials; ``None`` if it is not yours."""
        raise NotImplementedError

    async def login_start(self, request: LoginStartRequest) -> LoginStartResponse:
        """Begin a login: return the URL to open and a ``state`` to poll with."""
        raise _unsupported("login")

    async def login_poll(self, request: LoginPollRequest) -> LoginPollResponse:
        """Report a login's progress: ``pending``, ``success`` (with the auth) or ``error``."""
        raise _unsupported("login")

    async def refresh(self, request: AuthRefreshRequest) -> AuthRefreshResponse:
        """Refresh a credential; empty fields keep the current values."""
        return AuthRefreshResponse()


class FrontendAuthProvider(_Capability):
    """Authenticates clients of the proxy. ``exclusive = True`` replaces the built-in API
    keys while the plugin is active (the highest-priority exclusive one wins)."""

    __capability__: ClassVar[CapabilityName] = "frontend_auth_provider"
    __required__ = ("authenticate",)
    identifier: str = ""
    frontend_auth_identifier: str = ""
    exclusive: bool = False

    async def authenticate(self, request: FrontendAuthRequest) -> FrontendAuthResponse | None:
        """A verdict on the client request; ``None`` or not ``authenticated`` lets the
        next provider try."""
        raise NotImplementedError


class Scheduler(_Capability):
    """Picks the credential for a request among ``request.candidates``. Only the first
    active scheduler by priority is asked."""

    __capability__: ClassVar[CapabilityName] = "scheduler"
    __required__ = ("pick",)

    async def pick(self, request: PickRequest) -> PickDecision | None:
        """``PickDecision.auth(id)`` or ``.delegate("round-robin" | "fill-first")``;
        ``None`` uses the built-in scheduler; raising ``PluginError`` denies the request."""
        raise NotImplementedError


class ModelRouter(_Capability):
    """Routes a request before any credential is chosen; the first valid decision by
    priority wins."""

    __capability__: ClassVar[CapabilityName] = "model_router"
    __required__ = ("route",)

    async def route(self, request: RouteRequest) -> RouteDecision | None:
        """``RouteDecision.self_()``, ``.executor(plugin_id)`` or ``.provider(name, model)``;
        ``None`` leaves it to the next router."""
        raise NotImplementedError


class Executor(_Capability):
    """Runs requests for provider ``identifier`` (CPA's ``ProviderExecutor``).

    ``input_formats``/``output_formats`` are the wire formats it accepts and produces
    (``openai``, ``openai-response``, ``claude``, ``gemini``...); the host translates
    around them. ``model_scope``: ``both``, ``static`` (usable on router direct routes,
    no credential) or ``oauth`` (only with a credential).
    """

    __capability__: ClassVar[CapabilityName] = "executor"
    __required__ = ("execute",)
    identifier: str = ""
    input_formats: ClassVar[list[str]] = []
    output_formats: ClassVar[list[str]] = []
    model_scope: ModelScope = "both"

    async def execute(self, request: ExecutorRequest) -> ExecutorResponse:
        """One non-streaming call: the response body in ``request.format``."""
        raise NotImplementedError

    def execute_stream(self, request: ExecutorRequest) -> StreamAnswer:
        """A streaming call: write it as an async generator yielding raw stream bytes
        (e.g. SSE frames), or as an ``async def`` returning ``ExecutorStream(chunks,
        headers)``. An error raised before the first chunk fails the call; a later one
        ends the stream with it. This default sends the ``execute`` answer as one chunk."""
        return _execute_as_stream(self, request)

    async def count_tokens(self, request: ExecutorRequest) -> ExecutorResponse:
        """A token count, in the shape of ``request.format``'s count endpoint."""
        raise _unsupported("count_tokens")

    async def http_request(self, request: ExecutorHttpRequest) -> HttpResponse:
        """A raw HTTP request made with this provider's credential."""
        raise _unsupported("http_request")


async def _execute_as_stream(executor: Executor, request: ExecutorRequest) -> ExecutorStream:
    response = await executor.execute(request)
    return ExecutorStream(_one_chunk(response.payload), response.headers)


async def _one_chunk(payload: bytes) -> AsyncIterator[bytes]:
    yield payload


class RequestInterceptor(_Capability):
    """Rewrites or answers client requests, before and after the credential pick. All
    interceptors run in priority order, each seeing the previous one's result."""

    __capability__: ClassVar[CapabilityName] = "request_interceptor"
    __required_any__ = ("intercept_before", "intercept_after")

    async def intercept_before(self, request: InterceptRequest) -> InterceptResult | None:
        """Before auth (``request.to_format`` is empty). ``None`` changes nothing;
        ``InterceptResult.terminate_with(status, body)`` answers the client directly."""
        return None

    async def intercept_after(self, request: InterceptRequest) -> InterceptResult | None:
        """After the credential pick, with ``to_format`` set."""
        return None


class RequestLifecycle(_Capability):
    """Told once when each request ends (CPA's ``RequestLifecyclePlugin``)."""

    __capability__: ClassVar[CapabilityName] = "request_lifecycle_plugin"
    __required__ = ("complete",)

    async def complete(self, completion: RequestCompletion) -> None:
        """Runs in the background after the response; errors are only logged."""
        raise NotImplementedError


class ResponseInterceptor(_Capability):
    """Rewrites successful non-streaming responses (``response.intercept_after``)."""

    __capability__: ClassVar[CapabilityName] = "response_interceptor"
    __required__ = ("intercept_response",)

    async def intercept_response(self, request: ResponseInterceptRequest) -> ResponseInterceptResult | None:
        raise NotImplementedError


class StreamChunkInterceptor(_Capability):
    """Rewrites or drops streamed chunks (flag ``response_stream_interceptor``)."""

    __capability__: ClassVar[CapabilityName] = "response_stream_interceptor"
    __required__ = ("intercept_chunk",)

    async def intercept_chunk(self, request: ChunkInterceptRequest) -> ChunkInterceptResult | None:
        """``ChunkInterceptResult.drop()`` withholds the chunk; ``None`` passes it on.
        ``chunk_index`` -1 is the header-init call."""
        raise NotImplementedError


class RequestTranslator(_Capability):
    """Translates request bodies between formats the host cannot translate natively."""

    __capability__: ClassVar[CapabilityName] = "request_translator"
    __required__ = ("translate_request",)

    async def translate_request(self, request: TransformRequest) -> bytes | None:
        """The body in ``request.to_format``; ``None`` lets the next translator try."""
        raise NotImplementedError


class RequestNormalizer(_Capability):
    """Adjusts request bodies around translation (all normalizers chain)."""

    __capability__: ClassVar[CapabilityName] = "request_normalizer"
    __required__ = ("normalize_request",)

    async def normalize_request(self, request: TransformRequest) -> bytes | None:
        """The new body; ``None`` keeps it."""
        raise NotImplementedError


class ResponseTranslator(_Capability):
    """Translates responses (or stream frames) where no native translator exists."""

    __capability__: ClassVar[CapabilityName] = "response_translator"
    __required__ = ("translate_response",)

    async def translate_response(self, request: ResponseTransformRequest) -> bytes | None:
        raise NotImplementedError


class ResponseNormalizer(_Capability):
    """Adjusts responses before (flag ``response_before_translator``) and/or after
    (``response_after_translator``) translation; override either or both."""

    __capability__: ClassVar[CapabilityName] = "response_before_translator"
    __required_any__ = ("normalize_before", "normalize_after")

    async def normalize_before(self, request: ResponseTransformRequest) -> bytes | None:
        """On the upstream body, before translation; ``None`` keeps it."""
        return None

    async def normalize_after(self, request: ResponseTransformRequest) -> bytes | None:
        """On every client-format body or frame, after translation; ``None`` keeps it."""
        return None


class ThinkingApplier(_Capability):
    """Applies reasoning settings for provider ``thinking_identifier`` (else
    ``identifier``); native provider names are refused by the host."""

    __capability__: ClassVar[CapabilityName] = "thinking_applier"
    __required__ = ("apply_thinking",)
    identifier: str = ""
    thinking_identifier: str = ""

    async def apply_thinking(self, request: ThinkingRequest) -> bytes | None:
        """The body with ``request.config`` applied; ``None`` keeps it."""
        raise NotImplementedError


class UsagePlugin(_Capability):
    """Receives a ``UsageRecord`` for every upstream call."""

    __capability__: ClassVar[CapabilityName] = "usage_plugin"
    __required__ = ("handle_usage",)

    async def handle_usage(self, record: UsageRecord) -> None:
        raise NotImplementedError


class CommandLinePlugin(_Capability):
    """Adds ``flags`` to the command line; when one is set, ``run_command`` runs after
    the config loads and the process exits with its ``exit_code``."""

    __capability__: ClassVar[CapabilityName] = "command_line_plugin"
    __required__ = ("run_command",)
    flags: ClassVar[list[CommandLineFlag]] = []

    async def run_command(self, request: CommandLineRequest) -> CommandLineResult:
        raise NotImplementedError


class ManagementAPI(_Capability):
    """Serves ``routes`` (authenticated, under ``/v0/management``) and ``resources``
    (public GETs under ``/v0/resource/plugins/<id>/``) through ``handle_management``."""

    __capability__: ClassVar[CapabilityName] = "management_api"
    __required__ = ("handle_management",)
    routes: ClassVar[list[ManagementRoute]] = []
    resources: ClassVar[list[ResourceRoute]] = []

    async def handle_management(self, request: ManagementRequest) -> ManagementResponse:
        """Answer one request to a declared route or resource (route by method and path)."""
        raise NotImplementedError


CAPABILITIES: tuple[type[_Capability], ...] = (
    ModelRegistrar,
    ModelProvider,
    AuthProvider,
    FrontendAuthProvider,
    Scheduler,
    ModelRouter,
    Executor,
    RequestTranslator,
    RequestNormalizer,
    ResponseTranslator,
    ResponseNormalizer,
    RequestInterceptor,
    RequestLifecycle,
    ResponseInterceptor,
    StreamChunkInterceptor,
    ThinkingApplier,
    UsagePlugin,
    CommandLinePlugin,
    ManagementAPI,
)


def capabilities_of(plugin: object) -> list[type[_Capability]]:
    """The capability classes ``plugin`` inherits, in CPA's flag order."""
    return [cap for cap in CAPABILITIES if isinstance(plugin, cap)]


def overrides(plugin: object, cap: type, method: str) -> bool:
    """Whether ``plugin``'s class replaces ``cap``'s default ``method``."""
    return getattr(type(plugin), method, None) is not getattr(cap, method)


def identifier_of(plugin: object, specific: str) -> str:
    """A capability's identifier: the ``specific`` attribute, else ``identifier``."""
    return str(getattr(plugin, specific, "") or getattr(plugin, "identifier", "") or "")


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
    return problems + _attr_problems(plugin, cap)


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
