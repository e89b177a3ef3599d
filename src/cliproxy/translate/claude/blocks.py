"""Claude content blocks -> IR blocks (requests and whole responses).

Wire keys without an IR field stay in the block's ``extras`` so that the Claude builder
can write them back. Private markers (keys starting with ``_``) record wire shapes the
IR does not tell apart: ``_string`` (content given as a string), ``_source`` (an image
or document source kept whole).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.carriers import (
    CLAUDE_CARRIER_PREFIX,
    IMAGE_ANCHOR,
    carried_image_signature,
    carried_part,
    read_claude_carrier,
)
from cliproxy.translate.signatures import GEMINI_SKIP_VALIDATOR, compatible_signature, is_grok_signature

__all__ = ["BlockParser", "is_server_block", "name_from_call_id", "rest"]

_TEXT = frozenset(("type", "text", "citations"))
_PLAIN_TEXT = frozenset(("type", "text"))
_IMAGE = frozenset(("type", "source"))
_THINKING = frozenset(("type", "thinking", "signature"))
_REDACTED = frozenset(("type", "data"))
_TOOL_USE = frozenset(("type", "id", "name", "input"))
_TOOL_RESULT = frozenset(("type", "tool_use_id", "content", "is_error"))
# the shortest base64 of a Grok blob (envelopes_plain.GROK_MIN_DECODED bytes): a cheap first test
_GROK_MIN_LEN = 43
_SOURCE_KEYS = {"base64": ("type", "media_type", "data"), "url": ("type", "url"), "file": ("type", "file_id")}

_SERVER_TYPES = frozenset(
    (
        "server_tool_use",
        "mcp_tool_use",
        "mcp_tool_result",
        "container_upload",
        "search_result",
        "compaction",
        "tool_reference",
    )
)


def rest(block: dict[str, Any], known: frozenset[str]) -> dict[str, Any] | None:
    """The keys of ``block`` not in ``known``, or ``None``."""
    if block.keys() <= known:  # the common case: nothing unknown, no dict built
        return None
    return {k: v for k, v in block.items() if k not in known}


def is_server_block(kind: str) -> bool:
    """Provider-run blocks kept whole (server tool use and every ``*_tool_result``)."""
    return kind in _SERVER_TYPES or (kind.endswith("_tool_result") and kind != "tool_result")


def _gemini_carried(text: str, value: str) -> tuple[str, str | None] | None:
    """``(signature, anchor)`` of a Gemini carrier in a thinking block; None when it is
    not one a Gemini upstream may get, or cannot sit on a block with this text (CPA: a
    thought with text holds its own signature or the next part's, never a call's own)."""
    carried = read_claude_carrier(value)
    if carried is None:
        return None
    sig, direction, kind = carried
    if direction == "standalone":
        return None if text and kind == "function" else (sig, None)
    if text and direction == "previous":
        return None
    return sig, f"{direction}:{kind}"


def _tool_use_signature(block: dict[str, Any]) -> str | None:
    """A Gemini signature carried on the tool_use block itself (``signature``,
    ``thought_signature`` or ``extra_content.google.thought_signature``, CPA's paths), the
    first one that is Gemini's; a Claude client that keeps a Gemini call's signature there
    gets it back on the call."""
    extra = block.get("extra_content")
    google = extra.get("google") if type(extra) is dict else None
    for value in (
        block.get("signature"),
        block.get("thought_signature"),
        google.get("thought_signature") if type(google) is dict else None,
    ):
        if (
            type(value) is str
            and value
            and (sig := compatible_signature("gemini", value, "gemini_function_call"))
        ):
            # the validator skip is not a signature: the builder puts it where Gemini needs one
            return sig if sig != GEMINI_SKIP_VALIDATOR else None
    return None


def _fail(path: str, what: str) -> RequestError:
    return RequestError(f"{path}: {what}", param=path)


def _str(block: dict[str, Any], key: str, path: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise _fail(f"{path}.{key}", "must be a string")
    return value


class BlockParser:
    """Parses content blocks, remembering tool_use ids so a tool_result can be checked.

    ``named=False``: the path of each block is not written out (two formatted strings per
    block of a long history, most of them never read); a fault is then reported under its
    parent's path, and the caller parses again, named, to report it where it is."""

    __slots__ = ("calls", "named")

    def __init__(self, named: bool = True) -> None:
        self.calls: dict[str, str] = {}  # tool_use id -> tool name
        self.named = named

    def blocks(self, content: Any, path: str) -> list[ir.Block]:
        if not isinstance(content, list):
            raise _fail(path, "must be a string or a list of content blocks")
        out: list[ir.Block] = []
        for i, block in enumerate(content):
            # a plain text block (the common one) is read here, without a call per block
            if type(block) is dict and block.get("type") == "text" and block.keys() <= _PLAIN_TEXT:
                text = block.get("text")
                if type(text) is str:
                    out.append(ir.Text(text))
                    continue
            out.append(self.block(block, f"{path}[{i}]" if self.named else path))
        return out

    def block(self, block: Any, path: str) -> ir.Block:
        if not isinstance(block, dict):
            raise _fail(path, "must be an object")
        kind = block.get("type")
        parse = _PARSERS.get(kind) if isinstance(kind, str) else None
        if parse is not None:
            return parse(self, block, path)
        if isinstance(kind, str) and is_server_block(kind):
            return ir.ServerTool("claude", block)
        raise _fail(f"{path}.type", f"unknown content block type {kind!r}")

    # -- one parser per block type

    def _text(self, block: dict[str, Any], path: str) -> ir.Block:
        text = _str(block, "text", path)
        cites = block.get("citations")
        extras = rest(block, _TEXT)
        if cites is not None and not isinstance(cites, list):
            raise _fail(f"{path}.citations", "must be a list")
        if cites is None and "citations" in block:
            extras = (extras or {}) | {"citations": None}
        return ir.Text(text, cites, extras)

    def _image(self, block: dict[str, Any], path: str) -> ir.Block:
        data, media, url, file_id, extras = _source(block, path)
        return ir.Image(data=data, media_type=media, url=url, file_id=file_id, extras=extras)

    def _document(self, block: dict[str, Any], path: str) -> ir.Block:
        data, media, url, file_id, extras = _source(block, path)
        title = block.get("title")
        return ir.File(
            data=data,
            media_type=media,
            url=url,
            file_id=file_id,
            filename=title if isinstance(title, str) else None,
            extras=extras,
        )

    def _thinking(self, block: dict[str, Any], path: str) -> ir.Block:
        # an empty thinking wrapped in a caching-scope object ({"cache_control": ...}), as
        # clients replay Antigravity's: no text, so the block is left out as an empty one (CPA)
        text = "" if type(block.get("thinking")) is dict else _str(block, "thinking", path)
        sig = block.get("signature")
        if sig is not None and not isinstance(sig, str):
            raise _fail(f"{path}.signature", "must be a string")
        if sig and sig[0] == "g" and (gpt := compatible_signature("gpt", sig)):
            # Codex's encrypted reasoning the proxy handed this client as the signature
            # (CPA's carrier): it goes back to Codex as a reasoning item, to no one else
            return ir.Thinking(text, signature=gpt, family="openai", extras=rest(block, _THINKING))
        if sig and sig[0] == "c" and sig.startswith(CLAUDE_CARRIER_PREFIX):
            if not text and (image_sig := carried_image_signature(sig)) is not None:
                # the signature of the Gemini image shown next (request._images_back)
                return ir.Thinking("", image_sig, "gemini", anchor=IMAGE_ANCHOR)
            if not text and (part := carried_part(sig)) is not None:
                return ir.ServerTool("gemini", part)  # a signed Gemini image, carried whole (before)
            carried = _gemini_carried(text, sig)
            if carried is not None:  # a Gemini signature the proxy handed this client (CPA)
                return ir.Thinking(
                    text, carried[0], "gemini", extras=rest(block, _THINKING), anchor=carried[1]
                )
        if sig and len(sig) >= _GROK_MIN_LEN and is_grok_signature(sig):
            # Grok's encrypted reasoning the proxy handed this client as the signature: it
            # goes back to a Grok model as a reasoning item, to no one else (CPA)
            return ir.Thinking(text, signature=sig, family="grok", extras=rest(block, _THINKING))
        return ir.Thinking(text, signature=sig, family="claude", extras=rest(block, _THINKING))

    def _redacted(self, block: dict[str, Any], path: str) -> ir.Block:
        data = _str(block, "data", path)
        return ir.Thinking("", signature=data, family="claude", redacted=True, extras=rest(block, _REDACTED))

    def _tool_use(self, block: dict[str, Any], path: str) -> ir.Block:
        call_id = _str(block, "id", path)
        name = _str(block, "name", path)
        args = block.get("input", {})
        try:
            arguments = orjson.dumps(args).decode()
        except orjson.JSONEncodeError as exc:
            raise _fail(f"{path}.input", f"cannot be encoded: {exc}") from None
        self.calls[call_id] = name
        extras = rest(block, _TOOL_USE)
        sig = _tool_use_signature(block) if extras is not None else None
        return ir.ToolCall(
            call_id, name, arguments, signature=sig, family="gemini" if sig else None, extras=extras
        )

    def _search_result(self, block: dict[str, Any], path: str) -> ir.Block:
        """A search result: the block as sent for Claude (``_claude_block``, see
        ``wire.BlockWriter``), its title, source and passages as text for other models
        (which dropped it, leaving a RAG tool's output empty)."""
        lines = [
            v.strip() for v in (block.get("title"), block.get("source")) if isinstance(v, str) and v.strip()
        ]
        content = block.get("content")
        for part in content if isinstance(content, list) else ():
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and text:
                lines.append(text)
        return ir.Text("\n".join(lines), extras={"_claude_block": block})

    def _tool_result(self, block: dict[str, Any], path: str) -> ir.Block:
        call_id = _str(block, "tool_use_id", path)
        name = self.calls.get(call_id)
        if name is None:  # its tool_use trimmed from the history: a name from the id (CPA)
            name = name_from_call_id(call_id)
        extras = rest(block, _TOOL_RESULT)
        content = block.get("content")
        inner = f"{path}.content" if self.named else path
        blocks: list[ir.Block]
        if isinstance(content, str):
            blocks = [ir.Text(content)]
            extras = (extras or {}) | {"_string": True}
        elif content is None:
            blocks = []
            marker = {"content": None} if "content" in block else {"_no_content": True}
            extras = (extras or {}) | marker
        elif isinstance(content, dict):
            # one block given bare, or a JSON object (CPA sends the latter as JSON text)
            if isinstance(content.get("type"), str):
                blocks = [self.block(content, inner)]
            else:
                blocks = [ir.Text(orjson.dumps(content).decode())]
            extras = (extras or {}) | {"_object": True}
        else:
            blocks = self.blocks(content, inner)
        is_error = block.get("is_error")
        if "is_error" in block and not is_error:  # an explicit false/null is kept as sent
            extras = (extras or {}) | {"is_error": is_error}
        return ir.ToolResult(call_id, blocks, name=name, is_error=bool(is_error), extras=extras)


def name_from_call_id(call_id: str) -> str:
    """A tool name for a result whose call is not in the request (a client that trimmed its
    history), as CPA derives it: the id without its last two dash-separated pieces (the ids
    the proxy makes for Gemini's calls are ``<name>-<hex>-<n>``), else the id itself."""
    pieces = call_id.split("-")
    return ("-".join(pieces[:-2]) if len(pieces) > 2 else "") or call_id


_PARSERS: dict[str, Callable[[BlockParser, dict[str, Any], str], ir.Block]] = {
    "text": BlockParser._text,
    "image": BlockParser._image,
    "document": BlockParser._document,
    "thinking": BlockParser._thinking,
    "redacted_thinking": BlockParser._redacted,
    "tool_use": BlockParser._tool_use,
    "tool_result": BlockParser._tool_result,
    "search_result": BlockParser._search_result,
}


def _source(
    block: dict[str, Any], path: str
) -> tuple[str | None, str | None, str | None, str | None, dict[str, Any] | None]:
    """(data, media_type, url, file_id, extras) of an image or document block."""
    src = block.get("source")
    if not isinstance(src, dict):
        raise _fail(f"{path}.source", "must be an object")
    extras = rest(block, _IMAGE)
    kind = src.get("type")
    data = media = url = file_id = None
    if kind == "base64":
        data, media = src.get("data"), src.get("media_type")
    elif kind == "url":
        url = src.get("url")
    elif kind == "file":
        file_id = src.get("file_id")
    elif kind == "text" and isinstance(src.get("data"), str):
        # plain-text documents: base64 in the IR like every other inline file
        data = base64.b64encode(src["data"].encode()).decode()
        media = src.get("media_type") or "text/plain"
    for key, value in (("data", data), ("media_type", media), ("url", url), ("file_id", file_id)):
        if value is not None and not isinstance(value, str):
            raise _fail(f"{path}.source.{key}", "must be a string")
    known = _SOURCE_KEYS.get(kind) if isinstance(kind, str) else None
    if known is None or len(src) != len(known) or any(k not in src for k in known):
        extras = (extras or {}) | {"_source": src}
    return data, media, url, file_id, extras
