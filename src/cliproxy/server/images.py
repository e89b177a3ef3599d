"""``POST /v1/images/generations`` and ``/v1/images/edits``: OpenAI's Images API, served
through Codex as CPA does for its image models (``gpt-image-2``, the default, and
``gpt-image-1.5``): the request goes to the Codex backend's own ``/images/generations`` or
``/images/edits`` and its JSON answer comes back as it is.

HTTP parsing only: a JSON body is taken as it is; a multipart edit (what the openai SDK
sends) becomes CPA's JSON edit shape, each image file a ``data:`` URL in
``images[].image_url`` and the mask in ``mask.image_url``; numeric form fields become
numbers. ``disable-image-generation: true`` hides the routes (404), as in CPA.
"""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import BodyPartReader, web

from cliproxy.calls import Call
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.server.context import SERVICE

__all__ = ["IMAGE_MODELS", "image_call"]

DEFAULT_MODEL = "gpt-image-2"
IMAGE_MODELS = ("gpt-image-1.5", "gpt-image-2")
_NUMBERS = frozenset({"n", "output_compression", "partial_images"})
_FILE_FIELDS = frozenset({"image", "image[]", "mask"})


async def image_call(request: web.Request, action: str, json_body: Any) -> Call:
    """The ``Call`` of an Images API request (``action``: ``images.generations`` or
    ``images.edits``); ``json_body`` reads a JSON body (the handlers' reader)."""
    if request.app[SERVICE].config.image_generation_mode == "all":
        raise RequestError(
            "image generation is disabled on this proxy (disable-image-generation: true)", status=404
        )
    if action == "images.edits" and request.content_type.startswith("multipart/"):
        body = await _multipart_edit(request)
    else:
        body = await json_body(request)
    model = body.get("model")
    if model is None or (isinstance(model, str) and not model.strip()):
        model = DEFAULT_MODEL
    if not isinstance(model, str) or model.strip().rpartition("/")[2].lower() not in IMAGE_MODELS:
        raise RequestError(
            f"Model {model} is not supported on /v1/images/generations or /v1/images/edits. "
            f"Use {' or '.join(IMAGE_MODELS)}.",
            param="model",
        )
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise RequestError("prompt: required, a non-empty string", param="prompt")
    if body.get("stream") is True:
        raise RequestError(
            "stream: streaming image answers are not supported by cliproxy yet", param="stream"
        )
    body.pop("stream", None)
    body["model"] = model.strip()
    return Call(Format.OPENAI, body, model.strip(), False, request.headers, request.query, action=action)


async def _multipart_edit(request: web.Request) -> dict[str, Any]:
    """CPA's ``codexRewriteOpenAIImageEditMultipartToJSON``: the form as a JSON edit."""
    body: dict[str, Any] = {}
    values: dict[str, list[Any]] = {}
    images: list[dict[str, str]] = []
    budget = [request.app[SERVICE].config.limits.max_body_bytes]  # bytes left (limits.max-body-mb)
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        name = part.name.strip()
        if part.filename is not None or name in _FILE_FIELDS:
            url = await _data_url(part, budget)
            if name == "mask":
                body["mask"] = {"image_url": url}
            elif name in ("image", "image[]"):
                images.append({"image_url": url})
            continue
        text = (await _read(part, budget)).decode("utf-8", "replace").strip()
        if name in ("stream",):
            body["stream"] = text.lower() == "true"
            continue
        values.setdefault(_json_path(name), []).append(_value(name, text))
    for name, found in values.items():
        value = found[0] if len(found) == 1 else found
        if "." in name:  # mask[image_url] / mask[file_id]
            outer, inner = name.split(".", 1)
            body.setdefault(outer, {})[inner] = value
        else:
            body[name] = value
    if images:
        body["images"] = [*(body.get("images") or []), *images]
    return body


async def _read(part: BodyPartReader, budget: list[int]) -> bytes:
    """The part's bytes, counted against what the body may still hold."""
    chunks: list[bytes] = []
    while chunk := await part.read_chunk():
        budget[0] -= len(chunk)
        if budget[0] < 0:
            raise RequestError("request body is larger than limits.max-body-mb allows", status=413)
        chunks.append(chunk)
    return part.decode(b"".join(chunks))


async def _data_url(part: BodyPartReader, budget: list[int]) -> str:
    data = await _read(part, budget)
    mime = part.headers.get("Content-Type", "").split(";", 1)[0].strip() or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def _json_path(name: str) -> str:
    return {"mask[file_id]": "mask.file_id", "mask[image_url]": "mask.image_url"}.get(name, name)


def _value(name: str, text: str) -> Any:
    if name in _NUMBERS:
        try:
            return int(text)
        except ValueError:
            return text
    return text
