"""A Chat Completions client's tool loop, shared by the reasoning-replay and thinking tests:
turn 1 asks for a tool (the fakes answer ``FAKE_TOOL=bash`` with a call), turn 2 sends back
what the SDK's own types model (content and tool calls, no reasoning, no signature) and the
tool's result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import openai

from tests.e2e.clients import TOOL_SCHEMA

PROMPT = "FAKE_TOOL=bash run it"
CHAT_TOOLS = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]

ChatTurn = Callable[..., Awaitable[Any]]


def chat_turns(model: str) -> ChatTurn:
    """``chat_turn(client, messages, stream, **extra)`` for ``model``: one turn with the bash
    tool and effort ``high``, whole or streamed (the SDK's final completion)."""

    async def chat_turn(client: openai.AsyncOpenAI, messages: list[Any], stream: bool, **extra: Any) -> Any:
        kwargs: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "tools": CHAT_TOOLS,
            "reasoning_effort": "high",
            **extra,
        }
        if not stream:
            return await client.chat.completions.create(**kwargs)
        async with client.chat.completions.stream(**kwargs) as s:
            return await s.get_final_completion()

    return chat_turn


def chat_second_turn(first: Any) -> list[Any]:
    """Turn 2 of the loop after ``first``: the prompt, the assistant's content and tool
    calls, and the tool's result for the first call."""
    msg = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls" and msg.tool_calls
    return [
        {"role": "user", "content": PROMPT},
        {
            "role": "assistant",
            "content": msg.content,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function.name, "arguments": c.function.arguments},
                }
                for c in msg.tool_calls
            ],
        },
        {"role": "tool", "tool_call_id": msg.tool_calls[0].id, "content": "FAKE_TOOL_OK"},
    ]


def kinds(items: list[dict[str, Any]]) -> list[str]:
    """The ``type`` of each Responses input item (a message has none)."""
    return [str(i.get("type", "message")) for i in items]
