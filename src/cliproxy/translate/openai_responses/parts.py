"""Responses content parts <-> IR blocks (input_text, output_text, refusal,
input_image, input_file).

Parse keeps every part key the IR has no field for in the block's ``extras`` (the part
``type`` included), so a Responses -> IR -> Responses trip writes the part back as
given. ``own`` builders write those extras back; cross-format builders emit the
canonical shape.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats.data_url import make_data_url as data_url
from cliproxy.formats.data_url import split_data_url
from cliproxy.translate import ir

__all__ = ["build_part", "data_url", "parse_part", "parse_parts", "split_data_url"]

_TEXT_TYPES = frozenset({"input_text", "output_text", "text", "summary_text", "reasoning_text"})


def _rest(part: dict[str, Any], used: tuple[str, ...]) -> dict[str, Any] | None:
    rest = {k: v for k, v in part.items() if k not in used}
    return rest or None


def parse_part(part: Any, where: str, text_type: str = "input_text") -> ir.Block:
    """One part; ``text_type`` is the role's usual text part type, left out of extras."""
    if isinstance(part, str):
        return ir.Text(part, extras={"_bare": True})
    if not isinstance(part, dict):
        raise RequestError(f"{where}: content part must be an object", param=where)
    ptype = part.get("type")
    if ptype is not None and not isinstance(ptype, str):
        raise RequestError(f"{where}.type: expected a string", param=f"{where}.type")
    if ptype in _TEXT_TYPES:
        text = part.get("text")
        if not isinstance(text, str):
            raise RequestError(f"{where}.text: expected a string", param=f"{where}.text")
        if ptype == text_type and len(part) == 2:  # the common case, no extras
            return ir.Text(text)
        if ptype == "output_text":
            return ir.Text(
                text, citations=part.get("annotations"), extras=_rest(part, ("text", "annotations"))
            )
        return ir.Text(text, extras=_rest(part, ("text",)))
    if ptype == "refusal":
        text = part.get("refusal")
        if not isinstance(text, str):
            raise RequestError(f"{where}.refusal: expected a string", param=f"{where}.refusal")
        return ir.Text(text, extras={**(_rest(part, ("refusal",)) or {}), "_refusal": True})
    if ptype == "input_image":
        return _parse_image(part, where)
    if ptype == "input_file":
        return _parse_file(part, where)
    if ptype == "input_audio":
        audio = _parse_audio(part)
        if audio is not None:
            return audio
    if not isinstance(ptype, str):
        raise RequestError(f"{where}.type: missing content part type", param=f"{where}.type")
    return ir.ServerTool("openai", part)  # future part kinds, kept whole


def parse_parts(content: Any, where: str, text_type: str = "input_text") -> list[ir.Block]:
    if not isinstance(content, list):
        raise RequestError(f"{where}: expected a string or a list of parts", param=where)
    return [parse_part(p, f"{where}[{i}]", text_type) for i, p in enumerate(content)]


# input_audio formats <-> MIME types (as the Chat adapter reads them)
_AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac",
               "aac": "audio/aac", "m4a": "audio/mp4", "webm": "audio/webm", "pcm16": "audio/pcm"}  # fmt: skip
_AUDIO_FORMAT = {v: k for k, v in _AUDIO_MIME.items()} | {"audio/mp3": "mp3", "audio/x-wav": "wav"}


def _parse_audio(part: dict[str, Any]) -> ir.File | None:
    """``input_audio`` (``{data, format}`` flat, as Codex takes it, or nested under
    ``input_audio``): an audio file block; the part rides whole for a Responses upstream."""
    inner = part.get("input_audio")
    src = inner if isinstance(inner, dict) else part
    data, fmt = src.get("data"), src.get("format")
    if not isinstance(data, str):
        return None
    fmt = fmt.lower() if isinstance(fmt, str) and fmt else "wav"
    return ir.File(
        data=data, media_type=_AUDIO_MIME.get(fmt, f"audio/{fmt}"), extras={"_raw_part": part, "_audio": fmt}
    )


def _build_audio(f: ir.File, own: bool) -> dict[str, Any] | None:
    ex = f.extras or {}
    if own and "_raw_part" in ex:
        return ex["_raw_part"]
    if f.data is None:
        return None
    media = f.media_type or ""
    fmt = ex.get("_audio") or _AUDIO_FORMAT.get(media, media[6:] or "wav")
    return {"type": "input_audio", "data": f.data, "format": fmt}  # CPA's Codex shape


