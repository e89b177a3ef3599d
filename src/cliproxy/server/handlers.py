"""Generation routes: read the HTTP request, hand a ``Call`` to the pipeline, write the
answer. No business logic lives here: only HTTP parsing and writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from cliproxy.calls import SSE_HEADERS, new_call
from cliproxy.errors import CliproxyError, RequestError
from cliproxy.formats import Format
from cliproxy.formats.validate import check_depth
from cliproxy.models.listing import grok_shell_models
from cliproxy.pipeline import Call, Reply, StreamReply
from cliproxy.providers.codex_search import ACTION as SEARCH
from cliproxy.server import keepalive
from cliproxy.server.errors import exception_response, stream_error_response
from cliproxy.server.fast.exchange import AiohttpExchange, Exchange
from cliproxy.server.images import image_call
from cliproxy.server.trace_id import add_error_trace_id, add_trace_id
from cliproxy.translate import completions, images_stream
from cliproxy.usage.hooks import exchange_trace, recorder_of

__all__ = [
    "Core",
    "Route",
    "abandoned",
    "client_left",
    "failed",
    "fast_routes",
    "generation_handlers",
    "on_aiohttp",
    "run",
    "write",
]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Core = Callable[[Exchange], Awaitable[None]]  # a route's work, over either server engine
Convert = Callable[[Reply | StreamReply], Reply | StreamReply]  # a good answer reshaped for the route
# a body route's ``Call`` from the request head and its whole body (raises ``RequestError``)
Prepare = Callable[[Exchange, bytes], tuple[Call, Convert | None]]
_JSON = {"Content-Type": "application/json"}
_IMAGES = "images."  # the actions of /v1/images/*
_NO_HEADERS: dict[str, str] = {}


@dataclass(frozen=True, slots=True)
class Route:
    """A generation route: ``core`` is its whole work; a route that answers a JSON body
    also has ``prepare`` (no awaiting), which the protocol-level server runs once the
    body is in, then :func:`run` (one coroutine layer fewer per request)."""

    core: Core
    prepare: Prepare | None = None


GEMINI_ACTIONS = {
    "generateContent": (False, "generate"),
    "streamGenerateContent": (True, "generate"),
    "countTokens": (False, "count"),
}


class _Body(Protocol):
    async def read(self) -> bytes: ...


async def _json_body(request: _Body) -> dict[str, Any]:
    return _parse_json(await request.read())


def _parse_json(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise RequestError("request body is empty; expected a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    check_depth(raw, body)  # deeper than we can write back: the client's 400, not our 500
    return body


def _model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise RequestError("model: required, a non-empty string", param="model")
    return model.strip()


def _stream_flag(body: dict[str, Any]) -> bool:
    value = body.get("stream", False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RequestError("stream: must be a boolean", param="stream")
    return value


async def write(
    ex: Exchange,
    result: Reply | StreamReply,
    committed: bool = False,
    interval: float = 0.0,
) -> None:
    """Write ``result``; ``committed``: the 200 already went out (keep-alives while waiting);
    ``interval``: keep-alive comment lines when the stream is silent that long."""
    if isinstance(result, Reply):
        if not committed:
            ex.reply(result.status, result.body, result.headers)
            return
        with contextlib.suppress(ConnectionResetError):
            await ex.write(result.body)
            await ex.end()
        return
    rest = result.rest
    try:
        if not committed:
            await ex.start(200, result.headers, result.first)  # the head and the first bytes: one send
        elif result.first:
            await ex.write(result.first)
        pushed = beats = None
        relay = getattr(rest, "relay", None)  # the rest pushed as the upstream's reads come, when both can
        if relay is not None:
            sink = ex.sink()
            if sink is not None:
                emit, drain = sink
                if interval:
                    beats = keepalive.Beats(emit, interval, ex.format, result.first)
                    emit = beats.emit
                try:
                    pushed = relay(emit, drain)
                finally:
                    if pushed is None and beats is not None:  # pulled after all: its own keep-alives
                        beats.stop()
                        beats = None
        if pushed is not None:
            try:
                await pushed
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if beats is not None and beats.gone is not None and task is not None and not task.uncancel():
                    raise beats.gone from None  # our own cancel: the client went away
                raise
            finally:
                if beats is not None:
                    beats.stop()
        else:
            chunks = keepalive.with_keepalives(rest, interval, ex.format, result.first) if interval else rest
            async for chunk in chunks:
                await ex.write(chunk)
        await ex.end()
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError too
        # the client went away: routine, not our error (aiohttp's finish sees the reset)
        log.info("%s %s: the client went away during a stream", ex.method, ex.path)
    except asyncio.CancelledError:  # the server cancels a request whose client's connection is lost
        log.info("%s %s: the client went away during a stream", ex.method, ex.path)
        raise
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


def _call(
    ex: Exchange,
    raw: bytes,
    fmt: Format,
    body: dict[str, Any],
    model: str,
    stream: bool,
    action: str = "generate",
    alt: str | None = None,
) -> Call:
    """The ``Call`` of a request, with its trace (built once: no ``replace`` afterwards)."""
    trace = exchange_trace(ex, raw, fmt, model)
    return Call(fmt, body, model, stream, ex.headers, ex.query, action=action, alt=alt, trace=trace)


async def run(ex: Exchange, call: Call, convert: Convert | None = None) -> None:
    """Run ``call`` (its trace already set, if any) and write the answer; ``convert``
    reshapes a good answer for the route (``/v1/completions``...). The protocol-level
    server runs a call without keep-alives itself (``FastServer.serve``), with
    :func:`failed`, :func:`client_left` and :func:`write` as here."""
    service = ex.service
    trace = call.trace
    interval = keepalive.intervals(service.config, call)
    committed = False
    try:
        if interval:  # keep-alives while the pipeline works (the 200 goes out at the first)
            work = asyncio.ensure_future(service.pipeline.run(call))
            committed = await keepalive.commit_while_waiting(
                ex, work, interval, call.format, stream=call.stream, sse_headers=_sse_headers(call)
            )
            result = await work
        else:
            result = await service.pipeline.run(call)
    except CliproxyError as exc:
        if not committed:
            failed(ex, call, exc)
            return
        await _late_error(ex, call, _failure(ex, call, exc)[1])
        return
    except ConnectionResetError:
        if not committed:
            client_left(ex, call)
        else:
            abandoned(ex, call)
        return
    except asyncio.CancelledError:  # the client's connection was lost (the server cancels)
        abandoned(ex, call)
        raise
    add_trace_id(result)  # X-CPA-TRACE-ID: the serving credential (cliproxy.server.trace_id)
    if trace is not None:  # a whole answer's record is finished once it is written
        result = trace.reply(result, finish=False)
    if convert is not None:
        result = convert(result)
    try:
        if not committed and isinstance(result, Reply):  # a whole answer: no writer coroutine
            ex.reply(result.status, result.body, result.headers)
        else:
            await write(ex, result, committed, interval if call.stream else 0.0)
    finally:  # a whole answer's accounting, after the write: the client does not wait for it
        if trace is not None and not trace.stream:  # (a stream's ends with it)
            trace.finish()


def _failure(ex: Exchange, call: Call, exc: CliproxyError) -> tuple[web.Response, bytes]:
    """The error answer of a failed call and its body, recorded on the call's trace."""
    resp = (stream_error_response if call.stream else exception_response)(ex.format, exc)
    add_error_trace_id(resp.headers, exc, ex.service.pool)  # the credential that got the error
    body = resp.body if isinstance(resp.body, bytes) else b""  # error responses are built from bytes
    trace = call.trace
    if trace is not None:
        trace.failed(exc.status, exc.message, resp.headers, body)
    return resp, body


