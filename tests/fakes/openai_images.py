"""OpenAI's Images API for the fake OpenAI server: ``POST /v1/images/generations`` and
``/v1/images/edits`` (an ``openai-compatibility`` image model's upstream) and the Codex
backend's ``/backend-api/codex/images/*`` (CPA's direct Codex image path).

As the real API: generations take JSON; edits take JSON (``images[].image_url`` or
``images[].file_id``) or a ``multipart/form-data`` form whose ``image`` / ``image[]``
files must be PNG, JPEG or WebP by their own ``Content-Type``. ``stream: true`` (``"true"`` in a form) answers with
server-sent events: ``partial_images`` times ``<prefix>.partial_image`` then one
``<prefix>.completed`` carrying the usage, each with its ``event:`` line, and no
``[DONE]`` (``<prefix>``: ``image_generation`` or ``image_edit``). Every image is one 1x1
PNG per ``n``. The Codex backend streams the same events (CPA
``TestCodexExecutorDirectOpenAIImageGenerationStreamsImagesEndpoint``). A failure in the
stream is an ``error`` event (:func:`error_frame`), the end of the stream."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.server import FormFile, sse

if TYPE_CHECKING:
    from tests.fakes.openai import OpenAIFake

__all__ = ["edits", "error_frame", "generations"]

_IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")
_USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"image_tokens": 0, "text_tokens": 10},
    "output_tokens": 100,
    "total_tokens": 110,
}


async def generations(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return fake.error_response(400, "prompt is required", None)
    return await _answer(fake, request, body, "image_generation")


async def edits(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if request.content_type == "multipart/form-data":
        files = body.get("image[]", body.get("image"))
        files = files if isinstance(files, list) else [files]
        if not all(isinstance(f, FormFile) for f in files):
            return fake.error_response(400, "image: at least one image file is required", None)
        for file in files:
            if file.content_type not in _IMAGE_TYPES:
                mime = file.content_type or "application/octet-stream"
                return fake.error_response(
                    400,
                    f"Invalid file 'image': unsupported mimetype ('{mime}'). "
                    "Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                    None,
                )
    else:
        images = body.get("images")
        if (
            not isinstance(images, list)
            or not all(isinstance(i, dict) and (i.get("image_url") or i.get("file_id")) for i in images)
            or not images
        ):  # each image an image_url or an uploaded file's id
            return fake.error_response(400, "images: at least one image_url or file_id is required", None)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return fake.error_response(400, "prompt is required", None)
    return await _answer(fake, request, body, "image_edit")


async def _answer(
    fake: OpenAIFake, request: web.Request, body: dict[str, Any], prefix: str
) -> web.StreamResponse:
    n = _number(body.get("n"), 1)
    if body.get("stream") not in (True, "true"):
        return fake.json_response(
            {
                "created": int(time.time()),
                **_settings(body),
                "data": [{"b64_json": PNG_1X1, "revised_prompt": body["prompt"]} for _ in range(n)],
                "usage": _USAGE,
            }
        )
    common = {"created_at": int(time.time()), **_settings(body)}
    frames = []
    for index in range(_number(body.get("partial_images"), 0)):
        partial = {
            "type": f"{prefix}.partial_image",
            "b64_json": PNG_1X1,
            **common,
            "partial_image_index": index,
        }
        frames.append(sse(partial, event=partial["type"]))
    for _ in range(n):
        completed = {"type": f"{prefix}.completed", "b64_json": PNG_1X1, **common, "usage": _USAGE}
        frames.append(sse(completed, event=completed["type"]))
    fake.image_stream = b"".join(frames)
    return await fake.stream(request, frames)


def _settings(body: dict[str, Any]) -> dict[str, Any]:
    return {
        "background": "opaque",
        "output_format": body.get("output_format") or "png",
        "quality": body.get("quality") or "high",
        "size": body.get("size") or "1024x1024",
    }


def _number(value: Any, default: int) -> int:
    """A JSON number, or a form field's digits."""
    if isinstance(value, int):
        return value
    return int(value) if isinstance(value, str) and value.isdigit() else default


def error_frame(code: str, message: str, body: Any = None) -> bytes:
    """The Images API's in-stream ``error`` event; ``body`` (a scripted ``Behavior.body``)
    replaces its data as it is."""
    data = (
        body
        if body is not None
        else {
            "type": "error",
            "error": {"type": "server_error", "code": code, "message": message, "param": None},
        }
    )
    return sse(data, event="error")
