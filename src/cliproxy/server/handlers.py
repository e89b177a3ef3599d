"""Generation routes: read the HTTP request, hand a ``Call`` to the pipeline, write the
answer. No business logic lives here: only HTTP parsing and writing.
"""

from __future__ import annotations

import asyncio
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
from cliproxy.server.context import CORS_KEY, PRINCIPAL_KEY, SERVICE, client_format
from cliproxy.server.errors import exception_response
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


async def _write(request: web.Request, result: Reply | StreamReply) -> web.StreamResponse:
    if isinstance(result, Reply):
        return web.Response(status=result.status, body=result.body, headers=result.headers)
    resp = web.StreamResponse(status=200, headers=result.headers)
    cors = request.get(CORS_KEY)
    if cors:
        resp.headers.update(cors)
    rest = result.rest
    try:
        await resp.prepare(request)
        if result.first:
            await resp.write(result.first)
        async for chunk in rest:
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


async def _run(request: web.Request, call: Call) -> web.StreamResponse:
    rec = recorder_of(request.app[SERVICE])
    trace = await _trace(request, call, rec) if rec.active else None  # None when nothing records
    if trace is not None:
        call = replace(call, trace=trace)
    try:
        result = await _pipeline(request).run(call)
    except CliproxyError as exc:
        resp = exception_response(client_format(request), exc)
        if trace is not None:
            body = resp.body  # bytes: error responses are built from bytes
            trace.failed(exc.status, exc.message, resp.headers, body if isinstance(body, bytes) else b"")
        return resp
    if trace is not None:
        result = trace.reply(result)
    return await _write(request, result)


def _body_handler(fmt: Format, action: str = "generate") -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await _json_body(request)
        model = _model_of(body)
        stream = _stream_flag(body) if action == "generate" else False
        call = Call(fmt, body, model, stream, request.headers, request.query, action=action)
        return await _run(request, call)

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
        ("POST", "/v1/responses"): responses,
        ("POST", "/backend-api/codex/responses"): responses,
        ("POST", "/v1/messages"): messages,
        ("POST", "/v1/messages/count_tokens"): count,
        ("POST", "/v1beta/models/{name:.+}"): gemini_handler,
        ("POST", "/v1/models/{name:.+}"): gemini_handler,
        ("GET", "/v1/models"): list_models,
        ("GET", "/v1beta/models"): list_models,
        ("GET", "/v1beta/models/{name:.+}"): get_model,
        ("GET", "/v1/models/{name:.+}"): get_model,
    }