def failed(ex: Exchange, call: Call, exc: CliproxyError) -> None:
    """Answer a call that failed before anything of its answer went out."""
    ex.answer(_failure(ex, call, exc)[0])


def client_left(ex: Exchange, call: Call) -> None:
    """The client went away while its call ran (nothing of the answer went out)."""
    abandoned(ex, call)
    ex.reply(499, b"", _NO_HEADERS)


def abandoned(ex: Exchange, call: Call) -> None:
    """The client left before its answer went out (its request's task is cancelled, or a
    wait saw it gone): one info line, and the call's record ends as CPA's 499."""
    log.info("%s %s: the client went away while waiting", ex.method, ex.path)
    trace = call.trace
    if trace is not None:
        trace.client_left()


async def _late_error(ex: Exchange, call: Call, body: bytes) -> None:
    """An error after keep-alives committed the 200: in the stream, or as the whole body
    (an Images API stream's: CPA's image error event, bounded and redacted)."""
    if not call.stream:
        frame = body
    elif call.action.startswith(_IMAGES):
        frame = images_stream.error_event(body)
    else:
        frame = keepalive.error_frame(call.format, body, call.headers)
    with contextlib.suppress(ConnectionResetError):
        await ex.write(frame)
        await ex.end()


def _sse_headers(call: Call) -> Mapping[str, str]:
    """The headers a stream's keep-alives commit: an Images API stream's are CPA's own."""
    return images_stream.SSE_HEADERS if call.action.startswith(_IMAGES) else SSE_HEADERS


