"""``POST /v1/images/generations`` and ``/v1/images/edits``: OpenAI's Images API, served
through Codex as CPA does for its image models (``gpt-image-2``, the default, and
``gpt-image-1.5``): the request goes to the Codex backend's own ``/images/generations`` or
``/images/edits`` and its JSON answer comes back as it is. xAI's ``grok-imagine-image*``
models go to xAI's Images API (``cliproxy.providers.xai_media``: ``response_format`` url or
b64_json as CPA renders it; ``stream: true`` gets xAI's whole answer as
``image_generation.completed`` events) and ``openai-compatibility`` models marked
``image: true`` to their upstream's own ``/images/*``. ``stream: true`` on a Codex or compat
model asks the upstream's own event stream, which the client gets as it comes
(``cliproxy.translate.images_stream``).

HTTP parsing only: a JSON body is taken as it is; a multipart edit (what the openai SDK
sends) must hold an image file. For an ``image: true`` compat model it goes upstream as
a form (``cliproxy.formats.multipart``: the parts as they came, the model name the
upstream's); for the others it becomes CPA's JSON edit shape, each image file a ``data:``
URL in ``images[].image_url`` and the mask in ``mask.image_url``, numeric form fields
numbers. ``disable-image-generation: true`` hides the routes (404), as in CPA.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.formats.multipart import FORM_KEY, Form, Part
from cliproxy.providers import xai_media
from cliproxy.server.context import SERVICE
from cliproxy.server.forms import reading_form
from cliproxy.translate import images_stream

__all__ = ["IMAGE_MODELS", "image_call"]

DEFAULT_MODEL = "gpt-image-2"
IMAGE_MODELS = ("gpt-image-1.5", "gpt-image-2")
_NUMBERS = frozenset({"n", "output_compression", "partial_images"})
_IMAGE_FIELDS = frozenset({"image", "image[]"})
_FILE_FIELDS = _IMAGE_FIELDS | {"mask"}
_TRUE = frozenset({"1", "true", "yes", "on"})
_CODEX, _XAI, _COMPAT = "codex", "xai", "compat"  # who serves an image model (``_image_model``)
Convert = Callable[[Reply | StreamReply], Reply | StreamReply]


async def image_call(request: web.Request, action: str, json_body: Any) -> tuple[Call, Convert | None]:
    """The ``Call`` of an Images API request (``action``: ``images.generations`` or
    ``images.edits``) and how its answer is reshaped (``None``: as it is); ``json_body``
    reads a JSON body (the handlers' reader)."""
    if request.app[SERVICE].config.image_generation_mode == "all":
        raise RequestError(
            "image generation is disabled on this proxy (disable-image-generation: true)", status=404
        )
    parts = None
    if action == "images.edits" and request.content_type.startswith("multipart/"):
        parts = await _read_parts(request)
        body = _form_fields(parts)
    else:
        body = await json_body(request)
    model = body.get("model")
    if model is None or (isinstance(model, str) and not model.strip()):
        model = DEFAULT_MODEL
    model, kind = _image_model(request, model)
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError("prompt: required, a non-empty string", param="prompt")
    if parts is not None:
        if not any(part.name in _IMAGE_FIELDS for part in parts):  # CPA: "image is required"
            raise RequestError("image: required, at least one image file", param="image")
        # an image: true compat model gets the form itself (CPA), the others CPA's JSON edit
        body = _upstream_form(body, parts) if kind == _COMPAT else _json_edit(body, parts)
    if body.get("stream") is True:
        return _stream_call(request, action, body, model.strip(), kind)
    body.pop("stream", None)
    body["model"] = model.strip()
    call = Call(Format.OPENAI, body, model.strip(), False, request.headers, request.query, action=action)
    return call, None


def _stream_call(
    request: web.Request, action: str, body: dict[str, Any], model: str, kind: str
) -> tuple[Call, Convert | None]:
    if kind == _XAI:  # CPA streamImagesWithModel: xAI's whole answer as events
        return _xai_stream_call(request, action, body, model)
    # a Codex image model (CPA streamRoutedImages -> executeDirectOpenAIImageStream) or a compat
    # one (streamOpenAICompatImages): the upstream's own Images API stream, relayed as it comes
    body["model"] = model
    return Call(Format.OPENAI, body, model, True, request.headers, request.query, action=action), None


def _xai_stream_call(
    request: web.Request, action: str, body: dict[str, Any], model: str
) -> tuple[Call, Convert]:
    body.pop("stream", None)
    body["model"] = model
    prefix = "image_edit" if action == "images.edits" else "image_generation"

    def convert(result: Reply | StreamReply) -> Reply | StreamReply:
        if not isinstance(result, Reply) or not 200 <= result.status < 300:
            return result
        events = xai_media.image_events(result.body, prefix)
        return StreamReply(dict(images_stream.SSE_HEADERS), events, _no_more(), result.credential)

    # a stream to the client (its keep-alives and late errors are an image stream's, as in CPA),
    # a whole answer from xAI
    return Call(Format.OPENAI, body, model, True, request.headers, request.query, action=action), convert


async def _no_more() -> AsyncIterator[bytes]:
    return
    yield b""  # an async generator that ends at once


def _image_model(request: web.Request, model: Any) -> tuple[Any, str]:
    """The model an Images API request goes to and its kind, as CPA's
    ``isSupportedImagesModel`` accepts it: a Codex image model, an xAI
    ``grok-imagine-image*`` (sent as its bare name), or an ``openai-compatibility`` model
    marked ``image: true``."""
    if isinstance(model, str):
        if model.strip().rpartition("/")[2].lower() in IMAGE_MODELS:
            return model, _CODEX
        if xai_media.is_image_model(model):
            return model.strip().rpartition("/")[2].lower(), _XAI
        info = request.app[SERVICE].models.model_info(model.strip())
        if info is not None and info.type == "openai-image":
            return model, _COMPAT
    raise RequestError(
        f"Model {model} is not supported on /v1/images/generations or /v1/images/edits. "
        f"Use {', '.join((*IMAGE_MODELS, *xai_media.IMAGE_MODELS))}, "
        "or a configured openai-compatibility image model.",
        param="model",
    )


async def _read_parts(request: web.Request) -> list[Part]:
    """The form's named parts, each read whole, together no larger than
    ``limits.max-body-mb`` allows."""
    parts: list[Part] = []
    budget = [request.app[SERVICE].config.limits.max_body_bytes]  # bytes left
    async with reading_form(request):  # timeouts.client-body; undecodable: the client's 400
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or not part.name:
                continue
            data = await _read(part, budget)
            content_type = part.headers.get("Content-Type", "").strip()
            parts.append(Part(part.name.strip(), data, part.filename, content_type))
    return parts


def _is_file(part: Part) -> bool:
    return part.filename is not None or part.name in _FILE_FIELDS


def _form_fields(parts: list[Part]) -> dict[str, Any]:
    """The text fields of a form as a JSON body (numbers as numbers, ``stream`` a bool,
    ``mask[image_url]`` as ``mask.image_url``)."""
    body: dict[str, Any] = {}
    values: dict[str, list[Any]] = {}
    for part in parts:
        if _is_file(part):
            continue
        text = part.data.decode("utf-8", "replace").strip()
        if part.name == "stream":  # CPA parseBoolField
            body["stream"] = text.lower() in _TRUE
            continue
        values.setdefault(_json_path(part.name), []).append(_value(part.name, text))
    for name, found in values.items():
        value = found[0] if len(found) == 1 else found
        if "." in name:  # mask[image_url] / mask[file_id]
            outer, inner = name.split(".", 1)
            body.setdefault(outer, {})[inner] = value
        else:
            body[name] = value
    return body


def _json_edit(body: dict[str, Any], parts: list[Part]) -> dict[str, Any]:
    """CPA's ``codexRewriteOpenAIImageEditMultipartToJSON``: each image file a ``data:``
    URL in ``images[].image_url``, the mask in ``mask.image_url``."""
    images: list[dict[str, str]] = []
    for part in parts:
        if not _is_file(part):
            continue
        if part.name == "mask":
            body["mask"] = {"image_url": _data_url(part)}
        elif part.name in _IMAGE_FIELDS:
            images.append({"image_url": _data_url(part)})
    if images:
        named = body.get("images")  # ``images`` text fields: one is a string, several a list
        before = named if isinstance(named, list) else [] if named in (None, "") else [named]
        body["images"] = [*before, *images]
    return body


def _upstream_form(body: dict[str, Any], parts: list[Part]) -> dict[str, Any]:
    """The body of an edit that goes upstream as the client's form (CPA
    ``buildOpenAICompatImagesMultipartRequest``; the provider writes it anew with the
    upstream model name): what the pipeline reads, and the parts."""
    out: dict[str, Any] = {name: body[name] for name in ("model", "prompt", "stream") if name in body}
    out[FORM_KEY] = Form(parts)
    return out


async def _read(part: BodyPartReader, budget: list[int]) -> bytes:
    """The part's bytes, counted against what the body may still hold."""
    chunks: list[bytes] = []
    while chunk := await part.read_chunk():
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise RequestError("request body is larger than limits.max-body-mb allows", status=413)
        chunks.append(chunk)
    return part.decode(b"".join(chunks))


def _data_url(part: Part) -> str:
    mime = part.content_type.split(";", 1)[0].strip() or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(part.data).decode()}"


def _json_path(name: str) -> str:
    return {"mask[file_id]": "mask.file_id", "mask[image_url]": "mask.image_url"}.get(name, name)


def _value(name: str, text: str) -> Any:
    if name in _NUMBERS:
        try:
            return int(text)
        except ValueError:
            return text
    return text
