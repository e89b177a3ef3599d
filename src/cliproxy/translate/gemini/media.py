"""IR images and files -> Gemini ``inlineData`` / ``fileData`` parts.

Inline data and ``data:`` URLs become ``inlineData``; remote URLs become ``fileData``
with a MIME type guessed from the URL when the source gave none. Files known only by a
provider file id (OpenAI/Claude uploads) cannot reach Gemini and are dropped.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from cliproxy.translate import ir
from cliproxy.translate.gemini.parts import public_extras

__all__ = ["media_part"]


def _default_mime(block: ir.Image | ir.File, url: str | None = None) -> str:
    if url:
        guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
        if guessed:
            return guessed
    if isinstance(block, ir.Image):
        return "image/png"
    if block.filename:
        guessed, _ = mimetypes.guess_type(block.filename)
        if guessed:
            return guessed
    return "application/pdf"


def _data_url(url: str) -> tuple[str, str] | None:
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[: -len(";base64")] or "application/octet-stream", data


def media_part(block: ir.Image | ir.File, native: bool) -> dict[str, Any] | None:
    extras = block.extras or {}
    if block.data is not None:
        key, inner = "inlineData", {"data": block.data}
        mime = block.media_type
    elif block.url and block.url.startswith("data:"):
        parsed = _data_url(block.url)
        if parsed is None:
            return None
        key, inner = "inlineData", {"data": parsed[1]}
        mime = block.media_type or parsed[0]
    elif block.url:
        key, inner = "fileData", {"fileUri": block.url}
        mime = block.media_type
    else:
        return None
    if mime is None and not native:
        mime = _default_mime(block, block.url)
    if mime is not None:
        inner["mimeType"] = mime
    part: dict[str, Any] = {key: inner}
    if native:
        inner.update(extras.get("_inner") or {})
        part.update(public_extras(extras))
    return part
