"""Responses request body -> IR.

``input`` items become IR messages: user/system/developer messages one each;
consecutive assistant-side items (reasoning, assistant messages, function / custom
calls, provider items such as ``web_search_call``) merge into one assistant message;
each tool output becomes a ``tool`` message. Item keys the IR has no field for stay in
``extras`` (message items: on the message; assistant message items: on their first
block as ``extras["_item"]``), so building the same format gives the body back.

Documented normalisations of the round trip: optional keys given as ``null`` are
dropped (except reasoning ``content``), and an assistant message item with an empty
content list is dropped.
"""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.carriers import (
    GEMINI_CARRIER_PREFIX,
    bind_call_carriers,
    carried_anchor,
    carried_part,
    carried_signature,
    is_call_carrier,
)
from cliproxy.translate.naming import flat_name
from cliproxy.translate.openai_responses.parts import parse_part, parse_parts
from cliproxy.translate.openai_responses.tools import parse_tool_choice, parse_tools
from cliproxy.translate.openai_responses.unmarked import unmarked_anchors

__all__ = ["parse_item", "parse_request"]

_ROLES = frozenset({"user", "assistant", "system", "developer"})
_OUTPUT_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})
# top-level keys consumed into IR fields; everything else goes to Request.extras
_CONSUMED = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "temperature",
        "top_p",
        "reasoning",
        "text",
        "stream",
        "user",
        "metadata",
    }
)


def parse_request(body: dict[str, Any], source: str) -> ir.Request:
    if not isinstance(body, dict):
        raise RequestError("request body must be a JSON object")
    model = body.get("model")
    if not isinstance(model, str):
        raise RequestError("model: expected a string", param="model")
    req = ir.Request(model)
    req.source = source
    ex = req.extras
    for k, v in body.items():
        if k not in _CONSUMED:
            ex[k] = v
    # scalars: a value of the plain type is taken as it is; any other goes through _num's checks
    v = body.get("max_output_tokens")
    if v is not None:
        req.max_tokens = v if type(v) is int else _num(body, "max_output_tokens", int)
    v = body.get("temperature")
    if v is not None:
        req.temperature = v if type(v) is float or type(v) is int else _num(body, "temperature", (int, float))
    v = body.get("top_p")
    if v is not None:
        req.top_p = v if type(v) is float or type(v) is int else _num(body, "top_p", (int, float))
    ptc = body.get("parallel_tool_calls")
    if ptc is not None and not isinstance(ptc, bool):
        raise RequestError("parallel_tool_calls: expected a boolean", param="parallel_tool_calls")
    req.parallel_tool_calls = ptc
    if "stream" in body:
        req.stream = bool(body["stream"])
    else:
        req.extras["_no_stream"] = True
    user = body.get("user")
    if user is not None and not isinstance(user, str):
        raise RequestError("user: expected a string", param="user")
    req.user = user
    meta = body.get("metadata")
    if meta is not None and not isinstance(meta, dict):
        raise RequestError("metadata: expected an object", param="metadata")
    req.metadata = meta
    instructions = body.get("instructions")
    if instructions is not None:
        if not isinstance(instructions, str):
            raise RequestError("instructions: expected a string", param="instructions")
        req.messages.append(ir.Message("system", [ir.Text(instructions)], None, {"_instructions": True}))
    inp = body.get("input")
    if type(inp) is str:  # a plain text input (the common one), read here
        ex["_input_str"] = True
        req.messages.append(ir.Message("user", [ir.Text(inp)], None, {"_str": True}))
    else:
        req.messages.extend(_parse_input(inp, "previous_response_id" in body, ex))
    # a null ``tools`` or ``tool_choice`` is read as absent, as OpenAI and CPA read it
    if (tools := body.get("tools")) is not None:
        req.tools = parse_tools(tools)
    if "_additional_tools" in ex:
        if tools is None:
            ex["_no_tools"] = True  # a Responses upstream gets no top-level tools key
        req.tools = merge_additional_tools(req.tools, ex.pop("_additional_tools"))
    if (choice := body.get("tool_choice")) is not None:
        req.tool_choice = parse_tool_choice(choice, ex)
    if body.get("reasoning") is not None:
        _parse_reasoning(body, req)
    if body.get("text") is not None:
        _parse_text(body, req)
    return req


