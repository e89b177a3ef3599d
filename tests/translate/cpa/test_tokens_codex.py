"""CPA internal/runtime/executor/codex_executor_instructions_test.go and
codex_executor_tokens.go: what CPA's Codex executor counts and with which encoding."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate import tokens
from cliproxy.translate.token_segments import codex_segments


def _count(body: dict[str, Any], model: str = "gpt-5.4") -> int:
    return tokens.count_text(tokens.codex_encoding(model), "\n".join(codex_segments(body)))


def test_null_instructions_count_as_empty() -> None:
    """TestCodexExecutorCountTokensTreatsNullInstructionsAsEmpty: ``instructions: null``
    and ``instructions: ""`` give the same count."""
    null = {"model": "gpt-5.4", "instructions": None, "input": "hello"}
    empty = {"model": "gpt-5.4", "instructions": "", "input": "hello"}
    assert _count(null) == _count(empty) == tokens.count_text(tokens.O200K, "hello")


def test_counted_fields_in_order() -> None:
    """countCodexInputTokens: instructions, every message part's text, function call name
    and arguments, call output, another item's ``text``, function tools (name,
    description, parameters) and the text format's name and schema; settings are not."""
    body = {
        "model": "gpt-5.4",
        "stream": True,
        "reasoning": {"effort": "high"},
        "instructions": " Be brief. ",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            {"type": "function_call", "call_id": "c1", "name": "bash", "arguments": '{"command":"ls"}'},
            {"type": "function_call_output", "call_id": "c1", "output": "a.txt"},
            {"type": "reasoning", "summary": [], "encrypted_content": "secret"},
            {"type": "custom", "text": "other item text"},
        ],
        "tools": [
            {"type": "function", "name": "bash", "description": "Run", "parameters": {"type": "object"}}
        ],
        "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}}},
    }
    assert codex_segments(body) == [
        "Be brief.",
        "Hi",
        "bash",
        '{"command":"ls"}',
        "a.txt",
        "other item text",
        "bash",
        "Run",
        '{"type":"object"}',
        "out",
        '{"type":"object"}',
    ]


def test_images_add_nothing() -> None:
    """countCodexInputTokens reads only a part's ``text``: an ``input_image`` (data URL or
    not) adds no tokens."""
    plain = {
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "look"}]}]
    }
    image = {
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "look"},
                    {"type": "input_image", "image_url": "data:image/png;base64," + "A" * 4000},
                ],
            }
        ]
    }
    assert _count(image) == _count(plain) > 0


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("", tokens.CL100K),
        ("gpt-5.4", tokens.O200K),
        ("GPT-5-codex", tokens.O200K),
        ("gpt-4.1-mini", tokens.O200K),
        ("gpt-4o", tokens.O200K),
        ("gpt-4-turbo", tokens.CL100K),
        ("gpt-3.5-turbo", tokens.CL100K),
        ("codex-mini-latest", tokens.CL100K),
    ],
)
def test_tokenizer_for_codex_model(model: str, encoding: str) -> None:
    """tokenizerForCodexModel: o200k for gpt-5 / gpt-4.1 / gpt-4o, cl100k for gpt-4,
    gpt-3.5 and anything else (an empty name included)."""
    assert tokens.codex_encoding(model) == encoding


def test_o_series_codex_models_use_o200k() -> None:
    """tokenizerForCodexModel has no o-series rows (``o3`` falls to cl100k there).
    Deliberate difference: o1 / o3 / o4 models use o200k_base, so we count with it."""
    assert tokens.codex_encoding("o3") == tokens.O200K
    assert tokens.codex_encoding("o4-mini") == tokens.O200K
