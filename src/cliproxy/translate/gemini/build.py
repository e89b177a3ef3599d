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
* thinking and signatures of other families are dropped (unsigned reasoning text goes
  as a thought part with the skip signature, as CPA); the first functionCall of a
  model turn with no Gemini signature gets ``skip_thought_signature_validator``;
* a Responses ``image_generation_call`` item (a Gemini image as a Responses client is
  shown it) goes back as an ``inlineData`` part, once when the turn also carries it signed;
* empty text parts are left out; a trailing plain-text model turn (a prefill) is
  dropped for OpenAI-format clients and for Gemini 3 models (CPA);
* CPA's default ``safetySettings`` are added.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.formats.gemini import DEFAULT_SAFETY_SETTINGS, SKIP_SIGNATURE
from cliproxy.translate import ir
from cliproxy.translate.gemini.anchors import UNSIGNED, Anchored, place
from cliproxy.translate.gemini.config import build_generation_config, build_tool_config
from cliproxy.translate.gemini.media import media_part
from cliproxy.translate.gemini.names import NameMap
from cliproxy.translate.gemini.parts import FAMILY, public_extras
from cliproxy.translate.gemini.tools import build_tools
from cliproxy.translate.signatures import gemini_replay_or_bypass
from cliproxy.translate.source_only import KEY as SOURCE_ONLY
from cliproxy.translate.source_only import refuse
from cliproxy.translate.system_turns import claude_system_turn
from cliproxy.translate.tool_output import generated_image, unpack_images

__all__ = ["ANTIGRAVITY", "build_request", "call_args", "for_antigravity", "text_only"]


def call_args(call: ir.ToolCall, custom: bool = False) -> dict[str, Any]:
    """The ``args`` object of a call (its JSON text parsed; ``{}`` when not an object)."""
    if custom or call.kind == "custom":
        return {"input": call.arguments}
    try:
        args = orjson.loads(call.arguments) if call.arguments else {}
        if isinstance(args, str) and args.startswith("{"):
            # a client that sent its input as JSON text (a Claude tool_use "input": "{...}"):
            # the object it holds (CPA)
            args = orjson.loads(args)
    except orjson.JSONDecodeError:
        return {}
    return args if isinstance(args, dict) else {}


# IR extras flag: the request goes to Antigravity (Cloud Code), not Gemini's own API. Another
# format's calls and results then carry their ids (``functionCall.id``,
# ``functionResponse.id``: the backend pairs them by id, and CPA's translators for it write
# them), and its tools' parameters are cleaned with the ``antigravity-tool`` schema profile
# (declared types kept, enums as description hints: CPA's CleanJSONSchemaForAntigravityTool)
ANTIGRAVITY = "_gemini_antigravity"


def for_antigravity(req: ir.Request) -> ir.Request:
    """``req`` (a shallow copy: the client's IR stays as it is) written for Antigravity."""
    out = req.renamed(req.model)
    out.extras = {**req.extras, ANTIGRAVITY: True}
    return out