def _num(body: dict[str, Any], key: str, kind: type | tuple[type, ...]) -> Any:
    v = body.get(key)
    if v is not None and (not isinstance(v, kind) or isinstance(v, bool)):
        raise RequestError(f"{key}: expected a number", param=key)
    return v


def _parse_reasoning(body: dict[str, Any], req: ir.Request) -> None:
    r = body.get("reasoning")
    if r is None:
        return
    if not isinstance(r, dict):
        raise RequestError("reasoning: expected an object", param="reasoning")
    req.reasoning = {k: r[k] for k in ("effort", "summary") if r.get(k) is not None}
    for key, value in req.reasoning.items():
        if not isinstance(value, str):
            raise RequestError(f"reasoning.{key}: expected a string", param=f"reasoning.{key}")
    if "summary" not in req.reasoning:  # null, or the deprecated name (CPA reads both)
        old = r["summary"] if "summary" in r else r.get("generate_summary", False)
        if old is None or isinstance(old, str):
            req.reasoning["summary"] = "none" if old is None else old
    rest = {k: v for k, v in r.items() if k not in req.reasoning}
    if "summary" in req.reasoning:  # the upstream gets ``summary`` only (build)
        rest.pop("generate_summary", None)
    if rest:
        req.extras["_reasoning"] = rest


def _parse_text(body: dict[str, Any], req: ir.Request) -> None:
    t = body.get("text")
    if t is None:
        return
    if not isinstance(t, dict):
        raise RequestError("text: expected an object", param="text")
    fmt = t.get("format")
    if fmt is not None:
        if not isinstance(fmt, dict) or not isinstance(fmt.get("type"), str):
            raise RequestError("text.format: expected an object with a type", param="text.format")
        req.response_format = fmt
    req.extras["_text"] = {k: v for k, v in t.items() if k != "format"}


# --------------------------------------------------------------------------- input


def _parse_input(inp: Any, orphan_ok: bool, extras: dict[str, Any]) -> list[ir.Message]:
    if inp is None:
        extras["_no_input"] = True
        return []
    if isinstance(inp, str):
        extras["_input_str"] = True
        return [ir.Message("user", [ir.Text(inp)], extras={"_str": True})]
    if not isinstance(inp, list):
        raise RequestError("input: expected a string or a list of items", param="input")
    out: list[ir.Message] = []
    calls: dict[str, str] = {}  # call_id -> name
    assistant: ir.Message | None = None
    unmarked: dict[int, ir.Thinking] = {}  # input index -> its bare Gemini signature's block
    for i, item in enumerate(inp):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise RequestError(f"{where}: expected an object", param=where)
        itype = item.get("type", "message")
        if itype == "additional_tools":
            _additional_tools(item, where, i, extras)
            continue
        if itype == "message" and item.get("role") != "assistant":
            assistant = None
            out.append(_parse_message(item, where))
        elif itype in _OUTPUT_TYPES:
            assistant = None
            out.append(ir.Message("tool", [_parse_output(item, where, calls, orphan_ok)]))
        else:
            if assistant is None:
                assistant = ir.Message("assistant")
                out.append(assistant)
            blocks = parse_item(item, where)
            for b in blocks:
                if isinstance(b, ir.ToolCall):
                    calls[b.id] = b.name
                elif (
                    type(b) is ir.Thinking
                    and b.family == "gemini"
                    and b.anchor is None
                    and b.signature
                    and not str(item.get("encrypted_content")).startswith(GEMINI_CARRIER_PREFIX)
                ):
                    unmarked[i] = b
            assistant.content.extend(blocks)
    if unmarked:  # bare Gemini signatures: the part each belongs to, as CPA infers it
        for i, anchor in unmarked_anchors(inp, set(unmarked)).items():
            unmarked[i].anchor = anchor
    bind_call_carriers(out)
    return out


