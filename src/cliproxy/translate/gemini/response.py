"""Gemini ``GenerateContentResponse`` <-> IR response (whole, non-stream).

Only the first candidate becomes IR content; further candidates are kept raw in
``extras["_candidates"]`` (Gemini clients get them back, others ignore them). Keys of the
candidate with no IR field (``safetyRatings``, ``citationMetadata``, ``groundingMetadata``...)
are in ``extras["_candidate"]``; top-level ones (``promptFeedback``...) in ``extras``.
The grounding of Claude Code's web search becomes Claude's web search blocks
(:mod:`cliproxy.translate.gemini.web_search`).
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import gemini as wire
from cliproxy.formats.ids import token_hex
from cliproxy.translate import ir
from cliproxy.translate.gemini.anchors import Anchored, place
from cliproxy.translate.gemini.build import call_args
from cliproxy.translate.gemini.media import media_part
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import (
    FAMILY,
    answer_signature,
    public_extras,
    read_call,
    read_media,
    read_text,
    read_thought_only,
    server_tool,
)
from cliproxy.translate.gemini.web_search import asks_web_search, web_search_answer
from cliproxy.translate.naming import flat_name
from cliproxy.translate.tool_output import generated_image

__all__ = ["CallIds", "build_response", "parse_response", "restore_call"]


class CallIds:
    """Ids for calls Gemini sent without one: ``<name>-<random>-<n>``, unique per response."""

    __slots__ = ("_n", "_tag")

    def __init__(self) -> None:
        self._tag = ""  # drawn at the first call: most responses make none
        self._n = 0

    def next(self, name: str) -> str:
        if not self._tag:
            self._tag = token_hex(4)
        self._n += 1
        return f"{name}-{self._tag}-{self._n}"


def restore_call(call: ir.ToolCall, names: NameMap) -> ir.ToolCall:
    """Give a call the client's tool name (and free-form input for custom tools)."""
    gname = call.name
    call.name, call.namespace = names.from_gemini(gname)
    if names.is_custom(gname):
        args = call_args(call)
        call.kind = "custom"
        call.arguments = names.custom_input(args)
    return call


def read_part(part: Any, names: NameMap, ids: CallIds) -> ir.Block:
    if not isinstance(part, dict):
        return ir.ServerTool(family=FAMILY, raw={"_invalid": part})
    if "text" in part:
        text = part["text"]
        if len(part) == 1 and type(text) is str:  # the common part, read here
            return ir.Text(text)
        return read_text(part, "part")
    fc = part.get("functionCall") or part.get("function_call")
    if isinstance(fc, dict):
        name = fc.get("name")
        call_id = ids.next(name if isinstance(name, str) else "call")
        return restore_call(read_call(part, "part", call_id), names)
    for key, snake in (("inlineData", "inline_data"), ("fileData", "file_data")):
        if key in part or snake in part:
            return read_media(part, key, "part")
    if part.get("thought") is True:
        return read_thought_only(part)
    return server_tool(part)


_SIGNATURE_ONLY = frozenset(("text", "thought", "thoughtSignature", "thought_signature"))


def _carried_alone(part: dict[str, Any]) -> str | None:
    """The signature of a part that holds nothing else (an empty or absent text, a thought
    flag or none)."""
    if part.get("text") or not part.keys() <= _SIGNATURE_ONLY or part.get("thought", True) is not True:
        return None
    sig = part.get("thoughtSignature") or part.get("thought_signature")
    return sig if isinstance(sig, str) and sig else None


def _sign_last(blocks: list[ir.Block], sig: str, anchor: str) -> None:
    """``sig`` on the unsigned thought that ends ``blocks`` (its own when the signature came
    after it on a part of its own, else the part's it came on), or a thinking block of its
    own with ``anchor``."""
    last = blocks[-1] if blocks else None
    if isinstance(last, ir.Thinking) and not last.redacted and not last.signature and last.text:
        last.signature, last.family = sig, FAMILY
        last.anchor = None if anchor[0] == "p" else anchor
    else:
        blocks.append(ir.Thinking("", signature=sig, family=FAMILY, anchor=anchor))


