"""A Responses client whose ``function_call_output`` holds plain JSON objects (no part
``type``, as some clients send a tool's structured result) gets its answer through a
translated model, as through CPA (its issue #5039): the upstream reads the objects as JSON
text. Before, cliproxy answered 400 "missing content part type"."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY

ROWS = [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]


@pytest.mark.parametrize(("model", "fake"), [("claude-model", "claude"), ("gemini-model", "gemini")])
async def test_untyped_tool_output_objects_reach_the_upstream_as_json(
    matrix: Any, model: str, fake: str
) -> None:
    body = {
        "model": model,
        "input": [
            {"type": "message", "role": "user", "content": "list them"},
            {"type": "function_call", "call_id": "call_1", "name": "list_items", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": ROWS},
        ],
        "tools": [
            {"type": "function", "name": "list_items", "parameters": {"type": "object", "properties": {}}}
        ],
    }
    headers = {"Authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(matrix.url + "/v1/responses", json=body, headers=headers) as r,
    ):
        answer = await r.json()
    assert r.status == 200, answer
    sent = json.dumps(getattr(matrix.fakes, fake).last.json)
    assert '\\"name\\":\\"second\\"' in sent  # the objects' JSON, as text, in the tool's result
