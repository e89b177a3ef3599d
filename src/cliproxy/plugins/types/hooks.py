"""Translator, normalizer, thinking, interceptor, lifecycle and usage shapes."""

from __future__ import annotations

from dataclasses import field
from datetime import datetime, timedelta

from cliproxy.plugins.types.models import ModelInfo
from cliproxy.plugins.types.wire import Headers, Metadata, WireModel, wire

__all__ = [
    "ChunkInterceptRequest",
    "ChunkInterceptResult",
    "InterceptRequest",
    "InterceptResult",
    "PayloadResponse",
    "RequestCompletion",
    "ResponseInterceptRequest",
    "ResponseInterceptResult",
    "ResponseTransformRequest",
    "ThinkingConfig",
    "ThinkingRequest",
    "TransformRequest",
    "UsageDetail",
    "UsageFailure",
    "UsageRecord",
]


# -- translators, normalizers, thinking


@wire
class TransformRequest(WireModel):
    """CPA's ``RequestTransformRequest``: a request body going from ``from_format`` to
    ``to_format``."""

    from_format: str = ""
    to_format: str = ""
    model: str = ""
    stream: bool = False
    body: bytes = b""


@wire
class ResponseTransformRequest(WireModel):
    """A response body (or one stream frame) going from ``from_format`` (upstream) to
    ``to_format`` (client)."""

    from_format: str = ""
    to_format: str = ""
    model: str = ""
    stream: bool = False
    original_request: bytes = b""
    translated_request: bytes = b""
    body: bytes = b""


@wire
class PayloadResponse(WireModel):
    body: bytes = b""


@wire
class ThinkingConfig(WireModel):
    """``mode`` is ``budget``, ``level``, ``none`` or ``auto``."""

    mode: str = ""
    budget: int = 0
    level: str = ""


@wire
class ThinkingRequest(WireModel):
    """CPA's ``ThinkingApplyRequest``."""

    provider: str = ""
    model: ModelInfo = field(default_factory=ModelInfo)
    config: ThinkingConfig = field(default_factory=ThinkingConfig)
    body: bytes = b""


# -- interceptors and lifecycle


@wire
class InterceptRequest(WireModel):
    """CPA's ``RequestInterceptRequest``; ``to_format`` is empty before auth."""

    request_id: str = ""
    trace_id: str = ""
    source_format: str = ""
    to_format: str = ""
    model: str = ""
    requested_model: str = ""
    stream: bool = False
    headers: Headers = field(default_factory=dict)
    body: bytes = b""
    metadata: Metadata = field(default_factory=dict)


@wire
class InterceptResult(WireModel):
    """Changes to a request: ``clear_headers`` go first, then ``headers`` replace the
    keys they list, a non-empty ``body`` replaces the body. ``terminate`` answers the
    client directly (see ``terminate_with``)."""

    headers: Headers = field(default_factory=dict)
    body: bytes = b""
    clear_headers: list[str] = field(default_factory=list)
    terminate: bool = False
    status_code: int = 0
    response_headers: Headers = field(default_factory=dict)
    response_body: bytes = b""

    @classmethod
    def terminate_with(
        cls, status_code: int, body: bytes = b"", headers: Headers | None = None
    ) -> InterceptResult:
        """Stop here and answer the client with this response (no upstream call)."""
        return cls(
            terminate=True, status_code=status_code, response_body=body, response_headers=headers or {}
        )


@wire
class RequestCompletion(WireModel):
    """``outcome`` is ``succeeded``, ``failed``, ``rejected`` or ``canceled``."""

    request_id: str = ""
    trace_id: str = ""
    source_format: str = ""
    model: str = ""
    requested_model: str = ""
    stream: bool = False
    outcome: str = ""
    status_code: int = 0
    error: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    metadata: Metadata = field(default_factory=dict)


@wire
class ResponseInterceptRequest(WireModel):
    request_id: str = ""
    source_format: str = ""
    model: str = ""
    requested_model: str = ""
    stream: bool = False
    request_headers: Headers = field(default_factory=dict)
    response_headers: Headers = field(default_factory=dict)
    original_request: bytes = b""
    request_body: bytes = b""
    body: bytes = b""
    status_code: int = 200
    metadata: Metadata = field(default_factory=dict)


@wire
class ResponseInterceptResult(WireModel):
    headers: Headers = field(default_factory=dict)
    body: bytes = b""
    clear_headers: list[str] = field(default_factory=list)


@wire
class ChunkInterceptRequest(WireModel):
    """CPA's ``StreamChunkInterceptRequest``; ``chunk_index`` is -1 for the header-init
    call, where ``original_request``/``request_body`` are set (empty afterwards)."""

    request_id: str = ""
    source_format: str = ""
    model: str = ""
    requested_model: str = ""
    request_headers: Headers = field(default_factory=dict)
    response_headers: Headers = field(default_factory=dict)
    original_request: bytes = b""
    request_body: bytes = b""
    body: bytes = b""
    history_chunks: list[bytes] = field(default_factory=list)
    chunk_index: int = 0
    metadata: Metadata = field(default_factory=dict)


@wire
class ChunkInterceptResult(WireModel):
    headers: Headers = field(default_factory=dict)
    body: bytes = b""
    clear_headers: list[str] = field(default_factory=list)
    drop_chunk: bool = False

    @classmethod
    def drop(cls) -> ChunkInterceptResult:
        """Do not deliver this chunk (later plugins are skipped for it)."""
        return cls(drop_chunk=True)


# -- usage


@wire
class UsageFailure(WireModel):
    status_code: int = 0
    body: str = ""


@wire
class UsageDetail(WireModel):
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cached_tokens: int = 0
    cache_read_tokens: int = 0
    cache_creation_tokens: int = 0
    total_tokens: int = 0


@wire
class UsageRecord(WireModel):
    """One finished upstream call. ``generate`` is true when absent on the wire."""

    provider: str = ""
    executor_type: str = ""
    model: str = ""
    alias: str = ""
    api_key: str = ""
    auth_id: str = ""
    auth_index: str = ""
    auth_type: str = ""
    source: str = ""
    reasoning_effort: str = ""
    service_tier: str = ""
    generate: bool = True
    requested_at: datetime | None = None
    latency: timedelta = field(default_factory=timedelta)
    ttft: timedelta = field(default_factory=timedelta)
    failed: bool = False
    failure: UsageFailure = field(default_factory=UsageFailure)
    detail: UsageDetail = field(default_factory=UsageDetail)
    response_headers: Headers = field(default_factory=dict)
