"""Real clients' request bodies (tests/translate/data captures), by client format.

``claude_code_large()`` grows the captured Claude Code request to the size of a real
session's body (~99 KB: long tool descriptions, a 9 KB environment block, a few
dozen turns), the shape a validator must get through in microseconds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

from cliproxy.formats import Format

DATA = Path(__file__).resolve().parent.parent / "translate" / "data"

CAPTURES: dict[str, Format] = {
    "claude/claude_code_2.1.330_messages.json": Format.CLAUDE,
    "claude/claude_code_2.1.330_count_tokens.json": Format.CLAUDE,
    "claude/opencode_1.18.33_messages.json": Format.CLAUDE,
    "captures/openai__codex_0.57_chat.json": Format.OPENAI,
    "captures/openai__opencode_1.18.33_chat.json": Format.OPENAI,
    "captures/openai__opencode_1.18.33_title.json": Format.OPENAI,
    "captures/openai-response__opencode_1.18.33.json": Format.RESPONSES,
    "openai_responses/codex_cli_0169_request.json": Format.RESPONSES,
    "gemini/gemini_cli_tool_turn.json": Format.GEMINI,
    "gemini/opencode_google_tool_turn.json": Format.GEMINI,
}


def load(name: str) -> dict[str, Any]:
    return orjson.loads((DATA / name).read_bytes())


def claude_code_large(target: int = 99_000) -> dict[str, Any]:
    """The captured Claude Code request grown to about ``target`` bytes."""
    body = load("claude/claude_code_2.1.330_messages.json")
    tools = []
    for path in sorted((DATA / "tool_schemas").glob("claude_code__*.json")):
        name = path.stem.split("__", 1)[1]
        tools.append(
            {
                "name": name,
                "description": f"{name}: " + "Use this tool carefully. " * 120,
                "input_schema": orjson.loads(path.read_bytes()),
            }
        )
    body["tools"] = tools
    body["messages"][1]["content"] = "# Environment\n" + " - a line of environment context\n" * 290
    turn = copy.deepcopy(body["messages"][3:5])  # an assistant tool call and its result
    while len(orjson.dumps(body)) < target:
        body["messages"].extend(copy.deepcopy(turn))
    return body
