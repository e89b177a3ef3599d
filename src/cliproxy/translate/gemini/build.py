"""IR -> Gemini generateContent request.

From a Gemini client (``req.source == "gemini"``) the body comes back as sent: contents
one for one, ids, signatures, declarations and config keys untouched. From any other
format:

* leading system/developer messages -> ``systemInstruction``; later ones become a
  user-role content with their text (Gemini has no mid-conversation system role);
* assistant -> ``model``; tool results -> ``functionResponse`` parts in a user content,
  ``{"result": text}`` (``{"error": text}`` when failed; a text that is a JSON object is
  sent as that object), images of a result as ``inlineData`` parts after it;
* consecutive contents of one role are merged (Gemini wants alternation);
* function names are sanitized (``names.NameMap``); call ids are not sent;
* thinking and signatures of other families are dropped; the first functionCall of a
  model turn with no Gemini signature gets ``skip_thought_signature_validator``;
* CPA's default ``safetySettings`` are added.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats.gemini import DEFAULT_SAFETY_SETTINGS, SKIP_SIGNATURE
from cliproxy.translate import ir
from cliproxy.translate.gemini.config import build_generation_config, build_tool_config
from cliproxy.translate.gemini.media import media_part
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import FAMILY, public_extras
from cliproxy.translate.gemini.tools import build_tools

__all__ = ["build_request", "call_args"]


def call_args(call: ir.ToolCall, custom: bool = False) -> dict[str, Any]:
    """The ``args`` object of a call (its JSON text parsed; ``{}`` when not an object)."""
    if custom or call.kind == "custom":
        return {"input": call.arguments}
    try:
        args = orjson.loads(call.arguments) if call.arguments else {}
    except orjson.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


class _Builder:
    __slots__ = ("call_names", "names", "native")

    def __init__(self, req: ir.Request) -> None:
        self.native = req.source == FAMILY
        self.names = NameMap(req.tools)
        self.call_names: dict[str, str] = {}  # call id -> Gemini function name

    # ---- blocks

    def part(self, block: ir.Block) -> list[dict[str, Any]]:
        if isinstance(block, ir.Text):
            return [self._text(block)]
        if isinstance(block, ir.Thinking):
            return self._thinking(block)
        if isinstance(block, ir.ToolCall):
            return [self._call(block)]
        if isinstance(block, ir.ToolResult):
            return self._result(block)
        if isinstance(block, ir.Image | ir.File):
            part = media_part(block, self.native)
            return [part] if part is not None else []
        if isinstance(block, ir.ServerTool) and block.family == FAMILY:
            return [block.raw]
        return []

    def _text(self, block: ir.Text) -> dict[str, Any]:
        part: dict[str, Any] = {"text": block.text}
        if self.native:
            part.update(public_extras(block.extras))
        return part

    def _thinking(self, block: ir.Thinking) -> list[dict[str, Any]]:
        if block.family != FAMILY or block.redacted:
            return []
        part: dict[str, Any] = {"text": block.text, "thought": True}
        if block.signature:
            part["thoughtSignature"] = block.signature
        if self.native:
            extras = block.extras or {}
            if extras.get("_no_text"):
                del part["text"]
            part.update(public_extras(extras))
        return [part]

    def _call(self, call: ir.ToolCall) -> dict[str, Any]:
        extras = call.extras or {}
        name = call.name if self.native else self.names.to_gemini(call.name, call.namespace)
        self.call_names[call.id] = name
        fc: dict[str, Any] = {"name": name}
        if not (self.native and extras.get("_no_args")):
            fc["args"] = call_args(call)
        part: dict[str, Any] = {"functionCall": fc}
        if self.native:
            if not extras.get("_synth_id"):
                fc["id"] = call.id
            elif "_inner_id" in extras:
                fc["id"] = extras["_inner_id"]
            fc.update(extras.get("_inner") or {})
            part.update(public_extras(extras))
        if call.signature and call.family == FAMILY:
            part["thoughtSignature"] = call.signature
        return part

    def _result(self, result: ir.ToolResult) -> list[dict[str, Any]]:
        extras = result.extras or {}
        name = self.call_names.get(result.call_id)
        if name is None:
            name = result.name if self.native else self.names.to_gemini(result.name or "")
        fr: dict[str, Any] = {"name": name}
        if self.native:
            if extras.get("_has_id"):
                fr["id"] = result.call_id
            if not extras.get("_no_response"):
                fr["response"] = _response_object(result)
            fr.update(extras.get("_inner") or {})
            part: dict[str, Any] = {"functionResponse": fr}
            part.update(public_extras(extras))
            return [part]
        fr["response"] = _response_object(result)
        images = [media_part(b, False) for b in result.content if isinstance(b, ir.Image | ir.File)]
        return [{"functionResponse": fr}, *(p for p in images if p is not None)]

    # ---- messages

    def system(self, messages: list[ir.Message]) -> dict[str, Any]:
        parts = [p for m in messages for b in m.content for p in self.part(b)]
        si: dict[str, Any] = {"parts": parts}
        if self.native and messages:
            extras = messages[0].extras or {}
            if "_si_role" in extras:
                si["role"] = extras["_si_role"]
            si.update(public_extras(extras))
        return si

    def content(self, msg: ir.Message) -> dict[str, Any]:
        parts = [p for b in msg.content for p in self.part(b)]
        if self.native:
            extras = msg.extras or {}
            role = extras.get("_role", "model" if msg.role == "assistant" else "user")
            out: dict[str, Any] = {"parts": parts} if role is None else {"role": role, "parts": parts}
            out.update(public_extras(extras))
            return out
        if msg.role in ("system", "developer"):  # mid-conversation system text
            parts = [p for p in parts if "text" in p]
        return {"role": "model" if msg.role == "assistant" else "user", "parts": parts}


def _response_object(result: ir.ToolResult) -> Any:
    text = "\n".join(b.text for b in result.content if isinstance(b, ir.Text))
    if text.lstrip().startswith("{"):
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return obj
    return {"error": text} if result.is_error else {"result": text}


def _merge(contents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in contents:
        if not c["parts"]:
            continue
        if out and out[-1]["role"] == c["role"]:
            out[-1]["parts"].extend(c["parts"])
        else:
            out.append(c)
    return out


def _sign_first_calls(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 rejects a model turn whose first functionCall carries no signature."""
    for c in contents:
        if c["role"] != "model":
            continue
        for part in c["parts"]:
            if "functionCall" in part:
                part.setdefault("thoughtSignature", SKIP_SIGNATURE)
                break


def build_request(req: ir.Request) -> dict[str, Any]:
    b = _Builder(req)
    msgs = req.messages
    lead = 0
    while lead < len(msgs) and msgs[lead].role in ("system", "developer"):
        lead += 1
    body: dict[str, Any] = {}
    if b.native and "_model_in_body" in req.extras:
        body["model"] = req.extras["_model_in_body"]
    contents = [b.content(m) for m in msgs[lead:]]
    if not b.native:
        contents = _merge(contents)
        _sign_first_calls(contents)
    body["contents"] = contents
    if lead:
        si = b.system(msgs[:lead])
        if si["parts"] or b.native:
            body["systemInstruction"] = si
    tools = build_tools(req, b.names)
    if tools or (b.native and req.tools is not None):
        body["tools"] = tools
    tool_config = build_tool_config(req, b.names, b.native)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    gen = build_generation_config(req, b.native)
    if gen is not None:
        body["generationConfig"] = gen
    if b.native:
        body.update(public_extras(req.extras))
    else:
        body["safetySettings"] = [dict(s) for s in DEFAULT_SAFETY_SETTINGS]
    return body
