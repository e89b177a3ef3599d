"""Chat Completions ``messages`` -> IR messages.

Private markers kept in extras for an exact round trip:

* ``Message.extras["_content"]``: how ``content`` was given when it was not a parts
  list: ``"str"`` (a string, held as one Text), ``"empty"`` (``""``), ``"null"``,
  ``"absent"``. ``ToolResult.extras["_content"]`` likewise for tool messages.
* ``Thinking.extras["_key"] = "reasoning"`` when the text came in ``reasoning``.
* ``ToolCall.extras``: ``"_fn"`` unknown keys of ``function``, ``"_no_type"`` when the
  call had no ``type``, ``"_legacy"`` for an assistant ``function_call``.
* ``Message.extras["_legacy"]`` for a ``role: "function"`` result.

An assistant message's ``images`` (the pictures a Gemini image model answered with, as
the proxy hands them to a Chat client) stay in extras for a Chat upstream, and each data
URL among them is also a Gemini ``inlineData`` part (``ir.ServerTool`` of family
``gemini``, which only a Gemini request writes) with the signature the proxy put on the
item (``extra_content.google.thought_signature``): Gemini's image models refuse a model
turn's image without its signature. CPA does not read ``images``.
"""

from __future__ import annotations

from typing import Any

from cliproxy.errors import RequestError
from cliproxy.formats.data_url import split_data_url
from cliproxy.formats.ir import Role
from cliproxy.translate import ir
from cliproxy.translate.openai_chat.parts import parse_content
from cliproxy.translate.signatures import chat_call_signature
from cliproxy.translate.source_only import KEY as SOURCE_ONLY

__all__ = ["parse_messages"]

_PLAIN_KEYS = frozenset(("role", "content", "name"))
_ROLE_KEYS = {
    "system": _PLAIN_KEYS,
    "developer": _PLAIN_KEYS,
    "user": _PLAIN_KEYS,
    "assistant": frozenset(("role", "content", "name", "tool_calls", "function_call")),
    "tool": frozenset(("role", "content", "tool_call_id")),
    "function": _PLAIN_KEYS,
}


# the roles ``_plain`` reads
_TEXT_ROLES: dict[str, Role] = {"system": "system", "developer": "developer", "user": "user"}


class _Calls:
    """Tool calls seen so far: ids -> names, and legacy calls waiting by name; of the
    latest assistant turn's calls, those no tool message answered yet (in order), those
    answered, and the ids two of its calls shared (dropped, with their answers); the
    parts of unknown types kept whole, as ``(where, type)``."""

    __slots__ = ("ambiguous", "answered", "kept", "legacy", "names", "pending")

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.legacy: dict[str, list[str]] = {}
        self.pending: list[str] = []
        self.answered: set[str] = set()
        self.ambiguous: set[str] = set()
        self.kept: list[tuple[str, str]] = []


def parse_messages(raw: Any, extras: dict[str, Any] | None = None) -> list[ir.Message]:
    """The IR messages of ``raw``; parts of unknown types, kept whole for a Chat
    upstream, are also listed in ``extras[source_only.KEY]`` (``translate.source_only``)."""
    if not isinstance(raw, list) or not raw:
        raise RequestError("messages: expected a non-empty array", param="messages")
    calls: _Calls | None = None  # made at the first message that is not plain text
    out: list[ir.Message] = []
    for i, m in enumerate(raw):
        if type(m) is not dict:
            if not isinstance(m, dict):
                raise RequestError(f"messages[{i}]: expected an object", param=f"messages[{i}]")
        elif (
            len(m) == 2
            and type(role := m.get("role")) is str
            and (text_role := _TEXT_ROLES.get(role)) is not None
            and type(c := m.get("content")) is str
            and c
        ):  # {"role": ..., "content": "text"}, the common message: what _plain makes of it
            out.append(ir.Message(text_role, [ir.Text(c)], None, {"_content": "str"}))
            continue
        where = f"messages[{i}]"
        role = m.get("role")
        if calls is None:
            calls = _Calls()
        if not isinstance(role, str) or (keys := _ROLE_KEYS.get(role)) is None:
            raise RequestError(f"{where}.role: unknown role {role!r}", param=f"{where}.role")
        msg = _PARSERS[role](m, where, calls)
        if msg is None:  # a tool message no call of the history can take (see _tool)
            continue
        if not m.keys() <= keys:
            _keep_rest(m, keys, msg)
        out.append(msg)
    if calls is not None and calls.kept and extras is not None:
        extras[SOURCE_ONLY] = calls.kept
    return out


def _keep_rest(m: dict[str, Any], keys: frozenset[str], msg: ir.Message) -> None:
    """Unknown message keys go to extras (the reasoning key a Thinking came from does not)."""
    rest = {k: v for k, v in m.items() if k not in keys}
    if msg.role == "assistant" and msg.content and isinstance(msg.content[0], ir.Thinking):
        rest.pop(_thinking_key(msg.content[0]), None)
    if rest:
        msg.extras = {**(msg.extras or {}), **rest}


