"""IR -> Claude Messages request body.

For an IR parsed from Claude (``req.source == "claude"``) the body comes back as it was
sent, except for what Claude itself rejects (empty text blocks, messages left empty,
thinking blocks without a signature) and a ``tool_use`` without ``input`` (gets ``{}``).

For other sources:

* system and developer messages, leading or not, become the top-level ``system`` text
  blocks in order (Claude's native mid-conversation ``system`` turns are only sent for
  Claude sources, where the client chose them);
* ``tool`` messages become ``tool_result`` blocks at the start of the next user turn;
  consecutive same-role turns are merged (empty turns skipped), tool results first, tool
  uses last; a result repeated for one call id is sent once, where it first appears,
  with the last payload (CPA);
* a message-level ``cache_control`` (Chat / Responses) goes on the message's last block
  unless that block has its own;
* tool-call ids are made Claude-valid (``ids.sanitize_tool_id``) for calls and results
  alike; tool schemas get an object root (``schema.clean_schema_for_claude``); a name
  given twice is sent once (a direct declaration wins over a namespaced one); Codex's
  ``apply_patch`` custom tool is left out and a Responses ``web_search`` becomes
  ``web_search_20250305``; custom tools take ``{"input": string}``;
* ``max_tokens`` defaults to 32000; with ``top_p`` given, ``temperature`` is left out
  (newer models refuse the pair), and one above Claude's 1 (OpenAI's scale goes to 2) is 1; reasoning becomes ``thinking`` (see
  ``thinking_config``); with thinking on, ``top_k``, a non-1 ``temperature`` and a
  ``top_p`` below 0.95 are dropped, and a forced tool choice turns thinking off, as the
  API demands; the budget is kept below ``max_tokens``;
* ``response_format`` json_schema -> ``output_config.format`` (what the SDK sends for
  ``output_format``), fitted to what Anthropic accepts (``output_schema``; left out when
  it cannot be), a Gemini client's too; ``json_object`` has no Claude equivalent and
  is dropped;
* a caller's ``metadata.user_id`` (else ``user``) -> ``metadata.user_id`` (with neither,
  the attempt's body gets one derived from the client's session signals: the Claude
  provider's carrier, :mod:`cliproxy.translate.claude.user_id`); a Responses
  ``service_tier: priority`` -> ``speed: fast`` (Claude fast mode).
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats.claude import DEFAULT_MAX_TOKENS
from cliproxy.translate import ir
from cliproxy.translate.claude.output_schema import fit_output_schema
from cliproxy.translate.claude.thinking import MIN_BUDGET, thinking_config
from cliproxy.translate.claude.wire import BlockWriter, put_extras
from cliproxy.translate.naming import flat_name
from cliproxy.translate.schema import clean_schema_for_claude
from cliproxy.translate.source_only import KEY as SOURCE_ONLY
from cliproxy.translate.source_only import refuse

__all__ = ["build_request"]

Wire = dict[str, Any]
_EMPTY_SCHEMA: Wire = {"type": "object", "properties": {}}
_CUSTOM_SCHEMA: Wire = {"type": "object", "properties": {"input": {"type": "string"}}, "required": ["input"]}
_CHOICES = {"auto": "auto", "required": "any", "none": "none", "any": "any"}


_WRITERS = {True: BlockWriter(True), False: BlockWriter(False)}  # stateless: one each


def build_request(req: ir.Request) -> Wire:
    native = req.source == "claude"
    body: Wire = {"model": req.model}
    if native:
        system, messages = _conversation(req, _WRITERS[True])
    else:
        if SOURCE_ONLY in req.extras:
            refuse(req, "Claude")
        system, messages = _foreign_conversation(req, _WRITERS[False])
    if system is not _ABSENT:
        body["system"] = system
    body["messages"] = messages
    if req.max_tokens is not None:
        body["max_tokens"] = req.max_tokens
    elif not native:
        body["max_tokens"] = DEFAULT_MAX_TOKENS
    # sampling: newer Claude models refuse temperature and top_p together: CPA keeps top_p
    if req.temperature is not None and (req.top_p is None or native):
        # (another format's scale may go past Claude's 0-1: OpenAI's goes to 2)
        body["temperature"] = req.temperature if native or req.temperature <= 1 else 1
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.top_k is not None:
        body["top_k"] = req.top_k
    if req.stop is not None and (native or req.stop):  # another format's empty list: none
        body["stop_sequences"] = req.stop
    if req.stream:
        body["stream"] = True
    if req.tools is not None or req.tool_choice is not None or req.parallel_tool_calls is False:
        _tools(req, body, native)  # no tools, no choice: it would make none
    if native:
        _native_settings(req, body)
    elif (
        req.reasoning
        or req.response_format is not None
        or req.metadata
        or req.user
        or (req.source in _RESPONSES and req.extras.get("service_tier") == "priority")
    ):  # else it would set nothing
        _foreign_settings(req, body)
    return body


# --------------------------------------------------------------------------- messages

_ABSENT: Any = object()


def _conversation(req: ir.Request, w: BlockWriter) -> tuple[Any, list[Wire]]:
    """A Claude-made IR's system prompt (``_system`` marks the top-level one) and turns."""
    system: Any = _ABSENT
    out: list[Wire] = []
    pending: list[Wire] = []  # tool results waiting for the next user turn
    for m in req.messages:
        if m.role in ("system", "developer"):
            marker = m.extras.get("_system") if m.extras else None
            if marker is None:
                _append(out, _message(m, w), True)
            else:
                system = _native_system(m, marker, w)
            continue
        if m.role == "tool":
            blocks = w.blocks([b for b in m.content if isinstance(b, ir.ToolResult)])
            _message_cache_control(blocks, m)
            pending.extend(blocks)
            continue
        msg = _message(m, w)
        if pending:
            if m.role == "user":
                msg["content"] = pending + msg["content"]
            else:
                _append(out, {"role": "user", "content": pending}, True)
            pending = []
        _append(out, msg, True)
    if pending:
        _append(out, {"role": "user", "content": pending}, True)
    return system, [m for m in out if m["content"]]


