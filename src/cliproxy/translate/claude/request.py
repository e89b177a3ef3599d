"""Claude Messages request body -> IR.

Where the IR has no slot, the wire value stays in an ``extras`` bag (request, message,
block, tool) and the Claude builder writes it back. Private markers:

* ``Message.extras["_system"]``: ``"string"`` or ``"blocks"`` on the message made from
  the top-level ``system``; mid-conversation ``system`` messages have no marker.
* ``Message.extras["_string"]``: the message content was a string.
* ``Request.extras["_metadata"]``: ``metadata`` without ``user_id``;
  ``["_output_config"]``: ``output_config`` without ``effort``/``format``;
  ``["_thinking"]``: unknown keys of ``thinking``; ``["_format_slot"]``:
  ``"output_format"`` when the schema came in the beta top-level ``output_format``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.carriers import IMAGE_ANCHOR, markdown_image
from cliproxy.translate.claude.blocks import BlockParser, rest

__all__ = ["parse_request"]

_TOP = frozenset(
    (
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "max_tokens",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "stream",
        "thinking",
        "output_config",
        "output_format",
        "metadata",
    )
)
# the keys of a plain request: nothing past the messages and sampling to read
_PLAIN_TOP = frozenset(
    ("model", "messages", "system", "max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "stream")
)
_MSG = frozenset(("role", "content"))
_TOOL = frozenset(("name", "description", "input_schema", "strict"))
_THINKING = frozenset(("type", "budget_tokens", "display"))
# "auto" is adaptive to CPA's translators (but takes no display), and goes to Claude as sent
_KINDS = ("enabled", "adaptive", "auto", "disabled")  # a tuple: an unhashable type is refused, not raised
_ROLES = frozenset(("user", "assistant", "system"))
_CHOICE = {"auto": "auto", "any": "required", "none": "none"}
_NUMBERS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("max_tokens", int),
    ("temperature", (int, float)),
    ("top_p", (int, float)),
    ("top_k", int),
)
# the exact types of good values (what orjson makes of them, or absent): one test each
_INT_OR_NONE = frozenset((int, type(None)))
_NUMBER_OR_NONE = frozenset((int, float, type(None)))


def _fail(path: str, what: str) -> RequestError:
    return RequestError(f"{path}: {what}", param=path)


def parse_request(body: dict[str, Any]) -> ir.Request:
    try:  # the paths of messages, blocks and tools are written out only to name a fault
        return _parse(body, False)
    except RequestError:
        return _parse(body, True)  # the same fault, raised again where it is


def _parse(body: dict[str, Any], named: bool) -> ir.Request:
    if not isinstance(body, dict):
        raise _fail("body", "must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise _fail("model", "must be a string")
    req = ir.Request(model)
    req.source = "claude"
    system = body.get("system")
    if type(system) is str:  # a string system prompt (the common one), read here as _system reads it
        req.messages.append(ir.Message("system", [ir.Text(system)], None, {"_system": "string"}))
    elif system is not None or "system" in body:
        req.messages.append(_system(system, BlockParser(named)))
    req.messages.extend(_messages(body.get("messages"), named))
    _sampling(body, req)
    if body.keys() <= _PLAIN_TOP:  # no tools, thinking, output settings, metadata or extras
        return req
    _tools(body, req, named)
    _reasoning(body, req)
    _metadata(body, req)
    extras = rest(body, _TOP)
    if extras:
        req.extras.update(extras)
    return req


def _system(system: Any, parser: BlockParser) -> ir.Message:
    if isinstance(system, str):
        return ir.Message("system", [ir.Text(system)], extras={"_system": "string"})
    if system is None:
        return ir.Message("system", [], extras={"_system": "null"})
    blocks = parser.blocks(system, "system")
    for i, b in enumerate(blocks):
        if not isinstance(b, ir.Text):
            raise _fail(f"system[{i}].type", "system blocks must be text")
    return ir.Message("system", blocks, extras={"_system": "blocks"})


def _messages(messages: Any, named: bool) -> list[ir.Message]:
    """The messages; their blocks read by one ``BlockParser`` (made at the first message
    that has blocks: a string turn needs none), so a tool_result is checked against the
    calls before it."""
    if not isinstance(messages, list):
        raise _fail("messages", "must be a list")
    out: list[ir.Message] = []
    parser: BlockParser | None = None
    i = -1  # (counted, not enumerated: cheaper for the few turns most requests have)
    for msg in messages:
        i += 1
        if not isinstance(msg, dict):
            raise _fail(f"messages[{i}]", "must be an object")
        role = msg.get("role")
        if role not in _ROLES:
            raise _fail(f"messages[{i}].role", f"unknown role {role!r}")
        content = msg.get("content")
        plain = msg.keys() <= _MSG
        if type(content) is str and plain:  # the common turn: no call past the IR's own
            out.append(ir.Message(role, [ir.Text(content)], None, {"_string": True}))
            continue
        extras = None if plain else rest(msg, _MSG)
        if isinstance(content, str):
            blocks: list[ir.Block] = [ir.Text(content)]
            extras = (extras or {}) | {"_string": True}
        else:
            if parser is None:
                parser = BlockParser(named)
            blocks = parser.blocks(content, f"messages[{i}].content" if named else "messages")
            if role == "assistant":
                _images_back(blocks)
        out.append(ir.Message(role, blocks, extras=extras))
    return out


def _images_back(blocks: list[ir.Block]) -> None:
    """A text block showing a Gemini image the proxy answered with (``carriers.image_markdown``)
    is that image again: a Gemini part, which only a Gemini request writes, signed by the
    image carrier right before it (``carriers.image_carrier``); a carrier is never sent on."""
    carriers = False
    for j, b in enumerate(blocks):
        if type(b) is ir.Text and b.text.startswith("![") and (part := markdown_image(b.text)) is not None:
            before = blocks[j - 1] if j else None
            if type(before) is ir.Thinking and before.anchor == IMAGE_ANCHOR:
                part["thoughtSignature"] = before.signature
            blocks[j] = ir.ServerTool("gemini", part)
        elif type(b) is ir.Thinking and b.anchor == IMAGE_ANCHOR:
            carriers = True
    if carriers:
        blocks[:] = [b for b in blocks if type(b) is not ir.Thinking or b.anchor != IMAGE_ANCHOR]


def _sampling(body: dict[str, Any], req: ir.Request) -> None:
    get = body.get
    max_tokens = get("max_tokens")
    if "temperature" in body or "top_p" in body or "top_k" in body:
        temperature, top_p, top_k = get("temperature"), get("top_p"), get("top_k")
        if not (
            type(max_tokens) in _INT_OR_NONE
            and type(temperature) in _NUMBER_OR_NONE
            and type(top_p) in _NUMBER_OR_NONE
            and type(top_k) in _INT_OR_NONE
        ):
            _number_fault(body)
        req.max_tokens, req.temperature, req.top_p, req.top_k = max_tokens, temperature, top_p, top_k
    elif type(max_tokens) is int or max_tokens is None:  # max_tokens alone (absent: the IR's None stays)
        req.max_tokens = max_tokens
    else:
        _number_fault(body)
    if "stop_sequences" in body:
        stop = body["stop_sequences"]
        if stop is not None and (not isinstance(stop, list) or not all(isinstance(s, str) for s in stop)):
            raise _fail("stop_sequences", "must be a list of strings")
        req.stop = stop
    stream = body.get("stream")
    req.stream = stream is True
    if "stream" in body and stream is not True:
        req.extras["stream"] = stream


def _number_fault(body: dict[str, Any]) -> None:
    """A sampling value of a type JSON does not give a good one: the exact check names the fault."""
    for key, types in _NUMBERS:
        value = body.get(key)
        if value is not None and (not isinstance(value, types) or type(value) is bool):
            raise _fail(key, "must be a number")


def _tools(body: dict[str, Any], req: ir.Request, named: bool = True) -> None:
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list):
            raise _fail("tools", "must be a list")
        if named:
            req.tools = [_tool(t, f"tools[{i}]") for i, t in enumerate(tools)]
        else:
            req.tools = [_tool(t, "tools") for t in tools]
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict):
        raise _fail("tool_choice", "must be an object")
    kind = choice.get("type")
    if not isinstance(kind, str):
        raise _fail("tool_choice.type", "must be a string")
    if kind == "tool":
        name = choice.get("name")
        if not isinstance(name, str):
            raise _fail("tool_choice.name", "must be a string")
        req.tool_choice = {"name": name}
    elif kind in _CHOICE:
        req.tool_choice = _CHOICE[kind]
    else:
        raise _fail("tool_choice.type", f"unknown tool_choice {kind!r}")
    if choice.get("disable_parallel_tool_use") is not None:  # (null: not set)
        req.parallel_tool_calls = not choice["disable_parallel_tool_use"]


def _tool(tool: Any, path: str) -> ir.Tool:
    if not isinstance(tool, dict):
        raise _fail(path, "must be an object")
    kind = tool.get("type")
    if kind is not None and kind != "custom":
        name = tool.get("name")
        return ir.Tool(
            name if isinstance(name, str) else str(kind),
            kind="builtin",
            extras={"raw": tool, "family": "claude"},
        )
    name = tool.get("name")
    if not isinstance(name, str):
        raise _fail(f"{path}.name", "must be a string")
    schema = tool.get("input_schema")
    if schema is not None and not isinstance(schema, dict):
        raise _fail(f"{path}.input_schema", "must be an object")
    strict = tool.get("strict")
    return ir.Tool(
        name,
        tool.get("description"),
        schema,
        strict=strict if isinstance(strict, bool) else None,
        extras=rest(tool, _TOOL),
    )


def _reasoning(body: dict[str, Any], req: ir.Request) -> None:
    reasoning: dict[str, Any] = {}
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        kind = thinking.get("type")
        if kind not in _KINDS:
            raise _fail("thinking.type", f"unknown thinking type {kind!r}")
        reasoning["mode"] = kind
        if "budget_tokens" in thinking:
            reasoning["budget"] = thinking["budget_tokens"]
        if "display" in thinking:
            reasoning["display"] = thinking["display"]
        extra = rest(thinking, _THINKING)
        if extra:
            req.extras["_thinking"] = extra
    elif thinking is not None:
        raise _fail("thinking", "must be an object")
    _output_config(body, req, reasoning)
    if reasoning:
        req.reasoning = reasoning


def _output_config(body: dict[str, Any], req: ir.Request, reasoning: dict[str, Any]) -> None:
    config = body.get("output_config")
    if config is not None:
        if not isinstance(config, dict):
            raise _fail("output_config", "must be an object")
        if "effort" in config:
            if not isinstance(config["effort"], str):
                raise _fail("output_config.effort", "must be a string")
            reasoning["effort"] = config["effort"]
        fmt = config.get("format")
        if isinstance(fmt, dict):
            req.response_format = dict(fmt)
        req.extras["_output_config"] = {
            k: v for k, v in config.items() if k != "effort" and (k != "format" or not isinstance(v, dict))
        }
    # the beta top-level form; when both are given the GA one is the response format
    beta = body.get("output_format")
    if isinstance(beta, dict) and req.response_format is None:
        req.response_format = dict(beta)
        req.extras["_format_slot"] = "output_format"
    elif "output_format" in body:
        req.extras["output_format"] = beta


def _metadata(body: dict[str, Any], req: ir.Request) -> None:
    md = body.get("metadata")
    if md is None:
        return
    if not isinstance(md, dict):
        raise _fail("metadata", "must be an object")
    user = md.get("user_id")
    if isinstance(user, str):
        req.user = user
    req.extras["_metadata"] = {k: v for k, v in md.items() if k != "user_id" or not isinstance(v, str)}