class _Builder:
    __slots__ = (
        "anchored",
        "answered",
        "antigravity",
        "call_names",
        "call_rank",
        "claude_model",
        "generated",
        "names",
        "native",
    )

    def __init__(self, req: ir.Request) -> None:
        self.native = req.source == FAMILY
        self.antigravity = ANTIGRAVITY in req.extras
        self.anchored = False  # a part list holds an Anchored signature (anchors.place)
        self.claude_model = "claude" in req.model.lower()
        self.names = NameMap(req.tools)
        self.call_names: dict[str, str] = {}  # call id -> Gemini function name
        self.call_rank: dict[str, int] = {}  # call id -> its place among the request's calls
        self.answered: dict[int, str] = {}  # id() of a functionResponse part -> its call id
        self.generated: list[dict[str, Any]] = []  # parts of image_generation_call items (_once)

    # ---- blocks

    def part(self, block: ir.Block) -> list[dict[str, Any]]:
        if isinstance(block, ir.Text):
            return [self._text(block)]
        if isinstance(block, ir.Thinking):
            return self._thinking(block)
        if isinstance(block, ir.ToolCall):
            # a call without a name is nothing Gemini can run or pair with a result (CPA skips it)
            return [self._call(block)] if block.name or self.native else []
        if isinstance(block, ir.ToolResult):
            return self._result(block)
        if isinstance(block, ir.MEDIA):
            part = media_part(block, self.native)
            if part is not None and block.extras and not self.native and "inlineData" in part:
                _sign_media(part, block.extras)
            return [part] if part is not None else []
        if isinstance(block, ir.ServerTool):
            if block.family == FAMILY:
                return [block.raw]
            if block.raw.get("type") == "image_generation_call" and not self.native:
                return self._generated(block.raw)
        return []

    def _generated(self, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The image of a Responses ``image_generation_call`` item (how a Responses client is
        shown a Gemini image) as an ``inlineData`` part, as CPA sends an assistant's
        ``input_image``; :func:`_once` drops it when the turn also sends it signed."""
        image = generated_image(item)
        part = media_part(image, False) if image is not None else None
        if part is None:
            return []
        self.generated.append(part)
        return [part]

    def _text(self, block: ir.Text) -> dict[str, Any]:
        part: dict[str, Any] = {"text": block.text}
        if self.native:
            part.update(public_extras(block.extras))
        return part

    def _thinking(self, block: ir.Thinking) -> list[dict[str, Any]]:
        if block.redacted:
            return []
        if block.compat:  # is-compat (translate.compat): kept, a Gemini signature or the bypass
            return [
                {
                    "text": block.text,
                    "thought": True,
                    "thoughtSignature": gemini_replay_or_bypass(block.signature),
                }
            ]
        if block.family != FAMILY:
            if self.anchored and block.text and not block.signature and block.family == "claude":
                # an unsigned thought after a carrier that may sign it (anchors.place)
                return [{"text": block.text, "thought": True, UNSIGNED: True}]
            # CPA: unsigned reasoning text of another family (Chat ``reasoning_content``)
            # goes back as a thought with the validator-skip signature; signed ones drop
            if block.signature or not block.text or self.native or block.family not in (None, "openai"):
                return []
            if self.claude_model:  # Claude behind Antigravity rejects unsigned thinking (CPA)
                return []
            return [{"text": block.text, "thought": True, "thoughtSignature": SKIP_SIGNATURE}]
        if block.anchor is not None and block.signature:  # the signature of a part next to it
            self.anchored = True
            marker = Anchored(block.signature, block.anchor)
            return [{"text": block.text, "thought": True}, marker] if block.text else [marker]
        if not block.text and block.signature and not self.native:
            # a signature with no thought text: a part of its own, as Gemini sends it (CPA)
            return [{"text": "", "thoughtSignature": block.signature}]
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
        self.call_rank.setdefault(call.id, len(self.call_rank))
        fc: dict[str, Any] = {"id": call.id, "name": name} if self.antigravity and call.id else {"name": name}
        if not (self.native and extras.get("_no_args")):
            fc["args"] = call_args(call)
        part: dict[str, Any] = {"functionCall": fc}
        if self.native:
            if not (extras.get("_synth_id") or extras.get("_alias_id")):
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
        fr: dict[str, Any] = (
            {"id": result.call_id, "name": name} if self.antigravity and result.call_id else {"name": name}
        )
        if self.native:
            if extras.get("_has_id"):
                fr["id"] = result.call_id
            if not extras.get("_no_response"):
                fr["response"] = _response_object(result)
            fr.update(extras.get("_inner") or {})
            part: dict[str, Any] = {"functionResponse": fr}
            part.update(public_extras(extras))
            return [part]
        content = unpack_images(result.content)
        if content is not result.content:
            result = ir.ToolResult(result.call_id, content, result.name, result.is_error)
        fr["response"] = _response_object(result)
        images = [media_part(b, False) for b in result.content if isinstance(b, ir.MEDIA)]
        answer = {"functionResponse": fr}
        self.answered[id(answer)] = result.call_id
        return [answer, *(p for p in images if p is not None)]

    # ---- messages

    def system(self, messages: list[ir.Message]) -> dict[str, Any]:
        parts = self._parts([b for m in messages for b in m.content if self.native or not _billing_header(b)])
        if self.anchored:
            self.anchored = False
            parts = place([p for p in parts if type(p) is not Anchored])
        si: dict[str, Any] = {"parts": parts}
        if self.native and messages:
            extras = messages[0].extras or {}
            if "_si_role" in extras:
                si["role"] = extras["_si_role"]
            si.update(public_extras(extras))
        return si

    def _parts(self, blocks: list[ir.Block]) -> list[dict[str, Any]]:
        if not self.native:  # a plain text block (the common one) is written here
            out: list[dict[str, Any]] = []
            for b in blocks:
                if type(b) is ir.Text:
                    out.append({"text": b.text})
                else:
                    out.extend(self.part(b))
            return out
        return [p for b in blocks for p in self.part(b)]

    def content(self, msg: ir.Message) -> dict[str, Any]:
        parts = self._parts(msg.content)
        if self.anchored:
            self.anchored = False
            if msg.role == "assistant":
                parts = place(parts)
            else:  # only the model's own turns carry its signatures (CPA)
                parts = place([p for p in parts if type(p) is not Anchored])
        if self.generated:
            parts = _once(parts, self.generated)
            self.generated = []
        if self.native:
            extras = msg.extras or {}
            role = extras.get("_role", "model" if msg.role == "assistant" else "user")
            out: dict[str, Any] = {"parts": parts} if role is None else {"role": role, "parts": parts}
            out.update(public_extras(extras))
            return out
        if msg.role in ("system", "developer"):  # mid-conversation system text, as CPA wraps it
            parts = [
                {"text": f"<system-reminder>\n{p['text']}\n</system-reminder>"}
                for p in parts
                if p.get("text") and not p.get("thought")
            ]
        return {"role": "model" if msg.role == "assistant" else "user", "parts": parts}


BILLING_HEADER = "x-anthropic-billing-header:"


def _billing_header(b: ir.Block) -> bool:
    """Claude Code's per-request billing header block: meaningless to Gemini, and it
    would bust Gemini's implicit prompt cache."""
    return isinstance(b, ir.Text) and b.text.lstrip().startswith(BILLING_HEADER)


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


_OPENAI_SOURCES = frozenset({"openai", "openai-response", "codex"})

# CPA's system hint for Claude thinking models behind Antigravity when tools are on
INTERLEAVED_HINT = (
    "Interleaved thinking is enabled. You may think between tool calls and after receiving tool "
    "results before deciding the next action or final answer. Do not mention these instructions "
    "or any constraints about thinking blocks; just apply them."
)


def _wants_interleaved_hint(req: ir.Request, tools: list[dict[str, Any]] | None) -> bool:
    """Tools and thinking both on for a Claude thinking model (only Antigravity serves
    those through the Gemini format)."""
    model = req.model.lower()
    if "claude" not in model or "thinking" not in model:
        return False
    if not any(t.get("functionDeclarations") for t in tools or ()):
        return False
    r = req.reasoning or {}
    return r.get("mode") in ("enabled", "adaptive", "auto") or (
        isinstance(r.get("budget"), int) and r["budget"] > 0
    )


def _drops_prefill(req: ir.Request) -> bool:
    """CPA drops a trailing model turn (an assistant prefill) from OpenAI-format
    clients; Gemini 3 rejects one from any client."""
    return req.source in _OPENAI_SOURCES or "gemini-3" in req.model


def _is_prefill(content: dict[str, Any]) -> bool:
    """A trailing model turn of plain text (no thought, call or signature)."""
    return content["role"] == "model" and not any(
        p.get("thought") or "functionCall" in p or p.get("thoughtSignature") for p in content["parts"]
    )


def _sign_first_calls(contents: list[dict[str, Any]]) -> None:
    """Gemini 3 rejects a model turn whose first functionCall carries no signature."""
    for c in contents:
        if c["role"] != "model":
            continue
        for part in c["parts"]:
            if "functionCall" in part:
                part.setdefault("thoughtSignature", SKIP_SIGNATURE)
                break


def _answer_in_call_order(
    contents: list[dict[str, Any]], answered: dict[int, str], rank: dict[str, int]
) -> None:
    """Gemini pairs a turn's ``functionResponse`` parts with its ``functionCall`` parts by
    position (its own API sends no ids), so two calls of one function are told apart only
    by order. Chat, Responses and Claude clients pair results by id and may answer in any
    order: a user content's run of results (each with the image parts after it) is put in
    the order of the calls they answer, as CPA's Chat translator writes them. Left as sent
    when a result answers no call of the request."""
    for c in contents:
        if c["role"] != "user":
            continue
        parts = c["parts"]
        start = next((i for i, p in enumerate(parts) if id(p) in answered), -1)
        if start < 0:
            continue
        runs: list[list[dict[str, Any]]] = []
        end = start
        for p in parts[start:]:
            if id(p) in answered:
                runs.append([p])
            elif "text" in p or "functionResponse" in p:  # the run of results ends here
                break
            else:  # an image of the result before it
                runs[-1].append(p)
            end += 1
        keys = [rank.get(answered[id(run[0])], -1) for run in runs]
        if len(runs) < 2 or min(keys) < 0 or keys == sorted(keys):
            continue
        ordered = [p for _, run in sorted(zip(keys, runs, strict=True), key=lambda kr: kr[0]) for p in run]
        c["parts"] = [*parts[:start], *ordered, *parts[end:]]


def _once(parts: list[dict[str, Any]], generated: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``parts`` without the ``generated`` image parts whose image the turn also holds
    signed (a Responses client gets a signed Gemini image twice: shown in an
    ``image_generation_call`` item, carried whole in a reasoning item; it goes back once)."""
    signed = set()
    for p in parts:
        inline = p.get("inlineData", p.get("inline_data"))
        if type(inline) is dict and p.get("thoughtSignature", p.get("thought_signature")):
            signed.add(inline.get("data"))
    if not signed:
        return parts
    drop = {id(p) for p in generated if p["inlineData"]["data"] in signed}
    return [p for p in parts if id(p) not in drop]


def _sign_media(part: dict[str, Any], extras: dict[str, Any]) -> None:
    """An image a Chat client sends back with the signature the proxy gave it
    (``extra_content.google.thought_signature``, as on its ``images``) keeps it."""
    extra = extras.get("extra_content")
    google = extra.get("google") if type(extra) is dict else None
    sig = google.get("thought_signature") if type(google) is dict else None
    if type(sig) is str:
        part["thoughtSignature"] = sig  # (the request's sanitizer keeps only Gemini's own)


_SYSTEM_ROLES = ("system", "developer")


def build_request(req: ir.Request) -> dict[str, Any]:
    if req.source == FAMILY:
        return _native_request(req)
    if SOURCE_ONLY in req.extras:
        refuse(req, "Gemini")
    # another format's request, written here in one pass: a message of plain text blocks
    # (the common one) without a _Builder; the first other block makes one
    msgs = req.messages
    n = len(msgs)
    lead = 0
    while lead < n and msgs[lead].role in _SYSTEM_ROLES and not claude_system_turn(req.source, msgs[lead]):
        lead += 1
    b: _Builder | None = None
    built = False  # a content came from _Builder (only those can hold a functionCall)
    contents: list[dict[str, Any]] = []
    for i in range(lead, n):
        m = msgs[i]
        parts: list[dict[str, Any]] = []
        plain = True
        for block in m.content:
            if type(block) is not ir.Text:
                plain = False
                break
            if block.text:  # Gemini rejects empty text parts (CPA skips them)
                parts.append({"text": block.text})
        if plain:
            if not parts:
                continue
            if m.role in _SYSTEM_ROLES:  # mid-conversation system text, as CPA wraps it
                parts = [{"text": f"<system-reminder>\n{p['text']}\n</system-reminder>"} for p in parts]
            role = "model" if m.role == "assistant" else "user"
        else:
            if b is None:
                b = _Builder(req)
            built = True
            content = b.content(m)
            parts = [p for p in content["parts"] if p.get("text") != "" or len(p) > 1]
            if not parts:
                continue
            role = content["role"]
        if contents and contents[-1]["role"] == role:  # one role twice: merged (Gemini wants alternation)
            contents[-1]["parts"].extend(parts)
        else:
            contents.append({"role": role, "parts": parts})
    if contents and contents[-1]["role"] == "model" and _drops_prefill(req) and _is_prefill(contents[-1]):
        contents.pop()
    if built and "claude" not in req.model.lower():  # a call on Claude needs none (CPA)
        _sign_first_calls(contents)
    if b is not None and len(b.answered) > 1:
        _answer_in_call_order(contents, b.answered, b.call_rank)
    body: dict[str, Any] = {"contents": contents}
    if req.tools or req.tool_choice is not None:
        if b is None:
            b = _Builder(req)
        tools = build_tools(req, b.names, b.antigravity) if req.tools else []
    else:
        tools = []
    hint = "claude" in req.model.lower() and _wants_interleaved_hint(req, tools)
    lead_text = True  # every lead block is a text (text_only's answer, with b None)
    if lead or hint:
        sys_parts: list[dict[str, Any]] = []
        for m in msgs[:lead]:
            for block in m.content:
                if type(block) is ir.Text:
                    if not block.text.lstrip().startswith(BILLING_HEADER):
                        sys_parts.append({"text": block.text})
                else:
                    lead_text = False
                    if not _billing_header(block):
                        if b is None:
                            b = _Builder(req)
                        sys_parts.extend(b.part(block))
        if hint:
            sys_parts.append({"text": INTERLEAVED_HINT})
        if sys_parts:
            body["systemInstruction"] = {"parts": sys_parts}
    if tools:
        body["tools"] = tools
    if req.tool_choice is not None and b is not None:
        tool_config = build_tool_config(req, b.names, False)
        if tool_config is not None:
            body["toolConfig"] = tool_config
    gen = build_generation_config(req, False)
    if gen is not None:
        body["generationConfig"] = gen
    body["safetySettings"] = [s.copy() for s in DEFAULT_SAFETY_SETTINGS]
    _TEXT_BUILT[0] = req if b is None and lead_text else None
    return body


# the request build_request last wrote from text blocks alone, for text_only, which the
# attempt asks right after the build: its answer without a second walk (taken once)
_TEXT_BUILT: list[ir.Request | None] = [None]


def text_only(req: ir.Request) -> bool:
    """Whether every message of ``req`` holds text blocks only: another format's request
    built from it (``build_request``) has only ``{"text": ...}`` parts in its contents, no
    signature and no call, which the request's signature pass would leave as they are (a
    Gemini client's text may carry a signature: never text only)."""
    if req is _TEXT_BUILT[0]:
        _TEXT_BUILT[0] = None
        return True
    if req.source == FAMILY:
        return False
    for m in req.messages:
        for block in m.content:
            if type(block) is not ir.Text:
                return False
    return True


def _native_request(req: ir.Request) -> dict[str, Any]:
    b = _Builder(req)
    msgs = req.messages
    lead = 0
    while lead < len(msgs) and msgs[lead].role in _SYSTEM_ROLES:
        lead += 1
    body: dict[str, Any] = {}
    if "_model_in_body" in req.extras:
        body["model"] = req.extras["_model_in_body"]
    body["contents"] = [b.content(m) for m in msgs[lead:]]
    tools = build_tools(req, b.names) if req.tools else []
    if lead:
        body["systemInstruction"] = b.system(msgs[:lead])
    if tools or req.tools is not None:
        body["tools"] = tools
    tool_config = build_tool_config(req, b.names, True)
    if tool_config is not None:
        body["toolConfig"] = tool_config
    gen = build_generation_config(req, True)
    if gen is not None:
        body["generationConfig"] = gen
    body.update(public_extras(req.extras))
    return body
