"""The capability classes of the Python plugin contract, one per CPA capability.

Plugin authors import them from ``cliproxy.plugins.api`` (which re-exports every name
here); the host reads ``__capability__`` / ``__required__`` / ``__required_any__`` to
tell which RPC methods a plugin serves and whether it may load.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from typing import ClassVar, Literal

from cliproxy.plugins.abi import PluginError
from cliproxy.plugins.types import (
    AuthModelRequest,
    AuthParseRequest,
    AuthParseResponse,
    AuthRefreshRequest,
    AuthRefreshResponse,
    ChunkInterceptRequest,
    ChunkInterceptResult,
    CommandLineFlag,
    CommandLineRequest,
    CommandLineResult,
    ExecutorHttpRequest,
    ExecutorRequest,
    ExecutorResponse,
    ExecutorStream,
    FrontendAuthRequest,
    FrontendAuthResponse,
    HttpResponse,
    InterceptRequest,
    InterceptResult,
    LoginPollRequest,
    LoginPollResponse,
    LoginStartRequest,
    LoginStartResponse,
    ManagementRequest,
    ManagementResponse,
    ManagementRoute,
    ModelList,
    ModelRegistrationRequest,
    PickDecision,
    PickRequest,
    RequestCompletion,
    ResourceRoute,
    ResponseInterceptRequest,
    ResponseInterceptResult,
    ResponseTransformRequest,
    RouteDecision,
    RouteRequest,
    StaticModelRequest,
    ThinkingRequest,
    TransformRequest,
    UsageRecord,
)

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


def _unsupported(what: str) -> PluginError:
    return PluginError(f"{what} is not supported by this plugin", http_status=501, code="unsupported")


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
    (``openai``, ``openai-response``, ``claude``, ``gemini``, ``codex``, or a custom
    name that request / response translator plugins handle); the host translates
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
        """After the credential pick, once per attempt. ``request.body`` is still in the
        client's format (``source_format``); ``to_format`` and ``model`` say where the
        attempt goes (the upstream's format and model name). A new body is translated
        after, as the client's request would have been."""
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
    """Translates a client's request body into an executor's custom format (one the host
    cannot translate itself); the first non-empty answer wins."""

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
    """Translates an executor's answer in a custom format (or one stream chunk of it,
    ``request.stream``) into the client's format; the first non-empty answer wins."""

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
