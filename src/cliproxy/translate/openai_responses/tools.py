"""Responses tools and tool_choice <-> IR.

``function`` and ``custom`` tools map to IR tools; a ``namespace`` tool becomes one IR
tool per inner tool with ``namespace`` set (the namespace's own keys ride on the first
one as ``extras["_ns"]``); every other type (web_search, file_search, mcp...) is a
``builtin`` tool kept whole for the openai family.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats.openai_responses import CODEX_TOOL_ALIASES
from cliproxy.translate import ir
from cliproxy.translate.naming import flat_name

__all__ = ["build_tool_choice", "build_tools", "parse_tool_choice", "parse_tools"]

_FUNCTION_KEYS = ("type", "name", "description", "parameters", "strict")
_CUSTOM_KEYS = ("type", "name", "description")


def parse_tools(tools: Any) -> list[ir.Tool]:
    if not isinstance(tools, list):
        raise RequestError("tools: expected a list", param="tools")
    out: list[ir.Tool] = []
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("type"), str):
            raise RequestError(f"{where}: expected an object with a type", param=where)
        if tool["type"] == "namespace":
            out.extend(_parse_namespace(tool, where))
        elif tool["type"] in ("function", "custom"):
            out.append(_parse_one(tool, where, None))
        else:
            out.append(ir.Tool(tool["type"], kind="builtin", extras={"raw": tool, "family": "openai"}))
    return out


def _parse_one(tool: dict[str, Any], where: str, namespace: str | None) -> ir.Tool:
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: a tool needs a name", param=f"{where}.name")
    desc = tool.get("description")
    if tool.get("type") == "custom":
        rest = {k: v for k, v in tool.items() if k not in _CUSTOM_KEYS}
        return ir.Tool(name, desc, kind="custom", namespace=namespace, extras=rest or None)
    if tool.get("type") != "function":
        raise RequestError(
            f"{where}.type: unknown tool type {tool.get('type')!r} in a namespace", param=f"{where}.type"
        )
    params = tool.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise RequestError(f"{where}.parameters: expected an object", param=f"{where}.parameters")
    rest = {k: v for k, v in tool.items() if k not in _FUNCTION_KEYS}
    return ir.Tool(name, desc, params, namespace=namespace, strict=tool.get("strict"), extras=rest or None)


def _parse_namespace(tool: dict[str, Any], where: str) -> list[ir.Tool]:
    name = tool.get("name")
    inner = tool.get("tools")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: a namespace needs a name", param=f"{where}.name")
    if not isinstance(inner, list) or not inner:
        raise RequestError(f"{where}.tools: a namespace needs a list of tools", param=f"{where}.tools")
    out: list[ir.Tool] = []
    nested: list[list[Any]] = []  # [index, item]: a namespace in a namespace (CPA skips it)
    for j, t in enumerate(inner):
        if not isinstance(t, dict):
            _bad(f"{where}.tools[{j}]")
        if t.get("type") == "namespace":
            nested.append([j, t])
        else:
            out.append(_parse_one(t, f"{where}.tools[{j}]", name))
    if not out:  # nothing reachable: only a Responses upstream gets it, as it came
        return [ir.Tool(name, kind="builtin", extras={"raw": tool, "family": "openai"})]
    ns = {k: v for k, v in tool.items() if k not in ("type", "name", "tools")}
    if nested:
        ns["_nested"] = nested
    first = out[0]
    first.extras = {**(first.extras or {}), "_ns": ns}
    return out


def _bad(where: str) -> ir.Tool:
    raise RequestError(f"{where}: expected an object", param=where)


# --------------------------------------------------------------------------- build


def _own(extras: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in extras.items() if k[:1] != "_"} if extras else {}


def _build_one(t: ir.Tool, own: bool, name: str) -> dict[str, Any]:
    if t.kind == "custom":
        wire: dict[str, Any] = {"type": "custom", "name": name}
        if t.description is not None:
            wire["description"] = t.description
        if own:
            wire.update(_own(t.extras))
        return wire
    wire = {"type": "function", "name": name}
    if t.description is not None:
        wire["description"] = t.description
    if own:
        if t.parameters is not None:
            wire["parameters"] = t.parameters
        if t.strict is not None:
            wire["strict"] = t.strict
        wire.update(_own(t.extras))
    else:
        wire["parameters"] = (
            t.parameters if t.parameters is not None else {"type": "object", "properties": {}}
        )
        wire["strict"] = bool(t.strict)
    return wire


def build_tools(tools: list[ir.Tool], own: bool, codex: bool = False) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    group: dict[str, Any] | None = None
    nested: list[tuple[dict[str, Any], list[list[Any]]]] = []
    for t in tools:
        if own and t.extras and t.extras.get("_additional"):
            continue  # its additional_tools input item goes back as it came
        if t.kind == "builtin":
            group = None
            ex = t.extras or {}
            if ex.get("family") == "openai" and isinstance(ex.get("raw"), dict):
                out.append(_alias(ex["raw"]) if codex else ex["raw"])
            elif (search := web_search_tool(t)) is not None:
                out.append(search)
            continue
        if t.namespace and own:
            ns = (t.extras or {}).get("_ns")
            if group is None or ns is not None or group["name"] != t.namespace:
                group = {"type": "namespace", "name": t.namespace, **(ns or {}), "tools": []}
                if "_nested" in group:
                    nested.append((group, group.pop("_nested")))
                out.append(group)
            group["tools"].append(_build_one(t, own, t.name))
            continue
        group = None
        out.append(_build_one(t, own, flat_name(t.name, t.namespace)))
    for grp, items in nested:  # skipped nested namespaces go back where they were
        for index, item in items:
            grp["tools"].insert(index, item)
    return out


def web_search_tool(t: ir.Tool) -> dict[str, Any] | None:
    """A Claude ``web_search_*`` server tool as the Responses ``web_search`` tool (CPA):
    ``allowed_domains`` become ``filters.allowed_domains``, ``user_location`` is kept;
    ``blocked_domains`` has no Responses form and is left out."""
    ex = t.extras or {}
    raw = ex.get("raw")
    if ex.get("family") != "claude" or not isinstance(raw, dict):
        return None
    if not str(raw.get("type", "")).startswith("web_search"):
        return None
    out: dict[str, Any] = {"type": "web_search"}
    allowed = raw.get("allowed_domains")
    if isinstance(allowed, list) and allowed:
        out["filters"] = {"allowed_domains": allowed}
    loc = raw.get("user_location")
    if isinstance(loc, dict):
        out["user_location"] = loc
    return out


def _alias(raw: dict[str, Any]) -> dict[str, Any]:
    alias = CODEX_TOOL_ALIASES.get(raw.get("type", ""))
    return {**raw, "type": alias} if alias else raw


# --------------------------------------------------------------------------- tool_choice


def parse_tool_choice(tc: Any, extras: dict[str, Any]) -> str | dict[str, Any] | None:
    """IR tool_choice; shapes the IR cannot say are kept whole in ``extras["_tool_choice"]``.

    A forced hosted tool (``{"type": "web_search"}``, ``file_search``, ``mcp``...) is no IR
    choice: only a Responses upstream can call it (it gets the raw choice), and another
    upstream told to call *some* tool would call a function the client never chose (CPA
    sets no choice for such a type either)."""
    if isinstance(tc, str):
        if tc not in ("auto", "none", "required"):
            raise RequestError(f"tool_choice: unknown value {tc!r}", param="tool_choice")
        return tc
    if not isinstance(tc, dict) or not isinstance(tc.get("type"), str):
        raise RequestError("tool_choice: expected a string or an object with a type", param="tool_choice")
    if tc["type"] in ("function", "custom") and isinstance(tc.get("name"), str):
        if tc.keys() != {"type", "name"} or tc["type"] == "custom":
            extras["_tool_choice"] = tc
        ns = tc.get("namespace")
        return {"name": flat_name(tc["name"], ns if isinstance(ns, str) else None)}
    extras["_tool_choice"] = tc
    if tc["type"] == "allowed_tools":
        return "required" if tc.get("mode") == "required" else "auto"
    return None


def build_tool_choice(req: ir.Request, own: bool, codex: bool = False) -> str | dict[str, Any] | None:
    tc = req.tool_choice
    raw = req.extras.get("_tool_choice") if own else _chat_builtin_choice(req)
    if raw is not None:
        return _alias(raw) if codex else raw
    if tc is None or isinstance(tc, str):
        return tc
    name = tc.get("name")
    if not isinstance(name, str):
        return "auto"
    if own:
        return {"type": "function", "name": name}
    tools = req.tools or ()
    # a declared function of that name wins over a server tool named alike (CPA); between a
    # custom tool and a function of one name, the kind the choice named (a function unless
    # it said custom)
    want = "custom" if tc.get("kind") == "custom" else "function"
    named = [
        t for t in tools if t.kind != "builtin" and (t.name == name or flat_name(t.name, t.namespace) == name)
    ]
    if named:
        t = next((t for t in named if (t.kind == "custom") == (want == "custom")), named[0])
        return {
            "type": "custom" if t.kind == "custom" else "function",
            "name": flat_name(t.name, t.namespace),
        }
    for t in tools:
        if t.kind == "builtin" and t.name == name and web_search_tool(t) is not None:
            return {"type": "web_search"}
    return {"type": "function", "name": name}


def _chat_builtin_choice(req: ir.Request) -> dict[str, Any] | None:
    """A Chat client's forced built-in tool (``{"type": "web_search"}``), the same shape in
    Responses, when the request declares that tool (CPA passes it on)."""
    raw = req.extras.get("_tool_choice")
    if type(raw) is not dict:
        return None
    ttype = raw.get("type")
    for t in req.tools or ():
        if t.kind == "builtin" and t.name == ttype and (t.extras or {}).get("family") == "openai":
            return raw
    return None