def _thinking_key(b: ir.Thinking) -> str:
    return "reasoning" if b.extras and b.extras.get("_key") == "reasoning" else "reasoning_content"


def _name(m: dict[str, Any], where: str) -> str | None:
    name = m.get("name")
    if name is not None and not isinstance(name, str):
        raise RequestError(f"{where}.name: expected a string", param=f"{where}.name")
    return name


def _content(m: dict[str, Any], where: str, msg: ir.Message, calls: _Calls) -> None:
    """Fill ``msg.content`` from ``m["content"]`` and mark how it was given."""
    if "content" not in m:
        _mark(msg, "absent")
        return
    c = m["content"]
    if c is None:
        _mark(msg, "null")
    elif isinstance(c, str):
        if c:
            msg.content.append(ir.Text(c))
            _mark(msg, "str")
        else:
            _mark(msg, "empty")
    elif isinstance(c, list):
        kept = parse_content(c, f"{where}.content", msg)
        if kept:
            calls.kept += [(f"{where}.content[{i}]", part["type"]) for i, part in kept]
    else:
        raise RequestError(
            f"{where}.content: expected a string, an array of parts or null", param=f"{where}.content"
        )


def _mark(msg: ir.Message, how: str) -> None:
    if msg.extras is None:
        msg.extras = {}
    msg.extras["_content"] = how


def _plain(m: dict[str, Any], where: str, calls: _Calls) -> ir.Message:
    msg = ir.Message(m["role"], name=_name(m, where))
    _content(m, where, msg, calls)
    return msg


def _assistant(m: dict[str, Any], where: str, calls: _Calls) -> ir.Message:
    msg = ir.Message("assistant", name=_name(m, where))
    for key in ("reasoning_content", "reasoning"):
        text = m.get(key)
        if isinstance(text, str):
            extras = {"_key": key} if key == "reasoning" else None
            msg.content.append(ir.Thinking(text, family="openai", extras=extras))
            break
    _content(m, where, msg, calls)
    refusal = m.get("refusal")
    if isinstance(refusal, str) and refusal:  # ``message.refusal`` given back: a refusal text
        # (``_refusal_field``: a Chat body writes it back as the field, from the message's extras)
        msg.content.append(ir.Text(refusal, extras={"_refusal": True, "_refusal_field": True}))
    tcs = m.get("tool_calls")
    if tcs is not None:
        if not isinstance(tcs, list):
            raise RequestError(f"{where}.tool_calls: expected an array", param=f"{where}.tool_calls")
        # a call without an id gets one (CPA makes one), the same for the same place in the
        # history so a resent history keeps it: messages[3]'s first call -> call_m3_0
        base = "call_m" + where.removeprefix("messages[").removesuffix("]") + "_"
        batch = [_tool_call(tc, f"{where}.tool_calls[{j}]", f"{base}{j}") for j, tc in enumerate(tcs)]
        ids = [call.id for call in batch]
        shared = {i for i in ids if ids.count(i) > 1} if len(set(ids)) != len(ids) else set()
        calls.pending = [i for i in ids if i not in shared]
        calls.answered = set()
        calls.ambiguous = shared
        # two calls under one id: which one an answer is for is unknown (CPA drops both)
        for call in batch:
            if call.id not in shared:
                calls.names[call.id] = call.name
                msg.content.append(call)
    fc = m.get("function_call")
    if fc is not None:
        msg.content.append(_legacy_call(fc, f"{where}.function_call", calls))
    images = m.get("images")
    if images:
        msg.content.extend(_gemini_images(images))
    return msg


def _gemini_images(images: Any) -> list[ir.Block]:
    """The Gemini parts of an assistant message's ``images`` (see the module docstring);
    an item that is no data URL has none (``images`` is no official field: what it holds
    is not refused)."""
    out: list[ir.Block] = []
    for item in images if type(images) is list else ():
        iu = item.get("image_url") if type(item) is dict else None
        url = iu.get("url") if type(iu) is dict else iu
        split = split_data_url(url) if type(url) is str else None
        if split is None:
            continue
        extra = item.get("extra_content")
        google = extra.get("google") if type(extra) is dict else None
        sig = google.get("thought_signature") if type(google) is dict else None
        part: dict[str, Any] = {"inlineData": {"mimeType": split[0], "data": split[1]}}
        if type(sig) is str and sig:
            part["thoughtSignature"] = sig  # (the request's sanitizer keeps only Gemini's own)
        out.append(ir.ServerTool("gemini", part))
    return out


