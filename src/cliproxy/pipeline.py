"""The request lifecycle, in one place.

Every generation request walks the same stages, in CPA's order (see docs/architecture.md);
``Pipeline.run`` reads them top to bottom:

1. access (server middleware)            7. request translation, thinking, payload rules
2. model router plugins      [seam]      8. upstream call; on failure classify, cool down,
3. model resolution                         fail over before the first byte
4. interceptors before auth  [seam]      9. response translation (whole or event by event)
5. credential pick (scheduler [seam])   10. response / stream-chunk interceptors [seam]
6. interceptors after auth   [seam]     11. usage record, lifecycle completion    [seam]

The plugin stages are methods of a per-request ``plugins.flow.Flow``, made only when a
plugin is loaded: without one each seam costs one ``is None`` test. The client's ``Call``
is never changed; each credential attempt works on an ``Attempt`` of its own
(``cliproxy.calls``). Request-retry rounds, ``max-retry-credentials`` and
``max-retry-interval`` follow CPA: a round tries every eligible credential once; another
round starts only for retryable statuses, after waiting for the nearest cooldown.
Upstreams are reached through the transport protocol (``providers.transport``); turning
answers into replies (stage 9) lives in ``cliproxy.replies``.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Mapping
from typing import Any, TypeVar

from cliproxy import replies
from cliproxy.calls import Attempt, Call, Reply, RequestTerminated, StreamReply
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.session import extract_session_key
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError, UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.validate import validate_body
from cliproxy.models.listing import CLAUDE_CLOAK_PREFIX, uncloak_claude_id
from cliproxy.models.registry import ModelRoute
from cliproxy.models.shaping import Shaper
from cliproxy.plugins.flow import Flow, route_for
from cliproxy.providers.base import REQUEST_FAULTS, Provider, RewriteError
from cliproxy.providers.http import HttpClient, proxy_key
from cliproxy.providers.identity import forwardable_response_headers
from cliproxy.providers.transport import UpstreamNetworkError, read_body
from cliproxy.translate.registry import Registry

__all__ = ["Call", "Pipeline", "Reply", "StreamReply"]

log = logging.getLogger(__name__)

RETRYABLE = frozenset({403, 408, 429, 500, 502, 503, 504})
_R = TypeVar("_R", Reply, StreamReply)


class Pipeline:
    def __init__(
        self,
        *,
        pool: Pool,
        models: Any,
        providers: Any,
        http: HttpClient,
        translations: Registry,
        config: Any,
        refresher: Any = None,
        plugins: Any = None,
    ) -> None:
        self.pool = pool
        self.models = models
        self.providers = providers
        self.http = http
        self.translations = translations
        self.config = config
        self.refresher = refresher
        self.plugins = plugins
        self.shaper: Shaper | None = None

    # ------------------------------------------------------------------ the lifecycle

    async def run(self, call: Call) -> Reply | StreamReply:
        """One request, stage by stage (numbers as in the module docstring)."""
        validate_body(call.format, call.body)  # a malformed body is the client's 400, never sent upstream
        model = call.model
        if call.format is Format.CLAUDE and model.startswith(CLAUDE_CLOAK_PREFIX):
            model = uncloak_claude_id(model)  # an id we renamed for Claude Code's model list
        flow = self._flow(call, model)  # None without plugins: every plugin stage is one test
        if flow is not None:
            call = flow.bind(call)
        result: Reply | StreamReply
        try:
            # 2. model router plugins
            decision = await flow.route(call, self.pool.providers) if flow is not None else None
            # 3. model resolution (a router may have named a provider or an executor)
            route = route_for(self.models, decision, model)
            # 4. interceptors before auth
            if flow is not None:
                call = await flow.before_auth(call)
            # 5.-9. credential pick (scheduler), interceptors after auth, translation, upstream
            # call with failover, response translation; or all on the plugin executor of 2.
            if route is None:  # the router named a plugin executor (kinds "self" / "executor")
                assert decision is not None and flow is not None
                result = await flow.execute(call, decision)
            else:
                result = await self.execute(call, route, flow)
            # 10. response interceptors
            if flow is not None:
                result = await flow.intercept_response(call, result)
        except RequestTerminated as stop:  # an interceptor answered the client (4. or 6.)
            result = stop.reply
        except CliproxyError as exc:
            if flow is not None:
                flow.failed(call, exc)  # 11. for a request that failed
            raise
        # 11. usage records and lifecycle completion (a stream's, when it ends)
        return flow.complete(call, result) if flow is not None else result

    def _flow(self, call: Call, model: str) -> Flow | None:
        host = self.plugins
        if host is None or not host.snapshot:
            return None
        return Flow(host, self.translations, self.config, call, model)

    async def execute(self, call: Call, route: ModelRoute, flow: Flow | None = None) -> Reply | StreamReply:
        """Stages 5-9 for a resolved route: pick, attempt, fail over, retry rounds."""
        session_key = extract_session_key(call.headers, call.body) if self.pool.session_affinity else None
        scheduler = flow.scheduler(call, route) if flow is not None else None
        rounds = max(0, int(self.config.request_retry or 0)) + 1
        last: UpstreamError | None = None
        for round_no in range(rounds):
            tried: set[str] = set()
            try:
                return await self._round(call, route, tried, session_key, scheduler, flow)
            except _RoundFailed as failed:
                last = failed.error
            if round_no + 1 >= rounds or last.status not in RETRYABLE:
                break
            if not await self._wait_for_cooldown(route):
                break
        assert last is not None
        raise last

    async def _wait_for_cooldown(self, route: ModelRoute) -> bool:
        limit = float(self.config.max_retry_interval or 0)
        wait = await self.pool.next_available_in(route.model, route.providers, supports=route.supports)
        if wait is None or limit <= 0 or wait > limit:
            return False
        jitter = random.uniform(0, min(wait / 4, 2.0)) if wait > 0 else 0.0
        await asyncio.sleep(wait + jitter)
        return True

    async def _round(
        self,
        call: Call,
        route: ModelRoute,
        tried: set[str],
        session_key: str | None,
        scheduler: Any,
        flow: Flow | None,
    ) -> Reply | StreamReply:
        max_creds = int(self.config.max_retry_credentials or 0)
        last: UpstreamError | None = None
        while not max_creds or len(tried) < max_creds:
            try:
                cred = await self.pool.pick(  # 5. credential pick
                    route.model,
                    route.providers,
                    tried,
                    session_key=session_key,
                    supports=route.supports,
                    scheduler=scheduler,
                )
            except (CooldownError, NoCredentialError):
                if last is None:
                    raise
                break
            tried.add(cred.id)
            try:
                return await self._with_credential(call, route, cred, flow)
            except _Final:
                raise
            except UpstreamError as err:
                last = err
        if last is None:
            raise NoCredentialError(route.model, list(route.providers))
        raise _RoundFailed(last)

    async def _with_credential(
        self, call: Call, route: ModelRoute, cred: Credential, flow: Flow | None
    ) -> Reply | StreamReply:
        if cred.attributes.get("plugin"):
            return await self._plugin_credential(call, route, cred, flow)
        provider: Provider = self.providers.provider_for(cred)
        refreshed = False
        names = route.upstream_models(cred) or [route.model]
        i = 0
        while i < len(names):
            try:
                return await self._attempt(call, route, cred, provider, names[i], flow)
            except RewriteError as err:  # the answer's fault: no cooldown, no other credential
                raise _Final(err) from err
            except UpstreamError as err:
                if err.status == 401 and not refreshed and self.refresher is not None and cred.refresh_token:
                    refreshed = True
                    try:
                        cred = await self.refresher.refresh_now(cred)
                        continue  # the same credential, once more, with a fresh token
                    except CliproxyError as exc:
                        log.warning("token refresh of %s failed: %s", cred.label or cred.id, exc)
                decision = await self.pool.mark_failure(
                    cred, route.model, err.status, retry_after=err.retry_after, body=err.body or b""
                )
                _log_failure(cred, provider, route.model, err, decision.reason or decision.kind)
                if err.status in REQUEST_FAULTS or decision.request_fault or decision.stop:
                    raise _Final(err) from err
                if len(names) > 1 and err.status in (404, 429, 500, 502, 503, 504) and i + 1 < len(names):
                    i += 1  # a model pool: the next upstream name before the next credential
                    continue
                raise
        raise UpstreamError("no upstream model for credential", status=502)

    async def _plugin_credential(
        self, call: Call, route: ModelRoute, cred: Credential, flow: Flow | None
    ) -> Reply | StreamReply:
        """A credential a plugin's executor serves: cooled and rotated like any other."""
        try:
            if flow is None:
                raise UpstreamError(f"plugin {cred.attributes['plugin']} is not active", status=503)
            result = await flow.credential_executor(call, route, cred)
        except UpstreamError as err:
            decision = await self.pool.mark_failure(
                cred, route.model, err.status, retry_after=err.retry_after
            )
            if err.status in REQUEST_FAULTS or decision.request_fault or decision.stop:
                raise _Final(err) from err
            raise
        await self.pool.mark_success(cred, route.model)
        result.credential = cred
        return result

    # ------------------------------------------------------------------ one attempt

    async def _attempt(
        self,
        call: Call,
        route: ModelRoute,
        cred: Credential,
        provider: Provider,
        model: str,
        flow: Flow | None,
    ) -> Reply | StreamReply:
        reg = self.translations
        if call.action == "count" and not provider.counts_upstream:
            return replies.local_count(reg, call, cred)
        attempt = self._start(call, cred, provider, model)  # 7. request translation
        generate = call.action == "generate"
        if flow is not None and generate:  # 6. interceptors after auth, request normalizers
            attempt.headers, raw = await flow.upstream_request(call, route.model, attempt)
            if raw is not None:
                attempt.body = replies.loads_object(raw)
        if self.shaper is not None and generate:  # 7. thinking, payload rules
            self.shaper.shape(
                attempt.body,
                client=call.format,
                client_body=call.body,
                route_model=route.model,
                requested=route.requested,
                suffix=route.suffix,
                provider=provider.key,
                upstream=attempt.fmt,
                model=model,
                headers=attempt.headers,
            )
        upstream_stream = (call.stream or provider.always_stream) and generate
        extra = {"fmt": attempt.fmt} if provider.format_dependent else {}
        upreq = provider.build(
            cred,
            attempt.body,
            model=model,
            stream=upstream_stream,
            client_headers=attempt.headers,
            action=call.action,
            **extra,
        )
        proxy = proxy_key(cred.proxy_url, self.config.proxy_url)
        pending = provider.prepare(cred, self.http, proxy=proxy)
        if pending is not None:
            upreq.headers.update(await pending)
        trace = call.trace
        if trace is not None:  # request log: this upstream attempt
            trace.upstream_request(
                upreq.method, upreq.url, upreq.headers, upreq.body, cred, provider.key, model
            )
        client = provider.transport or self.http  # 8. upstream call
        resp = await client.request(
            upreq.method, upreq.url, headers=upreq.headers, body=upreq.body, proxy=proxy
        )
        if trace is not None:
            trace.upstream_response(resp.status, resp.headers)
        if resp.status >= 400:
            data = await read_body(resp)
            if trace is not None:
                trace.upstream_body(data)
            if resp.status == 401:
                provider.forget(cred)  # a cached token the upstream no longer takes
            raise provider.classify(resp.status, resp.headers, data, cred.id)
        if call.action == "count":  # 9. response translation
            reply = await replies.count_reply(reg, call, attempt, resp)
            await self.pool.mark_success(cred, route.model)
            return self._upstream_headers(reply, resp.headers)
        chunks = replies.chunks_of(resp, attempt)
        if trace is not None:
            chunks = trace.upstream_chunks(chunks)
        if upreq.rewrite_chunk is not None:  # e.g. tool names of a cloaked Claude request
            chunks = replies.rewritten(chunks, upreq.rewrite_chunk)
        alias = route.response_model(cred) if route.force_mapping(cred) else None
        if call.stream:
            stream = await replies.open_stream(reg, call, attempt, resp, chunks, alias)
            await self.pool.mark_success(cred, route.model)
            return self._upstream_headers(stream, resp.headers)
        whole = await replies.whole_reply(
            reg,
            call,
            attempt,
            resp,
            chunks,
            streamed=upreq.stream,
            alias=alias,
            route_model=route.model,
            flow=flow,
            rewrite=upreq.rewrite_body,
        )
        await self.pool.mark_success(cred, route.model)
        if flow is not None:
            whole.body = await flow.normalize_response(
                call, attempt.fmt, route.model, "response_after_translator", whole.body
            )
        return self._upstream_headers(whole, resp.headers)

    def _upstream_headers(self, reply: _R, upstream: Mapping[str, str]) -> _R:
        """``passthrough-headers: true``: the upstream answer's headers a client may see
        join the reply (the proxy's own headers win); off, none reach the client."""
        if self.config.passthrough_headers:
            reply.headers.update(forwardable_response_headers(upstream, reply.headers))
        return reply

    def _start(self, call: Call, cred: Credential, provider: Provider, model: str) -> Attempt:
        """The attempt's own upstream body: the client's (pass-through) or translated from
        the client's IR under the upstream model name; never shared with the ``Call``."""
        up_fmt = provider.upstream_format(call.format)
        if up_fmt == call.format:
            return Attempt(cred, provider, model, up_fmt, call.headers, _own(call.body))
        req = Attempt.for_model(call.client_ir(self.translations), model)
        body = self.translations.adapter(up_fmt).build_request(req)
        return Attempt(cred, provider, model, up_fmt, call.headers, _own(body), req)


