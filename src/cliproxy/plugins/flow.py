"""The plugin stages of one request, each a method the pipeline calls in CPA's order.

``Pipeline.run`` makes a ``Flow`` only when a plugin is loaded, so a proxy without
plugins pays one ``is None`` test per stage and never enters this module. The stages:
model router (``route``), interceptors before auth (``before_auth``), a plugin executor
the router chose (``execute``) or, per credential attempt, the scheduler
(``scheduler``), interceptors after auth on the client's request (``after_auth``), a
plugin credential's executor (``credential_executor``), request normalizers on the
translated request (``normalize_request``), response normalizers
(``normalize_response``, ``stream_normalizers``); then response interceptors
(``intercept_response``) and the usage / lifecycle records (``complete``, ``failed``).

An interceptor that answers the client raises ``RequestTerminated`` (``cliproxy.calls``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
from multidict import CIMultiDict

from cliproxy.calls import Attempt, Call, LazyStream, Reply, RequestTerminated, StreamReply
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError, UpstreamError
from cliproxy.formats import Format
from cliproxy.models.registry import ModelRoute
from cliproxy.plugins import abi, rules, translation
from cliproxy.plugins.callbacks import ScopeContext
from cliproxy.plugins.executor import executor_formats, run_executor
from cliproxy.plugins.models import refresh_plugin_auth
from cliproxy.plugins.refresh_merge import settle, snapshot
from cliproxy.plugins.stream_chunks import StreamChunks
from cliproxy.plugins.stream_normalizers import AFTER, BEFORE, StreamNormalizers
from cliproxy.plugins.usage_record import usage_record
from cliproxy.providers.identity import forwardable_response_headers
from cliproxy.times import format_utc
from cliproxy.translate import ir
from cliproxy.translate.registry import Registry

if TYPE_CHECKING:
    from cliproxy.credentials.pool import Pool
    from cliproxy.plugins.host import PluginHost

__all__ = ["Flow"]


class Flow:
    """One request's plugin stages; holds what they share (request id, scope, start)."""

    __slots__ = (
        "chunks",
        "config",
        "executor",
        "host",
        "model",
        "original",
        "raw_headers",
        "reg",
        "request_id",
        "scope",
        "sent",
        "started",
    )

    def __init__(self, host: PluginHost, reg: Registry, config: Any, call: Call, model: str) -> None:
        self.host = host
        self.reg = reg
        self.config = config
        self.model = model  # the requested model, uncloaked
        self.request_id = uuid.uuid4().hex
        self.started = time.time()
        self.scope = ScopeContext(dict(call.headers), dict(call.query), self.request_id, trace=call.trace)
        self.chunks: rules.ChunkState | None = None  # a stream's chunk-interceptor state
        # what the after-auth chain left of the request (headers, body) when it changed it:
        # the response and stream-chunk interceptors see the request as it was sent (CPA)
        self.sent: tuple[Mapping[str, str], bytes] | None = None
        # the client's own body once an interceptor changed it: the thinking step reads the
        # client's summary intent there when the changed request lost it (CPA)
        self.original: Mapping[str, Any] | None = None
        # the answering upstream's own headers (set by the pipeline's attempt): the response
        # interceptors see them whether or not ``passthrough-headers`` forwards them (CPA)
        self.raw_headers: Mapping[str, str] | None = None
        self.executor = ""  # the plugin whose executor a model router sent the request to

    def bind(self, call: Call) -> Call:
        """``call`` carrying this request's id and host-callback scope."""
        return replace(call, request_id=self.request_id, scope=self.scope)

    # ------------------------------------------------------------------ 2. model router

    async def route(self, call: Call, available: Callable[[], Sequence[str]]) -> rules.RouteDecision | None:
        """The model router chain; ``available`` lists the providers with credentials."""
        if not self.host.any("model_router", call.skip):
            return None
        return await rules.route_model(
            self.host,
            source_format=call.format.value,
            model=self.model,
            stream=call.stream,
            headers=call.headers,
            query=call.query,
            body=orjson.dumps(call.body),
            available_providers=available(),
            skip=call.skip,
            scope=self.scope,
        )

    # ------------------------------------------------------------------ 4. / 6. interceptors

    async def before_auth(self, call: Call) -> Call:
        """The before-auth chain: ``call`` as the interceptors left it."""
        if not self.host.any("request_interceptor", call.skip):
            return call
        state = await self._intercept(call, abi.REQUEST_INTERCEPT_BEFORE, "", self.model, call.headers)
        if state.changed and self.original is None:
            self.original = call.body
        return _applied(call, state)

    async def after_auth(self, call: Call, model: str, to_format: str) -> Call:
        """The after-auth chain for one credential attempt: ``call`` as the interceptors
        left it. As in CPA they see the client's request (its format, before translation),
        told the attempt's upstream ``model`` and format (``ToFormat``); what they leave is
        what the attempt translates. Every attempt starts from the client's request, never
        from what an earlier attempt's interceptors made of it."""
        if not self.host.any("request_interceptor", call.skip):
            return call
        state = await self._intercept(call, abi.REQUEST_INTERCEPT_AFTER, to_format, model, call.headers)
        if state.changed:
            self.sent = (state.headers, state.body)
            if self.original is None:
                self.original = call.body
        return _applied(call, state)

    async def normalize_request(self, call: Call, attempt: Attempt) -> bytes | None:
        """The request normalizers on the attempt's upstream body: the new body, or
        ``None`` when no normalizer changed it (or none is active)."""
        host = self.host
        if not host.any("request_normalizer"):
            return None
        raw = orjson.dumps(attempt.body)
        new = await translation.normalize_request(
            host,
            from_format=call.format.value,
            to_format=attempt.fmt.value,
            model=attempt.model,
            stream=call.stream,
            body=raw,
        )
        return None if new is raw else new

    async def _intercept(
        self,
        call: Call,
        method: str,
        to_format: str,
        model: str,
        headers: Mapping[str, str],
        body: bytes | None = None,
    ) -> rules.Intercepted:
        state = await rules.intercept(
            self.host,
            method,
            request_id=self.request_id,
            source_format=call.format.value,
            to_format=to_format,
            model=model,
            requested_model=call.model,
            stream=call.stream,
            headers=headers,
            body=orjson.dumps(call.body) if body is None else body,
            skip=call.skip,
            scope=self.scope,
        )
        t = state.terminated
        if t is not None:  # the plugin's headers, but never the proxy's own (CORS, trace id)
            own = forwardable_response_headers(t.headers, {})
            if not any(k.lower() == "content-type" for k in own):
                own["Content-Type"] = "application/json"
            raise RequestTerminated(t.status, t.body, own, t.plugin)
        return state

    # ------------------------------------------------------------------ 5.-8. executors, scheduler

    async def execute(self, call: Call, decision: rules.RouteDecision) -> Reply | StreamReply:
        """The plugin executor a model router chose (after-auth interceptors first: no
        credential is picked on this route)."""
        rec = self.host.get(decision.target)
        if rec is None:
            raise UpstreamError(f"plugin {decision.target} is not active", status=503)
        self.executor = decision.target
        if self.host.any("request_interceptor", call.skip):
            call = await self.after_auth(call, self.model, executor_formats(self.host, rec, call.format)[0])
        return await run_executor(self.reg, self.host, rec, call, self.scope, waits=self._waits())

    async def credential_executor(
        self, call: Call, route: ModelRoute, cred: Credential, pool: Pool | None = None
    ) -> Reply | StreamReply:
        """A model served by a plugin's executor, picked like any credential: the
        after-auth chain first, as for any credential; a 401 gets one auth refresh by the
        plugin (saved into the file and ``pool``'s credential as they are then) and one
        more try (with the same request)."""
        host = self.host
        rec = host.get(cred.attributes["plugin"])
        if rec is None:
            raise UpstreamError(f"plugin {cred.attributes['plugin']} is not active", status=503)
        model = (route.upstream_models(cred) or [route.model])[0]
        alias = route.response_model(cred) if route.force_mapping(cred) else None
        unforced = getattr(route, "unforced", None)  # a pool's names not force-mapped keep theirs
        if alias is not None and unforced is not None and model in unforced(cred):
            alias = None
        if host.any("request_interceptor", call.skip):  # told the executor's input format (CPA)
            call = await self.after_auth(call, model, executor_formats(host, rec, call.format)[0])
        try:
            return await run_executor(
                self.reg,
                host,
                rec,
                call,
                self.scope,
                model=model,
                cred=cred,
                waits=self._waits(),
                alias=alias,
            )
        except UpstreamError as err:
            if err.status != 401:
                raise
            before = snapshot(cred)
            if not await refresh_plugin_auth(host, cred, self.config):
                raise
            await settle(pool, cred, before)
        return await run_executor(
            self.reg, host, rec, call, self.scope, model=model, cred=cred, waits=self._waits(), alias=alias
        )

    def _waits(self) -> tuple[float | None, float | None]:
        """How long a plugin executor's stream may be silent: to its first chunk, then
        between two (the upstream timeouts: a plugin stands in for an upstream)."""
        timeouts = self.config.timeouts
        return timeouts.seconds("upstream_first_byte"), timeouts.seconds("upstream_idle")

    def scheduler(self, call: Call, route: ModelRoute) -> Callable[[Any], Awaitable[Any]] | None:
        """A scheduler plugin's pick for ``pool.pick``, or ``None`` for the built-in one."""
        host = self.host
        if not host.any("scheduler"):
            return None

        async def choose(candidates: Any) -> Any:
            providers = list(route.providers)
            return await rules.pick_auth(
                host,
                candidates,
                provider=providers[0] if len(providers) == 1 else "",
                providers=providers,
                model=route.model,
                stream=call.stream,
                headers=call.headers,
            )

        return choose

    # ------------------------------------------------------------------ 9. response normalizers

    async def normalize_response(
        self,
        call: Call,
        up_fmt: Format,
        model: str,
        flag: str,
        body: bytes,
        translated: Mapping[str, Any] | None = None,
    ) -> bytes:
        """``response.normalize_before`` / ``normalize_after`` on a whole answer; the
        plugins get the client's request and ``translated``, the attempt's upstream body
        (CPA's ``TranslatedRequest``), serialised only when such a plugin is on."""
        host = self.host
        if not host.any(flag):
            return body
        method = (
            abi.RESPONSE_NORMALIZE_BEFORE
            if flag == "response_before_translator"
            else abi.RESPONSE_NORMALIZE_AFTER
        )
        return await translation.normalize_response(
            host,
            flag,
            method,
            from_format=up_fmt.value,
            to_format=call.format.value,
            model=model,
            stream=call.stream,
            original=orjson.dumps(call.body),
            translated=orjson.dumps(translated) if translated is not None else b"",
            body=body,
        )

    def stream_normalizers(self, call: Call, attempt: Attempt, model: str) -> StreamNormalizers | None:
        """The normalizer chains for one stream (``None`` while no response normalizer is
        active: the stream then pays nothing per chunk); the hooks' request fields (the
        client's request, and the attempt's upstream body as ``TranslatedRequest``) are
        encoded once."""
        host = self.host
        before, after = host.any(BEFORE), host.any(AFTER)
        if not (before or after):
            return None
        base = translation.response_params(
            attempt.fmt.value,
            call.format.value,
            model,
            call.stream,
            orjson.dumps(call.body),
            orjson.dumps(attempt.body),
        )
        array = call.format is Format.GEMINI and call.alt != "sse"
        return StreamNormalizers(host, base, call.format, before=before, after=after, array=array)

    # ------------------------------------------------------------------ 10. response interceptors

    async def intercept_response(self, call: Call, result: Reply | StreamReply) -> Reply | StreamReply:
        """Response interceptors on a successful whole answer; for a stream, the chunk
        interceptors' header-init call, whose header edits go out with the stream's head
        (its chunks pass them in ``complete``)."""
        if isinstance(result, StreamReply):
            return await self._init_stream(call, result)
        if result.status >= 400:
            return result
        if not self.host.any("response_interceptor", call.skip):
            return result
        request_headers, original = self._sent(call)
        own = result.headers
        headers, body = await rules.response_intercept(
            self.host,
            request_id=self.request_id,
            source_format=call.format.value,
            model=self.model,
            requested_model=call.model,
            stream=False,
            request_headers=request_headers,
            response_headers=self._seen_headers(own),
            original=original,
            body=result.body,
            skip=call.skip,
            scope=self.scope,
        )
        usage = result.usage if body is result.body else None
        return replace(result, body=body, headers=self._client_headers(own, headers), usage=usage)

    def _sent(self, call: Call) -> tuple[Mapping[str, str], bytes]:
        """The request's headers and body as the upstream got them (after the after-auth
        chain), for the response-side interceptors."""
        if self.sent is not None:
            return self.sent
        return call.headers, orjson.dumps(call.body)

    def _seen_headers(self, own: Mapping[str, str]) -> dict[str, str]:
        """The response headers an interceptor sees: the upstream's, under the proxy's (a
        name of the proxy's replaces the upstream's whatever its case)."""
        raw = self.raw_headers
        if raw is None:
            return dict(own)
        mine = {k.lower() for k in own}
        return {**{k: v for k, v in raw.items() if k.lower() not in mine}, **own}

    def _client_headers(self, own: Mapping[str, str], final: Mapping[str, str]) -> dict[str, str]:
        """What the client gets of the interceptors' ``final`` headers: those it would have
        got anyway (``own``: the proxy's, and the upstream's that ``passthrough-headers``
        forwards) and those a plugin set; an upstream header no plugin changed stays out,
        as do hop-by-hop ones (CPA's downstreamHeadersAfterInterceptors)."""
        raw = self.raw_headers
        if raw is None:
            return dict(final)
        kept = {k.lower() for k in own}
        upstream = CIMultiDict(raw.items())
        out = {k: v for k, v in final.items() if k.lower() in kept}
        set_by_plugins = {k: v for k, v in final.items() if k.lower() not in kept and upstream.get(k) != v}
        out.update(forwardable_response_headers(set_by_plugins, {}))
        return out

    # ------------------------------------------------------------------ 11. usage, lifecycle

    def complete(self, call: Call, result: Reply | StreamReply) -> Reply | StreamReply:
        """The lifecycle and usage records of an answered request; a stream is wrapped so
        its chunks pass the stream-chunk interceptors and the records go out at its end."""
        if isinstance(result, StreamReply):
            return self._wrap_stream(call, result)
        outcome = "rejected" if result.status >= 400 else "succeeded"
        self._complete(call, outcome, result.status, "")
        if result.status < 400 and self.host.any("usage_plugin"):
            self._usage(call, self.started, result.credential, self._whole_usage(call, result.body))
        return result

    def failed(self, call: Call, exc: CliproxyError, credential: Callable[[str], Credential | None]) -> None:
        """A failed request; its usage record names the credential that failed (CPA's executors')."""
        self._complete(call, "failed", exc.status, exc.message)
        if self.host.any("usage_plugin"):
            cid = exc.credential_id if isinstance(exc, UpstreamError) else None
            cred = credential(cid) if cid else None
            self._usage(call, self.started, cred, None, failure=(exc.status, exc.message))

    async def _init_stream(self, call: Call, reply: StreamReply) -> StreamReply:
        if not self.host.any("response_stream_interceptor", call.skip):
            return reply
        request_headers, original = self._sent(call)
        st = self.chunks = rules.ChunkState(
            self.request_id,
            call.format.value,
            self.model,
            call.model,
            request_headers,
            dict(reply.headers),
            original,
            call.skip,
            self.scope,
        )
        await rules.stream_chunk(self.host, st, None)
        return replace(reply, headers=st.response_headers)

    def _wrap_stream(self, call: Call, reply: StreamReply) -> StreamReply:
        host = self.host
        st = self.chunks
        intercept = st is not None
        # the chain sees one event at a time, whatever a read of the upstream held
        cut = None if st is None else StreamChunks(host, st, call.format, alt=call.alt)
        # the usage the upstream's events gave, unless an interceptor may change the chunks
        read_usage = None if intercept else reply.read_usage
        wants_usage = host.any("usage_plugin")
        sniffer = (
            self.reg.adapter(call.format).usage_sniffer() if wants_usage and read_usage is None else None
        )
        first_at: list[float] = []

        async def chunks() -> AsyncGenerator[bytes, None]:
            outcome, status, error = "succeeded", 200, ""
            try:
                first = reply.first
                if cut is not None and first:
                    first = await cut.feed(first)
                if first:
                    first_at.append(time.time())
                    if sniffer is not None:
                        sniffer.feed(first)
                    yield first
                async for piece in reply.rest:
                    if cut is not None:
                        piece = await cut.feed(piece)
                    if piece:
                        if not first_at:
                            first_at.append(time.time())
                        if sniffer is not None:
                            sniffer.feed(piece)
                        yield piece
                if cut is not None and (piece := await cut.feed(b"", end=True)):
                    if sniffer is not None:
                        sniffer.feed(piece)
                    yield piece
            except BaseException as exc:
                outcome, status, error = "canceled", 0, str(exc)
                raise
            else:
                if (failure := stream.failure) is not None:  # a late error (a plugin executor's too)
                    outcome, error = "failed", failure.message
                    status = failure.status if failure.status and failure.status >= 400 else 502
            finally:
                await reply.rest.aclose()  # type: ignore[attr-defined]
                self._complete(call, outcome, status, error)
                if wants_usage:
                    usage = read_usage() if read_usage is not None else sniffer.usage if sniffer else None
                    self._usage(
                        call,
                        first_at[0] if first_at else self.started,
                        reply.credential,
                        usage,
                        failure=(status, error) if outcome != "succeeded" else None,
                    )

        stream = _Completed(chunks, reply.rest, self.scope)
        return StreamReply(reply.headers, b"", stream, reply.credential, read_usage)

    def _complete(self, call: Call, outcome: str, status: int, error: str) -> None:
        if not self.host.any("request_lifecycle_plugin", call.skip):
            return
        rules.complete(
            self.host,
            {
                "RequestID": self.request_id,
                "TraceID": self.request_id,
                "SourceFormat": call.format.value,
                "Model": self.model,
                "RequestedModel": call.model,
                "Stream": call.stream,
                "Outcome": outcome,
                "StatusCode": status,
                "Error": error,
                "StartedAt": format_utc(self.started),
                "CompletedAt": format_utc(time.time()),
                "Metadata": {},
            },
            call.skip,
        )

    def _whole_usage(self, call: Call, body: bytes) -> Any:
        try:
            return self.reg.adapter(call.format).parse_response(orjson.loads(body)).usage
        except (CliproxyError, orjson.JSONDecodeError, TypeError, ValueError, KeyError):
            return None

    def _upstream_headers(self, call: Call) -> Mapping[str, str] | None:
        """The last upstream answer's headers, for usage records (CPA's ResponseHeaders):
        a success's, else a failed attempt's as the request's trace kept them."""
        if self.raw_headers is None and call.trace is not None:
            return call.trace.answer_headers()
        return self.raw_headers

    def _usage(
        self, call: Call, first: float, cred: Any, usage: Any, failure: tuple[int, str] | None = None
    ) -> None:
        """``UsageRecord`` s for the usage plugins (CPA's shape; durations in nanoseconds): one
        per upstream call, as CPA's executors publish them: each failed call before the last
        (its credential, status and error body), then the request's own. An answer of a
        router's plugin executor names that plugin as provider; none is made for it when the
        request is itself a plugin's nested call, or when the plugin called the host to answer
        (the nested request has its own record; CPA). Tokens an upstream's own tool spent
        get a record of their own after the request's (CPA ``PublishAdditionalModel``)."""
        if self.executor and (call.skip or self.scope.nested):
            return
        trace = call.trace  # (a plugin's own host.http calls are no upstream call)
        calls = trace.upstream_calls() if trace is not None and len(trace.attempts) > 1 else ()
        for a in calls[:-1]:
            body = a.response_body.decode("utf-8", "replace") if a.response_body else a.error
            received = a.received if a.received is not None else a.sent
            rules.usage(
                self.host,
                usage_record(
                    call,
                    self.model,
                    self.executor,
                    (a.sent, received, received),
                    a.cred,
                    None,
                    (a.status or 0, body),
                    a.response_headers,
                ),
            )
        times = (self.started, first, time.time())
        headers = self._upstream_headers(call)
        rules.usage(
            self.host, usage_record(call, self.model, self.executor, times, cred, usage, failure, headers)
        )
        tool = trace.tool_usage if trace is not None else None
        if tool is not None and tool.usage is not None:  # an upstream tool's own tokens (usage.tool_usage)
            record = usage_record(call, tool.model, self.executor, times, cred, tool.usage, None, headers)
            rules.usage(self.host, record)


