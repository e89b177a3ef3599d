"""A Responses request made acceptable to xAI, as CPA's xAI executor shapes it.

xAI's Responses API takes less than OpenAI's: no ``namespace`` tools, no ``custom``
(freeform) tools or their calls, no ``tool_search``, no ``additional_tools`` input items,
no ``external_web_access`` on ``web_search``, ``image_generation`` only from Grok 4.6 on,
function parameters that are objects, no ``tool_choice`` without tools, no ``stop``.
Codex CLI and Codex Desktop send all of these. :func:`shape` rewrites a body in place:

- tools: namespaces flattened (``<namespace>__<name>``, ``mcp__`` names kept), custom tools
  as functions (Codex's ``apply_patch`` dropped), a function without ``parameters`` gets an
  empty object schema, root ``anyOf`` / ``oneOf`` branches without a type get
  ``"object"``, a schema xAI refuses or hangs on (a non-object union branch, Codex
  Desktop's ``codex_app.automation_update``) becomes a permissive object;
- ``tool_choice``: namespaced names qualified, a forced ``web_search`` /
  ``image_generation`` as ``allowed_tools``, choices naming a removed tool dropped, and
  ``tool_choice`` / ``parallel_tool_calls`` dropped when no tool is left;
- input: ``custom_tool_call`` (and its output) as ``function_call``, namespaced calls
  qualified, reasoning items without ``null`` fields and adjacent summaries merged;
  ``encrypted_content`` that is not Grok's (another backend's, a mangled one:
  ``envelopes_plain.is_valid_grok``) dropped, from a reasoning item its field, a compaction item
  whole, as xAI refuses the request otherwise (CPA ``sanitizeXAIInputEncryptedContent``).

The answer then needs :class:`~cliproxy.providers.xai_stream.XAIStream`: the flattened
names restored and X Search's server-side traces hidden; :func:`shape` returns what it
needs (``None``: nothing to do).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from cliproxy.formats import Format
from cliproxy.providers.identity import inject_x_search
from cliproxy.translate.envelopes_plain import is_valid_grok

__all__ = [
    "ClientTool",
    "ResponsePlan",
    "carry_output_controls",
    "custom_call_arguments",
    "declared_tools",
    "has_x_search",
    "qualify",
    "shape",
    "supports_image_generation",
]

_SAMPLING = ("temperature", "top_p", "top_k")
_SAFE_PARAMETERS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": True}
_HOSTED_CHOICES = ("web_search", "image_generation")
_NAMED = ("function", "custom")
_VERSION = re.compile(r"grok-(\d+)(?:\.(\d+))?")
# Grok 4.6 is the first to take xAI's native image_generation tool (grok-4.20-* is an
# older line whose minor does not compare)
_IMAGE_GENERATION_SINCE = (4, 6)

# (namespace or "", name, "function" | "custom"): a tool the client declared, keyed as the
# call that answers it comes back (custom tools go as functions)
ClientTool = tuple[str, str, str]


@dataclass(slots=True)
class ResponsePlan:
    """What the answer to a shaped request needs: ``names`` maps a flattened tool name
    back to ``(namespace, name)``; ``x_search``: hide X Search's traces, except calls of
    ``client_tools``."""

    names: dict[str, tuple[str, str]] = field(default_factory=dict)
    x_search: bool = False
    client_tools: frozenset[ClientTool] = frozenset()


def qualify(namespace: str, name: str) -> str:
    """A namespaced tool's flat name for xAI: ``<namespace>__<name>`` (CPA), unless the
    name is already qualified or an MCP name (``mcp__``)."""
    namespace, name = namespace.strip(), name.strip()
    if not namespace or not name or name.startswith("mcp__"):
        return name
    prefix = namespace if namespace.endswith("__") else namespace + "__"
    return name if name.startswith(prefix) else prefix + name


def supports_image_generation(model: str) -> bool:
    """Whether the Grok model takes the native ``image_generation`` tool (4.6 and later)."""
    name = model.strip().lower().rpartition("/")[2].partition("(")[0]
    if name == "grok-4.20" or name.startswith("grok-4.20-"):
        return False
    match = _VERSION.match(name)
    if match is None:
        return False
    return (int(match[1]), int(match[2] or 0)) >= _IMAGE_GENERATION_SINCE


def has_x_search(body: dict[str, Any]) -> bool:
    """The request offers xAI's native ``x_search`` tool (top level or additional_tools)."""
    return any(tool.get("type") == "x_search" for tool in _all_tools(body))