def on_aiohttp(core: Core) -> Handler:
    """An aiohttp handler running ``core`` (errors go up to the middleware)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ex = AiohttpExchange(request)
        await core(ex)
        return ex.response

    return handler


def _body_route(prepare: Prepare) -> Route:
    """A route answering a JSON body: ``prepare`` then :func:`run`."""

    async def core(ex: Exchange) -> None:
        call, convert = prepare(ex, await ex.read())
        await run(ex, call, convert)

    return Route(core, prepare)


def _generic(fmt: Format, action: str = "generate") -> Prepare:
    generate = action == "generate"

    def prepare(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
        # _parse_json, _model_of and _call, inline: the hot routes' one call per request
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if type(body) is not dict:  # (orjson makes plain dicts and strs: no isinstance call)
            body = _parse_json(raw)  # raises the client's 400
        check_depth(raw, body)
        model = body.get("model")
        if type(model) is not str or not (model := model.strip()):
            raise RequestError("model: required, a non-empty string", param="model")
        stream = body.get("stream", False) if generate else False
        if stream is not False and stream is not True:
            stream = _stream_flag(body)
        trace = exchange_trace(ex, raw, fmt, model)
        return new_call(fmt, body, model, stream, ex.headers, ex.query, action=action, trace=trace), None

    return prepare


def _compact(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
    """``/responses/compact``: a Responses body answered whole (CPA refuses ``stream: true``)."""
    body = _parse_json(raw)
    model = _model_of(body)
    if body.get("stream") is True:
        raise RequestError("Streaming not supported for compact responses", param="stream")
    return _call(ex, raw, Format.RESPONSES, body, model, False, "compact"), None


def _alpha_search(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
    """``/v1/alpha/search``, ``/backend-api/codex/alpha/search``: Codex Alpha Search, its
    body sent on as it is (``cliproxy.providers.codex_search``). Its ``id`` is the search
    session: the session-affinity key (CPA sets it as ``X-Session-ID`` for the pick)."""
    body = _parse_json(raw)
    model = body.get("model")
    model = model.strip() if isinstance(model, str) else ""
    headers: Mapping[str, str] = ex.headers
    session = body.get("id")
    if isinstance(session, str) and session.strip():
        copied = CIMultiDict(ex.headers)
        copied["X-Session-ID"] = session.strip()
        headers = CIMultiDictProxy(copied)
    trace = exchange_trace(ex, raw, Format.RESPONSES, model)
    return Call(Format.RESPONSES, body, model, False, headers, ex.query, action=SEARCH, trace=trace), None


def _completions(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
    """``/v1/completions``: legacy text completions, run as a chat request (CPA)."""
    chat = completions.chat_request(_parse_json(raw))
    model = _model_of(chat)
    call = _call(ex, raw, Format.OPENAI, chat, model, chat.get("stream") is True)
    return call, completions.completion_reply


def _images_handler(action: str) -> Handler:
    """``/v1/images/generations`` and ``/v1/images/edits`` (``cliproxy.server.images``;
    aiohttp only: multipart bodies)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        call, convert = await image_call(request, action, _json_body)
        ex = AiohttpExchange(request)
        if recorder_of(ex.service).active:
            call = replace(call, trace=exchange_trace(ex, await ex.read(), call.format, call.model))
        await run(ex, call, convert)
        return ex.response

    return handler


