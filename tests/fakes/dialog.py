"""What the fake model answers, decided from a provider-neutral view of the request.

Rules (same for every API):
- the last message is a tool result -> text "Tool result received: <output>";
- the last user text holds ``FAKE_TOOLS2`` -> two parallel calls of the chosen tool;
- it holds ``FAKE_TOOL`` (or ``FAKE_TOOL=<name>``) -> one call of the chosen tool;
- otherwise -> "Hello from fake-<kind> (model <model>)".
The chosen tool is ``<name>`` when given and declared, else the first shell-like tool
(bash, shell, exec_command, ...), else the first declared tool. Arguments fill the
schema's first required string property with ``echo FAKE_TOOL_OK`` (an array of strings
gets ``["bash", "-lc", ...]``), else ``{"command": "echo FAKE_TOOL_OK"}``.
Thinking is added when the request asked for it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

__all__ = ["THINKING", "Reply", "Tool", "ToolCall", "Turn", "decide", "estimate_tokens", "new_id"]

THINKING = "Let me think about this briefly."
SHELL_NAMES = ("bash", "shell", "exec_command", "run_shell_command", "local_shell", "terminal")
_TOOL_NAME = re.compile(r"FAKE_TOOLS?2?=([A-Za-z0-9_.\-]+)")


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    schema: dict[str, Any]


@dataclass(slots=True)
class ToolCall:
    name: str
    arguments: dict[str, Any]
    call_id: str

    @property
    def arguments_json(self) -> str:
        return orjson.dumps(self.arguments).decode()


@dataclass(slots=True)
class Turn:
    """The parts of a request that decide the answer."""

    model: str
    last_user_text: str = ""
    tool_output: str | None = None
    tools: list[Tool] = field(default_factory=list)
    thinking: bool = False


@dataclass(slots=True)
class Reply:
    text: str
    thinking: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


def decide(kind: str, turn: Turn, text: str | None = None, call_prefix: str = "call_") -> Reply:
    """The deterministic answer to ``turn``; ``text`` overrides the reply text."""
    thinking = THINKING if turn.thinking else None
    if turn.tool_output is not None:
        return Reply(text or f"Tool result received: {turn.tool_output}", thinking)
    prompt = turn.last_user_text
    tool = _choose_tool(turn.tools, prompt) if "FAKE_TOOL" in prompt else None
    if tool is None:
        return Reply(text or f"Hello from fake-{kind} (model {turn.model})", thinking)
    count = 2 if "FAKE_TOOLS2" in prompt else 1
    calls = [
        ToolCall(tool.name, _arguments(tool.schema, i if count > 1 else None), new_id(call_prefix))
        for i in range(1, count + 1)
    ]
    return Reply(text or "", thinking, calls)


def _choose_tool(tools: list[Tool], prompt: str) -> Tool | None:
    if not tools:
        return None
    named = _TOOL_NAME.search(prompt)
    if named:
        for tool in tools:
            if tool.name == named.group(1):
                return tool
    for tool in tools:
        if tool.name.lower() in SHELL_NAMES:
            return tool
    return tools[0]


def _arguments(schema: dict[str, Any], index: int | None) -> dict[str, Any]:
    command = "echo FAKE_TOOL_OK" if index is None else f"echo FAKE_TOOL_OK_{index}"
    props = schema.get("properties") or {}
    for name in schema.get("required") or ():
        kind = _type_of(props.get(name) or {})
        if kind == "string":
            return {name: command}
        if kind == "array" and _type_of((props.get(name) or {}).get("items") or {}) == "string":
            return {name: ["bash", "-lc", command]}
    return {"command": command}


def _type_of(prop: dict[str, Any]) -> str:
    kind = prop.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    return str(kind or "").lower()


def estimate_tokens(*parts: Any) -> int:
    """A stable, cheap token count: 1 per 4 bytes of the JSON of ``parts``, at least 1."""
    size = sum(len(orjson.dumps(p)) for p in parts if p is not None)
    return max(1, size // 4)


def new_id(prefix: str) -> str:
    return prefix + uuid.uuid4().hex[:24]


def text_of(content: Any, kinds: tuple[str, ...] = ("text", "input_text", "output_text")) -> str:
    """Text of a string or of a list of typed parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") in kinds
        )
    return "" if content is None else orjson.dumps(content).decode()
