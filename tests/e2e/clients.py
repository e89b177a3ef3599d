"""One small driver per client format, built on the official SDKs.

Each ``ask`` returns what the SDK accumulated: text, tool calls and usage, so a test can
compare any client through any upstream the same way.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import anthropic
import openai
from google import genai
from google.genai import types as gtypes

from cliproxy.formats import Format

KEY = "sk-proxy-test"
TOOL_SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}


@dataclass
class Answer:
    text: str = ""
    calls: list[tuple[str, dict]] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    model: str = ""
    raw: Any = None


async def ask(
    fmt: Format, base: str, model: str, prompt: str, *, stream: bool, tools: bool = False, key: str = KEY
) -> Answer:
    return await _DRIVERS[fmt](base, model, prompt, stream, tools, key)


async def _openai_chat(base, model, prompt, stream, tools, key) -> Answer:
    kwargs: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": prompt}]}
    if tools:
        kwargs["tools"] = [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}]
    async with openai.AsyncOpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
        if stream:
            async with client.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
                done = await s.get_final_completion()
        else:
            done = await client.chat.completions.create(**kwargs)
    msg = done.choices[0].message
    calls = [(c.function.name, json.loads(c.function.arguments)) for c in msg.tool_calls or []]
    usage = done.usage
    return Answer(
        msg.content or "",
        calls,
        usage.prompt_tokens if usage else 0,
        usage.completion_tokens if usage else 0,
        done.model,
        done,
    )


async def _openai_responses(base, model, prompt, stream, tools, key) -> Answer:
    kwargs: dict[str, Any] = {"model": model, "input": prompt}
    if tools:
        kwargs["tools"] = [{"type": "function", "name": "bash", "parameters": TOOL_SCHEMA, "strict": False}]
    async with openai.AsyncOpenAI(base_url=base + "/v1", api_key=key, max_retries=0) as client:
        if stream:
            async with client.responses.stream(**kwargs) as s:
                done = await s.get_final_response()
        else:
            done = await client.responses.create(**kwargs)
    calls = [(o.name, json.loads(o.arguments)) for o in done.output if o.type == "function_call"]
    u = done.usage
    return Answer(
        done.output_text, calls, u.input_tokens if u else 0, u.output_tokens if u else 0, done.model, done
    )


async def _claude(base, model, prompt, stream, tools, key) -> Answer:
    kwargs: dict[str, Any] = {
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": prompt}],
    }
    if tools:
        kwargs["tools"] = [{"name": "bash", "input_schema": TOOL_SCHEMA}]
    async with anthropic.AsyncAnthropic(base_url=base, api_key=key, max_retries=0) as client:
        if stream:
            async with client.messages.stream(**kwargs) as s:
                done = await s.get_final_message()
        else:
            done = await client.messages.create(**kwargs)
    text = "".join(b.text for b in done.content if b.type == "text")
    calls = [(b.name, b.input) for b in done.content if b.type == "tool_use"]
    u = done.usage
    total_in = u.input_tokens + (u.cache_read_input_tokens or 0) + (u.cache_creation_input_tokens or 0)
    return Answer(text, calls, total_in, u.output_tokens, done.model, done)


async def _gemini(base, model, prompt, stream, tools, key) -> Answer:
    config = None
    if tools:
        config = gtypes.GenerateContentConfig(
            tools=[
                gtypes.Tool(
                    function_declarations=[
                        gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
                    ]
                )
            ]
        )
    client = genai.Client(
        api_key=key,
        http_options=gtypes.HttpOptions(
            base_url=base, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    out = Answer()
    try:
        if stream:
            chunks = [
                c
                async for c in await client.aio.models.generate_content_stream(
                    model=model, contents=prompt, config=config
                )
            ]
        else:
            chunks = [await client.aio.models.generate_content(model=model, contents=prompt, config=config)]
    finally:
        await client.aio.aclose()
    for chunk in chunks:
        for part in (
            chunk.candidates[0].content.parts if chunk.candidates and chunk.candidates[0].content else None
        ) or []:
            if part.text and not part.thought:
                out.text += part.text
            if part.function_call:
                out.calls.append((part.function_call.name, dict(part.function_call.args or {})))
        if chunk.usage_metadata:
            u = chunk.usage_metadata
            out.input_tokens = u.prompt_token_count or 0
            out.output_tokens = (u.candidates_token_count or 0) + (u.thoughts_token_count or 0)
        out.model = chunk.model_version or out.model
    out.raw = chunks
    return out


_DRIVERS = {
    Format.OPENAI: _openai_chat,
    Format.RESPONSES: _openai_responses,
    Format.CLAUDE: _claude,
    Format.GEMINI: _gemini,
}
