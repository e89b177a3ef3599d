"""Generation routes: read the HTTP request, hand a ``Call`` to the pipeline, write the
answer. No business logic lives here: only HTTP parsing and writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from cliproxy.errors import CliproxyError, RequestError
from cliproxy.formats import Format
from cliproxy.formats.validate import check_depth
from cliproxy.pipeline import Call, Reply, StreamReply
from cliproxy.server import keepalive
from cliproxy.server.context import CORS_KEY, PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import exception_response
from cliproxy.server.images import image_call
from cliproxy.translate import completions
from cliproxy.usage.hooks import begin_trace, recorder_of

if TYPE_CHECKING:
    from cliproxy.pipeline import Pipeline
    from cliproxy.usage.recorder import Recorder
    from cliproxy.usage.trace import RequestTrace

__all__ = ["generation_handlers"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

GEMINI_ACTIONS = {
    "generateContent": (False, "generate"),
    "streamGenerateContent": (True, "generate"),
    "countTokens": (False, "count"),
}


async def _json_body(request: web.Request) -> dict[str, Any]:
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
    request: web.Request,
    result: Reply | StreamReply,
    committed: web.StreamResponse | None = None,
    interval: float = 0.0,
) -> web.StreamResponse:
    """Write ``result``; ``committed``: the 200 already went out (keep-alives while waiting);
    ``interval``: keep-alive comment lines when the stream is silent that long."""
    if isinstance(result, Reply):
        if committed is None:
            return web.Response(status=result.status, body=result.body, headers=result.headers)
        with contextlib.suppress(ConnectionResetError):
            await committed.write(result.body)
            await committed.write_eof()
        return committed
    resp = committed or web.StreamResponse(status=200, headers=result.headers)
    cors = request.get(CORS_KEY)
    if cors and committed is None:
        resp.headers.update(cors)
    rest = result.rest
    try:
        if committed is None:
            await resp.prepare(request)
        if result.first:
            await resp.write(result.first)
        fmt = client_format(request)
        chunks = keepalive.with_keepalives(rest, interval, fmt, result.first) if interval else rest
        async for chunk in chunks:
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:  # aiohttp's ClientConnectionResetError too
        # the client went away: routine, not our error (aiohttp's finish sees the reset)
        log.info("%s %s: the client went away during a stream", request.method, request.path)
    except asyncio.CancelledError:
        log.debug("stream cancelled: the client went away")
        raise
    finally:
        await rest.aclose()  # type: ignore[attr-defined]
    return resp


def _pipeline(request: web.Request) -> Pipeline:
    return request.app[SERVICE].pipeline


async def _trace(request: web.Request, call: Call, rec: Recorder) -> RequestTrace | None:
    """The request log / usage record of this request, from what came off the wire."""
    principal = request.get(PRINCIPAL_KEY)
    resource = request.match_info.route.resource
    return begin_trace(
        rec,
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        route=resource.canonical if resource is not None else request.path,
        headers=request.headers,
        body=await request.read(),
        fmt=call.format,
        alias=call.model,
        api_key=(principal.key or "") if principal is not None else "",
        client_ip=request.remote or "",
    )


async def _run(
    request: web.Request,
    call: Call,
    convert: Callable[[Reply | StreamReply], Reply | StreamReply] | None = None,
) -> web.StreamResponse:
    """Run ``call``; ``convert`` reshapes a good answer for the route (``/v1/completions``...)."""
    service = request.app[SERVICE]
    rec = recorder_of(service)
    trace = await _trace(request, call, rec) if rec.active else None  # None when nothing records
    if trace is not None:
        call = replace(call, trace=trace)
    interval = keepalive.intervals(service.config, call)
    committed: web.StreamResponse | None = None
    try:
        if interval:  # keep-alives while the pipeline works (the 200 goes out at the first)
            work = asyncio.ensure_future(_pipeline(request).run(call))
            committed = await keepalive.commit_while_waiting(
                request, work, interval, call.format, stream=call.stream
            )
            result = await work
        else:
            result = await _pipeline(request).run(call)
    except CliproxyError as exc:
        resp = exception_response(client_format(request), exc)
        body = resp.body if isinstance(resp.body, bytes) else b""  # error responses are built from bytes
        if trace is not None:
            trace.failed(exc.status, exc.message, resp.headers, body)
        if committed is None:
            return resp
        return await _late_error(committed, call, body)
    except ConnectionResetError:
        log.info("%s %s: the client went away while waiting", request.method, request.path)
        return committed or web.Response(status=499)
    if trace is not None:
        result = trace.reply(result)
    if convert is not None:
        result = convert(result)
    return await _write(request, result, committed, interval if call.stream else 0.0)


async def _late_error(resp: web.StreamResponse, call: Call, body: bytes) -> web.StreamResponse:
    """An error after keep-alives committed the 200: in the stream, or as the whole body."""
    with contextlib.suppress(ConnectionResetError):
        await resp.write(keepalive.error_frame(call.format, body, call.headers) if call.stream else body)
        await resp.write_eof()
    return resp


def _body_handler(fmt: Format, action: str = "generate") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        model = _model_of(body)
        stream = _stream_flag(body) if action == "generate" else False
        call = Call(fmt, body, model, stream, request.headers, request.query, action=action)
        return await _run(request, call)

    return handler


async def compact_handler(request: web.Request) -> web.StreamResponse:
    """``/responses/compact``: a Responses body answered whole (CPA refuses ``stream: true``)."""
    body = await _json_body(request)
    model = _model_of(body)
    if body.get("stream") is True:
        raise RequestError("Streaming not supported for compact responses", param="stream")
    call = Call(Format.RESPONSES, body, model, False, request.headers, request.query, action="compact")
    return await _run(request, call)


async def completions_handler(request: web.Request) -> web.StreamResponse:
    """``/v1/completions``: legacy text completions, run as a chat request (CPA)."""
    body = await _json_body(request)
    chat = completions.chat_request(body)
    model = _model_of(chat)
    call = Call(Format.OPENAI, chat, model, chat.get("stream") is True, request.headers, request.query)
    return await _run(request, call, completions.completion_reply)


def _images_handler(action: str) -> Handler:
    """``/v1/images/generations`` and ``/v1/images/edits`` (``cliproxy.server.images``)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        call, convert = await image_call(request, action, _json_body)
        return await _run(request, call, convert)

    return handler


