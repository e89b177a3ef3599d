"""The video routes (HTTP only; ``cliproxy.media`` does the work):

- ``POST /v1/videos``, ``/v1/videos/generations``, ``/edits``, ``/extensions`` and ``GET
  /v1/videos/{request_id}``: xAI's own video API;
- ``POST /openai/v1/videos`` (JSON, or the form the openai SDK sends), ``GET
  /openai/v1/videos/{video_id}`` and ``.../content``: OpenAI's Videos API.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.formats.validate import check_depth
from cliproxy.media import VideoFailed
from cliproxy.providers import xai_media
from cliproxy.providers.transport import network_error
from cliproxy.server.context import SERVICE
from cliproxy.server.fast.exchange import AiohttpExchange
from cliproxy.server.forms import reading_form
from cliproxy.usage.hooks import open_trace

if TYPE_CHECKING:
    from cliproxy.usage.trace import RequestTrace

__all__ = ["video_handlers"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# CPA videosCreateRequestFromForm: the text fields a form create may carry
_FORM_FIELDS = ("model", "prompt", "seconds", "size", "aspect_ratio", "resolution")


def _json(data: bytes) -> web.Response:
    return web.Response(body=data, content_type="application/json")


async def _json_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise RequestError(f"Invalid request: body must be valid JSON ({exc})") from exc
    if not isinstance(body, dict):
        raise RequestError("Invalid request: body must be a JSON object")
    check_depth(raw, body)  # deeper than we can write upstream: the client's 400, not our 500
    return body


async def _form(request: web.Request) -> dict[str, Any]:
    """CPA ``videosCreateRequestFromForm``: a form create as the JSON one (files ignored)."""
    async with reading_form(request):  # timeouts.client-body; undecodable: the client's 400
        form = await request.post()

    def text(*names: str) -> str:
        for name in names:
            value = form.get(name)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return ""

    body: dict[str, Any] = {name: text(name) for name in _FORM_FIELDS if text(name)}
    if url := text("input_reference[image_url]", "input_reference.image_url", "image_url"):
        body.setdefault("input_reference", {})["image_url"] = url
    if file_id := text("input_reference[file_id]", "input_reference.file_id", "file_id"):
        body.setdefault("input_reference", {})["file_id"] = file_id
    if refs := text("reference_image_urls"):
        body["reference_image_urls"] = [ref.strip() for ref in refs.split(",") if ref.strip()]
    return body


async def _trace(request: web.Request, read: bool = False) -> RequestTrace | None:
    """The usage record / request log of this request (``None`` when nothing records);
    ``cliproxy.media`` names its model and finishes it with the upstream call. ``read``:
    the request has a body (already read by its handler), which the log keeps."""
    ex = AiohttpExchange(request)
    principal = ex.principal
    key = (principal.key or "") if principal is not None else ""
    trace = open_trace(
        ex.service,
        ex.method,
        ex.path,
        ex.query_string,
        ex.route,
        ex.headers,
        b"",
        Format.OPENAI,
        "",
        key,
        ex.remote,
    )
    if trace is not None and read:
        trace.body = await ex.read()
    return trace


def _native(action: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await _json_object(request)
        videos = request.app[SERVICE].videos
        trace = await _trace(request, read=True)
        return _json(await videos.native(action, body, request.headers, request.query, trace))

    return handler


async def native_retrieve(request: web.Request) -> web.StreamResponse:
    videos = request.app[SERVICE].videos
    request_id = request.match_info["request_id"]
    return _json(
        await videos.native_retrieve(request_id, request.headers, request.query, await _trace(request))
    )


async def openai_create(request: web.Request) -> web.StreamResponse:
    videos = request.app[SERVICE].videos
    try:
        try:
            if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
                body = await _form(request)
            else:
                body = await _json_object(request)
        except RequestError as exc:  # CPA: an unreadable body is a failed video too
            raise VideoFailed(xai_media.video_failed(xai_media.DEFAULT_VIDEO_MODEL, exc.message)) from exc
        return _json(
            await videos.create(body, request.headers, request.query, await _trace(request, read=True))
        )
    except VideoFailed as failed:
        return web.Response(status=400, body=orjson.dumps(failed.body), content_type="application/json")


async def openai_retrieve(request: web.Request) -> web.StreamResponse:
    videos = request.app[SERVICE].videos
    video_id = request.match_info["video_id"]
    return _json(await videos.retrieve(video_id, request.headers, request.query, await _trace(request)))


async def openai_content(request: web.Request) -> web.StreamResponse:
    videos = request.app[SERVICE].videos
    variant = request.query.get("variant", "")
    video_id = request.match_info["video_id"]
    found = await videos.content(video_id, variant, request.headers, request.query, await _trace(request))
    resp = web.StreamResponse(status=found.status, headers=found.headers)
    try:
        await resp.prepare(request)
        async for chunk in found.response.chunks():
            await resp.write(chunk)
        await resp.write_eof()
    except ConnectionResetError:
        log.info("%s: the client went away during the video download", request.path)
    except (TimeoutError, ConnectionError) as exc:  # the 200 is out: the download just stops
        log.warning("video download broke off: %s", network_error(exc, "while downloading the video").detail)
    finally:
        with contextlib.suppress(Exception):
            found.response.release()
    return resp


def video_handlers() -> dict[tuple[str, str], Handler]:
    generations = _native("videos.generations")
    return {
        ("POST", "/v1/videos"): generations,
        ("POST", "/v1/videos/generations"): generations,
        ("POST", "/v1/videos/edits"): _native("videos.edits"),
        ("POST", "/v1/videos/extensions"): _native("videos.extensions"),
        ("GET", "/v1/videos/{request_id}"): native_retrieve,
        ("POST", "/openai/v1/videos"): openai_create,
        ("GET", "/openai/v1/videos/{video_id}"): openai_retrieve,
        ("GET", "/openai/v1/videos/{video_id}/content"): openai_content,
    }
