"""Generation routes: read the HTTP request, hand a ``Call`` to the pipeline, write the
answer. No business logic lives here: only HTTP parsing and writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from aiohttp import web

from cliproxy.errors import CliproxyError, RequestError
from cliproxy.formats import Format
from cliproxy.formats.validate import check_depth
from cliproxy.pipeline import Call, Reply, StreamReply
from cliproxy.server import keepalive
from cliproxy.server.errors import exception_response
from cliproxy.server.fast.exchange import AiohttpExchange, Exchange
from cliproxy.server.images import image_call
from cliproxy.translate import completions
from cliproxy.usage.hooks import begin_trace, recorder_of

if TYPE_CHECKING:
    from cliproxy.usage.recorder import Recorder
    from cliproxy.usage.trace import RequestTrace

__all__ = ["Core", "fast_routes", "generation_handlers", "on_aiohttp"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Core = Callable[[Exchange], Awaitable[None]]  # a route's work, over either server engine
_JSON = {"Content-Type": "application/json"}
_NO_HEADERS: dict[str, str] = {}

GEMINI_ACTIONS = {
    "generateContent": (False, "generate"),
    "streamGenerateContent": (True, "generate"),
    "countTokens": (False, "count"),
}


class _Body(Protocol):
    async def read(self) -> bytes: ...


async def _json_body(request: _Body) -> dict[str, Any]:
    raw = await request.read()
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


async def _write(
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
            await ex.start(200, result.headers)
        if result.first:
            await ex.write(result.first)
        chunks = keepalive.with_keepalives(rest, interval, ex.format, result.first) if interval else rest
        async for chunk in chunks:
            await ex.write(chunk)
        await ex.end()
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError too
        # the client went away: routine, not our error (aiohttp's finish sees the reset)
        log.info("%s %s: the client went away during a stream", ex.method, ex.path)
    except asyncio.CancelledError:
        log.debug("stream cancelled: the client went away")
        raise
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


async def _trace(ex: Exchange, call: Call, rec: Recorder) -> RequestTrace | None:
    """The request log / usage record of this request, from what came off the wire."""
    principal = ex.principal
    return begin_trace(
        rec,
        method=ex.method,
        path=ex.path,
        query_string=ex.query_string,
        route=ex.route,
        headers=ex.headers,
        body=await ex.read(),
        fmt=call.format,
        alias=call.model,
        api_key=(principal.key or "") if principal is not None else "",
        client_ip=ex.remote,
    )


async def _run(
    ex: Exchange,
    call: Call,
    convert: Callable[[Reply | StreamReply], Reply | StreamReply] | None = None,
) -> None:
    """Run ``call``; ``convert`` reshapes a good answer for the route (``/v1/completions``...)."""
    service = ex.service
    rec = recorder_of(service)
    trace = await _trace(ex, call, rec) if rec.active else None  # None when nothing records
    if trace is not None:
        call = replace(call, trace=trace)
    interval = keepalive.intervals(service.config, call)
    pipeline = service.pipeline
    committed = False
    try:
        if interval:  # keep-alives while the pipeline works (the 200 goes out at the first)
            work = asyncio.ensure_future(pipeline.run(call))
            committed = await keepalive.commit_while_waiting(
                ex, work, interval, call.format, stream=call.stream
            )
            result = await work
        else:
            result = await pipeline.run(call)
    except CliproxyError as exc:
        resp = exception_response(ex.format, exc)
        body = resp.body if isinstance(resp.body, bytes) else b""  # error responses are built from bytes
        if trace is not None:
            trace.failed(exc.status, exc.message, resp.headers, body)
        if not committed:
            ex.answer(resp)
            return
        await _late_error(ex, call, body)
        return
    except ConnectionResetError:
        log.info("%s %s: the client went away while waiting", ex.method, ex.path)
        if not committed:
            ex.reply(499, b"", _NO_HEADERS)
        return
    if trace is not None:
        result = trace.reply(result)
    if convert is not None:
        result = convert(result)
    await _write(ex, result, committed, interval if call.stream else 0.0)


async def _late_error(ex: Exchange, call: Call, body: bytes) -> None:
    """An error after keep-alives committed the 200: in the stream, or as the whole body."""
    with contextlib.suppress(ConnectionResetError):
        await ex.write(keepalive.error_frame(call.format, body, call.headers) if call.stream else body)
        await ex.end()


def on_aiohttp(core: Core) -> Handler:
    """An aiohttp handler running ``core`` (errors go up to the middleware)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        ex = AiohttpExchange(request)
        await core(ex)
        return ex.response

    return handler


