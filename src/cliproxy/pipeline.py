"""The request lifecycle, in one place.

Every generation request walks the same stages, in CPA's order (see the house plan):

1. access (server middleware)            7. request translation, thinking, payload rules
2. model router plugins      [seam]      8. upstream call; on failure classify, cool down,
3. model resolution                         fail over before the first byte
4. interceptors before auth  [seam]      9. response translation (whole or event by event)
5. credential pick                      10. response / stream-chunk interceptors [seam]
6. interceptors after auth   [seam]     11. usage record, lifecycle completion    [seam]

The plugin seams are attribute checks on ``self.plugins``; with no plugin loaded they
cost one ``is None`` test each. Request-retry rounds, ``max-retry-credentials`` and
``max-retry-interval`` follow CPA: a round tries every eligible credential once; another
round starts only for retryable statuses, after waiting for the nearest cooldown.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError, UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.sse import SSEDecoder, frame_data
from cliproxy.formats.validate import validate_body
from cliproxy.models.listing import CLAUDE_CLOAK_PREFIX, uncloak_claude_id
from cliproxy.models.shaping import Shaper
from cliproxy.providers.base import REQUEST_FAULTS, Provider
from cliproxy.providers.http import HttpClient, UpstreamNetworkError, network_error, proxy_key, read_body
from cliproxy.translate import ir
from cliproxy.translate.collect import Collector
from cliproxy.translate.registry import Registry
from cliproxy.translate.stream import Passthrough, StreamTranslator

__all__ = ["Call", "Pipeline", "Reply", "StreamReply"]

log = logging.getLogger("cliproxy.pipeline")

RETRYABLE = frozenset({403, 408, 429, 500, 502, 503, 504})
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "Connection": "keep-alive"}


@dataclass(slots=True)
class Call:
    """One client request, as the server hands it to the pipeline."""

    format: Format
    body: dict[str, Any]
    model: str
    stream: bool
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    action: str = "generate"  # or "count"
    alt: str | None = None  # Gemini ?alt=
    skip: str | None = None  # a plugin calling back into the host: skipped for routers/interceptors
    request_id: str = ""
    scope: Any = None  # plugins' host-callback context for this request
    trace: Any = None  # cliproxy.usage.RequestTrace when request logs / usage records are on
    _ir: ir.Request | None = None

    def reset_ir(self) -> None:
        """Forget the parsed IR (a plugin rewrote the body)."""
        self._ir = None

    def client_ir(self, registry: Registry) -> ir.Request:
        """The client request as IR, parsed once however many attempts need it."""
        if self._ir is None:
            req = registry.adapter(self.format).parse_request(self.body)
            req.model = req.model or self.model
            req.stream = self.stream
            if self.format is Format.GEMINI:
                req.extras["_alt"] = self.alt
                if self.alt is None:
                    req.extras["_stream_framing"] = "array"
            self._ir = req
        return self._ir


@dataclass(slots=True)
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]
    credential: Credential | None = None


@dataclass(slots=True)
class StreamReply:
    """An open stream whose first bytes are known; iterate for the rest."""

    headers: dict[str, str]
    first: bytes
    rest: AsyncIterator[bytes]
    credential: Credential | None = None


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

    # ------------------------------------------------------------------ entry

    async def run(self, call: Call) -> Reply | StreamReply:
        validate_body(call.format, call.body)  # a malformed body is the client's 400, never sent upstream
        model = call.model
        if call.format is Format.CLAUDE and model.startswith(CLAUDE_CLOAK_PREFIX):
            model = uncloak_claude_id(model)  # an id we renamed for Claude Code's model list
        host = self.plugins
        if host is not None and host.snapshot:
            from cliproxy.plugins import flow

            return await flow.run(self, host, call, model)
        return await self.execute(call, self.models.resolve(model))

    async def execute(self, call: Call, route: Any) -> Reply | StreamReply:
        """Stages 5-9 for a resolved route: pick, attempt, fail over, retry rounds."""
        session_key = self._session_key(call)
        rounds = max(0, int(self.config.request_retry or 0)) + 1
        last: UpstreamError | None = None
        for round_no in range(rounds):
            tried: set[str] = set()
            try:
                return await self._round(call, route, tried, session_key)
            except _RoundFailed as failed:
                last = failed.error
            if round_no + 1 >= rounds or last.status not in RETRYABLE:
                break
            if not await self._wait_for_cooldown(route):
                break
        assert last is not None
        raise last

    async def _wait_for_cooldown(self, route: Any) -> bool:
        limit = float(self.config.max_retry_interval or 0)
        wait = await self.pool.next_available_in(route.model, route.providers, supports=route.supports)
        if wait is None or limit <= 0 or wait > limit:
            return False
        jitter = random.uniform(0, min(wait / 4, 2.0)) if wait > 0 else 0.0
        await asyncio.sleep(wait + jitter)
        return True

    async def _round(
        self, call: Call, route: Any, tried: set[str], session_key: str | None
    ) -> Reply | StreamReply:
        max_creds = int(self.config.max_retry_credentials or 0)
        last: UpstreamError | None = None
        while not max_creds or len(tried) < max_creds:
            try:
                cred = await self.pool.pick(
                    route.model,
                    route.providers,
                    tried,
                    session_key=session_key,
                    supports=route.supports,
                    scheduler=self._scheduler(call, route),
                )
            except (CooldownError, NoCredentialError):
                if last is None:
                    raise
                break
            tried.add(cred.id)
            try:
                return await self._with_credential(call, route, cred)
            except _Final:
                raise
            except UpstreamError as err:
                last = err
        if last is None:
            raise NoCredentialError(route.model, list(route.providers))
        raise _RoundFailed(last)

    async def _with_credential(self, call: Call, route: Any, cred: Credential) -> Reply | StreamReply:
        if cred.attributes.get("plugin"):
            return await self._plugin_executor(call, route, cred)
        provider: Provider = self.providers.provider_for(cred)
        refreshed = False
        names = route.upstream_models(cred) or [route.model]
        i = 0
        while i < len(names):
            try:
                return await self._attempt(call, route, cred, provider, names[i])
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

    # ------------------------------------------------------------------ one attempt

    async def _attempt(
        self, call: Call, route: Any, cred: Credential, provider: Provider, model: str
    ) -> Reply | StreamReply:
        if call.action == "count" and not provider.counts_upstream:
            return self._local_count(call, cred)
        up_fmt = provider.upstream_format(call.format)
        req_ir: ir.Request | None = None
        if up_fmt == call.format:
            body = dict(call.body)
        else:
            req_ir = call.client_ir(self.translations)
            req_ir.model = model
            body = self.translations.adapter(up_fmt).build_request(req_ir)
        if self.plugins is not None and call.action == "generate":
            body = await self._plugin_request(call, route, up_fmt, model, body)
        if self.shaper is not None and call.action == "generate":
            self.shaper.shape(
                body,
                client=call.format,
                client_body=call.body,
                route_model=route.model,
                requested=route.requested,
                suffix=route.suffix,
                provider=provider.key,
                upstream=up_fmt,
                model=model,
                headers=call.headers,
            )
        upstream_stream = (call.stream or provider.always_stream) and call.action == "generate"
        extra = {"fmt": up_fmt} if provider.format_dependent else {}
        upreq = provider.build(
            cred,
            body,
            model=model,
            stream=upstream_stream,
            client_headers=call.headers,
            action=call.action,
            **extra,
        )
        proxy = proxy_key(cred.proxy_url, getattr(self.config, "proxy_url", ""))
        prepare = getattr(provider, "prepare", None)
        if prepare is not None:
            upreq.headers.update(await prepare(cred, self.http, proxy=proxy))
        trace = call.trace
        if trace is not None:  # request log: this upstream attempt
            trace.upstream_request(
                upreq.method, upreq.url, upreq.headers, upreq.body, cred, provider.key, model
            )
        resp = await self.http.request(
            upreq.method, upreq.url, headers=upreq.headers, body=upreq.body, proxy=proxy
        )
        if trace is not None:
            trace.upstream_response(resp.status, resp.headers)
        if resp.status >= 400:
            data = await read_body(resp)
            if trace is not None:
                trace.upstream_body(data)
            if resp.status == 401 and (forget := getattr(provider, "forget", None)) is not None:
                forget(cred)  # a cached token the upstream no longer takes
            raise provider.classify(resp.status, resp.headers, data, cred.id)
        if call.action == "count":
            return await self._count_reply(call, up_fmt, resp, cred, route)
        chunks = _chunks(resp, provider)
        if trace is not None:
            chunks = trace.upstream_chunks(chunks)
        if call.stream:
            return await self._open_stream(call, route, cred, up_fmt, req_ir, resp, chunks)
        return await self._whole_reply(
            call, route, cred, up_fmt, req_ir, resp, chunks, provider, upreq.stream
        )

    async def _whole_reply(
        self,
        call: Call,
        route: Any,
        cred: Credential,
        up_fmt: Format,
        req_ir: ir.Request | None,
        resp: aiohttp.ClientResponse,
        chunks: AsyncIterator[bytes],
        provider: Provider,
        streamed: bool,
    ) -> Reply:
        alias = route.response_model(cred) if route.force_mapping(cred) else None
        try:
            if streamed:  # the upstream only streams: collect it into one response
                collector = Collector()
                decoder = self.translations.adapter(up_fmt).stream_decoder(req_ir)
                async for chunk in chunks:
                    collector.feed(decoder.decode(chunk))
                collector.feed(decoder.flush())
                if collector.error is not None:
                    raise UpstreamError(
                        collector.error.message, status=collector.error.status or 502, credential_id=cred.id
                    )
                out = self.translations.adapter(call.format).build_response(
                    collector.response(alias), call.client_ir(self.translations)
                )
                body = _dumps(out)
            else:
                data = await resp.read()
                if call.trace is not None:
                    call.trace.upstream_body(data)
                if (unwrap := getattr(provider, "unwrap_body", None)) is not None:
                    data = _dumps(unwrap(_loads(data)))
                if self.plugins is not None:
                    data = await self._plugin_response(
                        call, up_fmt, route.model, "response_before_translator", data
                    )
                if up_fmt == call.format and alias is None:
                    body = _json_object(data)
                else:
                    parsed = _loads(data)
                    if up_fmt == call.format:
                        parsed["model"] = alias
                        body = _dumps(parsed)
                    else:
                        body = _dumps(
                            self.translations.translate_response(
                                up_fmt, call.format, parsed, call.client_ir(self.translations), model=alias
                            )
                        )
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise network_error(exc, "while sending the response") from exc
        finally:
            resp.release()
        await self.pool.mark_success(cred, route.model)
        if self.plugins is not None:
            body = await self._plugin_response(call, up_fmt, route.model, "response_after_translator", body)
        return Reply(200, body, {"Content-Type": "application/json"}, cred)

    async def _count_reply(
        self, call: Call, up_fmt: Format, resp: aiohttp.ClientResponse, cred: Credential, route: Any
    ) -> Reply:
        data = _loads(await read_body(resp))
        await self.pool.mark_success(cred, route.model)
        if up_fmt == call.format:
            return Reply(200, _dumps(data), {"Content-Type": "application/json"})
        tokens = int(data.get("input_tokens") or data.get("totalTokens") or 0)
        out = self.translations.adapter(call.format).count_tokens_response(tokens)
        return Reply(200, _dumps(out), {"Content-Type": "application/json"})

    def _local_count(self, call: Call, cred: Credential) -> Reply:
        """An estimate (about 4 bytes a token, as tokenizers average on English and JSON)
        for an upstream with no count endpoint: never a generation sent to count."""
        tokens = max(1, (len(orjson.dumps(call.body)) + 3) // 4)
        out = self.translations.adapter(call.format).count_tokens_response(tokens)
        return Reply(200, _dumps(out), {"Content-Type": "application/json"}, cred)

    # ------------------------------------------------------------------ streams

    async def _open_stream(
        self,
        call: Call,
        route: Any,
        cred: Credential,
        up_fmt: Format,
        req_ir: ir.Request | None,
        resp: aiohttp.ClientResponse,
        chunks: AsyncIterator[bytes],
    ) -> StreamReply:
        """Read until the first content, so an early failure can still fail over."""
        alias = route.response_model(cred) if route.force_mapping(cred) else None
        tr: StreamTranslator | Passthrough
        # upstreams always stream SSE: a Gemini client without ?alt=sse wants the JSON array
        reframe = call.format is Format.GEMINI and call.alt != "sse"
        if up_fmt == call.format and alias is None and not reframe:
            adapter = self.translations.adapter(up_fmt)
            tr = Passthrough(adapter.stream_decoder(None), adapter.usage_sniffer())
        else:
            tr = self.translations.stream_translator(
                up_fmt, call.format, call.client_ir(self.translations), model=alias
            )
            if req_ir is not None:
                tr._decoder.request = req_ir  # restore names against what the upstream was sent
        pending: list[bytes] = []
        try:
            while not tr.started:
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    pending.append(tr.finish())
                    break
                pending.append(tr.feed(chunk))
                if tr.early_error is not None:
                    break
        except (TimeoutError, aiohttp.ClientError) as exc:
            resp.release()
            raise network_error(exc, "before the first stream event") from exc
        if tr.early_error is not None or not tr.started:
            resp.release()
            err = tr.early_error
            raise UpstreamError(
                err.message if err else "upstream stream ended before any content",
                status=(err.status if err else 502) or 502,
                credential_id=cred.id,
            )
        await self.pool.mark_success(cred, route.model)
        headers = dict(SSE_HEADERS)
        if call.format is Format.GEMINI and call.alt != "sse":
            headers["Content-Type"] = "application/json"
        return StreamReply(headers, b"".join(pending), self._rest(call, tr, chunks, resp), cred)

    async def _rest(
        self,
        call: Call,
        tr: StreamTranslator | Passthrough,
        chunks: AsyncIterator[bytes],
        resp: aiohttp.ClientResponse,
    ) -> AsyncIterator[bytes]:
        try:
            while not tr.ended:  # once an error event went out (or must), stop reading the upstream
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                out = tr.feed(chunk)
                if out:
                    yield out
            if isinstance(tr, Passthrough) and tr.late_error is not None:
                log.warning("upstream stream for %s broke: %s", call.model, tr.late_error.message)
                yield self._stream_error(call, tr, tr.late_error)
                return
            tail = tr.finish()
            if tail:
                yield tail
        except (TimeoutError, aiohttp.ClientError) as exc:
            # after the first byte the only way to fail is an in-format error event
            err = network_error(exc, "in the middle of the stream")
            log.warning("upstream stream for %s broke off: %s", call.model, err.detail)
            yield self._stream_error(call, tr, ir.Error(err.message, status=err.status))
        finally:
            resp.release()

    def _stream_error(self, call: Call, tr: StreamTranslator | Passthrough, error: ir.Error) -> bytes:
        """The in-format end of a stream whose first bytes the client already has."""
        if isinstance(tr, StreamTranslator):
            return tr.fail(error)
        tr.ended = True
        try:
            request: ir.Request | None = call.client_ir(self.translations)
        except CliproxyError:
            request = None
        encoder = self.translations.adapter(call.format).stream_encoder(request, None)
        encoder.resume()  # the client has the stream's opening bytes (Gemini's "[")
        return encoder.encode(error) + encoder.flush()

    # ------------------------------------------------------------------ plugin seams

    async def _plugin_executor(self, call: Call, route: Any, cred: Credential) -> Reply | StreamReply:
        """A model served by a plugin's executor, picked like any credential."""
        from cliproxy.plugins.callbacks import ScopeContext
        from cliproxy.plugins.executor import run_executor

        host = self.plugins
        rec = host.get(cred.attributes["plugin"]) if host is not None else None
        if rec is None:
            raise UpstreamError(f"plugin {cred.attributes['plugin']} is not active", status=503)
        model = (route.upstream_models(cred) or [route.model])[0]
        scope = call.scope or ScopeContext(dict(call.headers))
        try:
            try:
                result = await run_executor(self, host, rec, call, scope, model=model, cred=cred)
            except UpstreamError as err:
                from cliproxy.plugins.models import refresh_plugin_auth

                if err.status != 401 or not await refresh_plugin_auth(host, cred, self.config):
                    raise
                result = await run_executor(self, host, rec, call, scope, model=model, cred=cred)  # once more
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

    def _scheduler(self, call: Call, route: Any) -> Any:
        host = self.plugins
        if host is None or not host.any("scheduler"):
            return None
        from cliproxy.plugins import rules

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

    async def _plugin_request(
        self, call: Call, route: Any, up_fmt: Format, model: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """After-auth interceptors and request normalizers on the upstream body."""
        host = self.plugins
        from cliproxy.plugins import abi, rules

        raw = orjson.dumps(body)
        changed = False
        if host.any("request_interceptor", call.skip):
            state = await rules.intercept(
                host,
                abi.REQUEST_INTERCEPT_AFTER,
                request_id=call.request_id,
                source_format=call.format.value,
                to_format=up_fmt.value,
                model=route.model,
                requested_model=call.model,
                stream=call.stream,
                headers=call.headers,
                body=raw,
                skip=call.skip,
                scope=call.scope,
            )
            if state.terminated is not None:
                raise _Terminated(state.terminated)
            if state.changed:
                call.headers = state.headers
                raw, changed = state.body, True
        if host.any("request_normalizer"):
            new = await rules.normalize_request(
                host,
                from_format=call.format.value,
                to_format=up_fmt.value,
                model=model,
                stream=call.stream,
                body=raw,
            )
            changed = changed or new is not raw
            raw = new
        return _loads(raw) if changed else body

    async def _plugin_response(self, call: Call, up_fmt: Format, model: str, flag: str, body: bytes) -> bytes:
        host = self.plugins
        if host is None or not host.any(flag):
            return body
        from cliproxy.plugins import abi, rules

        method = (
            abi.RESPONSE_NORMALIZE_BEFORE
            if flag == "response_before_translator"
            else abi.RESPONSE_NORMALIZE_AFTER
        )
        return await rules.normalize_response(
            host,
            flag,
            method,
            from_format=up_fmt.value,
            to_format=call.format.value,
            model=model,
            stream=call.stream,
            original=orjson.dumps(call.body),
            translated=b"",
            body=body,
        )

    # ------------------------------------------------------------------ helpers

    def _session_key(self, call: Call) -> str | None:
        if not self.pool.session_affinity:
            return None
        from cliproxy.credentials.session import extract_session_key

        return extract_session_key(call.headers, call.body)


def _chunks(resp: aiohttp.ClientResponse, provider: Provider) -> AsyncIterator[bytes]:
    """The upstream body as it arrives, un-enveloped when the provider wraps its SSE payloads."""
    unwrap = getattr(provider, "unwrap_chunk", None)
    raw = resp.content.iter_any()
    return raw if unwrap is None else _unwrapped(raw, unwrap)


async def _unwrapped(raw: AsyncIterator[bytes], unwrap: Any) -> AsyncIterator[bytes]:
    decoder = SSEDecoder()
    async for chunk in raw:
        out = b"".join(frame_data(unwrap(ev.data)) for ev in decoder.decode(chunk))
        if out:
            yield out
    tail = b"".join(frame_data(unwrap(ev.data)) for ev in decoder.flush())
    if tail:
        yield tail


class _Terminated(CliproxyError):
    """An after-auth interceptor ended the request with its own response."""

    def __init__(self, t: Any) -> None:
        super().__init__(f"request terminated by plugin {t.plugin}", status=t.status)
        self.terminated = t


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


def _json_object(data: bytes) -> bytes:
    """A pass-through body, checked cheaply (no parse) to be one JSON object: an empty or
    HTML 200 answer is an upstream failure, not a success."""
    head = data.lstrip()[:1]
    if head != b"{" or data.rstrip()[-1:] != b"}":
        what = "an empty body" if not data.strip() else "a body that is not JSON"
        raise UpstreamError(f"upstream answered 200 with {what}", status=502)
    return data


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


def _loads(data: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise UpstreamError("upstream answered with invalid JSON", status=502, body=None) from exc
    if not isinstance(parsed, dict):
        raise UpstreamError("upstream answered with an unexpected JSON shape", status=502)
    return parsed


def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj)
