"""xAI's media APIs as CPA reaches them (``xai_executor_media.go`` and the OpenAI image /
video handlers): OpenAI Images API requests for ``grok-imagine-image*`` models become xAI
``/images/generations`` / ``/images/edits`` calls, OpenAI Videos API requests become xAI
``/videos/generations`` calls polled with ``GET /videos/{request_id}``, and the answers
come back in OpenAI's shapes.

Pure functions plus :func:`media_request` (the upstream call ``XAIProvider.build`` makes
for an ``images.*`` / ``videos.*`` action). Media always goes to the public API base
(``base_url`` of the credential, else ``https://api.x.ai/v1``), never the CLI chat proxy.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.providers.base import RewriteError, UpstreamRequest, copy_client_headers

__all__ = [
    "DEFAULT_VIDEO_MODEL",
    "IMAGE_MODELS",
    "VIDEO_ACTIONS",
    "VideoMeta",
    "image_answer",
    "image_body",
    "image_events",
    "is_image_model",
    "is_sora_model",
    "is_video_model",
    "media_request",
    "normalize_refs",
    "routing_video_model",
    "video_content_url",
    "video_create_answer",
    "video_create_body",
    "video_failed",
    "video_id_of",
    "video_model",
    "video_retrieve_answer",
]

IMAGE_MODELS = ("grok-imagine-image", "grok-imagine-image-quality", "grok-imagine-image-2.0")
DEFAULT_IMAGE_MODEL = IMAGE_MODELS[0]
DEFAULT_VIDEO_MODEL = "grok-imagine-video"
VIDEO_15 = "grok-imagine-video-1.5"
VIDEO_15_PREVIEW = "grok-imagine-video-1.5-preview"
SORA = "sora-2"
_PREFIXES = ("", "xai", "x-ai", "grok")
# the pipeline action -> the xAI path
VIDEO_ACTIONS = {
    "videos.generations": "/videos/generations",
    "videos.edits": "/videos/edits",
    "videos.extensions": "/videos/extensions",
}
_MAX_REFERENCES = 7


def _parts(model: str) -> tuple[str, str]:
    model = model.strip()
    prefix, sep, base = model.rpartition("/")
    if sep and base:
        return prefix.strip().lower(), base.strip().lower()
    return "", model.lower()


def is_image_model(model: str) -> bool:
    """CPA ``isXAIImagesModel``: an xAI image model, bare or under xai/, x-ai/ or grok/."""
    prefix, base = _parts(model)
    return base in IMAGE_MODELS and prefix in _PREFIXES


def is_video_model(model: str) -> bool:
    """CPA ``isXAIVideosModel``."""
    prefix, base = _parts(model)
    return base in (DEFAULT_VIDEO_MODEL, VIDEO_15, VIDEO_15_PREVIEW) and prefix in _PREFIXES


def is_sora_model(model: str) -> bool:
    """CPA ``isSoraVideosModel``: ``sora-2`` and ``sora-2-*`` go to xAI's default video model."""
    _, base = _parts(model)
    return base == SORA or base.startswith(SORA + "-")


def video_model(model: str) -> str:
    """CPA ``canonicalXAIVideosModel``: the model xAI is asked for and the client is shown."""
    _, base = _parts(model)
    return (
        VIDEO_15 if base in (VIDEO_15, VIDEO_15_PREVIEW) and not is_sora_model(model) else DEFAULT_VIDEO_MODEL
    )


def routing_video_model(model: str) -> str:
    """CPA ``routingXAIVideosModel``: the model credentials are picked for (keeps the
    preview alias, which a catalog may list on its own)."""
    _, base = _parts(model)
    if not is_sora_model(model) and base in (VIDEO_15, VIDEO_15_PREVIEW):
        return base
    return DEFAULT_VIDEO_MODEL


# -- images


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _response_format(value: Any) -> str:
    return "url" if _text(value).lower() == "url" else "b64_json"


