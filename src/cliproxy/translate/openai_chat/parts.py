"""Chat Completions content parts <-> IR blocks.

``input_audio`` and ``video_url`` parts become file blocks with an audio / video MIME
type (marked ``_audio`` / ``_video_url`` so Chat gets them back as they were). The
Responses / Interactions spellings some clients send in Chat content (``input_text``,
``input_image``, ``image``, ``audio``, ``input_file``, ``document``), which CPA's Chat to
Interactions reader takes, become the same blocks, the part itself kept in ``_part`` so a
Chat upstream gets it back unchanged (one they cannot read is an unknown part). Parts
the IR cannot hold (unknown types) are kept whole in the message's ``extras["_parts"]``
as ``[position, part]`` pairs and put back in place when the request is built for Chat
Completions again; a builder for another format refuses the request
(``translate.source_only``).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats.data_url import make_data_url as to_data_url
from cliproxy.formats.data_url import split_data_url
from cliproxy.translate import ir

__all__ = [
    "block_parts",
    "file_part",
    "image_part",
    "parse_content",
    "split_data_url",
    "text_part",
    "to_data_url",
]


def _rest(part: dict[str, Any], known: tuple[str, ...]) -> dict[str, Any] | None:
    rest = {k: v for k, v in part.items() if k not in known}
    return rest or None


def _text(part: dict[str, Any], where: str) -> ir.Text:
    text = part.get("text")
    if not isinstance(text, str):
        raise RequestError(f"{where}.text: expected a string", param=where)
    return ir.Text(text, extras=_rest(part, ("type", "text")))


def _image(part: dict[str, Any], where: str) -> ir.Image:
    iu = part.get("image_url")
    if isinstance(iu, str):  # a lenient shorthand some clients send
        iu = {"url": iu}
        extras: dict[str, Any] = {"_url_str": True}
    elif isinstance(iu, dict):
        extras = {}
    else:
        raise RequestError(f"{where}.image_url: expected an object with a url", param=where)
    url = iu.get("url")
    if not isinstance(url, str):
        raise RequestError(f"{where}.image_url.url: expected a string", param=where)
    img = ir.Image(detail=iu.get("detail"))
    split = split_data_url(url)
    if split:
        img.media_type, img.data = split
    else:
        img.url = url
    rest = _rest(part, ("type", "image_url"))
    if rest:
        extras.update(rest)
    inner = _rest(iu, ("url", "detail"))
    if inner:
        extras["_image_url"] = inner
    img.extras = extras or None
    return img


def _file(part: dict[str, Any], where: str) -> ir.File:
    f = part.get("file")
    if not isinstance(f, dict):
        raise RequestError(f"{where}.file: expected an object", param=where)
    out = ir.File(file_id=f.get("file_id"), filename=f.get("filename"))
    extras: dict[str, Any] = {}
    data = f.get("file_data")
    if isinstance(data, str):
        split = split_data_url(data)
        if split:
            out.media_type, out.data = split
        elif data[:5].lower() == "data:":
            raise RequestError(
                f"{where}.file.file_data: expected a base64 data: URL with a media type", param=where
            )
        else:  # bare base64
            out.data = data
            out.media_type = _guess_type(out.filename)
            extras["_bare"] = True
        if not out.data and out.file_id is None:
            raise RequestError(f"{where}.file.file_data: the file has no content", param=where)
    elif data is not None:
        raise RequestError(f"{where}.file.file_data: expected a string", param=where)
    rest = _rest(part, ("type", "file"))
    if rest:
        extras.update(rest)
    inner = _rest(f, ("file_data", "file_id", "filename"))
    if inner:
        extras["_file"] = inner
    out.extras = extras or None
    return out


def _guess_type(filename: str | None) -> str | None:
    if not filename:
        return None
    return mimetypes.guess_type(filename)[0]


def _refusal(part: dict[str, Any], where: str) -> ir.Text:
    text = part.get("refusal")
    if not isinstance(text, str):
        raise RequestError(f"{where}.refusal: expected a string", param=where)
    extras = _rest(part, ("type", "refusal")) or {}
    extras["_refusal"] = True
    return ir.Text(text, extras=extras)


# input_audio formats <-> MIME types (CPA's table; Gemini wants audio/mpeg for mp3)
AUDIO_MIME = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac",
              "aac": "audio/aac", "m4a": "audio/mp4", "webm": "audio/webm", "pcm16": "audio/pcm"}  # fmt: skip
AUDIO_FORMAT = {v: k for k, v in AUDIO_MIME.items()} | {"audio/mp3": "mp3", "audio/x-wav": "wav"}


def _audio(part: dict[str, Any], where: str) -> ir.File:
    """``input_audio`` {data, format}: an audio file block (Gemini sends it as inlineData)."""
    audio = part.get("input_audio")
    if not isinstance(audio, dict) or not isinstance(audio.get("data"), str):
        raise RequestError(f"{where}.input_audio: expected an object with base64 data", param=where)
    fmt = audio.get("format")
    fmt = fmt.lower() if isinstance(fmt, str) and fmt else "wav"
    extras: dict[str, Any] = {"_audio": fmt}
    rest = _rest(part, ("type", "input_audio"))
    if rest:
        extras.update(rest)
    return ir.File(data=audio["data"], media_type=AUDIO_MIME.get(fmt, f"audio/{fmt}"), extras=extras)


def _video(part: dict[str, Any], where: str) -> ir.File:
    """``video_url`` {url} (a data: URL or a link): a video file block."""
    vu = part.get("video_url")
    url = vu.get("url") if isinstance(vu, dict) else vu
    if not isinstance(url, str):
        raise RequestError(f"{where}.video_url.url: expected a string", param=where)
    out = ir.File(extras={"_video_url": True})
    split = split_data_url(url)
    if split:
        out.media_type, out.data = split
    else:
        out.url = url
        out.media_type = mimetypes.guess_type(url.split("?", 1)[0])[0] or "video/mp4"
    return out


def _first_str(*values: Any) -> str | None:
    for v in values:
        if isinstance(v, str) and v:
            return v
    return None


def _alias_text(part: dict[str, Any], where: str) -> ir.Text | None:
    text = part.get("text")
    return ir.Text(text, extras={"_part": part}) if isinstance(text, str) else None


def _alias_image(part: dict[str, Any], where: str) -> ir.Image | None:
    """``input_image`` / ``image``: an ``image_url`` (string or object), a ``url``, or
    base64 ``data`` with a ``mime_type``; a ``file_id``. None when it has none of them."""
    iu = part.get("image_url")
    url = _first_str(iu.get("url") if isinstance(iu, dict) else iu, part.get("url"))
    img = ir.Image(detail=part.get("detail") if isinstance(part.get("detail"), str) else None)
    split = split_data_url(url) if url else None
    if split:
        img.media_type, img.data = split
    elif url:
        img.url = url
    elif isinstance(data := part.get("data"), str) and data:
        img.data, img.media_type = (
            data,
            _first_str(part.get("mime_type"), part.get("mimeType")) or "image/png",
        )
    elif isinstance(fid := part.get("file_id"), str) and fid:
        img.file_id = fid
    else:
        return None
    img.extras = {"_part": part}
    return img


def _alias_audio(part: dict[str, Any], where: str) -> ir.File | None:
    """``audio`` {data, format | mime_type}; None without data."""
    data = part.get("data")
    if not isinstance(data, str) or not data:
        return None
    fmt = part.get("format")
    mime = _first_str(part.get("mime_type")) or AUDIO_MIME.get(fmt.lower() if isinstance(fmt, str) else "wav")
    return ir.File(data=data, media_type=mime or f"audio/{fmt}", extras={"_part": part})


def _alias_file(part: dict[str, Any], where: str) -> ir.File | None:
    """``input_file`` / ``document``: ``file_data`` or ``data`` (a data: URL or bare
    base64), ``mime_type``, ``filename``, ``file_url`` / ``url``, ``file_id``; the same
    keys under ``file`` too. None when it has no data, address or id."""
    inner = part.get("file")
    f = inner if isinstance(inner, dict) else {}
    filename = _first_str(f.get("filename"), part.get("filename"))
    out = ir.File(file_id=_first_str(f.get("file_id"), part.get("file_id")), filename=filename)
    data = _first_str(f.get("file_data"), part.get("file_data"), part.get("data"))
    if data is not None:
        split = split_data_url(data)
        if split:
            out.media_type, out.data = split
        else:
            out.data = data
            out.media_type = _first_str(
                f.get("mime_type"), f.get("mimeType"), part.get("mime_type"), part.get("mimeType")
            ) or _guess_type(filename)
    else:
        out.url = _first_str(f.get("file_url"), part.get("file_url"), part.get("url"))
    if out.data is None and out.url is None and out.file_id is None:
        return None
    out.extras = {"_part": part}
    return out


# a parser's None: a part of another API's spelling it cannot read, kept whole as unknown
_PARSERS: dict[str, Callable[[dict[str, Any], str], ir.Block | None]] = {
    "text": _text,
    "image_url": _image,
    "file": _file,
    "refusal": _refusal,
    "input_audio": _audio,
    "video_url": _video,
    # other APIs' spellings (CPA's Chat -> Interactions reader takes them)
    "input_text": _alias_text,
    "output_text": _alias_text,
    "input_image": _alias_image,
    "image": _alias_image,
    "audio": _alias_audio,
    "input_file": _alias_file,
    "document": _alias_file,
}


def parse_content(parts: list[Any], where: str, msg: ir.Message) -> list[list[Any]] | None:
    """Append the blocks of a parts list to ``msg.content``; keep the rest in extras
    and return them (``[position, part]`` pairs), or None when every part was known."""
    kept: list[list[Any]] = []
    for i, part in enumerate(parts):
        pw = f"{where}[{i}]"
        if not isinstance(part, dict):
            raise RequestError(f"{pw}: expected an object", param=pw)
        ptype = part.get("type")
        if not isinstance(ptype, str):
            raise RequestError(f"{pw}.type: expected a string", param=pw)
        parser = _PARSERS.get(ptype)
        block = parser(part, pw) if parser is not None else None
        if block is None:
            kept.append([i, part])
        else:
            msg.content.append(block)
    if kept:
        if msg.extras is None:
            msg.extras = {}
        msg.extras["_parts"] = kept
        return kept
    return None


# --------------------------------------------------------------------------- build


def _with(extras: dict[str, Any] | None, part: dict[str, Any], same: bool) -> dict[str, Any]:
    if same and extras:
        for k, v in extras.items():
            if not k.startswith("_"):
                part[k] = v
    return part


def text_part(b: ir.Text, same: bool) -> dict[str, Any]:
    if same and b.extras and b.extras.get("_refusal"):
        return _with(b.extras, {"type": "refusal", "refusal": b.text}, same)
    return _with(b.extras, {"type": "text", "text": b.text}, same)


# the detail values Chat accepts; Codex's "original" is its highest, "high" (CPA)
_DETAIL = {"auto": "auto", "low": "low", "high": "high", "original": "high"}


def image_part(b: ir.Image, same: bool) -> dict[str, Any] | None:
    if b.data is not None:
        url = to_data_url(b.media_type or "image/png", b.data)
    elif b.url is not None:
        url = b.url
    elif b.file_id is not None:  # Chat images cannot name a file; a file part can
        return {"type": "file", "file": {"file_id": b.file_id}}
    else:
        return None
    iu: dict[str, Any] = {"url": url}
    detail = b.detail if same else _DETAIL.get(b.detail) if isinstance(b.detail, str) else None
    if detail is not None:
        iu["detail"] = detail
    ex = b.extras if same else None
    if ex:
        iu.update(ex.get("_image_url") or {})
        if ex.get("_url_str") and len(iu) == 1:
            return _with(ex, {"type": "image_url", "image_url": url}, same)
    return _with(ex, {"type": "image_url", "image_url": iu}, same)


def file_part(b: ir.File, same: bool) -> dict[str, Any]:
    media = b.media_type or ""
    if b.data is not None and media.startswith("audio/"):
        fmt = (b.extras or {}).get("_audio") or AUDIO_FORMAT.get(media, media[6:])
        return _with(
            b.extras if same else None,
            {"type": "input_audio", "input_audio": {"data": b.data, "format": fmt}},
            same,
        )
    video = media.startswith("video/") and (b.data is not None or b.url is not None)
    if (same and b.extras and b.extras.get("_video_url")) or (not same and video):  # CPA: video_url
        url = to_data_url(media, b.data) if b.data is not None else b.url
        return {"type": "video_url", "video_url": {"url": url}}
    ex = b.extras if same else None
    f: dict[str, Any] = {}
    if b.data is not None:
        if ex and ex.get("_bare"):
            f["file_data"] = b.data
        else:
            f["file_data"] = to_data_url(b.media_type or _guess_type(b.filename) or "application/pdf", b.data)
    elif b.url is not None and b.file_id is None:
        # Chat file parts cannot point at a URL: name it in text instead.
        return {"type": "text", "text": b.url}
    if b.file_id is not None:
        f["file_id"] = b.file_id
    if b.filename is not None:
        f["filename"] = b.filename
    if ex:
        f.update(ex.get("_file") or {})
    return _with(ex, {"type": "file", "file": f}, same)


def block_parts(
    blocks: list[ir.Block], same: bool, extras: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Text, image and file blocks -> parts; other blocks are skipped. Kept parts in
    ``extras["_parts"]`` go back to their positions when ``same``."""
    out: list[dict[str, Any]] = []
    for b in blocks:
        if same and isinstance(b, (ir.Text, ir.Image, ir.File)) and b.extras and "_part" in b.extras:
            # another API's spelling, as sent
            out.append(b.extras["_part"])
        elif isinstance(b, ir.Text):
            out.append(text_part(b, same))
        elif isinstance(b, ir.Image):
            p = image_part(b, same)
            if p is not None:
                out.append(p)
        elif isinstance(b, ir.File):
            out.append(file_part(b, same))
    if same and extras and extras.get("_parts"):
        for pos, part in extras["_parts"]:
            out.insert(pos, part)
    return out
