"""CPA internal/runtime/executor/helps/token_helpers.go (``TokenizerForModel``,
``CountOpenAIChatTokens``), used by the OpenAI-compatible executor's CountTokens. CPA has
no Go test for these two; the cases follow its source, one per counted field."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import tokens
from cliproxy.translate.token_segments import chat_segments


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("", tokens.CL100K),
        ("  ", tokens.CL100K),
        ("gpt-5", tokens.O200K),
        ("gpt-5.1-mini", tokens.O200K),
        ("gpt-4.1", tokens.O200K),
        ("GPT-4o-mini", tokens.O200K),
        ("gpt-4", tokens.CL100K),
        ("gpt-4-0613", tokens.CL100K),
        ("gpt-3.5-turbo", tokens.CL100K),
        ("o1-preview", tokens.O200K),
        ("o3", tokens.O200K),
        ("o4-mini", tokens.O200K),
        ("deepseek-chat", tokens.O200K),
        ("qwen3-coder", tokens.O200K),
    ],
)
def test_tokenizer_for_model(model: str, encoding: str) -> None:
    """TokenizerForModel: cl100k for an empty id, gpt-4 and gpt-3.x; o200k for gpt-4o,
    gpt-4.1, gpt-5, the o-series and every other model (third-party ones included)."""
    assert tokens.encoding_for_model(model) == encoding


def test_counted_fields_in_order() -> None:
    """CountOpenAIChatTokens: per message role, name, content parts (text, image URL,
    audio id), tool calls (id, type, name, arguments); then tools, functions, tool
    choice, response format; sampling settings are not counted."""
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "temperature": 0.2,
        "max_tokens": 100,
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "name": "ann",
                "content": [
                    {"type": "text", "text": "What is here?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/a.png", "detail": "low"}},
                    {"type": "input_audio", "id": "aud_1", "input_audio": {"data": "ignored"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "look", "arguments": '{"q":"a"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "found"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "look", "description": "Look it up", "parameters": {"type": "object"}},
            }
        ],
        "tool_choice": "auto",
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "r", "schema": {"type": "object"}},
        },
    }
    assert chat_segments(body) == [
        "system",
        "Be brief.",
        "user",
        "ann",
        "What is here?",
        "https://x.test/a.png",
        "aud_1",
        "assistant",
        "call_1",
        "function",
        "look",
        '{"q":"a"}',
        "tool",
        "found",
        "function",
        "look",
        "Look it up",
        '{"type":"object"}',
        "auto",
        "json_schema",
        '{"name":"r","schema":{"type":"object"}}',
    ]


def test_object_tool_choice_and_legacy_functions() -> None:
    """CountOpenAIChatTokens: an object tool choice counts as JSON; legacy ``functions``
    and ``function_call`` count their name, description, parameters and arguments; a bare
    ``prompt`` counts too."""
    body = {
        "messages": [{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}],
        "functions": [{"name": "f", "description": "d", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "prompt": "p",
    }
    assert chat_segments(body) == [
        "assistant",
        "f",
        "{}",
        "f",
        "d",
        '{"type":"object"}',
        '{"type":"function","function":{"name":"f"}}',
        "p",
    ]


def test_count_is_the_joined_text() -> None:
    """CountOpenAIChatTokens joins the pieces with newlines and counts the result."""
    body = {"messages": [{"role": "user", "content": "Hello, world!"}]}
    expected = tokens.count_text(tokens.O200K, "user\nHello, world!")
    assert tokens.count_text(tokens.O200K, "\n".join(chat_segments(body))) == expected > 0
