"""Rich, valid bodies (every kind of content a client sends) and type-confused edits of them.

The generated bodies of ``bodies.py`` rarely reach deep fields; these start from a body
that uses images, files, tool calls and results, thinking and server tools, and change
one or two values anywhere in it (up to eight levels down) to a value of the wrong type.
"""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import strategies as st

from cliproxy.formats import Format
from tests.fuzz.strategies import _delete, _replace, hostile

__all__ = ["rich_body", "rich_mutations"]

S: dict[str, Any] = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
RICH: dict[Format, dict[str, Any]] = {
    Format.OPENAI: {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "sys"}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                    },
                    {
                        "type": "file",
                        "file": {"file_data": "data:application/pdf;base64,JVBERi0=", "filename": "a.pdf"},
                    },
                    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
                ],
            },
            {
                "role": "assistant",
                "content": "ok",
                "reasoning_content": "think",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": '{"command":"ls"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": [{"type": "text", "text": "out"}]},
            {"role": "user", "content": "next", "name": "bob"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "bash", "description": "d", "parameters": S, "strict": False},
            },
            {"type": "custom", "custom": {"name": "c", "format": {"type": "text"}}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "bash"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": S, "strict": True}},
        "reasoning_effort": "high",
        "max_tokens": 100,
        "stop": ["x"],
        "stream_options": {"include_usage": True},
        "temperature": 0.5,
        "n": 1,
        "user": "u",
        "metadata": {"a": "b"},
        "modalities": ["text"],
        "parallel_tool_calls": True,
        "web_search_options": {},
        "prediction": {"type": "content", "content": "x"},
    },
    Format.RESPONSES: {
        "model": "m",
        "instructions": "be",
        "input": [
            {"role": "developer", "content": "dev"},
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,iVBORw0KGgo=",
                        "detail": "auto",
                    },
                    {
                        "type": "input_file",
                        "file_data": "data:application/pdf;base64,JVBERi0=",
                        "filename": "a.pdf",
                    },
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "t"}],
                "encrypted_content": "enc",
            },
            {
                "type": "function_call",
                "call_id": "c1",
                "name": "bash",
                "arguments": '{"command":"ls"}',
                "id": "fc_1",
            },
            {"type": "function_call_output", "call_id": "c1", "output": "out"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "c", "input": "x"},
            {
                "type": "custom_tool_call_output",
                "call_id": "c2",
                "output": [{"type": "input_text", "text": "o"}],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "a", "annotations": []}],
            },
            {"role": "user", "content": "next"},
        ],
        "tools": [
            {"type": "function", "name": "bash", "parameters": S, "strict": False, "description": "d"},
            {
                "type": "custom",
                "name": "c",
                "format": {"type": "grammar", "syntax": "lark", "definition": "start: x"},
            },
            {"type": "web_search"},
        ],
        "tool_choice": {"type": "function", "name": "bash"},
        "reasoning": {"effort": "high", "summary": "auto"},
        "text": {"format": {"type": "json_schema", "name": "x", "schema": S}, "verbosity": "low"},
        "max_output_tokens": 100,
        "include": ["reasoning.encrypted_content"],
        "store": False,
        "parallel_tool_calls": True,
        "prompt_cache_key": "k",
        "metadata": {"a": "b"},
        "temperature": 1,
        "service_tier": "auto",
    },
    Format.CLAUDE: {
        "model": "m",
        "max_tokens": 100,
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hi"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="},
                    },
                    {
                        "type": "document",
                        "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="},
                        "title": "t",
                    },
                    {"type": "image", "source": {"type": "url", "url": "http://127.0.0.1:1/y.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "t", "signature": "sig"},
                    {"type": "redacted_thinking", "data": "r"},
                    {"type": "text", "text": "a"},
                    {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"command": "ls"}},
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "q"},
                    },
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": [
                            {"type": "web_search_result", "url": "u", "title": "t", "encrypted_content": "e"}
                        ],
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "out"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "iVBORw0KGgo=",
                                },
                            },
                        ],
                        "is_error": False,
                    },
                    {"type": "text", "text": "next"},
                ],
            },
        ],
        "tools": [
            {"name": "bash", "description": "d", "input_schema": S},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3},
        ],
        "tool_choice": {"type": "tool", "name": "bash", "disable_parallel_tool_use": True},
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "metadata": {"user_id": "u"},
        "stop_sequences": ["x"],
        "temperature": 1,
        "top_k": 5,
        "output_config": {"effort": "high"},
    },
    Format.GEMINI: {
        "contents": [
            {
                "role": "user",
                "parts": [
                    {"text": "hi"},
                    {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
                    {"fileData": {"mimeType": "application/pdf", "fileUri": "gs://a/b"}},
                ],
            },
            {
                "role": "model",
                "parts": [
                    {"text": "t", "thought": True, "thoughtSignature": "c2ln"},
                    {
                        "functionCall": {"name": "bash", "args": {"command": "ls"}, "id": "x"},
                        "thoughtSignature": "c2ln",
                    },
                ],
            },
            {
                "role": "user",
                "parts": [{"functionResponse": {"name": "bash", "response": {"output": "out"}, "id": "x"}}],
            },
            {"role": "user", "parts": [{"text": "next"}]},
        ],
        "systemInstruction": {"role": "system", "parts": [{"text": "sys"}]},
        "tools": [
            {"functionDeclarations": [{"name": "bash", "description": "d", "parameters": S}]},
            {"googleSearch": {}},
        ],
        "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["bash"]}},
        "generationConfig": {
            "maxOutputTokens": 100,
            "temperature": 1,
            "topK": 3,
            "stopSequences": ["x"],
            "responseMimeType": "application/json",
            "responseSchema": S,
            "thinkingConfig": {"thinkingBudget": 1000, "includeThoughts": True},
            "candidateCount": 1,
        },
        "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
        "cachedContent": "c",
    },
}
CONFUSIONS = (
    None,
    5,
    -1,
    1.5,
    "s",
    "",
    [],
    {},
    [5],
    [None],
    {"a": 1},
    True,
    ["s"],
    [{}],
    {"type": 5},
    [[]],
    "data:",
    "data:image/png;base64,",
    {"type": "text"},
    [{"type": "text", "text": 5}],
    2**40,
    {"name": 5},
    [{"name": "x"}],
)
_COUNT_DROP = ("max_tokens", "stream", "stream_options")


def rich_body(fmt: Format, kind: str, model: str, stream: bool = False) -> dict[str, Any]:
    """A valid body of ``fmt`` using every kind of content, for ``model``."""
    body = copy.deepcopy(RICH[fmt])
    if fmt is Format.GEMINI:
        return body
    body["model"] = model
    if kind == "count":
        for key in _COUNT_DROP:
            body.pop(key, None)
    else:
        body["stream"] = stream
    return body


def _deep_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if len(prefix) >= 8:
        return out
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_deep_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_deep_paths(child, (*prefix, index)))
    return out


@st.composite
def rich_mutations(
    draw: st.DrawFn, fmt: Format, kind: str, model: str, stream: bool = False
) -> dict[str, Any]:
    """The rich body with one or two values anywhere replaced by a wrong-typed one, or removed."""
    body = rich_body(fmt, kind, model, stream)
    for _ in range(draw(st.integers(1, 2))):
        paths = _deep_paths(body)
        path = draw(st.sampled_from(paths))
        how = draw(st.integers(0, 9))
        if how == 0:
            body = _delete(body, path)
        else:
            value = draw(st.sampled_from(CONFUSIONS) if how < 8 else hostile)
            body = _replace(body, path, value)
    return body