def _body_handler(fmt: Format, action: str = "generate") -> Core:
    async def handler(ex: Exchange) -> None:
        body = await _json_body(ex)
        model = _model_of(body)
        stream = _stream_flag(body) if action == "generate" else False
        call = Call(fmt, body, model, stream, ex.headers, ex.query, action=action)
        await _run(ex, call)

    return handler


async def compact_handler(ex: Exchange) -> None:
    """``/responses/compact``: a Responses body answered whole (CPA refuses ``stream: true``)."""
    body = await _json_body(ex)
    model = _model_of(body)
    if body.get("stream") is True:
        raise RequestError("Streaming not supported for compact responses", param="stream")
    call = Call(Format.RESPONSES, body, model, False, ex.headers, ex.query, action="compact")
    await _run(ex, call)


async def completions_handler(ex: Exchange) -> None:
    """``/v1/completions``: legacy text completions, run as a chat request (CPA)."""
    body = await _json_body(ex)
    chat = completions.chat_request(body)
    model = _model_of(chat)
    call = Call(Format.OPENAI, chat, model, chat.get("stream") is True, ex.headers, ex.query)
    await _run(ex, call, completions.completion_reply)


def _images_handler(action: str) -> Handler:
    """``/v1/images/generations`` and ``/v1/images/edits`` (``cliproxy.server.images``;
    aiohttp only: multipart bodies)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        call, convert = await image_call(request, action, _json_body)
        ex = AiohttpExchange(request)
        await _run(ex, call, convert)
        return ex.response

    return handler


async def gemini_handler(ex: Exchange) -> None:
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
    body = await _json_body(ex)
    if kind == "count" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    call = Call(
        Format.GEMINI,
        body,
        model,
        stream,
        ex.headers,
        ex.query,
        action=kind,
        alt=ex.query.get("alt"),
    )
    await _run(ex, call)


async def interactions_handler(ex: Exchange) -> None:
    """``POST /v1beta/interactions``: the Gemini Interactions API (checked and translated
    below the server: ``cliproxy.formats.interactions``, ``cliproxy.translate.interactions``)."""
    body = await _json_body(ex)
    model = body.get("model")
    model = model.strip().removeprefix("models/") if isinstance(model, str) else ""
    call = Call(Format.INTERACTIONS, body, model, body.get("stream") is True, ex.headers, ex.query)
    await _run(ex, call)


async def list_models(ex: Exchange) -> None:
    body = await ex.service.model_list(ex.format, ex.query.get("client_version"))
    ex.reply(200, orjson.dumps(body), _JSON)


async def get_model(ex: Exchange) -> None:
    name = ex.param("name")
    entry = await ex.service.model_entry(ex.format, name)
    if entry is None:
        raise RequestError(f"model {name!r} not found", param="model", code="model_not_found", status=404)
    ex.reply(200, orjson.dumps(entry), _JSON)


def fast_routes() -> dict[tuple[str, str], Core]:
    """The routes the protocol-level server may serve, by (method, aiohttp route pattern);
    every other route (images: multipart; WebSockets) is aiohttp's."""
    chat = _body_handler(Format.OPENAI)
    responses = _body_handler(Format.RESPONSES)
    return {
        ("POST", "/v1/chat/completions"): chat,
        ("POST", "/v1/completions"): completions_handler,
        ("POST", "/v1/responses"): responses,
        ("POST", "/backend-api/codex/responses"): responses,
        ("POST", "/v1/responses/compact"): compact_handler,
        ("POST", "/backend-api/codex/responses/compact"): compact_handler,
        ("POST", "/v1/messages"): _body_handler(Format.CLAUDE),
        ("POST", "/v1/messages/count_tokens"): _body_handler(Format.CLAUDE, "count"),
        ("POST", "/v1beta/models/{name:.+}"): gemini_handler,
        ("POST", "/v1beta/interactions"): interactions_handler,
        ("POST", "/v1/interactions"): interactions_handler,
        ("POST", "/v1/models/{name:.+}"): gemini_handler,
        ("GET", "/v1/models"): list_models,
        ("GET", "/v1beta/models"): list_models,
        ("GET", "/v1beta/models/{name:.+}"): get_model,
        ("GET", "/v1/models/{name:.+}"): get_model,
    }


def generation_handlers() -> dict[tuple[str, str], Handler]:
    """The generation routes and their aiohttp handlers."""
    handlers = {route: on_aiohttp(core) for route, core in fast_routes().items()}
    handlers[("POST", "/v1/images/generations")] = _images_handler("images.generations")
    handlers[("POST", "/v1/images/edits")] = _images_handler("images.edits")
    return handlers