def _foreign_conversation(req: ir.Request, w: BlockWriter) -> tuple[Any, list[Wire]]:
    """``_conversation`` for another format's IR: a message of plain text blocks (the
    common one) is written here; any other goes through ``_message``."""
    msgs = req.messages
    sys_blocks: list[Wire] = []
    out: list[Wire] = []
    pending: list[Wire] = []  # tool results waiting for the next user turn
    results: _ResultPicker | None = None  # made at the first message that may hold results
    mixed = False  # a turn came from _message or held tool results: _tidy has work
    for m in msgs:
        role = m.role
        if role in ("system", "developer"):
            blocks: list[Wire] = []
            for b in m.content:
                if type(b) is ir.Text and not b.extras:
                    if b.text:
                        blocks.append({"type": "text", "text": b.text})
                elif isinstance(b, ir.Text) and (wb := w.block(b)) is not None:
                    blocks.append(wb)
            if m.extras and "cache_control" in m.extras:
                _message_cache_control(blocks, m)
            sys_blocks.extend(blocks)
            continue
        if role == "tool":
            if results is None:
                results = _ResultPicker(msgs)
            found = results.pick([b for b in m.content if isinstance(b, ir.ToolResult)])
            blocks = w.blocks(found)  # type: ignore[arg-type]
            _message_cache_control(blocks, m)
            pending.extend(blocks)
            mixed = True
            continue
        content: list[Wire] = []
        for b in m.content:
            if type(b) is not ir.Text or b.extras:
                if results is None:
                    results = _ResultPicker(msgs)
                msg = _message(m, w, results)
                mixed = True
                break
            if b.text:
                content.append({"type": "text", "text": b.text})
        else:
            if m.extras and "cache_control" in m.extras:
                _message_cache_control(content, m)
            msg = {"role": role, "content": content}
        if pending:
            if role == "user":
                msg["content"] = pending + msg["content"]
            else:
                _append(out, {"role": "user", "content": pending}, False)
            pending = []
        if msg["content"]:  # an empty turn (content "") must not split the turns around it (CPA)
            if not out or out[-1]["role"] != msg["role"] or msg["role"] == "system":
                out.append(msg)
            else:
                out[-1]["content"] = out[-1]["content"] + msg["content"]
    if pending:
        _append(out, {"role": "user", "content": pending}, False)
    # every turn in ``out`` has content (empty ones are never appended)
    messages = [_tidy(m) for m in out] if mixed else out
    if not messages and sys_blocks:
        # a system-only conversation keeps one (empty) user turn, as CPA sends it
        messages = [{"role": "user", "content": [{"type": "text", "text": ""}]}]
    return (sys_blocks if sys_blocks else _ABSENT), messages


