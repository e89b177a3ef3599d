"""The tool schemas a Codex upstream receives from a Claude and a Gemini client, through the
proxy (CPA's Codex translators drop ``$schema`` from each; a Claude object schema without
``properties`` gets ``properties: {}``; a Gemini declaration gets ``additionalProperties:
false``). Claude Code sends ``$schema`` on every tool. Unit cases:
tests/translate/cpa/test_audit_transoc_codex_tool_schemas.py."""

from __future__ import annotations

from typing import Any

import anthropic
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY

DRAFT = "http://json-schema.org/draft-07/schema#"
CODEX = (
    'codex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n'
    '    models: [{{name: "gpt-5.4", alias: "codex-model"}}]\n'
)


async def test_claude_and_gemini_tools_reach_codex_cleaned(start_proxy: Any, fakes: Any) -> None:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + CODEX.format(base=base))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        await claude.messages.create(
            model="codex-model",
            max_tokens=64,
            messages=[{"role": "user", "content": "hi"}],
            tools=[
                {"name": "Bash", "input_schema": {"$schema": DRAFT, "type": "object", "properties": {}}},
                {"name": "Now", "input_schema": {"type": "object"}},
            ],
        )
    tools = [t for t in fakes.responses.last.json["tools"] if t["type"] == "function"]
    assert [t["parameters"] for t in tools] == [
        {"type": "object", "properties": {}},
        {"type": "object", "properties": {}},
    ]
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    schema = {"$schema": DRAFT, "type": "object", "properties": {"q": {"type": "string"}}}
    config = gtypes.GenerateContentConfig(
        tools=[
            gtypes.Tool(
                function_declarations=[
                    gtypes.FunctionDeclaration(name="lookup", parameters_json_schema=schema)
                ]
            )
        ]
    )
    await client.aio.models.generate_content(model="codex-model", contents="hi", config=config)
    params = fakes.responses.last.json["tools"][0]["parameters"]
    assert params == {
        "type": "object",
        "properties": {"q": {"type": "string"}},
        "additionalProperties": False,
    }