def declared_tools(body: dict[str, Any]) -> frozenset[ClientTool]:
    """The client's function and custom tools, keyed as their calls come back."""
    keys: set[ClientTool] = set()
    for tool in _all_tools(body):
        kind = str(tool.get("type", "")).strip()
        if kind == "namespace":
            space = str(tool.get("name", "")).strip()
            for inner in _dicts(tool.get("tools")) if space else ():
                _declare(keys, space, inner)
        else:
            _declare(keys, "", tool)
    return frozenset(keys)


def _declare(keys: set[ClientTool], space: str, tool: dict[str, Any]) -> None:
    name = str(tool.get("name", "")).strip()
    if name and str(tool.get("type", "")).strip() in _NAMED:
        keys.add((space, name, "function"))  # a custom tool goes, and answers, as a function


def carry_output_controls(body: dict[str, Any], client_body: Mapping[str, Any], fmt: Format) -> None:
    """A Chat Completions or Responses client's output limit, ``temperature``, ``top_p``
    and ``top_k`` into the attempt's ``body`` as xAI's Responses fields: the Codex
    translation leaves them out (the ChatGPT backend refuses them), xAI takes them (CPA
    ``preserveXAIResponsesOutputControls``). A Chat client's ``max_completion_tokens``
    wins over its ``max_tokens``; a ``null`` is no value."""
    if fmt is Format.OPENAI:
        limit = client_body.get("max_completion_tokens")
        if limit is None:
            limit = client_body.get("max_tokens")
    elif fmt is Format.RESPONSES:
        limit = client_body.get("max_output_tokens")
    else:
        return
    if limit is not None:
        body["max_output_tokens"] = limit
    for name in _SAMPLING:
        value = client_body.get(name)
        if value is not None:
            body[name] = value


def shape(body: dict[str, Any], model: str, *, x_search: bool = False) -> ResponsePlan | None:
    """Rewrite ``body`` for xAI (see the module docstring); ``x_search``: add the native
    X Search tool (``xai.inject-x-search``)."""
    plan = ResponsePlan()
    if body.get("tools") or _has_additional_tools(body):
        plan.names = _namespace_names(body)
        plan.client_tools = declared_tools(body)
        _tools(body, supports_image_generation(model))
    if "tool_choice" in body or "parallel_tool_calls" in body or "tools" in body:
        _tool_choice(body)
    if x_search:
        inject_x_search(body)
    items = body.get("input")
    if isinstance(items, list):
        body["input"] = _input(items)
    body.pop("stop", None)  # Chat Completions' setting; xAI's Responses API refuses it
    plan.x_search = has_x_search(body)
    if not plan.x_search:
        plan.client_tools = frozenset()
    return plan if plan.names or plan.x_search else None


# ---------------------------------------------------------------- tools