class _ResultPicker:
    """One tool_result per call id (Claude refuses repeats): the first place a result
    for an id appears carries the content of the last result sent for it (CPA's rule);
    later repeats are left out. Results without an id are kept as they are."""

    __slots__ = ("_last", "_sent")

    def __init__(self, messages: list[ir.Message]) -> None:
        self._last: dict[str, ir.ToolResult] = {}
        self._sent: set[str] = set()
        for m in messages:
            if m.role in ("tool", "user"):
                for b in m.content:
                    if isinstance(b, ir.ToolResult) and b.call_id:
                        self._last[b.call_id] = b

    def pick(self, found: list[ir.ToolResult]) -> list[ir.ToolResult]:
        out: list[ir.ToolResult] = []
        for b in found:
            if not b.call_id:
                out.append(b)
            elif b.call_id not in self._sent:
                self._sent.add(b.call_id)
                out.append(self._last.get(b.call_id, b))
        return out


def _message_cache_control(blocks: list[Wire], m: ir.Message) -> None:
    """A message-level ``cache_control`` (Chat / Responses input) goes on the message's
    last block unless that block has its own (CPA: part-level wins)."""
    cc = m.extras.get("cache_control") if m.extras else None
    if isinstance(cc, dict) and blocks and "cache_control" not in blocks[-1]:
        blocks[-1]["cache_control"] = cc


def _native_system(m: ir.Message, marker: str, w: BlockWriter) -> Any:
    if marker == "null":
        return None
    if marker == "string":
        return "".join(b.text for b in m.content if isinstance(b, ir.Text))
    return w.blocks(m.content)


def _message(m: ir.Message, w: BlockWriter, results: _ResultPicker | None = None) -> Wire:
    role = "user" if m.role == "tool" else m.role
    blocks = m.content
    if results is not None and (len(blocks) != 1 or type(blocks[0]) is not ir.Text):
        found = [b for b in blocks if isinstance(b, ir.ToolResult)]
        if found:
            picked: list[ir.Block] = list(results.pick(found))
            blocks = picked + [b for b in blocks if not isinstance(b, ir.ToolResult)]  # results lead
    content: Any = w.blocks(blocks)
    if not w.native and m.extras:
        _message_cache_control(content, m)
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
    if not native and not msg["content"]:
        return  # an empty turn (content "") must not split the turns around it (CPA)
    if native or not out or out[-1]["role"] != msg["role"] or msg["role"] == "system":
        out.append(msg)
        return
    out[-1]["content"] = out[-1]["content"] + msg["content"]


def _tidy(msg: Wire) -> Wire:
    """Tool results first in a user turn, one per tool_use id; in an assistant turn
    the tool_use blocks come after its other blocks (CPA groups a turn that way, so a
    call stays next to the results of the following user turn)."""
    content = msg["content"]
    if msg["role"] == "assistant":
        calls = [b for b in content if b.get("type") == "tool_use"]
        if calls and content[-len(calls) :] != calls:
            msg["content"] = [b for b in content if b.get("type") != "tool_use"] + calls
        return msg
    if msg["role"] != "user":
        return msg
    results: list[Wire] = []
    seen: set[str] = set()
    others: list[Wire] = []
    for b in content:
        if b.get("type") != "tool_result":
            others.append(b)
        elif b["tool_use_id"] not in seen or not b["tool_use_id"]:
            seen.add(b["tool_use_id"])
            results.append(b)
    if results:
        msg["content"] = results + others
    return msg


# --------------------------------------------------------------------------- settings


def _tools(req: ir.Request, body: Wire, native: bool) -> None:
    if req.tools is not None:
        responses = req.source in _RESPONSES
        kept = [t for t in req.tools if not (responses and _is_apply_patch(t))]
        if not native:
            kept = _unique_names(kept)
        tools = [w for w in (_tool(t, native) for t in kept) if w is not None]
        if tools or native:
            body["tools"] = tools
    choice = _tool_choice(req)
    if choice is not None and (native or body.get("tools")):
        body["tool_choice"] = choice


_RESPONSES = frozenset(("openai-response", "codex"))
_WEB_SEARCH = frozenset(
    ("web_search", "web_search_preview", "web_search_2025_08_26", "web_search_preview_2025_03_11")
)