_ASPECTS = {
    "1:1": "1:1", "square": "1:1", "16:9": "16:9", "landscape": "16:9", "9:16": "9:16",
    "portrait": "9:16", "4:3": "4:3", "3:4": "3:4", "3:2": "3:2", "2:3": "2:3",
}  # fmt: skip
_SIZE_ASPECTS = {
    "1024x1024": "1:1", "2048x2048": "1:1", "1:1": "1:1", "1792x1024": "16:9", "16:9": "16:9",
    "1024x1792": "9:16", "9:16": "9:16", "1536x1024": "3:2", "3:2": "3:2", "1024x1536": "2:3", "2:3": "2:3",
}  # fmt: skip


def _aspect(body: Mapping[str, Any], fallback: str) -> str:
    """CPA: ``aspect_ratio`` first, ``size`` wins when it names one."""
    aspect = _ASPECTS.get(_text(body.get("aspect_ratio")).lower(), "")
    return _SIZE_ASPECTS.get(_text(body.get("size")).lower(), aspect) or fallback


def _resolution(body: Mapping[str, Any], fallback: str) -> str:
    raw = _text(body.get("resolution")).lower()
    if raw in ("1k", "2k"):
        return raw
    return "2k" if "2048" in _text(body.get("size")).lower() else fallback


def _image_urls(body: Mapping[str, Any]) -> list[str]:
    """CPA ``collectXAIImagesFromJSON``: ``image`` and ``images[]`` in any of their shapes."""
    found: list[str] = []

    def take(item: Any) -> None:
        if isinstance(item, str):
            found.append(item.strip())
        elif isinstance(item, dict):
            inner = item.get("image_url")
            found.append(_text(inner.get("url")) if isinstance(inner, dict) else _text(inner))
            found.append(_text(item.get("url")))

    take(body.get("image"))
    images = body.get("images")
    if isinstance(images, list):
        for item in images:
            take(item)
    return [url for url in found if url]


def image_body(body: Mapping[str, Any], action: str) -> dict[str, Any]:
    """The xAI request of an OpenAI Images API body (CPA ``buildXAIImages*Request``)."""
    _, base = _parts(_text(body.get("model")))
    edit = action == "images.edits"
    out: dict[str, Any] = {
        "model": base if base in IMAGE_MODELS else DEFAULT_IMAGE_MODEL,
        "prompt": _text(body.get("prompt")),
        "response_format": _response_format(body.get("response_format")),
    }
    aspect = _aspect(body, "" if edit else "1:1")
    resolution = _resolution(body, "" if edit else "1k")
    if aspect:
        out["aspect_ratio"] = aspect
    if resolution:
        out["resolution"] = resolution
    n = body.get("n")
    if isinstance(n, int) and not isinstance(n, bool) and n > 0:
        out["n"] = n
    if edit:
        urls = _image_urls(body)
        if len(urls) == 1:
            out["image"] = {"type": "image_url", "url": urls[0]}
        elif urls:
            out["images"] = [{"type": "image_url", "url": url} for url in urls]
    return out


def _mime(output_format: str) -> str:
    if "/" in output_format:
        return output_format
    return {"jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}.get(
        output_format.strip().lower(), "image/png"
    )


def image_answer(data: bytes, response_format: str) -> bytes:
    """CPA ``buildImagesAPIResponseFromXAI``: xAI's image answer in OpenAI's shape, each
    image as ``url`` or ``b64_json`` as the client asked (a ``url`` request with only
    base64 data gets a ``data:`` URL; a ``b64_json`` request with only a URL gets the URL)."""
    try:
        root = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RewriteError("upstream returned invalid image response JSON", status=502) from None
    items = root.get("data") if isinstance(root, dict) else None
    out_items: list[dict[str, Any]] = []
    as_url = _response_format(response_format) == "url"
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        b64, url = _text(item.get("b64_json")), _text(item.get("url"))
        if not b64 and not url:
            continue
        mime = _text(item.get("mime_type")) or _mime(_text(item.get("output_format")))
        entry: dict[str, Any] = {}
        if as_url:
            entry["url"] = url or f"data:{_mime(mime)};base64,{b64}"
        elif b64:
            entry["b64_json"] = b64
        else:
            entry["url"] = url
        if revised := _text(item.get("revised_prompt")):
            entry["revised_prompt"] = revised
        out_items.append(entry)
    if not out_items:
        raise RewriteError("upstream did not return image output", status=502)
    assert isinstance(root, dict)
    created = root.get("created")
    out: dict[str, Any] = {
        "created": created if isinstance(created, int) and created > 0 else int(time.time()),
        "data": out_items,
    }
    if isinstance(root.get("usage"), dict):
        out["usage"] = root["usage"]
    return orjson.dumps(out)