def _dicts(value: Any) -> Iterable[dict[str, Any]]:
    return (v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()


def _all_tools(body: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield from _dicts(body.get("tools"))
    for item in _dicts(body.get("input")):
        if item.get("type") == "additional_tools":
            yield from _dicts(item.get("tools"))


def _has_additional_tools(body: dict[str, Any]) -> bool:
    return any(item.get("type") == "additional_tools" for item in _dicts(body.get("input")))


def _namespace_names(body: dict[str, Any]) -> dict[str, tuple[str, str]]:
    names: dict[str, tuple[str, str]] = {}
    for tool in _all_tools(body):
        space = str(tool.get("name", "")).strip() if tool.get("type") == "namespace" else ""
        for inner in _dicts(tool.get("tools")) if space else ():
            name = str(inner.get("name", "")).strip()
            flat = qualify(space, name)
            if flat:
                names[flat] = (space, name)
    return names


def _tools(body: dict[str, Any], keep_images: bool) -> None:
    tools = body.get("tools")
    if isinstance(tools, list):
        body["tools"] = _tool_list(tools, keep_images)
    promoted: list[dict[str, Any]] = []
    items = body.get("input")
    if isinstance(items, list) and _has_additional_tools(body):
        # xAI takes no additional_tools items: their tools join the top-level list
        kept = []
        for item in items:
            if isinstance(item, dict) and item.get("type") == "additional_tools":
                promoted += _tool_list(item.get("tools") or [], keep_images)
            else:
                kept.append(item)
        body["input"] = kept
        body["tools"] = [*body.get("tools", ()), *promoted]


def _tool_list(tools: list[Any], keep_images: bool) -> list[Any]:
    out: list[Any] = []
    for tool in tools:
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            space = str(tool.get("name", ""))
            out += [t for t in (_tool(inner, space, keep_images) for inner in _dicts(tool.get("tools"))) if t]
        elif isinstance(tool, dict):
            shaped = _tool(tool, "", keep_images)
            if shaped is not None:
                out.append(shaped)
        else:
            out.append(tool)
    return out


def _tool(tool: dict[str, Any], space: str, keep_images: bool) -> dict[str, Any] | None:
    kind = tool.get("type")
    if kind == "tool_search" or (kind == "image_generation" and not keep_images):
        return None
    if kind == "custom" and tool.get("name") == "apply_patch":
        return None  # Codex's freeform patch tool (CPA drops it for xAI)
    if kind == "web_search" and "external_web_access" in tool:
        return {k: v for k, v in tool.items() if k != "external_web_access"}
    if kind not in _NAMED:
        return tool
    tool = {**tool, "type": "function"}
    params = tool.get("parameters")
    if isinstance(params, dict):
        tool["parameters"] = _typed_branches(params)
    else:
        tool["parameters"] = {"type": "object", "properties": {}}
    if _refused_schema(tool, kind, space):
        tool["parameters"] = dict(_SAFE_PARAMETERS)
        if tool.get("strict") is True:
            tool["strict"] = False
    if space.strip():
        tool["name"] = qualify(space, str(tool.get("name", "")))
    return tool


def _typed_branches(params: dict[str, Any]) -> dict[str, Any]:
    """An object root's ``anyOf`` / ``oneOf`` branches without a type, typed ``object``
    (what the root allows anyway; xAI wants it said)."""
    if params.get("type") != "object":
        return params
    out = params
    for union in ("anyOf", "oneOf"):
        branches = params.get(union)
        if isinstance(branches, list) and any(isinstance(b, dict) and "type" not in b for b in branches):
            if out is params:
                out = dict(params)
            out[union] = [
                {**b, "type": "object"} if isinstance(b, dict) and "type" not in b else b for b in branches
            ]
    return out


def _object_only(kind: Any) -> bool:
    """A schema ``type`` that allows objects and nothing else."""
    kinds = kind if isinstance(kind, list) else [kind]
    return bool(kinds) and all(isinstance(k, str) and k.strip().lower() == "object" for k in kinds)


def _refused_schema(tool: dict[str, Any], kind: Any, space: str) -> bool:
    """Codex Desktop's ``codex_app.automation_update`` (a schema xAI accepts and then never
    answers), or a root union with a branch that is not only an object (xAI refuses it)."""
    name = str(tool.get("name", "")).strip().lower()
    if kind == "function" and (
        name == "codex_app__automation_update"
        or (space.strip().lower() == "codex_app" and name == "automation_update")
    ):
        return True
    params = tool.get("parameters")
    if not isinstance(params, dict):
        return False
    for union in ("anyOf", "oneOf"):
        branches = params.get(union)
        if isinstance(branches, list) and any(
            not (isinstance(b, dict) and _object_only(b.get("type"))) for b in branches
        ):
            return True
    return False


# ---------------------------------------------------------------- tool_choice


def _tool_choice(body: dict[str, Any]) -> None:
    choice = body.get("tool_choice")
    if isinstance(choice, dict):
        choice = _qualified_choice(choice)
        if isinstance(choice.get("tools"), list):
            choice["tools"] = [_qualified_choice(c) if isinstance(c, dict) else c for c in choice["tools"]]
        if choice.get("type") in _HOSTED_CHOICES:  # xAI's ModelToolChoice has no hosted form
            choice = {"type": "allowed_tools", "mode": "required", "tools": [choice]}
        body["tool_choice"] = choice
        _prune_choice(body)
    if not body.get("tools"):
        for name in ("tools", "tool_choice", "parallel_tool_calls"):
            body.pop(name, None)


def _qualified_choice(choice: dict[str, Any]) -> dict[str, Any]:
    space = str(choice.get("namespace", "")).strip()
    name = qualify(space, str(choice.get("name", "")))
    if choice.get("type") != "function" or not space or not name:
        return choice
    out = {k: v for k, v in choice.items() if k != "namespace"}
    out["name"] = name
    return out


def _choice_key(choice: dict[str, Any]) -> tuple[str, str] | None:
    kind = str(choice.get("type", "")).strip()
    if not kind:
        return None
    name = str(choice.get("name", "")).strip() if kind in _NAMED else ""
    return None if kind in _NAMED and not name else (kind, name)


def _prune_choice(body: dict[str, Any]) -> None:
    """Drop what of ``tool_choice`` names a tool that is no longer offered."""
    choice = body["tool_choice"]
    if not choice.get("type"):
        return
    offered = {key for key in map(_choice_key, _all_tools(body)) if key is not None}
    if choice.get("type") != "allowed_tools":
        if _choice_key(choice) not in offered:
            del body["tool_choice"]
        return
    allowed = choice.get("tools")
    kept = [c for c in _dicts(allowed) if _choice_key(c) in offered]
    if not kept:
        del body["tool_choice"]
    elif len(kept) != len(allowed):
        body["tool_choice"] = {**choice, "tools": kept}


# ---------------------------------------------------------------- input


def _input(items: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            out.append(item)
            continue
        kind = item.get("type")
        if kind == "custom_tool_call":
            call_id, name = str(item.get("call_id", "")).strip(), str(item.get("name", "")).strip()
            if call_id and name:
                args = custom_call_arguments(item.get("input"))
                out.append({"type": "function_call", "call_id": call_id, "name": name, "arguments": args})
        elif kind == "custom_tool_call_output":
            call_id = str(item.get("call_id", "")).strip()
            if call_id:
                output = item.get("output")
                text = output if isinstance(output, str) else "" if output is None else _json(output)
                out.append({"type": "function_call_output", "call_id": call_id, "output": text})
        elif kind == "function_call" and str(item.get("namespace", "")).strip():
            flat = {k: v for k, v in item.items() if k != "namespace"}
            flat["name"] = qualify(str(item["namespace"]), str(item.get("name", "")))
            out.append(flat)
        elif kind == "reasoning":
            item = {
                k: v for k, v in item.items() if v is not None or k not in ("content", "encrypted_content")
            }
            if "encrypted_content" in item and not _grok(item["encrypted_content"]):
                del item["encrypted_content"]
            if out and _merges(out[-1], item):
                out[-1] = {**out[-1], "summary": [*out[-1]["summary"], *item["summary"]]}
            else:
                out.append(item)
        elif kind == "compaction" and "encrypted_content" in item and not _grok(item["encrypted_content"]):
            continue  # a summary xAI cannot read
        else:
            out.append(item)
    return out


def _grok(value: Any) -> bool:
    return type(value) is str and is_valid_grok(value)


def _merges(previous: Any, item: dict[str, Any]) -> bool:
    """A reasoning item of only a summary joins the reasoning item just before it."""
    return (
        isinstance(previous, dict)
        and previous.get("type") == "reasoning"
        and isinstance(previous.get("summary"), list)
        and isinstance(item.get("summary"), list)
        and bool(item["summary"])
        and set(item) <= {"type", "summary"}
    )


def custom_call_arguments(value: Any) -> str:
    """A custom tool call's ``input`` as function ``arguments``: a JSON object as it is,
    anything else as ``{"input": ...}``."""
    if value is None:
        return "{}"
    if isinstance(value, str):
        try:
            parsed = orjson.loads(value.strip()) if value.strip() else None
        except orjson.JSONDecodeError:
            parsed = None
        return _json(parsed) if isinstance(parsed, dict) else _json({"input": value})
    return _json(value) if isinstance(value, dict) else _json({"input": value})


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
