"""Whole Claude Messages responses <-> IR.

Response keys without an IR field (``container``, ``stop_details``...) stay in
``Response.extras`` and are written back for Claude-made responses. ``stop_raw``
keeps a stop reason that has no exact IR equivalent.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats.claude import STOP_FROM_WIRE, stop_to_wire, usage_from_wire, usage_to_wire
from cliproxy.formats.ids import token_hex
from cliproxy.translate import ir
from cliproxy.translate.antigravity_claude import SIGNATURE_OUT
from cliproxy.translate.carriers import claude_carrier, image_carrier, image_markdown, signed_image
from cliproxy.translate.claude.blocks import BlockParser
from cliproxy.translate.claude.wire import BlockWriter, put_extras
from cliproxy.translate.custom_tools import is_custom, raw_input
from cliproxy.translate.naming import restore_name
from cliproxy.translate.tool_output import generated_image

__all__ = [
    "CARRIED_FAMILIES",
    "build_response",
    "call_carrier_block",
    "gemini_image_blocks",
    "new_message_id",
    "parse_response",
    "wire_stop",
]

_PLAIN_TEXT = frozenset(("type", "text"))
# families whose reasoning artifact a Claude client gets as the thinking signature: Claude's,
# Codex's encrypted reasoning, and Gemini's signatures in CPA's carrier, which the client
# carries back to them (CPA)
CARRIED_FAMILIES = frozenset(("claude", "openai", "gemini"))
_KNOWN = frozenset(("id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"))


_WRITERS = {True: BlockWriter(True), False: BlockWriter(False)}  # stateless: one each


def new_message_id() -> str:
    return "msg_" + token_hex(12)


def parse_response(body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
    if not isinstance(body, dict):
        raise RequestError("response: must be a JSON object")
    content = body.get("content") or []
    blocks: list[ir.Block] = []
    plain = type(content) is list
    if plain:
        for block in content:  # plain text blocks (the common answer) are read here
            if type(block) is dict and block.get("type") == "text" and block.keys() <= _PLAIN_TEXT:
                text = block.get("text")
                if type(text) is str:
                    blocks.append(ir.Text(text))
                    continue
            plain = False
            break
    if not plain:  # anything else: the parser, from the start
        blocks = BlockParser().blocks(content, "content")
        if request is not None and request.tools:
            for b in blocks:
                if isinstance(b, ir.ToolCall):
                    b.name, b.namespace = restore_name(b.name, request)
                    if is_custom(b.name, b.namespace, request):
                        b.kind = "custom"
                        b.arguments = raw_input(b.arguments)
    raw_stop = body.get("stop_reason")
    stop = None if raw_stop is None else STOP_FROM_WIRE.get(raw_stop, "end_turn")  # stop_from_wire
    extras = {} if body.keys() <= _KNOWN else {k: v for k, v in body.items() if k not in _KNOWN}
    if raw_stop is not None and stop != raw_stop:
        extras["stop_raw"] = raw_stop
    usage = body.get("usage")
    return ir.Response(  # id, model, content, stop_reason, stop_sequence, usage, created, source, extras
        body.get("id") or "",
        body.get("model") or "",
        blocks,
        stop,
        body.get("stop_sequence"),
        usage_from_wire(usage) if isinstance(usage, dict) else ir.Usage(),
        0,
        "claude",
        extras,
    )


def wire_stop(stop: str | None, has_tool_use: bool) -> str:
    """The wire stop reason, consistent with the content: ``tool_use`` only with a
    tool_use block, and always when there is one (OpenAI-likes say ``stop``)."""
    out = stop_to_wire(stop) or "end_turn"
    if has_tool_use and out == "end_turn":
        return "tool_use"
    if not has_tool_use and out == "tool_use":
        return "end_turn"
    return out


def build_response(resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
    native = resp.source == "claude"
    writer = _WRITERS[native]
    sig_out = request.extras.get(SIGNATURE_OUT) if request is not None else None
    content = []
    has_tool = False
    for b in resp.content:
        # (a text with citations goes to the writer: another source's citations are written
        # when they are Claude's kinds)
        if type(b) is ir.Text and not b.extras and (b.citations is None or not (native or b.citations)):
            if b.text:  # a plain text block, written here without a call
                content.append({"type": "text", "text": b.text})
            continue
        if isinstance(b, ir.Thinking):
            w = _thinking(b, native, sig_out)
        elif type(b) is ir.ServerTool and b.family == "gemini":
            content.extend(gemini_image_blocks(b.raw))
            continue
        elif (part := signed_image(b)) is not None:  # (a whole Gemini answer's image)
            content.extend(gemini_image_blocks(part))
            continue
        elif type(b) is ir.Image:  # an unsigned one: shown as Markdown (no block of Claude's holds it)
            w = image_text_block(b)
        else:
            w = writer.block(b)
            if type(b) is ir.ToolCall and b.family == "gemini" and b.signature and sig_out is None:
                content.append(call_carrier_block(b.signature))
        if w is not None:
            content.append(w)
            if w["type"] == "tool_use":
                has_tool = True
    raw = resp.extras.get("stop_raw") if native else None
    stop = resp.stop_reason
    if not raw:
        # a turn that ended without tool use (the common one) is end_turn, as wire_stop says
        raw = (
            "end_turn" if not has_tool and (stop is None or stop == "end_turn") else wire_stop(stop, has_tool)
        )
    out: dict[str, Any] = {
        "id": resp.id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": resp.model,
        "content": content,
        "stop_reason": raw,
        "stop_sequence": resp.stop_sequence,
        "usage": usage_to_wire(resp.usage),
    }
    if native:
        put_extras(out, {k: v for k, v in resp.extras.items() if k != "stop_raw"}, True)
    return out


def gemini_image_blocks(part: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks showing a Gemini image part to a Claude client: its Markdown text block,
    after an empty thinking block carrying its signature when Gemini signed it (Gemini
    refuses a later turn that sends the image back unsigned: ``carriers.image_carrier``);
    none for a part that holds no image."""
    shown = image_text_block(generated_image(part))
    if shown is None:
        return []
    carrier = image_carrier(part)
    return [{"type": "thinking", "thinking": "", "signature": carrier}, shown] if carrier else [shown]


