"""IR -> Claude Messages request body.

For an IR parsed from Claude (``req.source == "claude"``) the body comes back as it was
sent, except for what Claude itself rejects (empty text blocks, messages left empty,
thinking blocks without a signature) and a ``tool_use`` without ``input`` (gets ``{}``).

For other sources:

* system and developer messages, leading or not, become the top-level ``system`` text
  blocks in order (Claude's native mid-conversation ``system`` turns are only sent for
  Claude sources, where the client chose them);
* ``tool`` messages become ``tool_result`` blocks at the start of the next user turn;
  consecutive same-role turns are merged, tool results first, duplicates dropped;
* tool-call ids are made Claude-valid (``ids.sanitize_tool_id``) for calls and results
  alike;
* ``max_tokens`` defaults to 32000; reasoning becomes ``thinking`` (see
  ``thinking_config``); with thinking on, ``top_k``, a non-1 ``temperature`` and a
  ``top_p`` below 0.95 are dropped, and a forced tool choice turns thinking off, as the
  API demands; the budget is kept below ``max_tokens``.
* ``response_format`` json_schema -> ``output_config.format`` (what the SDK sends for
  ``output_format``); ``json_object`` has no Claude equivalent and is dropped.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats.claude import DEFAULT_MAX_TOKENS
from cliproxy.translate import ir
from cliproxy.translate.claude.thinking import MIN_BUDGET, thinking_config
from cliproxy.translate.claude.wire import BlockWriter, put_extras
from cliproxy.translate.naming import flat_name

__all__ = ["build_request"]

Wire = dict[str, Any]
_EMPTY_SCHEMA: Wire = {"type": "object", "properties": {}}
_CUSTOM_SCHEMA: Wire = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
_CHOICES = {"auto": "auto", "required": "any", "none": "none", "any": "any"}


def build_request(req: ir.Request) -> Wire:
    native = req.source == "claude"
    writer = BlockWriter(native)
    body: Wire = {"model": req.model}
    system, messages = _conversation(req, writer)
    if system is not _ABSENT:
        body["system"] = system
    body["messages"] = messages
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    elif not native:
        body["max_tokens"] = DEFAULT_MAX_TOKENS
    _sampling(req, body)
    _tools(req, body, native)
    if native:
        _native_settings(req, body)
    else:
        _foreign_settings(req, body)
    return body


# --------------------------------------------------------------------------- messages

_ABSENT: Any = object()


def _conversation(req: ir.Request, w: BlockWriter) -> tuple[Any, list[Wire]]:
    native = w.native
    system: Any = _ABSENT
    sys_blocks: list[Wire] = []
    out: list[Wire] = []
    pending: list[Wire] = []  # tool results waiting for the next user turn
    for m in req.messages:
        if m.role in ("system", "developer"):
            marker = m.extras.get("_system") if native and m.extras else None
            if native and marker is None:
                _append(out, _message(m, w), native)
            elif marker is not None:  # only ever set when native
                system = _native_system(m, marker, w)
            else:
                sys_blocks.extend(w.blocks([b for b in m.content if isinstance(b, ir.Text)]))
            continue
        if m.role == "tool":
            pending.extend(w.blocks([b for b in m.content if isinstance(b, ir.ToolResult)]))
            continue
        msg = _message(m, w)
        if pending:
            if m.role == "user":
                msg["content"] = pending + msg["content"]
            else:
                _append(out, {"role": "user", "content": pending}, native)
            pending = []
        _append(out, msg, native)
    if pending:
        _append(out, {"role": "user", "content": pending}, native)
    if not native:
        if sys_blocks:
            system = sys_blocks
        return system, [_tidy(m) for m in out if m["content"]]
    return system, [m for m in out if m["content"]]


def _native_system(m: ir.Message, marker: str, w: BlockWriter) -> Any:
    if marker == "null":
        return None
    if marker == "string":
        return "".join(b.text for b in m.content if isinstance(b, ir.Text))
    return w.blocks(m.content)


def _message(m: ir.Message, w: BlockWriter) -> Wire:
    role = "user" if m.role == "tool" else m.role
    content: Any = w.blocks(m.content)
    if (
        w.native
        and m.extras
        and m.extras.get("_string")
        and len(content) == 1
        and content[0]["type"] == "text"
    ):
        content = content[0]["text"]
    out: Wire = {"role": role, "content": content}
    if w.native:  # message-level keys (Claude Code's output_config) are Claude's own
        put_extras(out, m.extras, True)
    return out


def _append(out: list[Wire], msg: Wire, native: bool) -> None:
    if native or not out or out[-1]["role"] != msg["role"] or msg["role"] == "system":
        out.append(msg)
        return
    out[-1]["content"] = out[-1]["content"] + msg["content"]


def _tidy(msg: Wire) -> Wire:
    """Tool results first in a user turn, one per tool_use id."""
    if msg["role"] != "user":
        return msg
    content = msg["content"]
    results: list[Wire] = []
    seen: set[str] = set()
    others: list[Wire] = []
    for b in content:
        if b.get("type") != "tool_result":
            others.append(b)
        elif b["tool_use_id"] not in seen:
            seen.add(b["tool_use_id"])
            results.append(b)
    if results:
        msg["content"] = results + others
    return msg


# --------------------------------------------------------------------------- settings


def _sampling(req: ir.Request, body: Wire) -> None:
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop is not None:
        body["stop_sequences"] = req.stop
    if req.stream:
        body["stream"] = True


def _tools(req: ir.Request, body: Wire, native: bool) -> None:
    if req.tools is not None:
        tools = [t for t in (_tool(t, native) for t in req.tools) if t is not None]
        if tools or native:
            body["tools"] = tools
    choice = _tool_choice(req)
    if choice is not None and (native or body.get("tools")):
        body["tool_choice"] = choice


def _tool(t: ir.Tool, native: bool) -> Wire | None:
    if t.kind == "builtin":
        ex = t.extras or {}
        return ex.get("raw") if ex.get("family") == "claude" else None
    out: Wire = {"name": flat_name(t.name, t.namespace)}
    if t.description is not None:
        out["description"] = t.description
    if t.parameters is not None:
        out["input_schema"] = t.parameters
    elif not native:
        out["input_schema"] = _CUSTOM_SCHEMA if t.kind == "custom" else _EMPTY_SCHEMA
    if t.strict is not None and (native or t.strict):
        out["strict"] = t.strict
    put_extras(out, t.extras, native)
    return out


def _tool_choice(req: ir.Request) -> Wire | None:
    choice = req.tool_choice
    out: Wire | None
    if isinstance(choice, dict):
        name = choice.get("name")
        out = {"type": "tool", "name": flat_name(name, choice.get("namespace"))} if name else {"type": "auto"}
    elif isinstance(choice, str):
        out = {"type": _CHOICES.get(choice, "auto")}
    elif req.parallel_tool_calls is False and req.source != "claude":
        out = {"type": "auto"}
    else:
        return None
    if req.parallel_tool_calls is not None and out["type"] != "none":
        out["disable_parallel_tool_use"] = not req.parallel_tool_calls
    return out


def _native_settings(req: ir.Request, body: Wire) -> None:
    reasoning = req.reasoning or {}
    ex = req.extras
    thinking = thinking_config(req, native=True)
    if thinking is not None:
        body["thinking"] = thinking
    config: Wire = dict(ex.get("_output_config") or {})
    if "effort" in reasoning:
        config["effort"] = reasoning["effort"]
    slot = ex.get("_format_slot", "output_config")
    if req.response_format is not None:
        if slot == "output_format":
            body["output_format"] = req.response_format
        else:
            config["format"] = req.response_format
    if config or "_output_config" in ex:
        body["output_config"] = config
    if "_metadata" in ex or req.user is not None:
        md: Wire = dict(ex.get("_metadata") or {})
        if req.user is not None:
            md["user_id"] = req.user
        body["metadata"] = md
    for key, value in ex.items():
        if key[:1] != "_":
            body[key] = value


def _foreign_settings(req: ir.Request, body: Wire) -> None:
    thinking = thinking_config(req, native=False)
    choice = body.get("tool_choice")
    if thinking is not None and choice is not None and choice["type"] in ("any", "tool"):
        thinking = None  # the API refuses thinking with a forced tool
    if thinking is not None and thinking["type"] != "disabled":
        thinking = _fit_thinking(body, thinking)
    if thinking is not None:
        body["thinking"] = thinking
    config: Wire = {}
    rf = req.response_format
    if rf is not None and rf.get("type") == "json_schema" and isinstance(rf.get("schema"), dict):
        config["format"] = {"type": "json_schema", "schema": rf["schema"]}
    effort = (req.reasoning or {}).get("effort")
    if thinking is not None and thinking["type"] == "adaptive" and effort not in (None, "none", "minimal"):
        config["effort"] = effort
    if config:
        body["output_config"] = config
    if req.user:
        body["metadata"] = {"user_id": req.user}


def _fit_thinking(body: Wire, thinking: Wire) -> Wire | None:
    """Drop sampling settings thinking does not allow; keep the budget under max_tokens
    (no thinking when less than the API's minimum budget is left)."""
    body.pop("top_k", None)
    if body.get("temperature") not in (None, 1, 1.0):
        del body["temperature"]
    if body.get("top_p") is not None and body["top_p"] < 0.95:
        del body["top_p"]
    budget = thinking.get("budget_tokens")
    if budget is not None and budget >= body["max_tokens"]:
        budget = thinking["budget_tokens"] = body["max_tokens"] - 1
    if budget is not None and budget < MIN_BUDGET:
        return None
    return thinking