_SIGNED = dict.fromkeys(("thoughtSignature", "thought_signature"))


def _continues_thought(blocks: list[ir.Block], block: ir.Block) -> bool:
    """Whether ``block``, a thought part, was joined to the unsigned thought ending
    ``blocks`` (its text appended, its signature taken): Gemini splits one thought over
    several parts, the stream decoder joins them into one thinking block, and so does this."""
    last = blocks[-1] if blocks else None
    if not (
        type(block) is ir.Thinking
        and type(last) is ir.Thinking
        and not (last.signature or last.redacted or last.extras or block.extras or block.redacted)
        and last.text
    ):
        return False
    last.text += block.text
    last.signature, last.anchor = block.signature, block.anchor
    return True


_TOP = frozenset(("candidates", "usageMetadata", "responseId", "modelVersion"))
_CANDIDATE = frozenset(("content", "finishReason", "index"))


def parse_response(body: dict[str, Any], request: ir.Request | None = None) -> ir.Response:
    candidates = body.get("candidates") or []
    meta = body.get("usageMetadata")
    resp = ir.Response(  # the usage given here: no default Usage made to be replaced
        body.get("responseId") or f"resp-{token_hex(8)}",
        body.get("modelVersion") or (request.model if request else ""),
        [],
        None,
        None,
        wire.usage_from_metadata(meta) if isinstance(meta, dict) else ir.Usage(),
        0,
        FAMILY,
    )
    if "error" in body:
        resp.stop_reason = "error"
    if candidates:
        cand = candidates[0] if type(candidates[0]) is dict else dict(candidates[0])  # the first, read here
        content = cand.get("content") or {}
        reader: tuple[NameMap, CallIds] | None = None  # made at the first part that is not plain text
        blocks: list[ir.Block] = []
        has_call = False
        seen = ""  # the kind of the last part with content ("text", "function"), for anchors
        for p in content.get("parts") or ():
            if type(p) is dict and len(p) == 1 and type(text := p.get("text")) is str:
                blocks.append(ir.Text(text))  # the common part, read here
                seen = seen if not text else "text"
                continue
            if type(p) is dict and (sig := _carried_alone(p)):
                # a part that only carries a signature (``{"text": "", "thoughtSignature": ...}``,
                # as Antigravity ends a Claude model's thinking): the thinking before it is
                # signed with it, or a thinking block of its own holds it, anchored to the
                # part with content before it, else after it (the stream decoder's way)
                _sign_last(blocks, sig, f"previous:{seen}" if seen else "next:any")
                continue
            if reader is None:
                reader = (NameMap(request.tools if request else None), CallIds())
            block = read_part(p, *reader)
            if isinstance(block, ir.ToolCall):
                has_call = True
                seen = "function"
            elif isinstance(block, ir.Text) and block.text and block.extras and _SIGNED.keys() & block.extras:
                # visible text that ends a thought: its signature signs the thought, or a
                # thinking block of its own anchored to this text (the stream decoder's way);
                # Gemini's camelCase key or its snake_case twin
                sig = block.extras.pop("thoughtSignature", None) or block.extras.pop(
                    "thought_signature", None
                )
                block.extras = block.extras or None
                if isinstance(sig, str) and sig:
                    _sign_last(blocks, sig, "next:text")
                seen = "text"
            elif isinstance(block, (ir.Text, ir.Thinking)) and block.text:
                seen = "text"
                if _continues_thought(blocks, block):
                    continue
            blocks.append(block)
        resp.content = blocks
        finish = cand.get("finishReason")
        if finish == "STOP" and not has_call:
            resp.stop_reason = "end_turn"  # the common ending, as stop_reason_of maps it
        else:
            resp.stop_reason = wire.stop_reason_of(finish, has_call)
        if finish is not None:
            resp.extras["stop_raw"] = finish
        if not cand.keys() <= _CANDIDATE:
            resp.extras["_candidate"] = {k: v for k, v in cand.items() if k not in _CANDIDATE}
            grounding = cand.get("groundingMetadata")
            if type(grounding) is dict and asks_web_search(request):  # Claude Code's web search
                web_search_answer(resp, cand, grounding)
        if len(candidates) > 1:
            resp.extras["_candidates"] = candidates[1:]
    else:
        blocked = (body.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            resp.stop_reason = "content_filter"
            resp.extras["stop_raw"] = blocked
    if not body.keys() <= _TOP:
        resp.extras.update({k: v for k, v in body.items() if k not in _TOP})
    return resp


# --------------------------------------------------------------------------- building


def response_part(block: ir.Block, native: bool) -> dict[str, Any] | None:
    """A Gemini part for a response block (``None`` for blocks Gemini cannot show)."""
    extras = getattr(block, "extras", None) or {}
    if isinstance(block, ir.Text):
        part: dict[str, Any] = {"text": block.text}
    elif isinstance(block, ir.Thinking):
        if block.redacted:
            return None
        part = {"text": block.text, "thought": True}
        if sig := answer_signature(block.signature, block.family):
            part["thoughtSignature"] = sig
    elif isinstance(block, ir.ToolCall):
        part = call_part(block)
    elif isinstance(block, ir.MEDIA):
        return media_part(block, native)
    elif isinstance(block, ir.ServerTool):
        if block.family == FAMILY:
            return block.raw
        image = generated_image(block.raw)  # Codex image_generation results
        return media_part(image, False) if image is not None else None
    else:
        return None
    if native:
        part.update(public_extras(extras))
    return part


def _anchored_parts(blocks: list[ir.Block], native: bool) -> list[dict[str, Any]]:
    """The parts of ``blocks`` with each anchored Gemini signature back on its part."""
    out: list[dict[str, Any]] = []
    for b in blocks:
        if type(b) is ir.Thinking and b.anchor and b.family == FAMILY and b.signature:
            if b.text:
                out.append({"text": b.text, "thought": True})
            out.append(Anchored(b.signature, b.anchor))
        elif (p := response_part(b, native)) is not None:
            out.append(p)
    return place(out)


def call_part(call: ir.ToolCall, args: Any = None) -> dict[str, Any]:
    fc: dict[str, Any] = {
        "name": flat_name(call.name, call.namespace),
        "args": call_args(call) if args is None else args,
    }
    if call.id and not (call.extras or {}).get("_synth_id"):
        fc["id"] = call.id
    part: dict[str, Any] = {"functionCall": fc}
    if call.signature and call.family == FAMILY:
        part["thoughtSignature"] = call.signature
    return part


def build_response(resp: ir.Response, request: ir.Request | None = None) -> dict[str, Any]:
    native = resp.source == FAMILY
    if any(type(b) is ir.Thinking and b.anchor for b in resp.content):
        parts = _anchored_parts(resp.content, native)
    else:
        parts = [p for b in resp.content if (p := response_part(b, native)) is not None]
    raw = resp.extras.get("stop_raw") if native else None
    cand: dict[str, Any] = {
        "content": {"role": "model", "parts": parts},
        "finishReason": wire.finish_reason_of(resp.stop_reason, raw),
        "index": 0,
    }
    if native:
        cand.update(resp.extras.get("_candidate") or {})
    body: dict[str, Any] = {
        "candidates": [cand, *(resp.extras.get("_candidates") or [])] if native else [cand],
        "usageMetadata": wire.usage_to_metadata(resp.usage),
        "modelVersion": resp.model,
        "responseId": resp.id,
    }
    if native:
        body.update({k: v for k, v in public_extras(resp.extras).items() if k != "stop_raw"})
    return body