def _str_field(obj: dict[str, Any], key: str, where: str) -> str:
    v = obj.get(key)
    if not isinstance(v, str):
        raise RequestError(f"{where}.{key}: expected a string", param=f"{where}.{key}")
    return v


def _tool_call(tc: Any, where: str, missing_id: str) -> ir.ToolCall:
    if not isinstance(tc, dict):
        raise RequestError(f"{where}: expected an object", param=where)
    call_id = tc.get("id")
    if call_id is None or call_id == "":
        call_id = missing_id
    elif not isinstance(call_id, str):
        raise RequestError(f"{where}.id: expected a string", param=f"{where}.id")
    ttype = tc.get("type")
    extras: dict[str, Any] = {k: v for k, v in tc.items() if k not in ("id", "type", "function", "custom")}
    if ttype is None:
        extras["_no_type"] = True
        ttype = "function"
    if ttype == "function":
        fn = tc.get("function")
        if not isinstance(fn, dict):
            raise RequestError(f"{where}.function: expected an object", param=f"{where}.function")
        name = _str_field(fn, "name", f"{where}.function")
        args = fn.get("arguments", "")
        if not isinstance(args, str):
            raise RequestError(
                f"{where}.function.arguments: expected a JSON string", param=f"{where}.function.arguments"
            )
        rest = {k: v for k, v in fn.items() if k not in ("name", "arguments")}
        if "arguments" not in fn:
            rest["_no_args"] = True
        if rest:
            extras["_fn"] = rest
        sig = chat_call_signature(tc)  # a Gemini thought signature the client carried (CPA's paths)
        family = "gemini" if sig else None
        return ir.ToolCall(call_id, name, args, signature=sig, family=family, extras=extras or None)
    if ttype == "custom":
        cu = tc.get("custom")
        if not isinstance(cu, dict):
            raise RequestError(f"{where}.custom: expected an object", param=f"{where}.custom")
        name = _str_field(cu, "name", f"{where}.custom")
        text = cu.get("input", "")
        if not isinstance(text, str):
            raise RequestError(f"{where}.custom.input: expected a string", param=f"{where}.custom.input")
        return ir.ToolCall(call_id, name, text, kind="custom", extras=extras or None)
    raise RequestError(f"{where}.type: unknown tool call type {ttype!r}", param=f"{where}.type")


def _legacy_call(fc: Any, where: str, calls: _Calls) -> ir.ToolCall:
    if not isinstance(fc, dict):
        raise RequestError(f"{where}: expected an object", param=where)
    name = _str_field(fc, "name", where)
    args = fc.get("arguments", "")
    if not isinstance(args, str):
        raise RequestError(f"{where}.arguments: expected a JSON string", param=f"{where}.arguments")
    call_id = f"call_fn_{len(calls.names)}"
    calls.names[call_id] = name
    calls.legacy.setdefault(name, []).append(call_id)
    return ir.ToolCall(call_id, name, args, extras={"_legacy": True})


def _result_content(m: dict[str, Any], where: str, result: ir.ToolResult, calls: _Calls) -> None:
    holder = ir.Message("tool")
    _content(m, where, holder, calls)
    result.content = holder.content
    result.extras = holder.extras


def _tool(m: dict[str, Any], where: str, calls: _Calls) -> ir.Message | None:
    """A tool message, repaired as CPA repairs a history: one with no ``tool_call_id``
    answers the latest turn's next unanswered call; one that answers no call of the
    history (its call trimmed away), a call already answered, or a call whose id two calls
    shared is dropped (None): an upstream refuses those."""
    call_id = m.get("tool_call_id")
    if call_id is None or call_id == "":
        if not calls.pending:
            return None
        call_id = calls.pending[0]
    elif not isinstance(call_id, str):
        raise RequestError(f"{where}.tool_call_id: expected a string", param=f"{where}.tool_call_id")
    if call_id in calls.pending:
        calls.pending.remove(call_id)
        calls.answered.add(call_id)
    elif call_id in calls.answered or call_id in calls.ambiguous or call_id not in calls.names:
        return None
    result = ir.ToolResult(call_id, name=calls.names[call_id])
    _result_content(m, where, result, calls)
    return ir.Message("tool", [result])


def _function(m: dict[str, Any], where: str, calls: _Calls) -> ir.Message:
    name = _str_field(m, "name", where)
    waiting = calls.legacy.get(name)
    if not waiting:
        raise RequestError(
            f"{where}.name: no earlier assistant function_call named {name!r}", param=f"{where}.name"
        )
    result = ir.ToolResult(waiting.pop(0), name=name)
    _result_content(m, where, result, calls)
    return ir.Message("tool", [result], extras={"_legacy": True})


_PARSERS = {
    "system": _plain,
    "developer": _plain,
    "user": _plain,
    "assistant": _assistant,
    "tool": _tool,
    "function": _function,
}
