"""Scheduler, model router and executor shapes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from cliproxy.plugins.types.models import PluginMetadata
from cliproxy.plugins.types.wire import Headers, Metadata, Query, WireModel, wire

__all__ = [
    "AuthCandidate",
    "ExecutorHttpRequest",
    "ExecutorRequest",
    "ExecutorResponse",
    "ExecutorStream",
    "ExecutorStreamChunk",
    "HttpResponse",
    "PickDecision",
    "PickRequest",
    "RouteDecision",
    "RouteRequest",
    "SchedulerOptions",
]


# -- scheduler and model router


@wire
class SchedulerOptions(WireModel):
    headers: Headers = field(default_factory=dict)
    metadata: Metadata = field(default_factory=dict)


@wire
class AuthCandidate(WireModel):
    """A credential the scheduler may pick (secrets stripped from ``attributes``)."""

    id: str = ""
    provider: str = ""
    priority: int = 0
    status: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    metadata: Metadata = field(default_factory=dict)


@wire
class PickRequest(WireModel):
    """CPA's ``SchedulerPickRequest``: ``provider`` is empty for a mixed-provider pick."""

    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    provider: str = ""
    providers: list[str] = field(default_factory=list)
    model: str = ""
    stream: bool = False
    options: SchedulerOptions = field(default_factory=SchedulerOptions)
    candidates: list[AuthCandidate] = field(default_factory=list)


@wire
class PickDecision(WireModel):
    """CPA's ``SchedulerPickResponse``. Build one with ``auth()`` or ``delegate()``."""

    auth_id: str = ""
    delegate_builtin: str = ""
    handled: bool = False

    @classmethod
    def auth(cls, auth_id: str) -> PickDecision:
        """Use the candidate ``auth_id``."""
        return cls(auth_id=auth_id, handled=True)

    @classmethod
    def delegate(cls, strategy: str) -> PickDecision:
        """Let the built-in scheduler pick: ``round-robin`` or ``fill-first``."""
        return cls(delegate_builtin=strategy, handled=True)


@wire
class RouteRequest(WireModel):
    """CPA's ``ModelRouteRequest``: a client request before any credential is chosen."""

    plugin: PluginMetadata = field(default_factory=PluginMetadata)
    plugin_id: str = ""
    source_format: str = ""
    requested_model: str = ""
    stream: bool = False
    headers: Headers = field(default_factory=dict)
    query: Query = field(default_factory=dict)
    body: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    available_providers: list[str] = field(default_factory=list)


@wire
class RouteDecision(WireModel):
    """CPA's ``ModelRouteResponse``. Build one with ``self_()``, ``executor()`` or
    ``provider()``; ``reason`` is for logs only."""

    handled: bool = False
    target_kind: str = ""
    target: str = ""
    target_model: str = ""
    reason: str = ""

    @classmethod
    def self_(cls, reason: str = "") -> RouteDecision:
        """Run the request on this plugin's own executor."""
        return cls(handled=True, target_kind="self", reason=reason)

    @classmethod
    def executor(cls, plugin_id: str, reason: str = "") -> RouteDecision:
        """Run the request on the executor of plugin ``plugin_id``."""
        return cls(handled=True, target_kind="executor", target=plugin_id, reason=reason)

    @classmethod
    def provider(cls, name: str, model: str = "", reason: str = "") -> RouteDecision:
        """Send the request to built-in provider ``name`` (as ``model`` when given)."""
        return cls(handled=True, target_kind="provider", target=name, target_model=model, reason=reason)


# -- executor


@wire
class ExecutorRequest(WireModel):
    """What an executor runs: ``payload`` is already in ``source_format``; answer in
    ``format``. ``auth_*``/``storage_json`` are empty on a router's direct route."""

    auth_id: str = ""
    auth_provider: str = ""
    model: str = ""
    format: str = ""
    stream: bool = False
    alt: str = ""
    headers: Headers = field(default_factory=dict)
    query: Query = field(default_factory=dict)
    original_request: bytes = b""
    source_format: str = ""
    payload: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    storage_json: bytes = b""
    auth_metadata: Metadata = field(default_factory=dict)
    auth_attributes: dict[str, str] = field(default_factory=dict)


@wire
class ExecutorResponse(WireModel):
    payload: bytes = b""
    headers: Headers = field(default_factory=dict)
    metadata: Metadata = field(default_factory=dict)


@wire
class ExecutorStreamChunk(WireModel):
    payload: bytes = b""


@dataclass(slots=True)
class ExecutorStream:
    """What ``Executor.execute_stream`` may return instead of being an async generator,
    to send response ``headers`` along with the chunks."""

    chunks: AsyncIterator[bytes]
    headers: Headers = field(default_factory=dict)


@wire
class ExecutorHttpRequest(WireModel):
    auth_id: str = ""
    auth_provider: str = ""
    method: str = ""
    url: str = ""
    headers: Headers = field(default_factory=dict)
    body: bytes = b""
    storage_json: bytes = b""
    metadata: Metadata = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)


@wire
class HttpResponse(WireModel):
    """An HTTP answer: from ``Executor.http_request`` and from ``host.http.do``."""

    status_code: int = 200
    headers: Headers = field(default_factory=dict)
    body: bytes = b""
