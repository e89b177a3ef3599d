"""IR -> Chat Completions request body (``build_request``).

For a request parsed from Chat Completions (``source == "openai"``) the extras and
private markers written by ``request.py`` are put back, so the body round-trips. For
other sources: reasoning settings become ``reasoning_effort`` (a budget maps to an
effort with CPA's thresholds; a dynamic budget (-1) leaves the model's default),
``stream_options.include_usage`` is always asked for so usage can be reported,
``parallel_tool_calls`` is sent only with tools, and provider built-in tools are dropped
(Chat Completions has none). Tools: the first declaration of a name wins, custom tools
become JSON tools taking ``{"input": string}`` (``custom_tools``), names over 64
characters are shortened (``names``), and every object schema node gets ``properties``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.custom_tools import CUSTOM_SCHEMA
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_chat.build_messages import build_messages
from cliproxy.translate.openai_chat.names import short_names

_SOURCE = Format.OPENAI.value  # (read per request: a global, not an enum member's attribute)
_CLAUDE = Format.CLAUDE.value

__all__ = ["build_request", "claude_effort", "effort_for", "owns_body"]

_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")


def build_request(req: ir.Request) -> dict[str, Any]:
    same = req.source == _SOURCE
    body: dict[str, Any] = {"model": req.model}
    if same:
        for k, v in req.extras.items():
            if not k.startswith("_"):
                body[k] = v
    short = {} if same or not req.tools else short_names(req.tools)
    body["messages"] = build_messages(req.messages, same, req.source, short)
    if (
        req.tools
        or req.tool_choice is not None
        or req.parallel_tool_calls is not None
        or (same and "_tool_choice" in req.extras)
    ):
        _tools(req, body, same, short)
    if req.max_tokens is not None:
        body[req.extras.get("_max_key", "max_tokens") if same else "max_tokens"] = req.max_tokens
    if (
        req.temperature is not None
        or req.top_p is not None
        or req.stop is not None
        or req.seed is not None
        or req.n is not None
        or req.presence_penalty is not None
        or req.frequency_penalty is not None
    ):  # else it writes nothing
        _sampling(req, body, same)
    if req.stream:
        body["stream"] = True
        if not same:
            body["stream_options"] = {"include_usage": True}
    elif same and req.extras.get("_stream_false"):
        body["stream"] = False
    if req.reasoning:
        effort = claude_effort(req.reasoning, "auto") if req.source == _CLAUDE else effort_for(req.reasoning)
        if effort is not None:
            body["reasoning_effort"] = effort
    if req.response_format:
        body["response_format"] = _response_format(req.response_format)
    if req.user is not None:
        body["user"] = req.user
    if req.metadata is not None and same:
        body["metadata"] = req.metadata
    return body


def owns_body(req: ir.Request) -> bool:
    """Another format's request is written into new objects, but for a response schema
    (``response_format.json_schema.schema`` is the request's own): ``Adapter.owns_body``."""
    return req.source != _SOURCE and not req.response_format


def _sampling(req: ir.Request, body: dict[str, Any], same: bool) -> None:
    """The sampling settings after ``max_tokens`` (written by ``build_request``)."""
    if req.temperature is not None:
        body["temperature"] = req.temperature
    if req.top_p is not None:
        body["top_p"] = req.top_p
    if req.seed is not None:
        body["seed"] = req.seed
    if req.n is not None:
        body["n"] = req.n
    if req.presence_penalty is not None:
        body["presence_penalty"] = req.presence_penalty
    if req.frequency_penalty is not None:
        body["frequency_penalty"] = req.frequency_penalty
    if req.stop is not None and (same or req.stop):  # (OpenAI refuses an empty stop list)
        body["stop"] = (
            req.stop[0] if same and req.extras.get("_stop_str") and len(req.stop) == 1 else req.stop
        )


def effort_for(reasoning: dict[str, Any] | None) -> str | None:
    """``reasoning_effort`` for IR reasoning settings of a client other than Claude's, or
    None to leave it unset."""
    if not reasoning:
        return None
    effort = reasoning.get("effort")
    if isinstance(effort, str):
        return "xhigh" if effort == "max" else effort
    budget = reasoning.get("budget")
    if type(budget) is not int or budget < 0:
        return None
    return _budget_effort(budget)


def claude_effort(reasoning: dict[str, Any], unbudgeted: str | None) -> str | None:
    """The effort CPA's Claude -> Chat Completions and Claude -> Codex translators write for a
    Claude client's ``reasoning`` (``translate.claude.request``), or None for none. Only the
    thinking type counts: adaptive (or auto) is its ``output_config.effort`` lower-cased
    and trimmed (none: the top, xhigh); disabled is none; enabled is its ``budget_tokens``
    by CPA's thresholds (-1 auto, below that nothing), ``unbudgeted`` without one (Chat:
    auto). An effort beside enabled thinking, or with no thinking, is not read."""
    mode = reasoning.get("mode")
    if mode == "adaptive" or mode == "auto":
        effort = reasoning.get("effort")
        return (effort.strip().lower() if isinstance(effort, str) else "") or "xhigh"
    if mode == "disabled":
        return "none"
    if mode != "enabled":
        return None
    budget = reasoning.get("budget")
    if budget is None:
        return unbudgeted
    if type(budget) is float:
        budget = int(budget)
    if type(budget) is not int or budget < -1:
        return None
    return "auto" if budget == -1 else _budget_effort(budget)


def _budget_effort(budget: int) -> str:
    if budget == 0:
        return "none"
    for limit, name in ((512, "minimal"), (1024, "low"), (8192, "medium"), (24576, "high")):
        if budget <= limit:
            return name
    return "xhigh"


def _response_format(rf: dict[str, Any]) -> dict[str, Any]:
    if rf.get("type") != "json_schema":
        return {"type": rf.get("type", "json_object")}
    js = {k: v for k, v in rf.items() if k != "type"}
    js.setdefault("name", "response")
    return {"type": "json_schema", "json_schema": js}


# --------------------------------------------------------------------------- tools


def _tools(req: ir.Request, body: dict[str, Any], same: bool, short: dict[str, str]) -> None:
    tools = [t for t in (_tool(t, same, short) for t in _unique(req.tools, same)) if t is not None]
    if req.source == "claude":  # CPA sends a Claude tool's name, description and schema only:
        for t in tools:  # OpenAI's strict mode needs every property required, Claude's does not
            if isinstance(fn := t.get("function"), dict):
                fn.pop("strict", None)
    if tools:
        if same and req.extras.get("_functions"):
            body["functions"] = [t["function"] for t in tools]
        else:
            body["tools"] = tools
    choice = _tool_choice(req, same, short)
    if choice is not None and (tools or same):
        key = "function_call" if same and req.extras.get("_function_call") else "tool_choice"
        body[key] = choice if key == "tool_choice" else _legacy_choice(choice)
    if req.parallel_tool_calls is not None and (tools or same):
        body["parallel_tool_calls"] = req.parallel_tool_calls


def _unique(tools: list[ir.Tool] | None, same: bool) -> list[ir.Tool]:
    """One tool per flat name for other sources: the first declaration wins (CPA)."""
    if not tools or same:
        return tools or []
    seen: set[str] = set()
    out: list[ir.Tool] = []
    for t in tools:
        name = flat_name(t.name, t.namespace)
        if t.kind == "builtin" or name not in seen:
            seen.add(name)
            out.append(t)
    return out


def _tool(t: ir.Tool, same: bool, short: dict[str, str]) -> dict[str, Any] | None:
    ex = t.extras or {}
    if t.kind == "builtin":
        return ex.get("raw") if same else None
    name = flat_name(t.name, t.namespace)
    name = short.get(name, name)
    if t.kind == "custom" and not same:
        # OpenAI-compatible upstreams know only JSON tools: the raw text rides in "input"
        desc: dict[str, Any] = {"name": name}
        if t.description is not None:
            desc["description"] = t.description
        desc["parameters"] = CUSTOM_SCHEMA
        return {"type": "function", "function": desc}
    if t.kind == "custom":
        cu: dict[str, Any] = {"name": name}
        if t.description is not None:
            cu["description"] = t.description
        cu.update({k: v for k, v in ex.items() if not k.startswith("_") and (same or k == "format")})
        out: dict[str, Any] = {"type": "custom", "custom": cu}
        if same:
            out.update(ex.get("_outer") or {})
        return out
    fn: dict[str, Any] = {"name": name}
    if t.description is not None:
        fn["description"] = t.description
    if t.parameters is not None:
        fn["parameters"] = t.parameters if same else _with_properties(t.parameters)
    elif not same:
        fn["parameters"] = {"type": "object", "properties": {}}
    if t.strict is not None:
        fn["strict"] = t.strict
    out = {"type": "function", "function": fn}
    if same:
        fn.update(ex.get("_fn") or {})
        out.update({k: v for k, v in ex.items() if not k.startswith("_")})
    return out


def _with_properties(schema: dict[str, Any]) -> Any:
    try:
        return _object_properties(schema)
    except RecursionError:  # absurdly deep: sent as the client wrote it
        return schema


_NODES = (dict, list)  # (a tuple made once: ``dict | list`` would build a union per test)


def _object_properties(schema: Any) -> Any:
    """Every ``type: object`` node gets a ``properties`` (OpenAI-style validators refuse
    an object schema without one; CPA adds ``{}``). Nodes are copied only on change.

    Runs over every tool schema of every request (a coding agent resends two dozen each
    turn): the walk descends only into objects and arrays, and copies nothing it keeps."""
    node = type(schema) is dict or isinstance(schema, dict)
    if node:
        children: Any = schema.items()
    elif isinstance(schema, list):
        children = enumerate(schema)
    else:
        return schema
    out: Any = None  # the copy (a dict, or a list for an array), made at the first change
    for key, value in children:
        if isinstance(value, _NODES):
            new = _object_properties(value)
            if new is not value:
                if out is None:
                    out = schema.copy()
                out[key] = new
    if node and "properties" not in schema and schema.get("type") == "object":
        if out is None:
            out = schema.copy()
        out["properties"] = {}
    return out if out is not None else schema


def _tool_choice(req: ir.Request, same: bool, short: dict[str, str]) -> Any:
    if same and "_tool_choice" in req.extras:
        return req.extras["_tool_choice"]
    tc = req.tool_choice
    if tc is None or isinstance(tc, str):
        return tc
    name = flat_name(tc.get("name", ""), tc.get("namespace"))
    name = short.get(name, name)
    if tc.get("kind") == "custom" and same:
        return {"type": "custom", "custom": {"name": name}}
    return {"type": "function", "function": {"name": name}}


def _legacy_choice(choice: Any) -> Any:
    if isinstance(choice, dict):
        return {"name": choice["function"]["name"]}
    return choice
