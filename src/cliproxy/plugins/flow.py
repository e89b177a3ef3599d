"""The request lifecycle's plugin stages around the core pipeline (CPA's order):

model router -> interceptors before auth -> [core: credential pick (scheduler plugin),
interceptors after auth, translation + request normalizers, upstream, response
normalizers] -> response / stream-chunk interceptors -> lifecycle completion.

The pipeline calls ``run`` only when a plugin is active, so a proxy without plugins
never enters this module.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.errors import CliproxyError, ModelNotFoundError
from cliproxy.plugins import abi, rules
from cliproxy.plugins.callbacks import ScopeContext
from cliproxy.plugins.executor import negotiate, run_executor

if TYPE_CHECKING:
    from cliproxy.pipeline import Call, Pipeline, Reply, StreamReply
    from cliproxy.plugins.host import PluginHost

__all__ = ["ProviderRoute", "run"]


class ProviderRoute:
    """A route a model router chose: one provider, its model name, no registry entry needed."""

    def __init__(self, base: Any, provider: str, model: str) -> None:
        self.requested = base.requested if base is not None else model
        self.model = base.model if base is not None else model
        self.suffix = base.suffix if base is not None else None
        self.providers = [provider]
        self._base = base
        self._target = model
        self._provider = provider

        def supports(cred: Any, _model: str) -> bool:
            return cred.provider == provider

        self.supports = supports if base is None else base.supports

    def upstream_models(self, cred: Any) -> list[str]:
        if self._base is not None:
            return self._base.upstream_models(cred)
        return [self._target]

    def force_mapping(self, cred: Any) -> bool:
        return self._base is not None and self._base.force_mapping(cred)

    def response_model(self, cred: Any) -> str:
        return self._base.response_model(cred) if self._base is not None else self._target


async def run(pipeline: Pipeline, host: PluginHost, call: Call, model: str) -> Reply | StreamReply:
    from cliproxy.pipeline import Reply

    request_id = uuid.uuid4().hex
    started = time.time()
    scope = ScopeContext(dict(call.headers), dict(call.query), request_id)
    outcome, status = "failed", 500
    try:
        result = await _run(pipeline, host, call, model, request_id, scope)
        if isinstance(result, Reply):
            outcome, status = ("rejected" if result.status >= 400 else "succeeded"), result.status
            _complete(host, call, model, request_id, started, outcome, status, "")
            if host.any("usage_plugin") and result.status < 400:
                _usage(
                    host,
                    pipeline,
                    call,
                    model,
                    started,
                    started,
                    result.credential,
                    _whole_usage(pipeline, call, result.body),
                )
            return result
        return _wrap_stream(pipeline, host, call, model, request_id, started, result, scope)
    except CliproxyError as exc:
        _complete(host, call, model, request_id, started, outcome, exc.status, exc.message)
        if host.any("usage_plugin"):
            _usage(
                host, pipeline, call, model, started, started, None, None, failure=(exc.status, exc.message)
            )
        raise


async def _run(
    pipeline: Pipeline, host: PluginHost, call: Call, model: str, request_id: str, scope: ScopeContext
) -> Reply | StreamReply:
    from cliproxy.pipeline import Reply

    decision = None
    if host.any("model_router", call.skip):
        decision = await rules.route_model(
            host,
            source_format=call.format.value,
            model=model,
            stream=call.stream,
            headers=call.headers,
            query=call.query,
            body=orjson.dumps(call.body),
            available_providers=pipeline.pool.providers(),
            skip=call.skip,
            scope=scope,
        )
    route: Any = None
    if decision is None:
        route = pipeline.models.resolve(model)  # stage 3 comes before the interceptors (CPA)
    elif decision.kind == "provider":
        route = _provider_route(pipeline, decision, model)
    if host.any("request_interceptor", call.skip):
        state = await rules.intercept(
            host,
            abi.REQUEST_INTERCEPT_BEFORE,
            request_id=request_id,
            source_format=call.format.value,
            to_format="",
            model=model,
            requested_model=call.model,
            stream=call.stream,
            headers=call.headers,
            body=orjson.dumps(call.body),
            skip=call.skip,
            scope=scope,
        )
        if state.terminated is not None:
            t = state.terminated
            return Reply(t.status, t.body, t.headers or {"Content-Type": "application/json"})
        _apply(call, state)
    call.request_id = request_id
    if decision is not None and decision.kind in ("self", "executor"):
        rec = host.get(decision.target)
        assert rec is not None
        if host.any("request_interceptor", call.skip):  # after auth: no credential on this route
            fmt_in, _ = negotiate(rec, call.format)
            state = await rules.intercept(
                host,
                abi.REQUEST_INTERCEPT_AFTER,
                request_id=request_id,
                source_format=call.format.value,
                to_format=fmt_in.value,
                model=model,
                requested_model=call.model,
                stream=call.stream,
                headers=call.headers,
                body=orjson.dumps(call.body),
                skip=call.skip,
                scope=scope,
            )
            if state.terminated is not None:
                t = state.terminated
                return Reply(t.status, t.body, t.headers or {"Content-Type": "application/json"})
            _apply(call, state)
        result = await run_executor(pipeline, host, rec, call, scope)
    else:
        call.scope = scope
        try:
            result = await pipeline.execute(call, route)
        except Exception as exc:
            terminated = getattr(exc, "terminated", None)
            if terminated is None:
                raise
            return Reply(
                terminated.status, terminated.body, terminated.headers or {"Content-Type": "application/json"}
            )
    if isinstance(result, Reply) and result.status < 400 and host.any("response_interceptor", call.skip):
        headers, body = await rules.response_intercept(
            host,
            request_id=request_id,
            source_format=call.format.value,
            model=model,
            requested_model=call.model,
            stream=False,
            request_headers=call.headers,
            response_headers=dict(result.headers),
            original=orjson.dumps(call.body),
            body=result.body,
            skip=call.skip,
            scope=scope,
        )
        result = Reply(result.status, body, headers)
    return result


def _provider_route(pipeline: Pipeline, decision: rules.RouteDecision, model: str) -> ProviderRoute:
    target_model = decision.target_model or model
    try:
        base = pipeline.models.resolve(target_model)
    except ModelNotFoundError:
        base = None
    if base is not None and decision.target not in base.providers:
        base = None
    return ProviderRoute(base, decision.target, target_model)


def _apply(call: Call, state: rules.Intercepted) -> None:
    if not state.changed:
        return
    call.headers = state.headers
    try:
        body = orjson.loads(state.body)
    except orjson.JSONDecodeError:
        return
    if isinstance(body, dict):
        call.body = body
        call.reset_ir()


def _wrap_stream(
    pipeline: Pipeline,
    host: PluginHost,
    call: Call,
    model: str,
    request_id: str,
    started: float,
    reply: StreamReply,
    scope: ScopeContext,
) -> StreamReply:
    from cliproxy.pipeline import StreamReply

    intercept = host.any("response_stream_interceptor", call.skip)
    sniffer = pipeline.translations.adapter(call.format).usage_sniffer() if host.any("usage_plugin") else None
    first_at: list[float] = []
    st = rules.ChunkState(
        request_id,
        call.format.value,
        model,
        call.model,
        call.headers,
        dict(reply.headers),
        orjson.dumps(call.body) if intercept else b"",
        call.skip,
        scope,
    )

    async def chunks() -> AsyncIterator[bytes]:
        outcome, status, error = "succeeded", 200, ""
        try:
            first = reply.first
            if intercept:
                await rules.stream_chunk(host, st, None)
                first = await rules.stream_chunk(host, st, first) or b"" if first else b""
            if first:
                first_at.append(time.time())
                if sniffer is not None:
                    sniffer.feed(first)
                yield first
            async for piece in reply.rest:
                if intercept:
                    piece = await rules.stream_chunk(host, st, piece) or b""
                if piece:
                    if not first_at:
                        first_at.append(time.time())
                    if sniffer is not None:
                        sniffer.feed(piece)
                    yield piece
        except BaseException as exc:
            outcome, status, error = "canceled", 0, str(exc)
            raise
        finally:
            await reply.rest.aclose()  # type: ignore[attr-defined]
            _complete(host, call, model, request_id, started, outcome, status, error)
            if sniffer is not None:
                _usage(
                    host,
                    pipeline,
                    call,
                    model,
                    started,
                    first_at[0] if first_at else started,
                    reply.credential,
                    sniffer.usage,
                    failure=(status, error) if outcome != "succeeded" else None,
                )

    return StreamReply(reply.headers, b"", chunks())


def _complete(
    host: PluginHost,
    call: Call,
    model: str,
    request_id: str,
    started: float,
    outcome: str,
    status: int,
    error: str,
) -> None:
    if not host.any("request_lifecycle_plugin", call.skip):
        return
    rules.complete(
        host,
        {
            "RequestID": request_id,
            "TraceID": request_id,
            "SourceFormat": call.format.value,
            "Model": model,
            "RequestedModel": call.model,
            "Stream": call.stream,
            "Outcome": outcome,
            "StatusCode": status,
            "Error": error,
            "StartedAt": _rfc3339(started),
            "CompletedAt": _rfc3339(time.time()),
            "Metadata": {},
        },
        call.skip,
    )


def _rfc3339(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _whole_usage(pipeline: Pipeline, call: Call, body: bytes) -> Any:
    try:
        return pipeline.translations.adapter(call.format).parse_response(orjson.loads(body)).usage
    except (CliproxyError, orjson.JSONDecodeError, TypeError, ValueError, KeyError):
        return None


def _usage(
    host: PluginHost,
    pipeline: Pipeline,
    call: Call,
    model: str,
    started: float,
    first: float,
    cred: Any,
    usage: Any,
    failure: tuple[int, str] | None = None,
) -> None:
    """A ``UsageRecord`` for the usage plugins (CPA's shape; durations in nanoseconds)."""
    now = time.time()
    detail = {
        "InputTokens": 0,
        "OutputTokens": 0,
        "ReasoningTokens": 0,
        "CachedTokens": 0,
        "CacheReadTokens": 0,
        "CacheCreationTokens": 0,
        "TotalTokens": 0,
    }
    if usage is not None:
        detail.update(
            InputTokens=usage.input_tokens,
            OutputTokens=usage.output_tokens,
            ReasoningTokens=usage.reasoning_tokens,
            CachedTokens=usage.cache_read_tokens,
            CacheReadTokens=usage.cache_read_tokens,
            CacheCreationTokens=usage.cache_write_tokens,
            TotalTokens=usage.total,
        )
    rules.usage(
        host,
        {
            "Provider": cred.provider if cred else "",
            "ExecutorType": cred.provider if cred else "",
            "Model": model,
            "Alias": call.model,
            "APIKey": "",
            "AuthID": cred.id if cred else "",
            "AuthIndex": cred.index if cred else "",
            "AuthType": cred.kind if cred else "",
            "Source": call.format.value,
            "ReasoningEffort": "",
            "ServiceTier": "",
            "Generate": True,
            "RequestedAt": _rfc3339(started),
            "Latency": int((now - started) * 1e9),
            "TTFT": int((first - started) * 1e9),
            "Failed": failure is not None,
            "Failure": {"StatusCode": failure[0], "Body": ""} if failure else {"StatusCode": 0, "Body": ""},
            "Detail": detail,
            "ResponseHeaders": {},
        },
    )
