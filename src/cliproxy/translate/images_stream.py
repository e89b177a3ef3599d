"""Streamed Images API answers (``stream: true`` on ``/v1/images/generations`` and
``/v1/images/edits``), made as CPA makes them (``streamImagesFromResponses``): a Responses
request to Codex's main model with the ``image_generation`` tool forced, whose stream
becomes Images API events:

- ``response.image_generation_call.partial_image`` -> ``<prefix>.partial_image``
  (``partial_image_index`` and ``b64_json``, or ``url`` as a ``data:`` URL when the client
  asked ``response_format: url``);
- ``response.completed`` -> one ``<prefix>.completed`` per ``image_generation_call``
  result (with ``usage`` from ``response.tool_usage.image_gen``), then the stream ends; a
  completion without an image is an ``error`` event (502);
- ``error`` / ``response.failed`` -> an ``error`` event, then the end.

``<prefix>`` is ``image_generation`` or ``image_edit``. Every other event is dropped.

An upstream with an Images API of its own (an ``openai-compatibility`` model marked
``image: true``) streams those events itself: :func:`relay` hands its bytes on as they
come, as CPA does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.calls import SSE_HEADERS, Reply, StreamReply
from cliproxy.errors import UpstreamError
from cliproxy.formats.sse import SSEDecoder, frame

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential

__all__ = ["MAIN_MODEL", "ImagesStream", "relay", "responses_request", "stream_reply"]

_READ_FAILURES = (TimeoutError, ConnectionError)

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)

MAIN_MODEL = "gpt-5.4-mini"  # CPA defaultImagesMainModel
_TOOL_FIELDS = ("size", "quality", "background", "output_format", "moderation")
_TOOL_NUMBERS = ("output_compression", "partial_images")
_MIME = {"png": "image/png", "jpeg": "image/jpeg", "jpg": "image/jpeg", "webp": "image/webp"}


def responses_request(
    body: dict[str, Any], image_model: str, action: str, main_model: str = MAIN_MODEL
) -> dict[str, Any]:
    """CPA's ``buildImagesResponsesRequest``: the prompt (and an edit's images) as one user
    message, the ``image_generation`` tool carrying the Images API options, forced, on
    ``main_model`` (``gpt-image-2-base-model``)."""
    tool: dict[str, Any] = {
        "type": "image_generation",
        "action": "edit" if action == "images.edits" else "generate",
        "model": image_model,
    }
    for name in _TOOL_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value.strip():
            tool[name] = value.strip()
    for name in _TOOL_NUMBERS:
        value = body.get(name)
        if isinstance(value, _NUMBERS) and not isinstance(value, bool):
            tool[name] = int(value)
    content: list[dict[str, Any]] = [{"type": "input_text", "text": str(body.get("prompt") or "")}]
    for image in body.get("images") or ():
        url = image.get("image_url") if isinstance(image, dict) else None
        if isinstance(url, str) and url.strip():
            content.append({"type": "input_image", "image_url": url})
    prefix = image_model.rpartition("/")[0]
    return {
        "instructions": "",
        "stream": True,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "parallel_tool_calls": True,
        "include": ["reasoning.encrypted_content"],
        "model": f"{prefix}/{main_model}" if prefix else main_model,
        "store": False,
        "tool_choice": {"type": "image_generation"},
        "tools": [tool],
        "input": [{"type": "message", "role": "user", "content": content}],
    }


def stream_reply(result: Reply | StreamReply, response_format: str, prefix: str) -> Reply | StreamReply:
    """The Responses answer of :func:`responses_request` as the Images API streams it."""
    if isinstance(result, Reply):
        return result  # a plugin answered whole: as it is
    images = ImagesStream(response_format, prefix)
    first = images.feed(result.first)
    return StreamReply(
        result.headers, first, _rest(images, result.rest), result.credential, result.read_usage
    )


async def _rest(images: ImagesStream, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        async for chunk in rest:
            if images.ended:
                break
            if out := images.feed(chunk):
                yield out
        if out := images.finish():
            yield out
    finally:
        await rest.aclose()  # type: ignore[attr-defined]


async def relay(
    chunks: AsyncIterator[bytes],
    release: Callable[[], None],
    cred: Credential,
    failure: Callable[[BaseException, str], UpstreamError],
) -> StreamReply:
    """An upstream's own Images API stream, its bytes as they come (CPA
    ``streamOpenAICompatImages``). The first bytes are read here, so an upstream that
    breaks before sending any still fails over (``failure`` makes the read's exception
    ours); a read that breaks later ends the stream with an ``error`` event."""
    try:
        first = await anext(chunks, b"")
    except _READ_FAILURES as exc:
        release()
        raise failure(exc, "before the first image event") from exc
    if not first:
        release()
        raise UpstreamError("upstream stream ended before any content", status=502, credential_id=cred.id)
    return StreamReply(dict(SSE_HEADERS), first, _relayed(chunks, release, failure), cred)


async def _relayed(
    chunks: AsyncIterator[bytes],
    release: Callable[[], None],
    failure: Callable[[BaseException, str], UpstreamError],
) -> AsyncIterator[bytes]:
    try:
        async for chunk in chunks:
            yield chunk
    except _READ_FAILURES as exc:
        err = failure(exc, "mid-stream")
        yield b"\n\n" + _error(err.status, err.message)  # (a frame the upstream left open ends first)
    finally:
        release()


class ImagesStream:
    """Responses SSE in, Images API SSE out (an incremental decoder: ``feed``/``finish``)."""

    __slots__ = ("_decoder", "ended", "format", "prefix")

    def __init__(self, response_format: str, prefix: str) -> None:
        self._decoder = SSEDecoder()
        self.format = (response_format or "b64_json").strip().lower()
        self.prefix = prefix
        self.ended = False

    def feed(self, chunk: bytes) -> bytes:
        out = []
        for event in self._decoder.decode(chunk):
            if self.ended:
                break
            out.append(self._event(event.data))
        return b"".join(out)

    def finish(self) -> bytes:
        out = self.feed(b"\n\n")
        if not self.ended:
            self.ended = True
            out += _error(502, "upstream stream ended before the image was done")
        return out

    def _event(self, data: bytes) -> bytes:
        if not data or data == b"[DONE]":
            return b""
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.ended = True
            return _error(502, "upstream sent a stream event that is not JSON")
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind == "response.image_generation_call.partial_image":
            return self._partial(obj)
        if kind == "response.completed":
            self.ended = True
            return self._completed(obj)
        if kind in ("error", "response.failed"):
            self.ended = True
            return _error_of(obj)
        return b""

    def _partial(self, obj: dict[str, Any]) -> bytes:
        b64 = str(obj.get("partial_image_b64") or "").strip()
        if not b64:
            return b""
        index = obj.get("partial_image_index")
        name = self.prefix + ".partial_image"
        out = {"type": name, "partial_image_index": index if isinstance(index, int) else 0}
        out.update(self._image(b64, str(obj.get("output_format") or "")))
        return frame(name, orjson.dumps(out))

    def _completed(self, obj: dict[str, Any]) -> bytes:
        response = obj.get("response")
        if not isinstance(response, dict):
            response = {}
        output = response.get("output")
        if not isinstance(output, list):
            output = []
        tool_usage = response.get("tool_usage")
        usage = tool_usage.get("image_gen") if isinstance(tool_usage, dict) else None
        name = self.prefix + ".completed"
        frames = []
        for item in output:
            if not isinstance(item, dict) or item.get("type") != "image_generation_call":
                continue
            result = str(item.get("result") or "").strip()
            if not result:
                continue
            out: dict[str, Any] = {"type": name, **self._image(result, str(item.get("output_format") or ""))}
            if isinstance(usage, dict):
                out["usage"] = usage
            frames.append(frame(name, orjson.dumps(out)))
        return b"".join(frames) or _error(502, "upstream did not return image output")

    def _image(self, b64: str, output_format: str) -> dict[str, str]:
        if self.format == "url":
            mime = _MIME.get(output_format.strip().lower(), "image/png")
            return {"url": f"data:{mime};base64,{b64}"}
        return {"b64_json": b64}


def _error_of(obj: dict[str, Any]) -> bytes:
    err = obj.get("error")
    if not isinstance(err, dict):
        response = obj.get("response")
        err = response.get("error") if isinstance(response, dict) else None
    err = err if isinstance(err, dict) else {}
    status = obj.get("status")
    return _error(
        status if isinstance(status, int) else 502, str(err.get("message") or "upstream failed"), err
    )


def _error(status: int, message: str, err: dict[str, Any] | None = None) -> bytes:
    kind = "invalid_request_error" if 400 <= status < 500 else "server_error"
    body = {"type": "error", "error": {"type": kind, "message": message, "code": (err or {}).get("code")}}
    return frame("error", orjson.dumps(body))
