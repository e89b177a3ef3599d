"""Gemini generateContent request -> IR.

Normalisations (the round trip is exact otherwise): snake_case keys are read and
written back in camelCase; ``systemInstruction`` given as a bare string comes back as
``{"parts": [{"text": ...}]}``.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from cliproxy.errors import RequestError
from cliproxy.translate import ir
from cliproxy.translate.gemini.config import read_generation_config, read_tool_config
from cliproxy.translate.gemini.parts import (
    gateway_id,
    read_call,
    read_media,
    read_text,
    read_thought_only,
    response_blocks,
    server_tool,
)
from cliproxy.translate.gemini.tools import read_tools
from cliproxy.translate.gemini.wire import as_dict, as_list, camel, take

__all__ = ["parse_request"]

_ROLES = {"user": "user", "model": "assistant", "function": "user", "tool": "user"}


class _Calls:
    """Function calls seen so far: ids we made up, and who still waits for a result."""

    __slots__ = ("by_id", "count", "waiting")

    def __init__(self) -> None:
        self.count = 0
        self.by_id: dict[str, ir.ToolCall] = {}
        self.waiting: dict[str, deque[ir.ToolCall]] = {}

    def synth_id(self, name: str) -> str:
        sid = f"{name}-{self.count}"
        self.count += 1
        return sid

    def add(self, call: ir.ToolCall) -> None:
        self.by_id[call.id] = call
        self.waiting.setdefault(call.name, deque()).append(call)

    def answer(self, call_id: Any, name: str) -> str:
        """The id of the call a functionResponse answers: its own id (a call with that id
        leaves the queue), else the oldest unanswered call of that name, else (an orphan
        response, which CPA forwards) an id made from its position, the same every time."""
        if isinstance(call_id, str) and call_id:
            call = self.by_id.get(call_id)
            if call is not None and not (call.extras or {}).get("_synth_id"):
                queue = self.waiting.get(call.name)
                if queue and call in queue:
                    queue.remove(call)
            return call_id
        queue = self.waiting.get(name)
        if not queue:
            return self.synth_id(f"response-{name}")
        return queue.popleft().id


def _read_result(part: dict[str, Any], where: str, calls: _Calls) -> ir.ToolResult:
    rest = dict(part)
    fr = dict(as_dict(take(rest, "functionResponse"), f"{where}.functionResponse"))
    name = take(fr, "name")
    if not isinstance(name, str):
        raise RequestError(f"{where}.functionResponse.name: expected a string", param=where)
    call_id = take(fr, "id")
    answered = calls.answer(call_id if call_id else gateway_id(fr), name)
    response = take(fr, "response")
    content, is_error = response_blocks(response if response is not None else {})
    media = fr.get("parts")  # Gemini 3's media of a function response (kept in _inner for Gemini)
    if isinstance(media, list) and media:
        content += _result_media(media, f"{where}.functionResponse.parts")
    if response is None:
        rest["_no_response"] = True
    if call_id is not None:
        rest["_has_id"] = True
    if fr:
        rest["_inner"] = fr
    return ir.ToolResult(call_id=answered, content=content, name=name, is_error=is_error, extras=rest or None)


def _result_media(parts: list[Any], where: str) -> list[ir.Block]:
    """The images and files of ``functionResponse.parts``, as the result's own blocks (other
    formats put them in the tool result, or next to it); anything else there is left out."""
    out: list[ir.Block] = []
    for i, part in enumerate(parts):
        if isinstance(part, dict):
            for key in ("inlineData", "fileData"):
                if key in part or _snake(key) in part:
                    out.append(read_media(part, key, f"{where}[{i}]"))
                    break
    return out


def _read_part(part: Any, where: str, calls: _Calls) -> ir.Block:
    part = as_dict(part, where)
    if None in part.values():  # protobuf JSON, which the API reads: a null member is unset
        part = {k: v for k, v in part.items() if v is not None}
    if "text" in part:
        return read_text(part, where)
    if "functionCall" in part or "function_call" in part:
        fc = part.get("functionCall", part.get("function_call"))
        name = fc.get("name") if isinstance(fc, dict) else None
        call = read_call(part, where, calls.synth_id(name if isinstance(name, str) else "call"))
        calls.add(call)
        return call
    if "functionResponse" in part or "function_response" in part:
        return _read_result(part, where, calls)
    for key in ("inlineData", "fileData"):
        if key in part or _snake(key) in part:
            return read_media(part, key, where)
    if part.get("thought") is True:
        return read_thought_only(part)
    return server_tool(part)  # executableCode, codeExecutionResult and parts we do not know


def _snake(key: str) -> str:
    return "inline_data" if key == "inlineData" else "file_data"


def _read_content(content: Any, where: str, calls: _Calls) -> ir.Message:
    rest = dict(as_dict(content, where))
    role_raw = rest.pop("role", None)
    if role_raw in ("user", "model") and len(rest) == 1 and isinstance(parts := rest.get("parts"), list):
        blocks = [_read_part(p, f"{where}.parts[{i}]", calls) for i, p in enumerate(parts)]
        return ir.Message(role=_ROLES[role_raw], content=blocks)  # type: ignore[arg-type]
    role = _ROLES.get(role_raw or "user")
    if role is None:
        raise RequestError(f"{where}.role: unknown role {role_raw!r}", param=f"{where}.role")
    if role_raw not in ("user", "model"):
        rest["_role"] = role_raw
    parts = as_list(take(rest, "parts", []), f"{where}.parts")
    blocks = [_read_part(p, f"{where}.parts[{i}]", calls) for i, p in enumerate(parts)]
    return ir.Message(role=role, content=blocks, extras=rest or None)  # type: ignore[arg-type]


def _read_system(si: Any, calls: _Calls) -> ir.Message:
    if isinstance(si, str):
        return ir.Message(role="system", content=[ir.Text(si)])
    rest = dict(as_dict(si, "systemInstruction"))
    role = rest.pop("role", None)
    msg = _read_content(rest, "systemInstruction", calls)
    extras = msg.extras or {}
    extras.pop("_role", None)
    if role is not None:
        extras["_si_role"] = role
    return ir.Message(role="system", content=msg.content, extras=extras or None)


def parse_request(body: dict[str, Any]) -> ir.Request:
    rest = dict(as_dict(body, "body"))
    model = rest.pop("model", None)
    req = ir.Request(model=model if isinstance(model, str) else "", source="gemini")
    if model is not None:
        req.extras["_model_in_body"] = model
    calls = _Calls()
    si = take(rest, "systemInstruction")
    if si is not None:
        req.messages.append(_read_system(si, calls))
    contents = as_list(take(rest, "contents", []), "contents")
    req.messages.extend(_read_content(c, f"contents[{i}]", calls) for i, c in enumerate(contents))
    tools = take(rest, "tools")
    if tools is not None:
        req.tools = read_tools(as_list(tools, "tools"))
    tool_config = take(rest, "toolConfig")
    if tool_config is not None:
        read_tool_config(as_dict(tool_config, "toolConfig"), req)
    gen = take(rest, "generationConfig")
    if gen is not None:
        read_generation_config(as_dict(gen, "generationConfig"), req)
    for key, value in rest.items():
        req.extras[camel(key)] = value  # safetySettings, cachedContent, labels, unknown keys
    return req