async def gemini_handler(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
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
    body = await _json_body(request)
    if kind == "count" and isinstance(body.get("generateContentRequest"), dict):
        body = body["generateContentRequest"]
    call = Call(
        Format.GEMINI,
        body,
        model,
        stream,
        request.headers,
        request.query,
        action=kind,
        alt=request.query.get("alt"),
    )
    return await _run(request, call)


async def interactions_handler(request: web.Request) -> web.StreamResponse:
    """``POST /v1beta/interactions``: the Gemini Interactions API (checked and translated
    below the server: ``cliproxy.formats.interactions``, ``cliproxy.translate.interactions``)."""
    body = await _json_body(request)
    model = body.get("model")
    model = model.strip().removeprefix("models/") if isinstance(model, str) else ""
    call = Call(Format.INTERACTIONS, body, model, body.get("stream") is True, request.headers, request.query)
    return await _run(request, call)


async def list_models(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    fmt = client_format(request)
    body = await service.model_list(fmt, request.query.get("client_version"))
    return web.Response(body=orjson.dumps(body), content_type="application/json")


async def get_model(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    fmt = client_format(request)
    name = request.match_info["name"]
    entry = await service.model_entry(fmt, name)
    if entry is None:
        raise RequestError(f"model {name!r} not found", param="model", code="model_not_found", status=404)
    return web.Response(body=orjson.dumps(entry), content_type="application/json")


def generation_handlers() -> dict[tuple[str, str], Handler]:
    """The generation routes and their handlers."""
    chat = _body_handler(Format.OPENAI)
    responses = _body_handler(Format.RESPONSES)
    messages = _body_handler(Format.CLAUDE)
    count = _body_handler(Format.CLAUDE, "count")
    return {
        ("POST", "/v1/chat/completions"): chat,
        ("POST", "/v1/completions"): completions_handler,
        ("POST", "/v1/responses"): responses,
        ("POST", "/backend-api/codex/responses"): responses,
        ("POST", "/v1/responses/compact"): compact_handler,
        ("POST", "/backend-api/codex/responses/compact"): compact_handler,
        ("POST", "/v1/images/generations"): _images_handler("images.generations"),
        ("POST", "/v1/images/edits"): _images_handler("images.edits"),
        ("POST", "/v1/messages"): messages,
        ("POST", "/v1/messages/count_tokens"): count,
        ("POST", "/v1beta/models/{name:.+}"): gemini_handler,
        ("POST", "/v1beta/interactions"): interactions_handler,
        ("POST", "/v1/interactions"): interactions_handler,
        ("POST", "/v1/models/{name:.+}"): gemini_handler,
        ("GET", "/v1/models"): list_models,
        ("GET", "/v1beta/models"): list_models,
        ("GET", "/v1beta/models/{name:.+}"): get_model,
        ("GET", "/v1/models/{name:.+}"): get_model,
    }
