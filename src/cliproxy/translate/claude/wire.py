"""IR blocks -> Claude content blocks (requests and whole responses).

``native`` is true when the IR came from Claude: then every extras key (except the
private ``_`` markers) is written back. For other sources only ``cache_control`` is
carried, and a text's citations when they are Claude's own kinds (the web-search
citations the Gemini adapter makes of an Antigravity search's grounding). What Claude
would reject is left out: empty text blocks, thinking without a signature or made by
another family, provider tools of another family. Files Claude cannot read as documents
(audio, video...) become a text placeholder (CPA's wording).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.translate import ir
from cliproxy.translate.claude.ids import sanitize_tool_id
from cliproxy.translate.naming import flat_name

__all__ = ["BlockWriter", "claude_citations", "parse_arguments", "put_extras"]

Wire = dict[str, Any]

# the citation kinds a Claude text block holds (a Responses annotation is none of them)
_CITATION_TYPES = frozenset(
    (
        "char_location",
        "page_location",
        "content_block_location",
        "web_search_result_location",
        "search_result_location",
    )
)


def claude_citations(citations: list[Any]) -> bool:
    """Whether every one of ``citations`` is of a kind a Claude text block holds."""
    return all(type(c) is dict and c.get("type") in _CITATION_TYPES for c in citations)


def put_extras(out: Wire, extras: dict[str, Any] | None, native: bool) -> None:
    """Write ``extras`` into ``out``: all public keys when native, else ``cache_control``."""
    if not extras:
        return
    if native:
        for key, value in extras.items():
            if key[:1] != "_":
                out[key] = value
    elif "cache_control" in extras:
        out["cache_control"] = extras["cache_control"]


def parse_arguments(text: str, keep_any: bool = False) -> Any:
    """Tool-call arguments text -> the ``input`` object (``{}`` when unparsable)."""
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if keep_any or isinstance(value, dict) else {}


def _data_url(url: str) -> tuple[str, str] | None:
    """(media_type, base64 data) of a ``data:`` URL."""
    if not url.startswith("data:"):
        return None
    head, sep, data = url[5:].partition(",")
    if not sep or not head.endswith(";base64"):
        return None
    return head[:-7] or "application/octet-stream", data


class BlockWriter:
    """Writes IR blocks as Claude blocks; ``None`` means the block is left out."""

    __slots__ = ("native",)

    def __init__(self, native: bool) -> None:
        self.native = native

    def block(self, b: ir.Block) -> Wire | None:
        return _WRITERS[type(b)](self, b)

    def blocks(self, blocks: list[ir.Block]) -> list[Wire]:
        out = []
        native = self.native
        for b in blocks:
            if type(b) is ir.Text and not b.extras and (b.citations is None or not (native or b.citations)):
                if b.text:  # a plain text block (the common one), written here
                    out.append({"type": "text", "text": b.text})
                continue
            w = _WRITERS[type(b)](self, b)
            if w is not None:
                out.append(w)
        return out

    def _text(self, b: ir.Text) -> Wire | None:
        if b.extras and "_claude_block" in b.extras:  # a search result, sent as it came
            return b.extras["_claude_block"]
        if not b.text:
            return None
        out: Wire = {"type": "text", "text": b.text}
        if b.citations is not None and (self.native or (b.citations and claude_citations(b.citations))):
            out["citations"] = b.citations
        put_extras(out, b.extras, self.native)
        return out

    def _source(self, b: ir.Image | ir.File) -> Wire | None:
        if self.native and b.extras and "_source" in b.extras:
            return b.extras["_source"]
        if b.data:
            return {"type": "base64", "media_type": b.media_type or "image/png", "data": b.data}
        if b.url:
            inline = _data_url(b.url)
            if inline is not None:
                return {"type": "base64", "media_type": inline[0], "data": inline[1]}
            return {"type": "url", "url": b.url}
        if b.file_id:
            return {"type": "file", "file_id": b.file_id}
        return None

    def _image(self, b: ir.Image) -> Wire | None:
        src = self._source(b)
        if src is None:
            return None
        out: Wire = {"type": "image", "source": src}
        put_extras(out, b.extras, self.native)
        return out

    def _file(self, b: ir.File) -> Wire | None:
        if not self.native:
            media = (b.media_type or "").lower()
            if media.startswith("image/"):
                return self._image(
                    ir.Image(data=b.data, media_type=b.media_type, url=b.url, file_id=b.file_id)
                )
            if media and not media.startswith(("application/", "text/")):
                return _media_placeholder(b)  # audio, video...: Claude reads only documents
        src = self._source(b)
        if src is None:
            return None
        if src.get("type") == "base64" and b.data and not b.media_type:
            src["media_type"] = "application/pdf"  # a document of unknown type: Claude's default kind
        if src.get("type") == "base64" and str(src.get("media_type", "")).startswith("text/"):
            src = _text_source(src)
        out: Wire = {"type": "document", "source": src}
        if not self.native and b.filename:
            out["title"] = b.filename
        put_extras(out, b.extras, self.native)
        return out

    def _thinking(self, b: ir.Thinking) -> Wire | None:
        if not b.compat and (b.family != "claude" or not b.signature):  # compat: is-compat keeps it
            return None
        out: Wire
        if b.redacted:
            out = {"type": "redacted_thinking", "data": b.signature}
        else:
            out = {"type": "thinking", "thinking": b.text, "signature": b.signature or ""}
        put_extras(out, b.extras, self.native)
        return out

    def _tool_call(self, b: ir.ToolCall) -> Wire:
        out: Wire = {
            "type": "tool_use",
            "id": sanitize_tool_id(b.id),
            "name": flat_name(b.name, b.namespace),
            "input": (
                {"input": b.arguments} if b.kind == "custom" else parse_arguments(b.arguments, self.native)
            ),
        }
        put_extras(out, b.extras, self.native)
        return out

    def _tool_result(self, b: ir.ToolResult) -> Wire:
        out: Wire = {"type": "tool_result", "tool_use_id": sanitize_tool_id(b.call_id)}
        content = self._result_content(b)
        if content is not None:
            out["content"] = content
        if b.is_error:
            out["is_error"] = True
        put_extras(out, b.extras, self.native)
        return out

    def _result_content(self, b: ir.ToolResult) -> str | list[Wire] | None:
        parts = b.content
        one_text = len(parts) == 1 and isinstance(parts[0], ir.Text)
        if self.native:
            ex = b.extras or {}
            if one_text and ex.get("_string"):
                return parts[0].text  # type: ignore[union-attr]
            if ex.get("_no_content") or "content" in ex:
                return None
            return self.blocks(parts)
        if one_text:
            return parts[0].text or None  # type: ignore[union-attr]
        return self.blocks(parts) or None

    def _server(self, b: ir.ServerTool) -> Wire | None:
        return b.raw if b.family == "claude" else None


def _media_placeholder(b: ir.File) -> Wire:
    """A text block standing for media Claude cannot read (CPA's wording)."""
    if b.data:
        return {"type": "text", "text": f"Media content: inline data (Type: {b.media_type})"}
    where = b.url or b.file_id or b.filename or "unknown"
    return {"type": "text", "text": f"File: {where} (Type: {b.media_type})"}


def _text_source(src: Wire) -> Wire:
    """A base64 text/* document as Claude's plain-text source."""
    try:
        text = base64.b64decode(src.get("data") or "").decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return src
    return {"type": "text", "media_type": "text/plain", "data": text}


_WRITERS: dict[type, Callable[[BlockWriter, Any], Wire | None]] = {
    ir.Text: BlockWriter._text,
    ir.Image: BlockWriter._image,
    ir.File: BlockWriter._file,
    ir.Thinking: BlockWriter._thinking,
    ir.ToolCall: BlockWriter._tool_call,
    ir.ToolResult: BlockWriter._tool_result,
    ir.ServerTool: BlockWriter._server,
}
