"""A Gemini client's parts with explicit null members (``"text": null`` beside a
``functionCall`` or an ``inlineData``), as a pydantic ``model_dump()`` of google-genai's
``Part`` writes them, or any JSON library that writes unset fields as null. The Gemini API
reads protobuf JSON, where a null member is an unset one, so it accepts them. Before, a
request translated for another upstream was refused with 400 "contents[1].parts[0].text:
expected a string"."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY

# every member of a google-genai Part that a model_dump() writes as null when unset
_UNSET = dict.fromkeys(
    (
        "text",
        "thought",
        "thoughtSignature",
        "inlineData",
        "fileData",
        "functionCall",
        "functionResponse",
        "executableCode",
        "codeExecutionResult",
        "videoMetadata",
    )
)
_TOOLS = [{"functionDeclarations": [{"name": "bash", "parameters": {"type": "OBJECT", "properties": {}}}]}]
_IMAGE = {"mimeType": "image/png", "data": "iVBORw0KGgo=", "displayName": None}


@pytest.mark.parametrize(
    ("model", "fake"),
    [
        ("claude-model", "claude"),
        ("compat-model", "openai"),
        ("codex-model", "responses"),
        ("gemini-model", "gemini"),
    ],
)
async def test_null_part_members_are_unset(matrix: Any, model: str, fake: str) -> None:
    """No CPA test covers nulls in parts; CPA (gjson) reads a null ``text`` as no text."""
    contents = [
        {"role": "user", "parts": [{**_UNSET, "text": "run ls"}, {**_UNSET, "inlineData": _IMAGE}]},
        {"role": "model", "parts": [{**_UNSET, "functionCall": {"name": "bash", "args": {}, "id": None}}]},
        {
            "role": "user",
            "parts": [{**_UNSET, "functionResponse": {"name": "bash", "response": {"out": "a"}}}],
        },
    ]
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{matrix.url}/v1beta/models/{model}:generateContent",
            json={"contents": contents, "tools": _TOOLS},
            headers={"x-goog-api-key": KEY},
        ) as resp:
            answer = await resp.json()
    assert resp.status == 200, answer
    assert answer["candidates"][0]["content"]["parts"]
    assert b"bash" in getattr(matrix.fakes, fake).last.body  # the call reached the upstream