def image_text_block(image: ir.Image | None) -> dict[str, Any] | None:
    """The text block showing an unsigned Gemini image (``carriers.image_markdown``)."""
    return {"type": "text", "text": image_markdown(image)} if image is not None and image.data else None


def call_carrier_block(signature: str) -> dict[str, Any]:
    """The thinking block, right before a Gemini call's ``tool_use``, that carries the
    call's signature (CPA's ``next:function`` carrier)."""
    return {"type": "thinking", "thinking": "", "signature": claude_carrier(signature, "next:function")}


def _thinking(b: ir.Thinking, native: bool, sig_out: Any = None) -> dict[str, Any] | None:
    """Thinking shown to a Claude client. Its signature is Claude's own, Codex's encrypted
    reasoning, or a Gemini signature in CPA's carrier (with the part it belonged to), which
    the client carries back (the proxy returns it to that family and drops it for any other
    upstream; a reasoning item with no summary is a thinking block with no text); other
    families' reasoning text is shown with an empty signature. ``sig_out``: Antigravity's
    Claude signatures, as its signature mode hands them out."""
    if b.family == "claude" and b.redacted:
        return {"type": "redacted_thinking", "data": b.signature or ""}
    carried = b.family in CARRIED_FAMILIES and bool(b.signature)
    if b.redacted or (not b.text and not carried):
        return None
    sig = b.signature if carried and b.signature else ""
    if sig_out is not None and b.signature:
        sig = sig_out(b.text, b.signature) or ""
    elif sig and b.family == "gemini":
        sig = claude_carrier(sig, b.anchor)
    out: dict[str, Any] = {"type": "thinking", "thinking": b.text, "signature": sig}
    put_extras(out, b.extras, native)
    return out
