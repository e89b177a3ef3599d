"""Chat Completions request body -> IR (``parse_request``).

Keys without an IR field stay in ``Request.extras`` verbatim (``stream_options``,
``logprobs``, ``logit_bias``, ``service_tier``, ``store``, ``modalities``...), as do
explicit ``null`` values. Private markers: ``_max_key`` (``max_completion_tokens``
was used), ``_stop_str`` (``stop`` was a string), ``_stream_false`` (``stream: false``
was given), ``_functions`` / ``_function_call`` (legacy function calling),
``_tool_choice`` (a tool_choice form the IR cannot hold, kept raw).
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.openai_chat.messages import parse_messages
from cliproxy.translate.summary import CHAT_VISIBILITY_KEYS, summary_visibility

__all__ = ["parse_request"]

_SOURCE = Format.OPENAI.value
_CONSUMED = frozenset(("model", "messages"))
_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_INTS = ("seed", "n")


def parse_request(body: dict[str, Any]) -> ir.Request:
    if not isinstance(body, dict):
        raise RequestError("request body: expected a JSON object")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise RequestError("model: expected a non-empty string", param="model")
    extras: dict[str, Any] = {}
    req = ir.Request(model, parse_messages(body.get("messages"), extras), source=_SOURCE, extras=extras)
    for key, value in body.items():
        if key in _CONSUMED:
            continue
        if value is None:
            extras[key] = value
            continue
        # the keys nearly every request has, taken here without a handler call
        if key == "stream" and type(value) is bool:
            req.stream = value
            if not value:
                extras["_stream_false"] = True
            continue
        if key == "max_tokens" and type(value) is int and "max_completion_tokens" not in body:
            req.max_tokens = value
            continue
        handler = _HANDLERS.get(key)
        if not (handler(req, value, body) if handler is not None else _take(req, key, value, body)):
            extras[key] = value
    if req.tools:
        _custom_calls(req)
    return req


def _custom_calls(req: ir.Request) -> None:
    """A history call sent as a function for a tool declared only as custom is a custom
    call (its arguments the tool's input), so it goes back to a Responses upstream as the
    ``custom_tool_call`` it was (CPA); a name declared both ways stays a function."""
    tools = req.tools or ()
    custom = {t.name for t in tools if t.kind == "custom"}
    if not custom:
        return
    custom -= {t.name for t in tools if t.kind == "function"}
    for m in req.messages:
        if m.role == "assistant":
            for b in m.content:
                if isinstance(b, ir.ToolCall) and b.kind == "function" and b.name in custom:
                    b.kind = "custom"


def _take(req: ir.Request, key: str, value: Any, body: dict[str, Any]) -> bool:
    """Move one top-level key into the IR; False leaves it in extras."""
    handler = _HANDLERS.get(key)
    if handler is not None:
        return handler(req, value, body)
    if key in _NUMBERS:
        if type(value) not in (int, float):
            raise RequestError(f"{key}: expected a number", param=key)
        setattr(req, key, value)
        return True
    if key in _INTS:
        if type(value) is not int:
            raise RequestError(f"{key}: expected an integer", param=key)
        setattr(req, key, value)
        return True
    return False


def _stream(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if type(value) is not bool:
        raise RequestError("stream: expected a boolean", param="stream")
    req.stream = value
    if not value:
        req.extras["_stream_false"] = True
    return True


def _max_tokens(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if isinstance(body.get("max_completion_tokens"), int):
        return False  # max_completion_tokens wins; this one stays raw in extras
    return _int_into(req, "max_tokens", value)


def _max_completion_tokens(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    _int_into(req, "max_completion_tokens", value)
    req.extras["_max_key"] = "max_completion_tokens"
    return True


def _int_into(req: ir.Request, key: str, value: Any) -> bool:
    if type(value) is not int:
        raise RequestError(f"{key}: expected an integer", param=key)
    req.max_tokens = value
    return True


def _stop(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if isinstance(value, str):
        req.stop = [value]
        req.extras["_stop_str"] = True
        return True
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        req.stop = list(value)
        return True
    raise RequestError("stop: expected a string or an array of strings", param="stop")


def _reasoning_effort(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, str):
        raise RequestError("reasoning_effort: expected a string", param="reasoning_effort")
    if req.reasoning is None:
        req.reasoning = {"effort": value}
    else:
        req.reasoning["effort"] = value
    return True


def _visibility(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    """Whether the client wants to see the reasoning, when a Chat body says so outright
    (CPA ``extractOpenAIExplicitSummaryConfig``): Google's extension first, then a
    Responses-style summary, then OpenRouter's ``reasoning.exclude``, its older
    ``include_reasoning`` and ``reasoning.enabled``. Kept in extras too (a Chat upstream
    gets the field as it came)."""
    show, detail = summary_visibility(body)
    if show is not None:
        r = req.reasoning
        if r is None:
            r = req.reasoning = {}
        r["include_thoughts"] = show
        if detail:
            r["summary"] = detail
    return False


def _response_format(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        raise RequestError("response_format: expected an object", param="response_format")
    rtype = value.get("type")
    if rtype == "json_object" and len(value) == 1:
        req.response_format = {"type": "json_object"}
        return True
    if rtype != "json_schema" or len(value) != 2:
        return False  # {"type": "text"} and unknown forms stay raw
    js = value.get("json_schema")
    if not isinstance(js, dict):
        raise RequestError(
            "response_format.json_schema: expected an object", param="response_format.json_schema"
        )
    fmt: dict[str, Any] = {"type": "json_schema"}
    fmt.update(js)  # name, schema, strict, description: the IR uses the same keys
    req.response_format = fmt
    return True


def _user(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, str):
        raise RequestError("user: expected a string", param="user")
    req.user = value
    return True


def _metadata(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, dict):
        raise RequestError("metadata: expected an object", param="metadata")
    req.metadata = value
    return True


def _parallel(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if type(value) is not bool:
        raise RequestError("parallel_tool_calls: expected a boolean", param="parallel_tool_calls")
    req.parallel_tool_calls = value
    return True


# --------------------------------------------------------------------------- tools


def _tools(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        raise RequestError("tools: expected an array", param="tools")
    req.tools = (req.tools or []) + [_tool(t, f"tools[{i}]") for i, t in enumerate(value)]
    return True


def _functions(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if not isinstance(value, list):
        raise RequestError("functions: expected an array", param="functions")
    req.tools = (req.tools or []) + [_function_tool(f, f"functions[{i}]", None) for i, f in enumerate(value)]
    req.extras["_functions"] = True
    return True


def _tool(t: Any, where: str) -> ir.Tool:
    if not isinstance(t, dict):
        raise RequestError(f"{where}: expected an object", param=where)
    ttype = t.get("type")
    rest = {k: v for k, v in t.items() if k not in ("type", "function", "custom")}
    if ttype == "function":
        return _function_tool(t.get("function"), f"{where}.function", rest)
    if ttype == "custom":
        if "custom" not in t and "name" in t:  # the flat form some clients send (CPA takes it)
            return _custom_tool({k: v for k, v in t.items() if k != "type"}, where, {})
        return _custom_tool(t.get("custom"), f"{where}.custom", rest)
    if not isinstance(ttype, str):
        raise RequestError(f"{where}.type: expected a string", param=f"{where}.type")
    return ir.Tool(name=ttype, kind="builtin", extras={"raw": t, "family": "openai"})


def _function_tool(fn: Any, where: str, rest: dict[str, Any] | None) -> ir.Tool:
    if not isinstance(fn, dict):
        raise RequestError(f"{where}: expected an object", param=where)
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: expected a non-empty string", param=f"{where}.name")
    params = fn.get("parameters")
    if params is not None and not isinstance(params, dict):
        raise RequestError(f"{where}.parameters: expected an object", param=f"{where}.parameters")
    desc = fn.get("description")
    if desc is not None and not isinstance(desc, str):
        raise RequestError(f"{where}.description: expected a string", param=f"{where}.description")
    strict = fn.get("strict")
    if strict is not None and type(strict) is not bool:
        raise RequestError(f"{where}.strict: expected a boolean", param=f"{where}.strict")
    extras = dict(rest) if rest else {}
    inner = {k: v for k, v in fn.items() if k not in ("name", "description", "parameters", "strict")}
    if inner:
        extras["_fn"] = inner
    return ir.Tool(name=name, description=desc, parameters=params, strict=strict, extras=extras or None)


def _custom_tool(cu: Any, where: str, rest: dict[str, Any]) -> ir.Tool:
    if not isinstance(cu, dict):
        raise RequestError(f"{where}: expected an object", param=where)
    name = cu.get("name")
    if not isinstance(name, str) or not name:
        raise RequestError(f"{where}.name: expected a non-empty string", param=f"{where}.name")
    extras: dict[str, Any] = {k: v for k, v in cu.items() if k not in ("name", "description")}
    if rest:
        extras["_outer"] = rest
    return ir.Tool(name=name, description=cu.get("description"), kind="custom", extras=extras or None)


def _tool_choice(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if isinstance(value, str):
        if value not in ("auto", "none", "required"):
            raise RequestError(f"tool_choice: unknown value {value!r}", param="tool_choice")
        req.tool_choice = value
        return True
    if not isinstance(value, dict):
        raise RequestError("tool_choice: expected a string or an object", param="tool_choice")
    ttype = value.get("type")
    inner = value.get(ttype) if ttype in ("function", "custom") else None
    if isinstance(inner, dict) and isinstance(inner.get("name"), str) and len(value) == 2 and len(inner) == 1:
        req.tool_choice = (
            {"name": inner["name"]} if ttype == "function" else {"name": inner["name"], "kind": "custom"}
        )
        return True
    if ttype == "allowed_tools":
        allowed = value.get("allowed_tools")
        if allowed is not None and not isinstance(allowed, dict):
            raise RequestError(
                "tool_choice.allowed_tools: expected an object", param="tool_choice.allowed_tools"
            )
        mode = (allowed or {}).get("mode")
        req.tool_choice = "required" if mode == "required" else "auto"
    req.extras["_tool_choice"] = value
    return True


def _function_call(req: ir.Request, value: Any, body: dict[str, Any]) -> bool:
    if value in ("auto", "none"):
        req.tool_choice = value
    elif isinstance(value, dict) and isinstance(value.get("name"), str) and len(value) == 1:
        req.tool_choice = {"name": value["name"]}
    else:
        raise RequestError('function_call: expected "auto", "none" or {"name": ...}', param="function_call")
    req.extras["_function_call"] = True
    return True


_HANDLERS = {
    "stream": _stream,
    "max_tokens": _max_tokens,
    "max_completion_tokens": _max_completion_tokens,
    "stop": _stop,
    "reasoning_effort": _reasoning_effort,
    **dict.fromkeys(CHAT_VISIBILITY_KEYS, _visibility),
    "response_format": _response_format,
    "user": _user,
    "metadata": _metadata,
    "parallel_tool_calls": _parallel,
    "tools": _tools,
    "functions": _functions,
    "tool_choice": _tool_choice,
    "function_call": _function_call,
}
