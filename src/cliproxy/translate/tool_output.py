"""Images hidden in tool traffic: JSON-text image arrays in tool outputs, and the
results of Codex's ``image_generation`` tool.

Tool outputs that are the JSON text of a content-part array with images:

Some clients (Codex's ``view_image``, MCP bridges) return a tool result as the JSON text
of Responses / Chat parts: ``'[{"type":"input_text",...},{"type":"input_image",...}]'``.
CPA sends those as real parts so the model sees the image. ``unpack_images`` does that
for the IR: a result whose only content is such a text, holding at least one image
with a URL and nothing it cannot read, becomes text and image blocks; anything else
(plain text, a JSON object, a text-only array, an image without a URL) stays as it is.

``generated_image``: a Responses ``image_generation_call`` item (base64 ``result`` and
``output_format``) as an IR image, for clients whose format has no such item (CPA sends
Chat clients ``images`` and Gemini clients an ``inlineData`` part); ``generated_image``
also reads a Gemini image model's ``inlineData`` image part, which a Gemini stream hands on
whole, so a Chat client gets it as ``images`` too (CPA).
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats.data_url import split_data_url
from cliproxy.translate import ir

__all__ = ["generated_image", "unpack_images"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_OPTIONAL_STR = (str, type(None))

_TEXT_TYPES = frozenset({"input_text", "output_text", "text"})


def unpack_images(blocks: list[ir.Block]) -> list[ir.Block]:
    if len(blocks) != 1 or not isinstance(blocks[0], ir.Text):
        return blocks
    text = blocks[0].text.strip()
    if not (text.startswith("[") and text.endswith("]") and "image" in text):
        return blocks
    try:
        parts = orjson.loads(text)
    except orjson.JSONDecodeError:
        return blocks
    if not isinstance(parts, list) or not parts:
        return blocks
    out: list[ir.Block] = []
    for part in parts:
        block = _block(part)
        if block is None:
            return blocks
        out.append(block)
    return out if any(isinstance(b, ir.Image) for b in out) else blocks


def _block(part: Any) -> ir.Block | None:
    if not isinstance(part, dict):
        return None
    ptype = part.get("type")
    if ptype in _TEXT_TYPES and isinstance(part.get("text"), str):
        return ir.Text(part["text"])
    if ptype == "input_image":
        url, detail = part.get("image_url"), part.get("detail")
    elif ptype == "image_url":
        inner = part.get("image_url")
        url, detail = (inner.get("url"), inner.get("detail")) if isinstance(inner, dict) else (inner, None)
    else:
        return None
    if not isinstance(url, str) or not url or not isinstance(detail, _OPTIONAL_STR):
        return None
    image = ir.Image(detail=detail)
    split = split_data_url(url)
    if split:
        image.media_type, image.data = split
    else:
        image.url = url
    return image


def generated_image(raw: dict[str, Any] | None) -> ir.Image | None:
    """The image of an ``image_generation_call`` item (``None`` for other items or
    before its result is in)."""
    if not raw:
        return None
    if raw.get("type") != "image_generation_call":
        return _inline_image(raw)
    data = raw.get("result")
    if not isinstance(data, str) or not data:
        return None
    fmt = raw.get("output_format")
    fmt = fmt.lower() if isinstance(fmt, str) and fmt else "png"
    return ir.Image(data=data, media_type="image/jpeg" if fmt == "jpg" else f"image/{fmt}")


def _inline_image(part: dict[str, Any]) -> ir.Image | None:
    """The image of a Gemini ``inlineData`` part (``None`` for anything else)."""
    inline = part.get("inlineData") or part.get("inline_data")
    if type(inline) is not dict:
        return None
    data, mime = inline.get("data"), inline.get("mimeType") or inline.get("mime_type")
    if not (isinstance(data, str) and data and isinstance(mime, str) and mime.startswith("image/")):
        return None
    return ir.Image(data=data, media_type=mime)