def _own(body: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``body`` whose nested objects are copies too, down to (not into) arrays.

    Shaping writes thinking settings and payload rules into objects (``thinking``,
    ``generationConfig.thinkingConfig``, ``metadata``...) in place: they must be this
    attempt's, not the client's request nor the IR a later attempt translates again.
    Arrays (messages, tools) stay shared: copying them would cost a deep copy per request.
    """
    out = body.copy()
    for key, value in body.items():
        if type(value) is dict:
            out[key] = _own(value)
    return out


class _RoundFailed(Exception):
    def __init__(self, error: UpstreamError) -> None:
        self.error = error


class _Final(UpstreamError):
    """An upstream error that must go to the client at once (a request fault)."""

    def __init__(self, err: UpstreamError) -> None:
        super().__init__(
            err.message,
            status=err.status,
            body=err.body,
            retry_after=err.retry_after,
            headers=err.headers,
            credential_id=err.credential_id,
        )


def _log_failure(cred: Credential, provider: Provider, model: str, err: UpstreamError, why: str) -> None:
    """One line per failed attempt: the credential's label (never its key) and, for a
    network failure, the detail the client does not see (origin, cause)."""
    who = cred.label or cred.id
    if isinstance(err, UpstreamNetworkError):
        log.warning("upstream %s (%s) failed for %s: %s (%s)", who, provider.key, model, err.detail, why)
    elif err.status >= 500 and err.body and not err.body.lstrip().startswith((b"{", b"[")):
        log.warning(
            "upstream %s (%s) answered %d for %s with a non-JSON body: %r (%s)",
            who,
            provider.key,
            err.status,
            model,
            err.body[:300],
            why,
        )
    else:
        log.info("upstream %s answered %d for %s (%s)", who, err.status, model, why)
