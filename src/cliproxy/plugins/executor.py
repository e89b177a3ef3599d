"""Plugin executors: running a request on a plugin instead of an upstream.

Formats are chosen as CPA does (``translation.negotiate``). The host translates the
request into the executor's input format (its own translation for a native format,
plugin request translators for a custom one) and the answer back (``executor_answer``),
whole or streamed, with the normalizer plugins around both, as CPA's translator registry
runs them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.calls import SSE_HEADERS, Call, Reply, StreamReply
from cliproxy.errors import CliproxyError, UpstreamError
from cliproxy.formats import Format
from cliproxy.models.catalog import ModelInfo
from cliproxy.models.shaping import caps_of
from cliproxy.models.suffix import split_suffix
from cliproxy.models.thinking import resolve_thinking
from cliproxy.models.thinking.resolve import adaptive_top
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, b64decode, b64encode, ci_get
from cliproxy.plugins.callbacks import BRIDGE_END, ScopeContext
from cliproxy.plugins.executor_answer import Answer, with_details
from cliproxy.plugins.models import plugin_attributes, wire_thinking
from cliproxy.plugins.rules import call_scoped, plain_headers, wire_headers, wire_query
from cliproxy.plugins.translation import NATIVE_FORMATS, negotiate, normalize_request, translate_request
from cliproxy.translate import ir
from cliproxy.translate.registry import Registry

if TYPE_CHECKING:
    from cliproxy.plugins.host import PluginHost, Record

__all__ = ["executor_formats", "run_executor"]


def executor_formats(host: PluginHost, rec: Record, client: Format) -> tuple[str, str]:
    """(input, output) formats of executor ``rec`` for ``client`` (``translation.negotiate``);
    a 502 when it declares none the host can translate."""
    found = negotiate(host, rec, client.value)
    if found is None:
        raise UpstreamError(
            f"plugin executor {rec.id} declares no format a {client.value} request can be translated to and from",
            status=502,
        )
    return found


def _as_error(exc: Exception, rec: Record) -> CliproxyError:
    if isinstance(exc, PluginError):
        return UpstreamError(exc.message, status=exc.http_status or 500)
    if isinstance(exc, asyncio.TimeoutError):
        return UpstreamError(f"plugin executor {rec.id} timed out", status=504)
    return UpstreamError(f"plugin executor {rec.id} failed: {exc}", status=502)


async def run_executor(
    reg: Registry,
    host: PluginHost,
    rec: Record,
    call: Call,
    scope: ScopeContext,
    *,
    model: str | None = None,
    cred: Any = None,
    waits: tuple[float | None, float | None] = (None, None),
    alias: str | None = None,
) -> Reply | StreamReply:
    """Run ``call`` on the executor of plugin ``rec`` (for credential ``cred``, if any).
    ``alias``: the ``model`` a force-mapped alias makes the answer report (the executor
    answering in a format the host translates).
    ``waits``: how long a stream may take to its first chunk and between two chunks
    (``timeouts.upstream-first-byte`` / ``upstream-idle``; ``None``: no limit)."""
    fmt_in, fmt_out = executor_formats(host, rec, call.format)
    original = orjson.dumps(call.body)
    payload = await _request_payload(reg, host, call, fmt_in, model or call.model, original, cred)
    if host.any("thinking_applier"):
        payload = await _apply_thinking(host, rec, call, model or call.model, payload, scope, cred, fmt_in)
    params: dict[str, Any] = {
        "AuthID": cred.id if cred else "",
        "AuthProvider": cred.provider if cred else "",
        "Model": model or call.model,
        "Format": fmt_out,
        "Stream": call.stream,
        "Alt": call.alt or "",
        "Headers": wire_headers(call.headers),
        "Query": wire_query(call.query),
        "OriginalRequest": b64encode(original),
        "SourceFormat": fmt_in,
        "Payload": b64encode(payload),
        "Metadata": {"requested_model": call.model},
        "StorageJSON": b64encode(orjson.dumps(cred.metadata)) if cred is not None and cred.path else "",
        "AuthMetadata": {
            k: v
            for k, v in (cred.metadata if cred is not None else {}).items()
            if isinstance(v, str | int | float | bool)
        },
        "AuthAttributes": plugin_attributes(cred.attributes) if cred is not None else {},
    }
    cb = host.callbacks
    if cb is None:
        raise UpstreamError("plugin host callbacks are not set up", status=502)
    if call.action == "count":
        result = await _call(host, rec, abi.EXECUTOR_COUNT_TOKENS, params, scope)
        body = b64decode(ci_get(result, "Payload"))
        return Reply(200, _count(body, fmt_out, call.format, reg), {"Content-Type": "application/json"})
    if call.trace is not None:  # the request's usage row (no upstream attempt names them)
        call.trace.model = model or call.model
        # its provider: the credential's, or for a router's choice the plugin (as its usage records say)
        call.trace.provider = cred.provider if cred is not None else rec.id
    answer = None
    if fmt_out != call.format or (alias is not None and fmt_out in NATIVE_FORMATS):  # the way back
        answer = Answer(reg, host, call, fmt_out, model or call.model, original, payload, alias)
    if not call.stream:
        result = await _call(host, rec, abi.EXECUTOR_EXECUTE, params, scope)
        body = b64decode(ci_get(result, "Payload"))
        if answer is not None:
            body = await answer.whole(body)
        body = with_details(call.format, body)
        own = plain_headers(ci_get(result, "Headers"))  # a content type of any case is the proxy's
        headers = {k: v for k, v in own.items() if k.lower() != "content-type"}
        headers["Content-Type"] = "application/json"
        return Reply(200, body, headers)
    return await _stream(reg, host, rec, call, params, scope, answer, waits)


async def _request_payload(
    reg: Registry, host: PluginHost, call: Call, fmt_in: str, model: str, original: bytes, cred: Any = None
) -> bytes:
    """The body the executor gets, in ``fmt_in`` (CPA's ``TranslateRequest``): the client's
    own when it is that format; else the host's translation, then the request
    normalizers; for a custom format, the normalizers on the client's body (its model
    set), then the first request translator that answers, else that body as it is."""
    client = call.format.value
    if fmt_in == client:
        return original
    if fmt_in in NATIVE_FORMATS:
        built = reg.adapter(fmt_in).build_request(call.client_ir(reg))
        if fmt_in == "gemini" and client == "claude":
            _claude_thinking(built, call.body, _declared(cred, split_suffix(model)[0]))
        payload = orjson.dumps(built)
        if host.any("request_normalizer"):
            payload = await normalize_request(
                host, from_format=client, to_format=fmt_in, model=model, stream=call.stream, body=payload
            )
        return payload
    body = original if call.body.get("model") == model else orjson.dumps({**call.body, "model": model})
    if host.any("request_normalizer"):
        body = await normalize_request(
            host, from_format=client, to_format=fmt_in, model=model, stream=call.stream, body=body
        )
    translated = await translate_request(
        host, from_format=client, to_format=fmt_in, model=model, stream=call.stream, body=body
    )
    return translated or body


NATIVE_THINKING = frozenset({"gemini", "claude", "openai", "codex", "antigravity", "kimi", "xai"})


def _declared(cred: Any, model: str) -> ModelInfo | None:
    """What the plugin declared of ``model`` (``plugins.models.PluginModel``), if it did."""
    for m in cred.models if cred is not None else ():
        if (info := getattr(m, "info", None)) is not None and info.id == model:
            return info
    return None


def _claude_thinking(built: dict[str, Any], body: dict[str, Any], info: ModelInfo | None) -> None:
    """A Claude client's adaptive thinking naming no effort, in the host's translation for
    a Gemini-format executor (which holds what CPA's Claude-to-Gemini translator writes:
    translate.gemini.config.claude_thinking), as the model's largest declared
    ``thinkingBudget`` instead of level ``high``, as CPA's translator writes the registered
    maximum. On a built-in route the thinking step puts it there; a plugin without a
    thinking applier reads the body as it is."""
    top = adaptive_top(caps_of(info), "claude", "gemini")
    config = (built.get("generationConfig") or {}).get("thinkingConfig")
    effort = oc.get("effort") if type(oc := body.get("output_config")) is dict else None
    if not top or type(config) is not dict or (isinstance(effort, str) and effort.strip()):
        return
    if config.pop("thinkingLevel", None) is not None:
        config["thinkingBudget"] = top


async def _apply_thinking(
    host: PluginHost,
    rec: Record,
    call: Call,
    model: str,
    payload: bytes,
    scope: ScopeContext,
    cred: Any = None,
    fmt_in: str | None = None,
) -> bytes:
    """A plugin thinking applier for this executor's provider (highest priority wins;
    native provider names cannot be claimed), run after request translation. The
    setting is checked first against the thinking the plugin declared for the model, as
    for a built-in model of another provider (clamped; CPA's ValidateConfig); a Claude
    client's adaptive thinking on an executor whose input format ``fmt_in`` is Gemini's asks
    the model's largest budget, as on a Gemini upstream. A model declared without thinking
    (and not user-defined) gets no applier call."""
    provider = await host.identifier(rec, abi.EXECUTOR_IDENTIFIER)
    applier = None
    for cand in host.active("thinking_applier"):
        ident = (await host.identifier(cand, abi.THINKING_IDENTIFIER)).lower()
        if ident and ident == provider.lower() and ident not in NATIVE_THINKING:
            applier = cand
            break
    if applier is None:
        return payload
    base, suffix = split_suffix(call.model)
    from_fmt = {"openai-response": "responses", "codex": "responses"}.get(
        call.format.value, call.format.value
    )
    info = _declared(cred, model or base)
    # a Gemini-format executor is a Gemini target (a Claude client's adaptive thinking asks
    # the largest budget); no other format is named a target: CPA checks a plugin's setting
    # against the plugin's provider, never as Claude's efforts
    target = "gemini" if fmt_in == "gemini" else None
    cfg = resolve_thinking(suffix, from_fmt, call.body, caps_of(info), False, target=target)
    if cfg is None:
        return payload
    params = {
        "Provider": provider,
        "Model": wire_thinking(info) if info is not None else {"ID": model or base},
        "Config": {"Mode": cfg.mode.value, "Budget": cfg.budget, "Level": cfg.level},
        "Body": b64encode(payload),
    }
    try:
        result = await _call(host, applier, abi.THINKING_APPLY, params, scope)
    except UpstreamError:
        return payload
    return b64decode(ci_get(result, "Body")) or payload


async def _call(
    host: PluginHost, rec: Record, method: str, params: dict[str, Any], scope: ScopeContext
) -> Any:
    try:
        result = await call_scoped(host, rec, method, params, scope)
    except (TimeoutError, PluginError, PluginCrashed) as exc:
        raise _as_error(exc, rec) from exc
    return result if isinstance(result, dict) else {}


def _count(body: bytes, fmt_out: str, client: Format, reg: Registry) -> bytes:
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {}
    if fmt_out == client:
        return body or orjson.dumps(reg.adapter(client).count_tokens_response(0))
    tokens = int(data.get("input_tokens") or data.get("totalTokens") or 0) if isinstance(data, dict) else 0
    return orjson.dumps(reg.adapter(client).count_tokens_response(tokens))


async def _stream(
    reg: Registry,
    host: PluginHost,
    rec: Record,
    call: Call,
    params: dict[str, Any],
    scope: ScopeContext,
    answer: Answer | None,
    waits: tuple[float | None, float | None],
) -> StreamReply:
    """The executor's stream: its first chunk awaited within ``waits[0]`` (else a 504,
    nothing sent), the next ones each within ``waits[1]`` (else the stream ends with an
    error event). A client that leaves cancels the wait (its task is cancelled)."""
    cb = host.callbacks
    assert cb is not None
    stream_id, queue = cb.open_bridge(rec.id)
    scope_id = cb.open_scope(rec.id, scope)
    params["stream_id"] = stream_id
    params["host_callback_id"] = scope_id
    try:
        # (an in-process plugin answers at its first chunk: the call is the first wait)
        result = await host.call(rec, abi.EXECUTOR_EXECUTE_STREAM, params, timeout=waits[0])
    except BaseException as exc:  # a client gone mid-call too: the plugin's later emits are refused
        cb.drop_bridge(stream_id)
        await cb.close_scope(scope_id)
        if isinstance(exc, TimeoutError | PluginError | PluginCrashed):
            raise _as_error(exc, rec) from exc
        raise
    result = result if isinstance(result, dict) else {}
    inline = [b64decode(ci_get(c, "Payload")) for c in ci_get(result, "chunks") or [] if isinstance(c, dict)]
    raw = _inline(inline) if inline else _drain(queue, *waits)
    started = False

    async def chunks() -> AsyncGenerator[bytes, None]:
        nonlocal started
        try:
            async for piece in raw:
                out = await answer.frame(piece) if answer is not None else piece
                if out:
                    started = True
                    yield with_details(call.format, out)
            tail = await answer.finish() if answer is not None else b""
            if tail:
                yield with_details(call.format, tail)
        except (PluginError, TimeoutError) as exc:  # closed with an error, or silent too long
            if not started and isinstance(exc, TimeoutError):
                raise  # nothing sent yet: the client gets a 504 (below)
            enc = reg.adapter(call.format).stream_encoder(None, None)
            tail = await answer.finish() if answer is not None else b""
            message = exc.message if isinstance(exc, PluginError) else _silent(rec, waits[1])
            status = 502 if isinstance(exc, PluginError) else 504
            scope.failure = (status, message)
            yield tail + enc.encode(ir.Error(message, status=status))
        finally:
            cb.drop_bridge(stream_id)
            await cb.close_scope(scope_id)

    rest = chunks()
    try:
        first = await rest.__anext__()
    except StopAsyncIteration:
        first = b""
    except TimeoutError as exc:
        await rest.aclose()
        raise UpstreamError(_silent(rec, waits[0]), status=504) from exc
    headers = dict(SSE_HEADERS)
    if answer is None:  # the executor's own bytes: its content type (translated ones are SSE)
        for k, v in plain_headers(ci_get(result, "headers")).items():
            if k.lower() == "content-type":  # whatever its case: one Content-Type
                headers["Content-Type"] = v
    return StreamReply(headers, first, rest)


async def _inline(chunks: list[bytes]) -> AsyncIterator[bytes]:
    for c in chunks:
        yield c


def _silent(rec: Record, limit: float | None) -> str:
    return f"plugin executor {rec.id} sent nothing within {limit or 0:g}s (timeouts.upstream-first-byte / upstream-idle)"


async def _drain(queue: asyncio.Queue[Any], first: float | None, idle: float | None) -> AsyncIterator[bytes]:
    """The bridge's chunks, the first within ``first`` seconds, each next one within
    ``idle`` (``TimeoutError`` else; ``None``: no limit)."""
    limit = first
    while True:
        async with asyncio.timeout(limit):
            item = await queue.get()
        limit = idle
        if item is BRIDGE_END:
            return
        if isinstance(item, PluginError):
            if item.message:
                raise item
            return
        yield item