class _Completed(LazyStream):
    """The plugin flow's stream (:meth:`Flow._wrap_stream`'s generator, read as it is: no
    step per chunk) that shows the failure it ended with, which the request's usage record
    reads at its end: its source's (an error event mid-answer), or a plugin executor's."""

    __slots__ = ("_make", "_scope", "_source")

    def __init__(
        self, make: Callable[[], AsyncGenerator[bytes, None]], source: Any, scope: ScopeContext
    ) -> None:
        super().__init__()
        self._make, self._source, self._scope = make, source, scope

    def _pull(self) -> AsyncGenerator[bytes, None]:
        return self._make()

    @property
    def failure(self) -> ir.Error | None:
        failure: ir.Error | None = getattr(self._source, "failure", None)
        if failure is None and self._scope.failure is not None:
            status, message = self._scope.failure
            failure = ir.Error(message, status=status)
        return failure


def _applied(call: Call, state: rules.Intercepted) -> Call:
    """``call`` with an interceptor chain's headers and (JSON object) body."""
    if not state.changed:
        return call
    try:
        body = orjson.loads(state.body)
    except orjson.JSONDecodeError:
        return replace(call, headers=state.headers)
    if not isinstance(body, dict):
        return replace(call, headers=state.headers)
    if "model" not in body and "model" in call.body:  # CPA holds the model apart from the body
        body["model"] = call.body["model"]
    return replace(call, headers=state.headers, body=body, _ir=None)
