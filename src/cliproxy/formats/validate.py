"""Cheap structural checks of a client's body, before anything goes upstream.

A pass-through route (same format in and out) forwards the client's bytes, so a body
the upstream cannot read would come back as the upstream's 4xx or 5xx and, for a 5xx,
cool a credential that did nothing wrong. :func:`validate_body` checks the minimal shape
of every body once per request: the top-level types, and for each message an object
with a known role and content of an allowed type. It is not a parse (no content part
is looked into beyond being an object) and it never copies. A bad body is the
client's :class:`~cliproxy.errors.RequestError`, naming the offending path
(``messages[2].content``).

:func:`check_depth` refuses JSON nested deeper than the proxy can write back
(orjson reads 1024 levels but writes only 254); :data:`MAX_DEPTH` leaves room for the
envelopes our own code adds around a body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

import orjson

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.formats.interactions import validate as _interactions

__all__ = ["MAX_DEPTH", "VALIDATORS", "WRITE_LIMIT", "check_depth", "validate_body"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_NUMBERS = (int, float)
_STOP_TYPES = (str, list)

MAX_DEPTH = 200
WRITE_LIMIT = 254  # orjson.dumps writes at most this many levels (orjson.loads reads 1024)

_CHAT_ROLES = frozenset(("system", "developer", "user", "assistant", "tool", "function"))
_RESPONSES_ROLES = frozenset(("user", "assistant", "system", "developer"))
_CLAUDE_ROLES = frozenset(("user", "assistant", "system"))
_GEMINI_ROLES = frozenset(("user", "model", "function", "tool"))

_CHAT_INTS = ("max_tokens", "max_completion_tokens", "n", "top_logprobs", "seed")
_CHAT_NUMBERS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_CHAT_OBJECTS = ("stream_options", "response_format", "metadata", "logit_bias")
_RESPONSES_INTS = ("max_output_tokens", "max_tool_calls", "top_logprobs")
_RESPONSES_NUMBERS = ("temperature", "top_p")
_RESPONSES_OBJECTS = ("reasoning", "text", "metadata")
_CLAUDE_INTS = ("max_tokens", "top_k")
_CLAUDE_NUMBERS = ("temperature", "top_p")
_CLAUDE_OBJECTS = ("tool_choice", "thinking", "metadata", "output_config")
_GEMINI_INTS = ("maxOutputTokens", "max_output_tokens", "candidateCount", "candidate_count", "topK", "top_k")
_GEMINI_NUMBERS = ("temperature", "topP", "top_p")
_GEMINI_OBJECTS = ("thinkingConfig", "thinking_config")


def _fail(path: str, what: str) -> NoReturn:
    raise RequestError(f"{path}: {what}", param=path)


# --------------------------------------------------------------------------- depth


def _padded(limit: int) -> tuple[list[Any], list[Any]]:
    """A list nested ``WRITE_LIMIT - limit`` levels deep, and its innermost list."""
    inner: list[Any] = [None]
    outer = inner
    for _ in range(WRITE_LIMIT - limit - 1):
        outer = [outer]
    return outer, inner


_PADDED = _padded(MAX_DEPTH)


def check_depth(raw: bytes, value: Any, limit: int = MAX_DEPTH, what: str = "request body") -> None:
    """Raise :class:`RequestError` when ``value`` (parsed from ``raw``) nests more than
    ``limit`` levels (each object or array is a level).

    A body of at most ``2 * limit`` bytes cannot be that deep. Otherwise the exact test
    is orjson's own: the value, wrapped in ``WRITE_LIMIT - limit`` lists, must still be
    writable. That runs at C speed (about 15 us for a 99 KB body, where walking the
    parsed object in Python takes about 130 us) and stops at the limit on a deep body.
    """
    if len(raw) <= 2 * limit:
        return
    outer, inner = _PADDED if limit == MAX_DEPTH else _padded(limit)
    inner[0] = value
    try:
        orjson.dumps(outer)
    except orjson.JSONEncodeError:
        raise RequestError(
            f"{what} is nested too deeply: at most {limit} levels of objects and arrays"
        ) from None
    finally:
        inner[0] = None


# --------------------------------------------------------------------------- shared checks


def _ints(body: dict[str, Any], keys: tuple[str, ...], prefix: str = "") -> None:
    for key in keys:
        value = body.get(key)
        if value is not None and type(value) is not int:  # bool is not an integer here
            _fail(prefix + key, "expected an integer")


def _numbers(body: dict[str, Any], keys: tuple[str, ...], prefix: str = "") -> None:
    for key in keys:
        value = body.get(key)
        if value is not None and (not isinstance(value, _NUMBERS) or isinstance(value, bool)):
            _fail(prefix + key, "expected a number")


def _objects(body: dict[str, Any], keys: tuple[str, ...], prefix: str = "") -> None:
    for key in keys:
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            _fail(prefix + key, "expected an object")


_INT, _NUMBER, _OBJECT = 1, 2, 3
_TYPES: dict[int, tuple[type, ...]] = {
    _INT: (int, type(None)),
    _NUMBER: (float, int, type(None)),
    _OBJECT: (dict, type(None)),
}


class _Fields:
    """A format's scalar fields and the type each must have: :meth:`check` looks only at
    the fields a body has (most have few), and names a fault as the ordered checks do."""

    __slots__ = ("ints", "kinds", "numbers", "objects", "types")

    def __init__(self, ints: tuple[str, ...], numbers: tuple[str, ...], objects: tuple[str, ...]) -> None:
        self.ints, self.numbers, self.objects = ints, numbers, objects
        kinds = dict.fromkeys(objects, _OBJECT) | dict.fromkeys(numbers, _NUMBER) | dict.fromkeys(ints, _INT)
        self.kinds = kinds
        # the exact types JSON gives a good value of each field: a value of another type
        # (a bool, a subclass, a wrong type) is left to :meth:`check`
        self.types = {key: _TYPES[kind] for key, kind in kinds.items()}

    def check(self, body: dict[str, Any], prefix: str = "") -> None:
        kinds = self.kinds
        for key in kinds.keys() & body.keys():
            value = body[key]
            if value is None:
                continue
            kind = kinds[key]
            if kind == _INT:
                ok = type(value) is int  # bool is not an integer here
            elif kind == _NUMBER:
                ok = isinstance(value, _NUMBERS) and not isinstance(value, bool)
            else:
                ok = isinstance(value, dict)
            if not ok:  # the first fault in the documented order, as the client is told
                _ints(body, self.ints, prefix)
                _numbers(body, self.numbers, prefix)
                _objects(body, self.objects, prefix)


_NOT_A_LIST = -1


def _bad_object(items: Any) -> int | None:
    """The index of the first item of ``items`` that is not an object, ``_NOT_A_LIST``
    when ``items`` is no list, None when all is well (paths are built only on failure)."""
    if not isinstance(items, list):
        return _NOT_A_LIST
    for j, item in enumerate(items):
        if not isinstance(item, dict):
            return j
    return None


def _object_list(value: Any, path: str, what: str = "an object") -> None:
    """``value`` (not None) must be a list of objects."""
    bad = _bad_object(value)
    if bad is not None:
        _fail(
            path if bad == _NOT_A_LIST else f"{path}[{bad}]",
            "expected a list" if bad == _NOT_A_LIST else f"expected {what}",
        )


def _function(fn: dict[str, Any], path: str, *schemas: str) -> None:
    """A function tool: a string name, and its schema (when given) an object."""
    if not isinstance(fn.get("name"), str):
        _fail(f"{path}.name", "required, a string")
    for key in schemas:
        schema = fn.get(key)
        if schema is not None and not isinstance(schema, dict):
            _fail(f"{path}.{key}", "expected a JSON Schema object")


def _bad_role(role: Any, where: str, roles: frozenset[str]) -> NoReturn:
    if not isinstance(role, str):
        _fail(f"{where}.role", "required, a string")
    _fail(f"{where}.role", f"unknown role {_short(role)!r}; expected one of {', '.join(sorted(roles))}")


def _short(value: str, limit: int = 40) -> str:
    return value if len(value) <= limit else value[:limit] + "…"


# --------------------------------------------------------------------------- per format


def _chat_turns(messages: Any) -> None:
    if not isinstance(messages, list):
        _fail("messages", "required, a list of message objects")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            _fail(f"messages[{i}]", "expected an object")
        role = msg.get("role")
        if not isinstance(role, str) or role not in _CHAT_ROLES:
            _bad_role(role, f"messages[{i}]", _CHAT_ROLES)
        content = msg.get("content")
        if content is not None and not isinstance(content, str) and _bad_object(content) is not None:
            if not isinstance(content, list):
                _fail(f"messages[{i}].content", "expected a string, a list of content parts or null")
            _object_list(content, f"messages[{i}].content", "a content part object")
        if "tool_calls" in msg and (calls := msg["tool_calls"]) is not None:
            _object_list(calls, f"messages[{i}].tool_calls")


def _openai_chat(body: dict[str, Any]) -> None:
    messages: Any = body.get("messages")
    if type(messages) is not list:
        _chat_turns(messages)  # raises, unless a list subclass
    odd = False
    try:  # the common case, cheaply: a subscript fails on a message that is no object
        for msg in messages:  # (or has no role), ``in`` on a role that is a list
            if (
                msg["role"] not in _CHAT_ROLES
                or (
                    type(content := msg.get("content")) is not str
                    and content is not None
                    and _bad_object(content) is not None
                )
                or (
                    "tool_calls" in msg
                    and (calls := msg["tool_calls"]) is not None
                    and _bad_object(calls) is not None
                )
            ):
                odd = True
                break
    except (KeyError, TypeError):
        odd = True
    if odd:
        _chat_turns(messages)  # names the fault (or accepts what only looked unusual)
    tools = body.get("tools")
    if tools is not None:
        _object_list(tools, "tools")
        for i, tool in enumerate(tools):
            if tool.get("type", "function") == "function":
                fn = tool.get("function")
                if not isinstance(fn, dict):
                    _fail(f"tools[{i}].function", "required, an object")
                _function(fn, f"tools[{i}].function", "parameters")
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, _STOP_TYPES):
        _fail("stop", "expected a string or a list of strings")
    types = _CHAT_FIELDS.types  # :meth:`_Fields.check` only for a value of an unusual type
    for key in body:  # the body's few keys: cheaper than a key-set intersection
        if key in types and type(body[key]) not in types[key]:
            _CHAT_FIELDS.check(body)
            break


def _responses(body: dict[str, Any]) -> None:
    inp = body.get("input")
    if inp is not None and not isinstance(inp, str):
        if not isinstance(inp, list):
            _fail("input", "expected a string or a list of items")
        for i, item in enumerate(inp):
            if not isinstance(item, dict):
                _fail(f"input[{i}]", "expected an object")
            itype = item.get("type")
            if itype is None:
                if "role" not in item:
                    _fail(f"input[{i}]", "expected a type or a role")
            elif not isinstance(itype, str):
                _fail(f"input[{i}].type", "expected a string")
            elif itype != "message":
                continue
            role = item.get("role")
            if not isinstance(role, str) or role not in _RESPONSES_ROLES:
                _bad_role(role, f"input[{i}]", _RESPONSES_ROLES)
            content = item.get("content")
            if not isinstance(content, str) and _bad_object(content) is not None:
                if not isinstance(content, list):
                    _fail(f"input[{i}].content", "expected a string or a list of content parts")
                _object_list(content, f"input[{i}].content", "a content part object")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        _fail("instructions", "expected a string")
    tools = body.get("tools")
    if tools is not None:
        _object_list(tools, "tools")
        for i, tool in enumerate(tools):
            if tool.get("type") == "function":
                _function(tool, f"tools[{i}]", "parameters")
    types = _RESPONSES_FIELDS.types  # :meth:`_Fields.check` only for a value of an unusual type
    for key in body:  # the body's few keys: cheaper than a key-set intersection
        if key in types and type(body[key]) not in types[key]:
            _RESPONSES_FIELDS.check(body)
            break


def _claude_blocks_ok(value: Any) -> bool:
    if not isinstance(value, list):
        return False
    for block in value:  # a plain loop: all() over a generator costs twice as much here
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            break
    else:
        return True
    return False


def _claude_blocks(value: Any, path: str) -> None:
    """Name the first fault of a content that :func:`_claude_blocks_ok` refused."""
    if not isinstance(value, list):
        _fail(path, "expected a string or a list of content blocks")
    for j, block in enumerate(value):
        if not isinstance(block, dict):
            _fail(f"{path}[{j}]", "expected a content block object")
        if not isinstance(block.get("type"), str):
            _fail(f"{path}[{j}].type", "required, a string")


def _claude_turns(messages: Any) -> None:
    if not isinstance(messages, list):
        _fail("messages", "required, a list of message objects")
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict):
            _fail(f"messages[{i}]", "expected an object")
        role = msg.get("role")
        if not isinstance(role, str) or role not in _CLAUDE_ROLES:
            _bad_role(role, f"messages[{i}]", _CLAUDE_ROLES)
        content = msg.get("content")
        if not isinstance(content, str) and not _claude_blocks_ok(content):
            _claude_blocks(content, f"messages[{i}].content")


def _claude(body: dict[str, Any]) -> None:
    messages: Any = body.get("messages")
    if type(messages) is not list:
        _claude_turns(messages)  # raises, unless a list subclass
    odd = False
    try:  # the common case, cheaply (as in :func:`_openai_chat`)
        for msg in messages:
            if msg["role"] not in _CLAUDE_ROLES or (
                type(content := msg.get("content")) is not str and not _claude_blocks_ok(content)
            ):
                odd = True
                break
    except (KeyError, TypeError):
        odd = True
    if odd:
        _claude_turns(messages)  # names the fault (or accepts what only looked unusual)
    system = body.get("system")
    if (
        system is not None
        and type(system) is not str
        and not isinstance(system, str)
        and not _claude_blocks_ok(system)
    ):
        _claude_blocks(system, "system")
    tools = body.get("tools")
    if tools is not None:
        _object_list(tools, "tools")
        for i, tool in enumerate(tools):
            if tool.get("type", "custom") == "custom":  # server tools (web_search_...) carry no schema
                _function(tool, f"tools[{i}]", "input_schema")
    stop = body.get("stop_sequences")
    if stop is not None and not isinstance(stop, list):
        _fail("stop_sequences", "expected a list of strings")
    types = _CLAUDE_FIELDS.types  # :meth:`_Fields.check` only for a value of an unusual type
    for key in body:  # the body's few keys: cheaper than a key-set intersection
        if key in types and type(body[key]) not in types[key]:
            _CLAUDE_FIELDS.check(body)
            break


def _gemini_parts(content: dict[str, Any], path: str) -> None:
    parts = content.get("parts")
    if parts is not None and _bad_object(parts) is not None:
        if not isinstance(parts, list):
            _fail(f"{path}.parts", "expected a list of part objects")
        _object_list(parts, f"{path}.parts", "a part object")


def _gemini(body: dict[str, Any]) -> None:
    contents = body.get("contents")
    if not isinstance(contents, list):
        _fail("contents", "required, a list of content objects")
    for i, content in enumerate(contents):
        if not isinstance(content, dict):
            _fail(f"contents[{i}]", "expected an object")
        role = content.get("role")
        if role is not None and (not isinstance(role, str) or role not in _GEMINI_ROLES):
            _bad_role(role, f"contents[{i}]", _GEMINI_ROLES)
        parts = content.get("parts")
        if parts is not None and _bad_object(parts) is not None:
            _gemini_parts(content, f"contents[{i}]")
    for key in ("systemInstruction", "system_instruction"):
        system = body.get(key)
        if system is None or isinstance(system, str):
            continue
        if not isinstance(system, dict):
            _fail(key, "expected a content object or a string")
        _gemini_parts(system, key)
    tools = body.get("tools")
    if tools is not None:
        _object_list(tools, "tools")
        for i, tool in enumerate(tools):
            for key in ("functionDeclarations", "function_declarations"):
                decls = tool.get(key)
                if decls is not None:
                    _object_list(decls, f"tools[{i}].{key}", "a function declaration object")
                    for j, decl in enumerate(decls):
                        _function(decl, f"tools[{i}].{key}[{j}]", "parameters", "parametersJsonSchema")
    for key in ("generationConfig", "generation_config"):
        config = body.get(key)
        if config is None:
            continue
        if not isinstance(config, dict):
            _fail(key, "expected an object")
        _GEMINI_FIELDS.check(config, key + ".")
    for key in ("toolConfig", "tool_config"):
        value = body.get(key)
        if value is not None and not isinstance(value, dict):
            _fail(key, "expected an object")


_CHAT_FIELDS = _Fields(_CHAT_INTS, _CHAT_NUMBERS, _CHAT_OBJECTS)
_RESPONSES_FIELDS = _Fields(_RESPONSES_INTS, _RESPONSES_NUMBERS, _RESPONSES_OBJECTS)
_CLAUDE_FIELDS = _Fields(_CLAUDE_INTS, _CLAUDE_NUMBERS, _CLAUDE_OBJECTS)
_GEMINI_FIELDS = _Fields(_GEMINI_INTS, _GEMINI_NUMBERS, _GEMINI_OBJECTS)

# format -> its check (:func:`validate_body` without the call in between, for the hot path)
VALIDATORS: dict[Format, Callable[[dict[str, Any]], None]] = {
    Format.OPENAI: _openai_chat,
    Format.RESPONSES: _responses,
    Format.CODEX: _responses,
    Format.CLAUDE: _claude,
    Format.GEMINI: _gemini,
    Format.INTERACTIONS: _interactions,
}


def validate_body(fmt: Format, body: dict[str, Any]) -> None:
    """Raise :class:`RequestError` (naming the path) when ``body`` is not a ``fmt`` request.

    Generation and count-tokens bodies share the check: both carry the conversation.
    """
    VALIDATORS[fmt](body)
