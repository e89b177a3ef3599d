"""Issue 15 through a running proxy (the Codex / Gemini side): what the fake upstreams
receive and what the official SDKs get back.

* a Responses client's ``additional_tools`` input item reaches Claude, Gemini and Chat
  upstreams as real tools (they were dropped);
* a Chat client's ``input_audio`` reaches Gemini as ``inlineData`` and Codex as
  ``input_audio`` (it was dropped);
* a JSON-text image array in a tool output reaches Codex as real image parts.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY

LITE_INPUT: list[Any] = [
    {
        "type": "additional_tools",
        "tools": [
            {
                "type": "namespace",
                "name": "ns1",
                "tools": [{"type": "function", "name": "child_fn", "description": "child"}],
            },
            {"type": "custom", "name": "direct_custom", "description": "free-form"},
        ],
    },
    {"type": "message", "role": "user", "content": "hello"},
]

AUDIO_MESSAGES: list[Any] = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "Transcribe this audio verbatim."},
            {"type": "input_audio", "input_audio": {"data": "SUQzBA==", "format": "mp3"}},
        ],
    }
]


def _tool_names(body: dict[str, Any]) -> list[str]:
    names: list[str] = []
    for tool in body.get("tools") or ():
        if "functionDeclarations" in tool:
            names += [d["name"] for d in tool["functionDeclarations"]]
        elif "function" in tool:
            names.append(tool["function"]["name"])
        elif "custom" in tool:
            names.append(tool["custom"]["name"])
        elif "name" in tool:
            names.append(tool["name"])
    return names


@pytest.mark.parametrize(
    ("model", "fake"),
    [("claude-model", "claude"), ("gemini-model", "gemini"), ("compat-model", "openai")],
)
async def test_additional_tools_reach_upstream(matrix, model: str, fake: str) -> None:
    """The official openai SDK sends a Responses Lite body; each upstream gets the tools."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        out = await client.responses.create(model=model, input=LITE_INPUT)
    assert out.output_text
    body = getattr(matrix.fakes, fake).last.json
    assert set(_tool_names(body)) >= {"ns1__child_fn", "direct_custom"}


async def test_input_audio_reaches_gemini(matrix) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        out = await client.chat.completions.create(model="gemini-model", messages=AUDIO_MESSAGES)
    assert out.choices[0].message.content
    parts = matrix.fakes.gemini.last.json["contents"][0]["parts"]
    assert parts[1]["inlineData"] == {"data": "SUQzBA==", "mimeType": "audio/mpeg"}


async def test_input_audio_reaches_codex(matrix) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        out = await client.chat.completions.create(model="codex-model", messages=AUDIO_MESSAGES)
    assert out.choices[0].message.content
    content = matrix.fakes.responses.last.json["input"][0]["content"]
    assert content[1] == {"type": "input_audio", "data": "SUQzBA==", "format": "mp3"}


async def test_stringified_image_output_reaches_codex_as_image(matrix) -> None:
    messages: list[Any] = [
        {"role": "user", "content": "Inspect the screenshot."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "call_s", "type": "function", "function": {"name": "view_image", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "call_s",
            "content": '[{"type":"input_text","text":"Captured."},{"type":"input_image","image_url":"data:image/png;base64,AA=="}]',
        },
    ]
    tools: list[Any] = [
        {
            "type": "function",
            "function": {"name": "view_image", "parameters": {"type": "object", "properties": {}}},
        }
    ]
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="codex-model", messages=messages, tools=tools)
    output = matrix.fakes.responses.last.json["input"][2]["output"]
    assert output == [
        {"type": "input_text", "text": "Captured."},
        {"type": "input_image", "image_url": "data:image/png;base64,AA==", "detail": "auto"},
    ]