def _is_apply_patch(t: ir.Tool) -> bool:
    """Codex's grammar-based ``apply_patch`` custom tool: CPA leaves it out for Claude
    (Codex falls back to its shell patch command)."""
    return t.kind == "custom" and t.name.strip() == "apply_patch" and not t.namespace


def _tool(t: ir.Tool, native: bool) -> Wire | None:
    if t.kind == "builtin":
        ex = t.extras or {}
        if ex.get("family") == "claude":
            return ex.get("raw")
        raw = ex.get("raw")
        if ex.get("family") == "openai" and isinstance(raw, dict) and raw.get("type") in _WEB_SEARCH:
            return _web_search_tool(raw)
        return None
    out: Wire = {"name": flat_name(t.name, t.namespace)}
    if t.description is not None:
        out["description"] = t.description
    params = t.parameters
    if params is None and not native and t.extras:  # Gemini-style key some Chat clients send
        params = (t.extras.get("_fn") or {}).get("parametersJsonSchema")
    if params is not None:
        out["input_schema"] = params if native else clean_schema_for_claude(params)
    elif not native:
        out["input_schema"] = _CUSTOM_SCHEMA if t.kind == "custom" else _EMPTY_SCHEMA
    if t.strict is not None and (native or t.strict):
        out["strict"] = t.strict
    put_extras(out, t.extras, native)
    return out


def _unique_names(tools: list[ir.Tool]) -> list[ir.Tool]:
    """One tool per flat name (Claude refuses repeats): a tool declared directly wins
    over a namespaced one flattened to the same name, else the first one (CPA)."""
    chosen: dict[str, ir.Tool] = {}
    for t in tools:
        if t.kind == "builtin":
            continue
        name = flat_name(t.name, t.namespace)
        have = chosen.get(name)
        if have is None or (have.namespace and not t.namespace):
            chosen[name] = t
    if len(chosen) == sum(1 for t in tools if t.kind != "builtin"):
        return tools
    keep = {id(t) for t in chosen.values()}
    return [t for t in tools if t.kind == "builtin" or id(t) in keep]


def _web_search_tool(raw: Wire) -> Wire | None:
    """Responses ``web_search`` -> Claude's server tool (CPA's mapping); a search told
    not to reach the web has no Claude equivalent and is left out."""
    if raw.get("external_web_access") is False:
        return None
    name = raw.get("name")
    out: Wire = {
        "type": "web_search_20250305",
        "name": name.strip() if isinstance(name, str) and name.strip() else "web_search",
    }
    if isinstance(raw.get("max_uses"), int):
        out["max_uses"] = raw["max_uses"]
    domains = (
        (raw.get("filters") or {}).get("allowed_domains") if isinstance(raw.get("filters"), dict) else None
    )
    if isinstance(domains, list):
        out["allowed_domains"] = domains
    if isinstance(raw.get("user_location"), dict):
        out["user_location"] = raw["user_location"]
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
    thinking = thinking_config(req, native=False) if req.reasoning else None
    choice = body.get("tool_choice")
    if thinking is not None and choice is not None and choice["type"] in ("any", "tool"):
        thinking = None  # the API refuses thinking with a forced tool
    if thinking is not None and thinking["type"] != "disabled":
        thinking = _fit_thinking(body, thinking)
    if thinking is not None:
        body["thinking"] = thinking
    config: Wire = {}
    rf = req.response_format
    # any client's schema, a Gemini client's too (its open objects are closed by the fitting;
    # CPA's Claude translators read no response schema)
    if rf is not None and rf.get("type") == "json_schema" and isinstance(rf.get("schema"), dict):
        fitted = fit_output_schema(rf["schema"])  # None: one Anthropic refuses whatever we do
        if fitted is not None:
            config["format"] = {"type": "json_schema", "schema": fitted}
    effort = (req.reasoning or {}).get("effort")
    if thinking is not None and thinking["type"] == "adaptive" and effort not in (None, "none", "minimal"):
        config["effort"] = effort
    if config:
        body["output_config"] = config
    if req.source in _RESPONSES and req.extras.get("service_tier") == "priority":
        body["speed"] = "fast"  # Claude fast mode is Codex's priority tier
    user = (req.metadata or {}).get("user_id")  # a caller's own metadata.user_id wins (CPA)
    if not isinstance(user, str) or not user.strip():
        user = req.user
    if user:
        body["metadata"] = {"user_id": user}


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