def image_events(answer: bytes, prefix: str) -> bytes:
    """CPA ``streamImagesWithModel``: an xAI image answer (already in OpenAI's shape, see
    :func:`image_answer`) as the SSE events of a streamed Images API request, one
    ``{prefix}.completed`` event per image, each carrying the usage."""
    root = orjson.loads(answer)
    event = f"{prefix}.completed"
    usage = root.get("usage") if isinstance(root, dict) else None
    out: list[bytes] = []
    for item in root.get("data") or () if isinstance(root, dict) else ():
        if not isinstance(item, dict):
            continue
        data: dict[str, Any] = {"type": event}
        if "url" in item:
            data["url"] = item["url"]
        if "b64_json" in item:
            data["b64_json"] = item["b64_json"]
        if isinstance(usage, dict):
            data["usage"] = usage
        out.append(b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n")
    return b"".join(out)


def normalize_refs(value: Any) -> None:
    """CPA ``normalizeXAIImageRefs``, in place: every ``image`` / ``images[]`` /
    ``reference_images[]`` object carries ``url`` (from ``image_url`` or
    ``image_url.url``) and no ``image_url``."""
    if isinstance(value, dict):
        for key, child in value.items():
            if key == "image":
                _normalize_ref(child)
            elif key in ("images", "reference_images") and isinstance(child, list):
                for ref in child:
                    _normalize_ref(ref)
            normalize_refs(child)
    elif isinstance(value, list):
        for child in value:
            normalize_refs(child)


def _normalize_ref(ref: Any) -> None:
    if not isinstance(ref, dict):
        return
    url = _text(ref.get("url"))
    inner = ref.get("image_url")
    if not url:
        url = _text(inner.get("url")) if isinstance(inner, dict) else _text(inner)
    if url:
        ref["url"] = url
        ref.pop("image_url", None)


# -- videos


@dataclass(frozen=True, slots=True)
class VideoMeta:
    """What the OpenAI ``video`` object echoes of the create request."""

    model: str
    routing_model: str
    prompt: str
    seconds: str
    size: str
    created_at: int


_VIDEO_SIZES = {"720x1280": "9:16", "1024x1792": "9:16", "1280x720": "16:9", "1792x1024": "16:9"}


def video_create_body(body: Mapping[str, Any], model: str) -> tuple[dict[str, Any], VideoMeta]:
    """CPA ``buildXAIVideosCreateRequest``: an OpenAI ``POST /videos`` body as xAI's
    ``/videos/generations`` request. ``RequestError`` for what xAI cannot take."""
    prompt = _text(body.get("prompt"))
    if not prompt:
        raise RequestError("Invalid request: prompt is required", param="prompt")
    raw_seconds = body.get("seconds")
    seconds = str(raw_seconds).strip() if raw_seconds is not None else ""
    try:
        duration = min(15, max(1, int(seconds or "4")))
    except ValueError:
        raise RequestError("Invalid request: seconds must be an integer", param="seconds") from None
    size = _text(body.get("size")) or "720x1280"
    if size not in _VIDEO_SIZES:
        raise RequestError(
            "Invalid request: size must be one of 720x1280, 1280x720, 1024x1792, or 1792x1024", param="size"
        )
    aspect = _ASPECTS.get(_text(body.get("aspect_ratio")).lower()) or _VIDEO_SIZES[size]
    raw_res = _text(body.get("resolution")).lower()
    resolution = raw_res if raw_res in ("480p", "720p") else "720p"
    image = _video_image(body)
    refs = _video_refs(body)
    if len(refs) > _MAX_REFERENCES:
        raise RequestError(
            f"Invalid request: reference_images supports at most {_MAX_REFERENCES} images on xAI",
            param="reference_images",
        )
    if image and refs:
        raise RequestError("Invalid request: image and reference_images cannot be combined on xAI")
    if refs and duration > 10:
        duration = 10
    out: dict[str, Any] = {
        "model": video_model(model),
        "prompt": prompt,
        "duration": duration,
        "aspect_ratio": aspect,
        "resolution": resolution,
    }
    if image:
        out["image"] = {"url": image}
    if refs:
        out["reference_images"] = [{"url": url} for url in refs]
    meta = VideoMeta(
        video_model(model), routing_video_model(model), prompt, str(duration), size, int(time.time())
    )
    return out, meta


def _video_image(body: Mapping[str, Any]) -> str:
    ref = body.get("input_reference")
    if isinstance(ref, dict):
        url, file_id = _text(ref.get("image_url")), _text(ref.get("file_id"))
        if url and file_id:
            raise RequestError(
                "Invalid request: input_reference must provide exactly one of image_url or file_id"
            )
        if file_id:
            raise RequestError(
                "Invalid request: input_reference.file_id is not supported for xAI video generation; "
                "use input_reference.image_url"
            )
        if url:
            return url
    image = body.get("image")
    if isinstance(image, str):
        return image.strip()
    if isinstance(image, dict):
        inner = image.get("image_url")
        return _text(image.get("url")) or (_text(inner.get("url")) if isinstance(inner, dict) else "")
    return _text(body.get("image_url"))


def _video_refs(body: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for key in ("reference_images", "reference_image_urls"):
        items = body.get(key)
        for item in items if isinstance(items, list) else ():
            if isinstance(item, str):
                url = item.strip()
            elif isinstance(item, dict):
                inner = item.get("image_url")
                url = _text(item.get("url")) or (_text(inner.get("url")) if isinstance(inner, dict) else "")
            else:
                url = ""
            if url:
                out.append(url)
    return out


def _status(value: Any) -> str:
    """CPA ``openAIVideoStatus``."""
    return {
        "queued": "queued", "pending": "queued", "in_progress": "in_progress", "processing": "in_progress",
        "running": "in_progress", "completed": "completed", "done": "completed", "succeeded": "completed",
        "success": "completed", "failed": "failed", "error": "failed", "expired": "failed",
        "cancelled": "failed", "canceled": "failed",
    }.get(_text(value).lower(), "")  # fmt: skip


def video_id_of(root: Mapping[str, Any]) -> str:
    return _text(root.get("request_id")) or _text(root.get("id"))


def _object(data: bytes) -> dict[str, Any]:
    try:
        root = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise RewriteError("xAI video response is not JSON", status=502) from None
    if not isinstance(root, dict):
        raise RewriteError("xAI video response is not a JSON object", status=502)
    return root


def video_create_answer(data: bytes, meta: VideoMeta) -> dict[str, Any]:
    """CPA ``buildVideosCreateAPIResponseFromXAI``: the OpenAI ``video`` object of a create."""
    root = _object(data)
    video_id = video_id_of(root)
    if not video_id:
        raise RewriteError("xAI video response did not include request_id", status=502)
    out: dict[str, Any] = {
        "object": "video",
        "progress": 0,
        "status": _status(root.get("status")) or "queued",
        "id": video_id,
        "model": meta.model,
        "prompt": meta.prompt,
        "seconds": meta.seconds,
        "size": meta.size,
        "created_at": meta.created_at,
    }
    if "progress" in root:
        out["progress"] = root["progress"]
    return out


def video_retrieve_answer(video_id: str, data: bytes, fallback_model: str) -> dict[str, Any]:
    """CPA ``buildVideosRetrieveAPIResponseFromXAI``: an xAI poll answer as an OpenAI video."""
    root = _object(data)
    out: dict[str, Any] = {
        "object": "video",
        "id": video_id,
        "model": _text(root.get("model")) or video_model(fallback_model),
    }
    for name in ("created_at", "completed_at", "expires_at", "prompt", "remixed_from_video_id", "size"):
        if name in root:
            out[name] = root[name]
    if status := _status(root.get("status")):
        out["status"] = status
    if "progress" in root:
        out["progress"] = root["progress"]
    found = root.get("video")
    video: dict[str, Any] = found if isinstance(found, dict) else {}
    if "seconds" in root:
        out["seconds"] = root["seconds"]
    elif "duration" in video:
        out["seconds"] = str(video["duration"])
    if url := _text(video.get("url")):
        out["video_url"] = url
    _error(out, root)
    return out


def _error(out: dict[str, Any], root: Mapping[str, Any]) -> None:
    """CPA ``setOpenAIVideoErrorFromXAI``."""
    err = root.get("error")
    code = _text(root.get("code"))
    if err is not None:
        out.setdefault("status", "failed")
        out.setdefault("progress", 0)
        message = (
            _text(err.get("message")) if isinstance(err, dict) else _text(err) if isinstance(err, str) else ""
        )
        if message:
            if not code and isinstance(err, dict):
                code = _text(err.get("code"))
            out["error"] = {"code": code or "video_generation_failed", "message": message}
    elif code:
        out.setdefault("status", "failed")
        out.setdefault("progress", 0)
        out["error"] = {"code": code, "message": code}


def video_content_url(data: bytes) -> str:
    """CPA ``xaiVideoContentURLFromPayload``: the finished video's http(s) URL."""
    video = _object(data).get("video")
    url = _text(video.get("url")) if isinstance(video, dict) else ""
    if not url:
        raise RewriteError("xAI video response did not include video.url", status=502)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RewriteError("xAI video response included invalid video.url", status=502)
    return url


def video_failed(model: str, message: str, code: str = "invalid_request_error") -> dict[str, Any]:
    """CPA ``buildVideosFailedAPIResponse``: a client mistake on ``/videos`` as a failed video."""
    return {
        "object": "video",
        "status": "failed",
        "progress": 0,
        "id": "video_" + uuid.uuid4().hex,
        "model": model.strip() or DEFAULT_VIDEO_MODEL,
        "error": {
            "code": code or "invalid_request_error",
            "message": message.strip() or "Video generation failed",
        },
    }


# -- the upstream call


def media_request(
    cred: Credential, body: dict[str, Any], action: str, client_headers: Mapping[str, str], base: str
) -> UpstreamRequest:
    """xAI's media call for ``action`` (``images.generations``, ``images.edits``,
    ``videos.generations`` / ``.edits`` / ``.extensions``, ``videos.retrieve``)."""
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    token = cred.api_key or cred.access_token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    headers.update(copy_client_headers(cred, client_headers))
    if action.startswith("images."):
        upstream = image_body(body, action)
        fmt = upstream["response_format"]
        url = base + "/" + action.replace(".", "/")
        return UpstreamRequest(
            url, headers, orjson.dumps(upstream), False, rewrite_body=lambda data: image_answer(data, fmt)
        )
    if action == "videos.retrieve":
        headers.pop("Content-Type")
        request_id = _text(body.get("request_id"))
        if request_id in (".", ".."):  # a dot segment: every client resolves it (up to {base}/)
            raise RequestError(f"Invalid request: {request_id!r} is not a video id", param="video_id")
        url = f"{base}/videos/{quote(request_id, safe='')}"
        return UpstreamRequest(url, headers, b"", False, method="GET")
    path = VIDEO_ACTIONS.get(action)
    if path is None:
        raise RequestError(f"xAI has no media action {action!r}", status=501)
    if key := _text(client_headers.get("x-idempotency-key")):
        headers["x-idempotency-key"] = key
    normalize_refs(body)
    return UpstreamRequest(base + path, headers, orjson.dumps(body), False)
