"""CPA internal/runtime/executor/xai_executor_test.go: the text CPA's xAI executor counts
(``countXAIInputTokens``, o200k_base)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import tokens
from cliproxy.translate.token_segments import xai_segments


def _count(body: dict[str, Any]) -> int:
    return tokens.count_text(tokens.O200K, "\n".join(xai_segments(body)))


_SEMANTIC: dict[str, Any] = {
    "instructions": "Follow the repository instructions.",
    "input": [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "Review this implementation."}],
        },
        {"type": "function_call", "name": "read_file", "arguments": '{"path":"main.go"}'},
        {"type": "function_call_output", "output": "package main"},
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "I will inspect the file."}]},
    ],
    "tools": [
        {
            "type": "function",
            "name": "read_file",
            "description": "Reads a file.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        }
    ],
    "text": {"format": {"name": "result", "schema": {"type": "object"}}},
}


def test_count_excludes_request_structure() -> None:
    """TestCountXAIInputTokensExcludesRequestStructure: model, stream, reasoning, metadata,
    prompt_cache_key and max_output_tokens add no tokens."""
    structural = {
        "model": "grok-4.5",
        "stream": False,
        "reasoning": {"effort": "high"},
        "metadata": {"large_wrapper": "this metadata must not affect estimated input tokens"},
        "prompt_cache_key": "session-123",
        "max_output_tokens": 4096,
        **_SEMANTIC,
    }
    assert _count(_SEMANTIC) > 0
    assert _count(structural) == _count(_SEMANTIC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"instructions": "unique instruction text"}, "unique instruction text"),
        ({"input": "unique input text"}, "unique input text"),
        (
            {
                "input": [
                    {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_text", "text": "unique message text"}],
                    }
                ]
            },
            "unique message text",
        ),
        (
            {
                "input": [
                    {"type": "message", "content": [{"type": "refusal", "refusal": "unique refusal text"}]}
                ]
            },
            "unique refusal text",
        ),
        (
            {
                "input": [
                    {
                        "type": "message",
                        "content": [{"type": "input_image", "image_url": "https://example.com/unique.png"}],
                    }
                ]
            },
            "https://example.com/unique.png",
        ),
        (
            {
                "input": [
                    {
                        "type": "message",
                        "content": [
                            {"type": "input_file", "file_data": "unique file data", "filename": "unique.txt"}
                        ],
                    }
                ]
            },
            "unique file data\nunique.txt",
        ),
        (
            {
                "input": [
                    {"type": "message", "content": [{"type": "input_audio", "data": "unique audio data"}]}
                ]
            },
            "unique audio data",
        ),
        (
            {
                "input": [
                    {
                        "type": "function_call",
                        "call_id": "call-1",
                        "name": "unique_function",
                        "arguments": '{"value":"unique argument"}',
                    }
                ]
            },
            'unique_function\n{"value":"unique argument"}',
        ),
        (
            {
                "input": [
                    {"type": "function_call_output", "call_id": "call-1", "output": "unique tool output"}
                ]
            },
            "unique tool output",
        ),
        (
            {
                "input": [
                    {
                        "type": "reasoning",
                        "summary": [{"type": "summary_text", "text": "unique summary text"}],
                    }
                ]
            },
            "unique summary text",
        ),
        (
            {
                "tools": [
                    {
                        "type": "function",
                        "name": "unique_tool",
                        "description": "unique tool description",
                        "parameters": {"type": "object", "properties": {"value": {"type": "string"}}},
                    }
                ]
            },
            'unique_tool\nunique tool description\n{"type":"object","properties":{"value":{"type":"string"}}}',
        ),
        (
            {
                "text": {
                    "format": {
                        "name": "unique_format",
                        "schema": {"type": "object", "properties": {"value": {"type": "string"}}},
                    }
                }
            },
            'unique_format\n{"type":"object","properties":{"value":{"type":"string"}}}',
        ),
    ],
    ids=[
        "instructions",
        "string input",
        "message content",
        "refusal",
        "input image",
        "input file",
        "input audio",
        "function call",
        "function call output",
        "reasoning summary",
        "function tool",
        "structured text format",
    ],
)
def test_count_of_each_counted_field(body: dict[str, Any], expected: str) -> None:
    """TestCountXAIInputTokensExcludesRequestStructure (its table): each counted field
    counts exactly the tokens of its text."""
    assert _count(body) == tokens.count_text(tokens.O200K, expected)


def test_only_function_tools_are_counted() -> None:
    """countXAIInputTokens (xaiCollectToolTokenSegments): built-in tools such as
    ``web_search`` or ``x_search`` add nothing."""
    assert xai_segments({"tools": [{"type": "x_search"}, {"type": "web_search", "name": "ignored"}]}) == []
