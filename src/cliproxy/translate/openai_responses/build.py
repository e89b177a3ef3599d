"""IR -> Responses request body (``own`` = the IR was parsed from Responses/Codex, so
extras are written back and the body comes back as the client sent it)."""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.openai_chat.build import claude_effort
from cliproxy.translate.openai_responses.names import LIMIT, short_id, short_names
from cliproxy.translate.openai_responses.parts import build_part
from cliproxy.translate.openai_responses.tools import build_tool_choice, build_tools
from cliproxy.translate.signatures import provider_from_model
from cliproxy.translate.source_only import KEY as SOURCE_ONLY
from cliproxy.translate.source_only import refuse
from cliproxy.translate.summary import summary_detail, summary_intent
from cliproxy.translate.system_turns import claude_system_turn
from cliproxy.translate.tool_output import unpack_images

__all__ = ["OWN_SOURCES", "build_input", "build_request", "is_own"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_REASONED = (ir.Thinking, ir.ToolCall)
_CONTENT_BLOCKS = (ir.Text, ir.Image, ir.File)

# reasoning families whose artifact a reasoning item carries (a ``grok`` one reaches the
# item builder only for a Grok model)
_CARRIED = frozenset(("openai", "grok"))
_SIGNED = frozenset((None, "openai", "grok"))
OWN_SOURCES = frozenset({Format.RESPONSES.value, Format.CODEX.value})
_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
# clients whose request to Codex names an effort even when they name none (CPA's Chat,
# Claude and Gemini -> Codex translators write "medium"; the thinking step then checks it
# against the model, and xAI drops it for a model without levels, models.shaping)
_DEFAULT_EFFORT_SOURCES = frozenset({Format.OPENAI.value, Format.CLAUDE.value, Format.GEMINI.value})
_CLAUDE = Format.CLAUDE.value


def is_own(source: str) -> bool:
    return source in OWN_SOURCES


def _public(extras: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in extras.items() if k[:1] != "_"} if extras else {}


def build_request(req: ir.Request, codex: bool = False, *, messages: bool = True) -> dict[str, Any]:
    """``messages=False``: the body of ``req`` without its messages (what a Response
    object echoes), with no copy of ``req``."""
    own = req.source in OWN_SOURCES
    ex = req.extras
    instructions, items = build_input(req, own) if messages else (None, [])
    if own:
        for index, item in ex.get("_additional_items") or ():
            items.insert(index, item)  # back where the client had them
    body: dict[str, Any] = {"model": req.model}
    if instructions is not None:
        body["instructions"] = instructions
    if own and ex.get("_input_str") and len(items) == 1 and isinstance(items[0].get("content"), str):
        body["input"] = items[0]["content"]
    elif items or codex or (own and not ex.get("_no_input")):
        body["input"] = items
    if req.tools is not None or req.tool_choice is not None or (own and "_tool_choice" in ex):
        _build_tools(req, own, codex, body)
    if req.parallel_tool_calls is not None:
        body["parallel_tool_calls"] = req.parallel_tool_calls
    if req.max_tokens is not None:
        body["max_output_tokens"] = req.max_tokens
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.reasoning is not None or (own and "_reasoning" in ex):
        _build_reasoning(req, own, body, codex)
    elif codex and req.source in _DEFAULT_EFFORT_SOURCES:
        body["reasoning"] = {"effort": "medium"}
    if req.response_format is not None or (own and "_text" in ex):
        _build_text(req, own, body)
    if not (own and ex.get("_no_stream") and not req.stream):
        body["stream"] = req.stream
    _build_identity(req, own, body)
    if own:
        body.update(_public(ex))
    else:
        _shorten_names(req, body)
        _service_tier(req, body)
    return body


def _service_tier(req: ir.Request, body: dict[str, Any]) -> None:
    """Fast mode (CPA): Claude ``speed: fast`` or a ``fast`` / ``priority`` tier of another
    format is the Responses ``priority`` tier; other tiers are not sent."""
    ex = req.extras
    if ex.get("speed") == "fast" or ex.get("service_tier") in ("priority", "fast"):
        body["service_tier"] = "priority"


def _shorten_names(req: ir.Request, body: dict[str, Any]) -> None:
    """Tool names over 64 characters cut as CPA cuts them (``names``), everywhere the
    body names a tool: declarations, tool_choice and the calls in the history; call ids
    over 64 characters (Claude ``toolu_`` ids can be longer) shortened the same way on
    the call and its output."""
    for item in body.get("input") or ():
        cid = item.get("call_id")
        if isinstance(cid, str) and len(cid) > LIMIT:
            item["call_id"] = short_id(cid)
    fwd, _ = short_names(req)
    if not fwd:
        return
    for tool in body.get("tools") or ():
        if tool.get("name") in fwd:
            tool["name"] = fwd[tool["name"]]
    tc = body.get("tool_choice")
    if isinstance(tc, dict) and tc.get("name") in fwd:
        body["tool_choice"] = {**tc, "name": fwd[tc["name"]]}
    for item in body.get("input") or ():
        if item.get("type") in ("function_call", "custom_tool_call") and item.get("name") in fwd:
            item["name"] = fwd[item["name"]]


def _put(body: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        body[key] = value


def _build_tools(req: ir.Request, own: bool, codex: bool, body: dict[str, Any]) -> None:
    if req.tools is not None:
        tools = build_tools(req.tools, own, codex)
        if tools or (own and not req.extras.get("_no_tools")):
            body["tools"] = tools
    tc = build_tool_choice(req, own, codex)
    if tc is not None and (own or "tools" in body or tc in ("none", "auto")):
        body["tool_choice"] = tc


def _build_reasoning(req: ir.Request, own: bool, body: dict[str, Any], codex: bool = False) -> None:
    r = req.reasoning
    rest = req.extras.get("_reasoning") if own else None
    if r is None and rest is None:
        return
    r = r or {}
    out: dict[str, Any] = dict(rest or {})
    if own:
        out.update(r)
        if out.get("summary") == "none":  # no summary: the field left out, as CPA sends it
            del out["summary"]
            if not out:
                return
    else:
        effort = claude_effort(r, None) if req.source == _CLAUDE else _effort(r)
        if effort is None and codex and req.source in _DEFAULT_EFFORT_SOURCES:
            effort = "medium"
        if effort is not None:
            out["effort"] = effort
        if summary_intent(r, req.source):  # hidden or unsaid: no summary (CPA)
            out["summary"] = summary_detail(r)
        if not out:
            return
    body["reasoning"] = out


def _effort(r: dict[str, Any]) -> str | None:
    effort = r.get("effort")
    if effort == "max":
        return "xhigh"
    if effort in _EFFORTS:
        return effort
    if r.get("budget") == 0:
        return "none"
    budget = r.get("budget")
    if isinstance(budget, int) and budget > 0:
        # CPA's ConvertBudgetToLevel thresholds
        for bound, level in _BUDGET_LEVELS:
            if budget <= bound:
                return level
        return "xhigh"
    return None


_BUDGET_LEVELS = ((512, "minimal"), (1024, "low"), (8192, "medium"), (24576, "high"))


def _build_text(req: ir.Request, own: bool, body: dict[str, Any]) -> None:
    text: dict[str, Any] | None = dict(req.extras["_text"]) if own and "_text" in req.extras else None
    rf = req.response_format
    if rf is not None:
        if text is None:
            text = {}
        text["format"] = rf if own else _format(rf)
    if text is not None:
        body["text"] = text


def _format(rf: dict[str, Any]) -> dict[str, Any]:
    if rf.get("type") == "json_schema":
        out: dict[str, Any] = {
            "type": "json_schema",
            "name": rf.get("name") or "response",
            "schema": rf.get("schema") or {},
        }
        for key in ("strict", "description"):
            if rf.get(key) is not None:
                out[key] = rf[key]
        return out
    return {"type": rf.get("type", "text")}


def _build_identity(req: ir.Request, own: bool, body: dict[str, Any]) -> None:
    if own:
        if req.user is not None:
            body["user"] = req.user
        if req.metadata is not None:
            body["metadata"] = req.metadata
        return
    if req.user and len(req.user) <= 64:
        body["user"] = req.user
    meta = req.metadata
    if meta and len(meta) <= 16 and all(isinstance(v, str) and len(v) <= 512 for v in meta.values()):
        body["metadata"] = meta


# --------------------------------------------------------------------------- input


def build_input(req: ir.Request, own: bool) -> tuple[str | None, list[dict[str, Any]]]:
    """(``instructions``, ``input`` items) for the IR messages."""
    instructions: str | None = None
    items: list[dict[str, Any]] = []
    kinds: dict[str, str] = {}  # call_id -> call kind, for output item types
    settled = 0  # the items up to the end of the last assistant message
    if not own and SOURCE_ONLY in req.extras:
        refuse(req, "Responses")
    # Grok's reasoning a client of another format carried back goes to a Grok model only
    grok = not own and provider_from_model(req.model) == "grok"
    for msg in req.messages:
        role = msg.role
        if role in ("system", "developer"):
            if msg.extras and msg.extras.get("_instructions") and instructions is None:
                instructions = _joined(msg)
                continue
            if not own:
                blocks = [b for b in msg.content if not _dropped_system_text(b)]
                if blocks and _claude_message_system(req, msg):
                    items.append(_message_item(msg, "user", own, [_reminder(blocks)]))
                elif blocks:
                    items.append(_message_item(msg, "developer", own, blocks))
                continue
            items.append(_message_item(msg, role, own))
        elif role == "assistant":
            _assistant_items(msg, own, items, kinds, grok)
            settled = len(items)
        else:
            _user_items(msg, own, items, kinds)
    if settled and not own:
        # message items left empty by dropped blocks go, up to the last assistant message
        # (what a sweep after each assistant message would leave, in one pass: a sweep per
        # message would walk the whole history each time, quadratic in a long session)
        items[:settled] = [
            i for i in items[:settled] if not (i.get("type") == "message" and i.get("content") == [])
        ]
    return instructions, items


BILLING_HEADER = "x-anthropic-billing-header:"


def _dropped_system_text(b: ir.Block) -> bool:
    """Empty system text, and Claude Code's billing header block (it only means
    something to Anthropic, and changing per request it would bust prompt caches)."""
    return isinstance(b, ir.Text) and (not b.text.strip() or b.text.lstrip().startswith(BILLING_HEADER))


def _claude_message_system(req: ir.Request, msg: ir.Message) -> bool:
    """A Claude client's ``role: system`` message (not its ``system`` prompt): CPA sends it
    to Codex as a user message wrapped in ``<system-reminder>``, even a leading one."""
    return claude_system_turn(req.source, msg)


def _reminder(blocks: list[ir.Block]) -> ir.Text:
    text = "\n".join(b.text for b in blocks if isinstance(b, ir.Text))  # CPA joins with one
    return ir.Text(f"<system-reminder>\n{text}\n</system-reminder>")


def _joined(msg: ir.Message) -> str:
    return "\n\n".join(b.text for b in msg.content if isinstance(b, ir.Text))


def _message_item(
    msg: ir.Message, role: str, own: bool, blocks: list[ir.Block] | None = None
) -> dict[str, Any]:
    blocks = msg.content if blocks is None else blocks
    if not own:
        parts = [p for b in blocks if (p := build_part(b, "input_text", False)) is not None]
        return {"type": "message", "role": role, "content": parts}
    ex = msg.extras or {}
    item = _public(ex)
    item["role"] = role
    if ex.get("_str") and len(blocks) == 1 and isinstance(blocks[0], ir.Text):
        item["content"] = blocks[0].text
    else:
        item["content"] = [p for b in blocks if (p := build_part(b, "input_text", True)) is not None]
    return item


def _user_items(msg: ir.Message, own: bool, items: list[dict[str, Any]], kinds: dict[str, str]) -> None:
    pending: list[ir.Block] = []
    for b in msg.content:
        if isinstance(b, ir.ToolResult):
            if pending:
                items.append(_message_item(msg, "user", own, pending))
                pending = []
            items.append(_output_item(b, own, kinds))
        elif not isinstance(b, _REASONED):
            pending.append(b)
    if pending or (msg.role == "user" and not msg.content):
        items.append(_message_item(msg, "user", own, pending))


def _output_item(res: ir.ToolResult, own: bool, kinds: dict[str, str]) -> dict[str, Any]:
    ex = res.extras or {}
    if own:
        item = _public(ex)
        item.setdefault("type", "function_call_output")
    else:
        item = {
            "type": "custom_tool_call_output"
            if kinds.get(res.call_id) == "custom"
            else "function_call_output"
        }
    item["call_id"] = res.call_id
    item["output"] = _output(res, own, bool(ex.get("_str")))
    if res.is_error and not own:
        item["status"] = "incomplete"
    return item


def _output(res: ir.ToolResult, own: bool, as_str: bool) -> str | list[Any]:
    blocks = res.content if own else unpack_images(res.content)
    if own:
        if as_str and len(blocks) == 1 and isinstance(blocks[0], ir.Text):
            return blocks[0].text
    elif all(isinstance(b, ir.Text) for b in blocks):
        return "\n".join(b.text for b in blocks)  # type: ignore[union-attr]
    return [p for b in blocks if (p := build_part(b, "input_text", own)) is not None]


def _assistant_items(
    msg: ir.Message, own: bool, items: list[dict[str, Any]], kinds: dict[str, str], grok: bool = False
) -> None:
    current: dict[str, Any] | None = None  # the message item text parts go into
    for b in msg.content:
        if isinstance(b, _CONTENT_BLOCKS):
            head = (b.extras or {}).get("_item") if own else None
            if current is None or head is not None:
                current = _assistant_message(head, own)
                items.append(current)
            if head is not None and head.get("_str") and isinstance(b, ir.Text):
                current["content"] = b.text
                continue
            part = build_part(b, "output_text", own) if isinstance(b, ir.Text) else None
            if part is not None:
                current["content"].append(part)
            continue
        current = None
        if isinstance(b, ir.Thinking):
            if (
                own
                or b.compat
                or (b.family == "openai" and (b.signature or b.id))
                or (grok and b.family == "grok" and b.signature)
            ):
                items.append(_reasoning_item(b, own))
        elif isinstance(b, ir.ToolCall):
            kinds[b.id] = b.kind
            items.append(_call_item(b, own))
        elif isinstance(b, ir.ServerTool) and b.family == "openai":
            items.append(b.raw)


def _assistant_message(head: dict[str, Any] | None, own: bool) -> dict[str, Any]:
    if head is None:
        return {"type": "message", "role": "assistant", "content": []}
    item = _public(head)
    item["role"] = "assistant"
    item["content"] = []
    return item


def _reasoning_item(t: ir.Thinking, own: bool) -> dict[str, Any]:
    ex = t.extras or {}
    item: dict[str, Any] = {"type": "reasoning"}
    if t.id is not None:
        item["id"] = t.id
    if own:
        item.update(_public(ex))
        if not ex.get("_no_summary"):
            item["summary"] = [{"type": "summary_text", "text": s} for s in (t.summary or [])]
    elif t.signature and t.family in _CARRIED and t.id is None and t.summary is None and not t.compat:
        # Codex's or Grok's encrypted reasoning carried by a client of a format with no
        # reasoning item (a Claude thinking signature): the encrypted content is the
        # reasoning; the text the client saw is not sent back (CPA)
        item["summary"] = []
        item["content"] = None
    else:
        texts = t.summary if t.summary is not None else ([t.text] if t.text else [])
        item["summary"] = [{"type": "summary_text", "text": s} for s in texts]
    # never another family's artifact (an is-compat upstream takes it as it is)
    if t.signature is not None and (t.compat or t.family in _SIGNED):
        item["encrypted_content"] = t.signature
    return item


def _call_item(c: ir.ToolCall, own: bool) -> dict[str, Any]:
    custom = c.kind == "custom"
    item: dict[str, Any] = {"type": "custom_tool_call" if custom else "function_call"}
    if own:
        item.update(_public(c.extras))
    item["call_id"] = c.id
    item["name"] = c.name
    item["input" if custom else "arguments"] = c.arguments
    if c.namespace is not None:
        if own:
            item["namespace"] = c.namespace
        else:
            item["name"] = f"{c.namespace}__{c.name}"
    return item