def _additional_tools(item: dict[str, Any], where: str, index: int, extras: dict[str, Any]) -> None:
    """A Responses Lite ``additional_tools`` input item: its tools join the request's
    (see ``merge_additional_tools``); the item itself is kept, with its position, for a
    Responses upstream (``extras["_additional_items"]``)."""
    tools = item.get("tools")
    if not isinstance(tools, list):
        raise RequestError(f"{where}.tools: expected a list", param=f"{where}.tools")
    parsed = parse_tools(tools)
    for t in parsed:
        t.extras = {**(t.extras or {}), "_additional": True}
    extras.setdefault("_additional_tools", []).extend(parsed)
    extras.setdefault("_additional_items", []).append([index, item])


def merge_additional_tools(top: list[ir.Tool] | None, extra: list[ir.Tool]) -> list[ir.Tool]:
    """Top-level tools then ``additional_tools`` ones, one tool per qualified name:
    top-level beats additional_tools, and a direct tool beats a namespace child (CPA's
    ``CollectResponsesToolWinners``). Top-level tools are all kept."""
    out = list(top or ())
    seen = {flat_name(t.name, t.namespace): t for t in out if t.kind != "builtin"}
    winners: dict[str, ir.Tool] = {}
    for t in extra:
        if t.kind == "builtin":
            continue
        key = flat_name(t.name, t.namespace)
        if key in seen:
            continue
        held = winners.get(key)
        if held is None or (held.namespace is not None and t.namespace is None):
            winners[key] = t
    keep = {id(t) for t in winners.values()}
    out.extend(t for t in extra if id(t) in keep or t.kind == "builtin")
    return out


def _parse_message(item: dict[str, Any], where: str) -> ir.Message:
    role = item.get("role")
    if role not in _ROLES:
        raise RequestError(f"{where}.role: unknown role {role!r}", param=f"{where}.role")
    rest = {k: v for k, v in item.items() if k not in ("role", "content")}
    content = item.get("content")
    if isinstance(content, str):
        rest["_str"] = True
        blocks: list[ir.Block] = [ir.Text(content)]
    else:
        blocks = parse_parts(content, f"{where}.content")
    return ir.Message(role, blocks, extras=rest or None)


def parse_item(item: dict[str, Any], where: str) -> list[ir.Block]:
    """IR blocks for one assistant-side item (also used for response ``output``)."""
    itype = item.get("type", "message")
    if itype == "message":
        return _parse_assistant_message(item, where)
    if itype == "reasoning":
        return [_parse_reasoning_item(item, where)]
    if itype == "function_call":
        return [_parse_call(item, where, "arguments", "function")]
    if itype == "custom_tool_call":
        return [_parse_call(item, where, "input", "custom")]
    if not isinstance(itype, str):
        raise RequestError(f"{where}.type: expected a string", param=f"{where}.type")
    return [ir.ServerTool("openai", item)]


def _parse_assistant_message(item: dict[str, Any], where: str) -> list[ir.Block]:
    head = {k: v for k, v in item.items() if k not in ("role", "content")}
    content = item.get("content")
    if isinstance(content, str):
        head["_str"] = True
        blocks: list[ir.Block] = [ir.Text(content)]
    else:
        # a part kind the IR cannot say rides as an empty text holding the raw part
        blocks = [
            ir.Text("", extras={"_raw_part": b.raw}) if isinstance(b, ir.ServerTool) else b
            for b in parse_parts(content, f"{where}.content", "output_text")
        ]
    if blocks:
        first = blocks[0]
        first.extras = {**(first.extras or {}), "_item": head}  # type: ignore[union-attr]
    return blocks


