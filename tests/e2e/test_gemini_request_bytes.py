"""The bytes a Gemini upstream gets for requests another format translated, pinned (issue 21:
the translation to Gemini is made cheaper, and nothing it sends may change by a byte).

Each case is a request a Chat Completions, Claude Messages or Responses client sends, to a
Gemini 2.5, a Gemini 3 and a Claude-named model on a Gemini key (the Claude signature
policy); the digest is of the body as the fake upstream received it, recorded before the
request path was reworked. A digest that changes means what goes upstream changed: look
at the body, then either fix the change or record the new digest on purpose."""

from __future__ import annotations

import hashlib
from typing import Any

import aiohttp

from tests.e2e.clients import KEY
from tests.translate.cpa.signature_fixtures import claude_signature, gemini3_signature

MODELS = {"g25": "gemini-2.5-flash", "g3": "gemini-3-pro-preview", "cl": "claude-sonnet-4-5-thinking"}
GEMINI_SIG = gemini3_signature(b"\x01\x02payload")
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]
PNG = "data:image/png;base64,iVBORw0KGgo="

CHAT: dict[str, dict[str, Any]] = {
    "plain": {
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}]
    },
    "turns": {
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "Be kind."}]},
            {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": ""}]},
            {"role": "assistant", "content": "b"},
            {"role": "system", "content": "mid"},
            {"role": "user", "content": "c"},
            {"role": "user", "content": "d"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "e"},
        ],
        "temperature": 0.3,
        "top_p": 0.9,
        "max_tokens": 100,
        "stop": ["x", "y"],
        "seed": 7,
    },
    "tools": {
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "Two calls.",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    },
                    {
                        "id": "c2",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"t": 20}'},
            {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": TOOLS,
        "tool_choice": "required",
        "reasoning_effort": "low",
    },
    "signed_call": {
        "messages": [
            {"role": "user", "content": "w?"},
            {
                "role": "assistant",
                "content": "calling",
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                        "extra_content": {"google": {"thought_signature": GEMINI_SIG}},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": "cold"},
        ],
        "tools": TOOLS,
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
    },
    "image_schema": {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is it?"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            },
            {"role": "assistant", "content": "Sure:"},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {
                "name": "r",
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
            },
        },
    },
}
CLAUDE: dict[str, dict[str, Any]] = {
    "thinking_tools": {
        "max_tokens": 256,
        "system": [{"type": "text", "text": "S"}],
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": claude_signature()},
                    {"type": "text", "text": "calling"},
                    {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Oslo"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t1",
                        "content": [
                            {"type": "text", "text": "cold"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/png",
                                    "data": "iVBORw0KGgo=",
                                },
                            },
                        ],
                    }
                ],
            },
        ],
    },
    "plain": {"max_tokens": 64, "system": "S", "messages": [{"role": "user", "content": "hi"}]},
}
RESPONSES: dict[str, dict[str, Any]] = {
    "calls": {
        "instructions": "Be brief.",
        "tools": [
            {"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {}}}
        ],
        "input": [
            {"role": "user", "content": "w?"},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "think"}]},
            {"type": "function_call", "call_id": "f1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "f1", "output": "rain"},
        ],
        "max_output_tokens": 300,
    },
}
PATHS = {"chat": "/v1/chat/completions", "claude": "/v1/messages", "responses": "/v1/responses"}
CASES = [
    (client, name, model)
    for client, table in (("chat", CHAT), ("claude", CLAUDE), ("responses", RESPONSES))
    for name in table
    for model in MODELS
]
TABLES = {"chat": CHAT, "claude": CLAUDE, "responses": RESPONSES}

# (client, case, model) -> first 16 hex digits of the upstream body's sha256
DIGESTS: dict[tuple[str, str, str], str] = {
    ("chat", "plain", "g25"): "57c349f5399b9629",
    ("chat", "plain", "g3"): "57c349f5399b9629",
    ("chat", "plain", "cl"): "57c349f5399b9629",
    ("chat", "turns", "g25"): "9fb349f2fd9b1243",
    ("chat", "turns", "g3"): "9fb349f2fd9b1243",
    ("chat", "turns", "cl"): "9fb349f2fd9b1243",
    ("chat", "tools", "g25"): "ea2bd486cf5d73dc",
    ("chat", "tools", "g3"): "8ce95c47ebcf2ca6",
    ("chat", "tools", "cl"): "ee2b6760547bdfbb",
    ("chat", "signed_call", "g25"): "bbc5b7c917e80115",
    ("chat", "signed_call", "g3"): "bbc5b7c917e80115",
    ("chat", "signed_call", "cl"): "060babd4ac7f21a5",
    ("chat", "image_schema", "g25"): "7aa5ebb42da9b76d",
    ("chat", "image_schema", "g3"): "7aa5ebb42da9b76d",
    ("chat", "image_schema", "cl"): "7aa5ebb42da9b76d",
    ("claude", "thinking_tools", "g25"): "e3fe0e7502e25dea",
    ("claude", "thinking_tools", "g3"): "e3fe0e7502e25dea",
    ("claude", "thinking_tools", "cl"): "72370220406235cc",
    ("claude", "plain", "g25"): "157f406b581451a6",
    ("claude", "plain", "g3"): "157f406b581451a6",
    ("claude", "plain", "cl"): "157f406b581451a6",
    ("responses", "calls", "g25"): "94db68d6d6690e8c",
    ("responses", "calls", "g3"): "94db68d6d6690e8c",
    ("responses", "calls", "cl"): "734bf11f88d7f879",
}


def _config(fakes: Any) -> str:
    models = "".join(f'\n      - name: "{m}"\n        alias: "{a}"' for a, m in MODELS.items())
    return f"""
api-keys: ["{KEY}"]
gemini-api-key:
  - api-key: "gem-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:{models}
"""


async def test_translated_gemini_bodies_are_unchanged(start_proxy, fakes) -> None:
    """Every case's upstream body is the recorded one, byte for byte."""
    proxy = await start_proxy(_config(fakes))
    got: dict[tuple[str, str, str], str] = {}
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:
        for case in CASES:
            kind, name, model = case
            body = {**TABLES[kind][name], "model": model}
            async with client.post(proxy.url + PATHS[kind], json=body, headers=headers) as resp:
                assert resp.status == 200, (case, await resp.text())
            got[case] = hashlib.sha256(fakes.gemini.last.body).hexdigest()[:16]
    assert got == DIGESTS