def _parse_image(part: dict[str, Any], where: str) -> ir.Image:
    url = part.get("image_url")
    if isinstance(url, dict) and isinstance(url.get("url"), str):
        url = url["url"]  # the Chat shape some clients send in Responses parts (CPA reads it)
    img = ir.Image(
        file_id=part.get("file_id"),
        detail=part.get("detail"),
        extras=_rest(part, ("image_url", "file_id", "detail")),
    )
    if url is not None:
        if not isinstance(url, str):
            raise RequestError(f"{where}.image_url: expected a string", param=f"{where}.image_url")
        split = split_data_url(url)
        if split:
            img.media_type, img.data = split
        else:
            img.url = url
    elif img.file_id is None:
        raise RequestError(f"{where}: input_image needs image_url or file_id", param=where)
    return img


def _parse_file(part: dict[str, Any], where: str) -> ir.File:
    f = ir.File(
        file_id=part.get("file_id"),
        url=part.get("file_url"),
        filename=part.get("filename"),
        extras=_rest(part, ("file_data", "file_id", "file_url", "filename")),
    )
    data = part.get("file_data")
    if data is not None:
        if not isinstance(data, str):
            raise RequestError(f"{where}.file_data: expected a string", param=f"{where}.file_data")
        split = split_data_url(data)
        if split:
            f.media_type, f.data = split
        else:
            f.data = data
    return f


# --------------------------------------------------------------------------- build


def _own_extras(extras: dict[str, Any] | None) -> dict[str, Any]:
    if not extras:
        return {}
    return {k: v for k, v in extras.items() if k[:1] != "_"}


def build_part(block: ir.Block, text_type: str, own: bool) -> dict[str, Any] | str | None:
    """One content part, or None when the block has no Responses part form."""
    if isinstance(block, ir.Text):
        return _build_text(block, text_type, own)
    if isinstance(block, ir.Image):
        return _build_image(block, own)
    if isinstance(block, ir.File):
        if (block.media_type or "").startswith("audio/"):
            return _build_audio(block, own)
        return _build_file(block, own)
    if isinstance(block, ir.ServerTool) and block.family == "openai":
        return block.raw
    return None


def _build_text(block: ir.Text, text_type: str, own: bool) -> dict[str, Any] | str | None:
    ex = block.extras
    if ex and "_raw_part" in ex:
        return ex["_raw_part"] if own else None
    if not own:
        if ex and ex.get("_refusal") and text_type == "output_text":  # (a Chat client's refusal)
            return {"type": "refusal", "refusal": block.text}
        part: dict[str, Any] = {"type": text_type, "text": block.text}
        if text_type == "output_text":
            part["annotations"] = []
        return part
    if not ex:
        part = {"type": text_type, "text": block.text}
        if block.citations is not None:
            part["annotations"] = block.citations
        return part
    if ex.get("_bare"):
        return block.text
    part = {"type": text_type}
    part.update(_own_extras(ex))
    part["refusal" if part["type"] == "refusal" else "text"] = block.text
    if block.citations is not None:
        part["annotations"] = block.citations
    return part


def _build_image(img: ir.Image, own: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "input_image"}
    if img.data is not None:
        part["image_url"] = data_url(img.media_type, img.data)
    elif img.url is not None:
        part["image_url"] = img.url
    if img.file_id is not None:
        part["file_id"] = img.file_id
    if own:
        if img.detail is not None:
            part["detail"] = img.detail
        part.update(_own_extras(img.extras))
    else:
        part["detail"] = img.detail if img.detail in ("low", "high", "auto", "original") else "auto"
    return part


def _build_file(f: ir.File, own: bool) -> dict[str, Any]:
    part: dict[str, Any] = {"type": "input_file"}
    if f.data is not None:
        part["file_data"] = f.data if own and f.media_type is None else data_url(f.media_type, f.data)
    if f.file_id is not None:
        part["file_id"] = f.file_id
    if f.url is not None:
        part["file_url"] = f.url
    if f.filename is not None:
        part["filename"] = f.filename
    elif not own and f.data is not None:
        part["filename"] = "file.pdf" if f.media_type == "application/pdf" else "file"
    if own:
        part.update(_own_extras(f.extras))
    return part