def _parse_reasoning_item(item: dict[str, Any], where: str) -> ir.Thinking | ir.ServerTool:
    if not item.get("summary") and (part := carried_part(item.get("encrypted_content"))) is not None:
        return ir.ServerTool("gemini", part)  # a signed Gemini image the proxy handed the client
    summary = item.get("summary") or []
    if not isinstance(summary, list):
        raise RequestError(f"{where}.summary: expected a list", param=f"{where}.summary")
    texts = [s.get("text", "") if isinstance(s, dict) else "" for s in summary]
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise RequestError(
                f"{where}.summary[{i}].text: expected a string", param=f"{where}.summary[{i}].text"
            )
    content = item.get("content")
    if isinstance(content, list) and content:
        parts: list[str] = []
        for i, c in enumerate(content):
            piece = c.get("text", "") if isinstance(c, dict) else ""
            if not isinstance(piece, str):
                raise RequestError(
                    f"{where}.content[{i}].text: expected a string", param=f"{where}.content[{i}].text"
                )
            parts.append(piece)
        text = "".join(parts)
    else:
        text = "\n\n".join(texts)
    rest = {k: v for k, v in item.items() if k not in ("id", "summary", "encrypted_content")}
    if "summary" not in item:
        rest["_no_summary"] = True
    sig, family, redacted = carried_signature(item.get("encrypted_content"))
    if is_call_carrier(item.get("encrypted_content")) and not text:
        rest["_call_carrier"] = True  # a Gemini function-call signature (bind_call_carriers)
    return ir.Thinking(
        text=text,
        signature=sig,
        family=family,
        redacted=redacted,
        summary=texts,
        id=item.get("id"),
        extras=rest,
        anchor=carried_anchor(item.get("encrypted_content")) if family == "gemini" else None,
    )


def _parse_call(item: dict[str, Any], where: str, args_key: str, kind: str) -> ir.ToolCall:
    call_id, name, args = item.get("call_id"), item.get("name"), item.get(args_key, "")
    if not isinstance(call_id, str) or not call_id:
        raise RequestError(f"{where}.call_id: expected a string", param=f"{where}.call_id")
    if not isinstance(name, str):
        raise RequestError(f"{where}.name: expected a string", param=f"{where}.name")
    if not isinstance(args, str):
        raise RequestError(f"{where}.{args_key}: expected a string", param=f"{where}.{args_key}")
    rest = {k: v for k, v in item.items() if k not in ("call_id", "name", args_key, "namespace")}
    return ir.ToolCall(
        call_id,
        name,
        args,
        kind=kind,  # type: ignore[arg-type]
        namespace=item.get("namespace"),
        extras=rest,
    )


def _parse_output(item: dict[str, Any], where: str, calls: dict[str, str], orphan_ok: bool) -> ir.ToolResult:
    call_id = item.get("call_id")
    if not isinstance(call_id, str) or not call_id:
        raise RequestError(f"{where}.call_id: expected a string", param=f"{where}.call_id")
    if call_id not in calls and not orphan_ok:
        raise RequestError(
            f"{where}.call_id: no earlier tool call has call_id {call_id!r}", param=f"{where}.call_id"
        )
    rest = {k: v for k, v in item.items() if k not in ("call_id", "output")}
    output = item.get("output", "")
    if isinstance(output, str):
        rest["_str"] = True
        content: list[ir.Block] = [ir.Text(output)]
    elif isinstance(output, list) and not all(isinstance(p, dict) and "type" in p for p in output):
        # structured JSON (objects without a part type, as some clients send a tool's result):
        # forwarded as its JSON text, as CPA forwards it (issue #5039), not refused; beside
        # typed parts, each such object as a text part of its own
        typed = [isinstance(p, dict) and "type" in p for p in output]
        if not any(typed):
            rest["_str"] = True
            content = [ir.Text(orjson.dumps(output).decode())]
        else:
            content = [
                parse_part(p, f"{where}.output[{i}]") if t else ir.Text(orjson.dumps(p).decode())
                for i, (p, t) in enumerate(zip(output, typed, strict=True))
            ]
    else:
        content = parse_parts(output, f"{where}.output")
    # a failed tool run travels as status "incomplete" (Responses has no is_error flag)
    return ir.ToolResult(
        call_id, content, name=calls.get(call_id), is_error=item.get("status") == "incomplete", extras=rest
    )