def _gemini(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
    name = ex.param("name")
    model, sep, action = name.rpartition(":")
    if not sep or action not in GEMINI_ACTIONS:
        raise RequestError(
            f"unknown Gemini method {action or name!r}; expected generateContent, "
            "streamGenerateContent or countTokens",
            status=404,
        )
    model = model.removeprefix("models/")
    if not model:
        raise RequestError("model: missing in the URL", param="model")
    stream, kind = GEMINI_ACTIONS[action]
    body = _parse_json(raw)
    if kind == "count":  # the REST form wraps the request (proto JSON: either spelling)
        inner = body.get("generateContentRequest", body.get("generate_content_request"))
        if isinstance(inner, dict):
            body = inner
    return _call(ex, raw, Format.GEMINI, body, model, stream, kind, ex.query.get("alt")), None


def _interactions(ex: Exchange, raw: bytes) -> tuple[Call, Convert | None]:
    """``POST /v1beta/interactions``: the Gemini Interactions API (checked and translated
    below the server: ``cliproxy.formats.interactions``, ``cliproxy.translate.interactions``)."""
    body = _parse_json(raw)
    model = body.get("model")
    model = model.strip().removeprefix("models/") if isinstance(model, str) else ""
    return _call(ex, raw, Format.INTERACTIONS, body, model, body.get("stream") is True), None


async def list_models(ex: Exchange) -> None:
    if ex.format is not Format.GEMINI and _is_grok_shell(ex.headers):
        body = grok_shell_models(await ex.service.listable_models())
    else:
        body = await ex.service.model_list(ex.format, ex.query.get("client_version"))
    ex.reply(200, orjson.dumps(body), _JSON)


def _is_grok_shell(headers: Mapping[str, str]) -> bool:
    """Grok Build's terminal client gets its own model list, whatever else it asks (CPA)."""
    return (headers.get("User-Agent") or "").lower().find("grok-shell") >= 0


async def get_model(ex: Exchange) -> None:
    name = ex.param("name")
    entry = await ex.service.model_entry(ex.format, name)
    if entry is None:
        raise RequestError(f"model {name!r} not found", param="model", code="model_not_found", status=404)
    ex.reply(200, orjson.dumps(entry), _JSON)


def fast_routes() -> dict[tuple[str, str], Route]:
    """The routes the protocol-level server may serve, by (method, aiohttp route pattern);
    every other route (images: multipart; WebSockets) is aiohttp's."""
    chat = _body_route(_generic(Format.OPENAI))
    responses = _body_route(_generic(Format.RESPONSES))
    compact = _body_route(_compact)
    search = _body_route(_alpha_search)
    gemini = _body_route(_gemini)
    interactions = _body_route(_interactions)
    return {
        ("POST", "/v1/chat/completions"): chat,
        ("POST", "/v1/completions"): _body_route(_completions),
        ("POST", "/v1/responses"): responses,
        ("POST", "/backend-api/codex/responses"): responses,
        ("POST", "/v1/responses/compact"): compact,
        ("POST", "/v1/responses/input_tokens"): _body_route(_generic(Format.RESPONSES, "count")),
        ("POST", "/v1/alpha/search"): search,
        ("POST", "/backend-api/codex/alpha/search"): search,
        ("POST", "/backend-api/codex/responses/compact"): compact,
        ("POST", "/v1/messages"): _body_route(_generic(Format.CLAUDE)),
        ("POST", "/v1/messages/count_tokens"): _body_route(_generic(Format.CLAUDE, "count")),
        ("POST", "/v1beta/models/{name:.+}"): gemini,
        ("POST", "/v1beta/interactions"): interactions,
        ("POST", "/v1/interactions"): interactions,
        ("POST", "/v1/models/{name:.+}"): gemini,
        ("GET", "/v1/models"): Route(list_models),
        ("GET", "/v1beta/models"): Route(list_models),
        ("GET", "/v1beta/models/{name:.+}"): Route(get_model),
        ("GET", "/v1/models/{name:.+}"): Route(get_model),
    }


def generation_handlers() -> dict[tuple[str, str], Handler]:
    """The generation routes and their aiohttp handlers."""
    handlers = {key: on_aiohttp(route.core) for key, route in fast_routes().items()}
    handlers[("POST", "/v1/images/generations")] = _images_handler("images.generations")
    handlers[("POST", "/v1/images/edits")] = _images_handler("images.edits")
    return handlers
