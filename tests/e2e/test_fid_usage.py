"""Usage through every client x upstream pair, whole and streamed, with cache reads and
reasoning tokens in play (the fakes of test_matrix report none).

The upstream (tests/e2e/fid_upstream.py) says, each in its own words: 100 input tokens of
which 60 read from the cache, 30 output tokens of which 12 reasoning. Each client must read
the same facts in its own spelling, with input never counted twice: OpenAI's and Gemini's
input includes the cache reads, Anthropic's ``input_tokens`` excludes them (40 + 60 read);
OpenAI's and Anthropic's output includes reasoning, Gemini's ``candidatesTokenCount``
excludes ``thoughtsTokenCount`` (18 + 12). Anthropic's wire has no reasoning count, so
from a Claude upstream the reasoning is 0 (and Gemini's candidates are the whole 30).
Arithmetic as CPA's translators (claude_openai_response.go ``OpenAIUsage``,
openai_claude_response.go ``extractOpenAIUsage``).
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY, TOOL_SCHEMA
from tests.e2e.fid_upstream import MODELS, Call, Scene, ScriptedUpstream, Use, config

# a turn with thinking, text and two parallel calls, one of them with no arguments
SCENE = Scene(
    text="Let me check.",
    thinking="thinking it over",
    calls=[Call("call_a", "bash", ['{"comm', 'and": "echo é✓"}']), Call("call_b", "bash", ["{}"])],
    stop="tool",
    use=Use(input=100, cached=60, output=30, reasoning=12),
)


@pytest.fixture
async def up():
    async with ScriptedUpstream() as u:
        u.scene = SCENE
        yield u


async def _chat(url: str, model: str, stream: bool) -> tuple[Any, list[tuple[str, str]]]:
    kwargs: Any = {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "bash", "parameters": TOOL_SCHEMA}}],
    }
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as c:
        if stream:
            async with c.chat.completions.stream(**kwargs, stream_options={"include_usage": True}) as s:
                done = await s.get_final_completion()
        else:
            done = await c.chat.completions.create(**kwargs)
    u = done.usage
    assert u is not None and u.prompt_tokens_details and u.completion_tokens_details
    calls = [(t.id, t.function.arguments) for t in done.choices[0].message.tool_calls or []]
    got = (
        u.prompt_tokens,
        u.prompt_tokens_details.cached_tokens,
        u.completion_tokens,
        u.completion_tokens_details.reasoning_tokens,
    )
    return got, calls


async def _responses(url: str, model: str, stream: bool) -> tuple[Any, list[tuple[str, str]]]:
    kwargs: Any = {
        "model": model,
        "input": "hi",
        "tools": [{"type": "function", "name": "bash", "parameters": TOOL_SCHEMA, "strict": False}],
    }
    async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0) as c:
        if stream:
            async with c.responses.stream(**kwargs) as s:
                done = await s.get_final_response()
        else:
            done = await c.responses.create(**kwargs)
    u = done.usage
    assert u is not None
    calls = [(o.call_id, o.arguments) for o in done.output if o.type == "function_call"]
    got = (
        u.input_tokens,
        u.input_tokens_details.cached_tokens,
        u.output_tokens,
        u.output_tokens_details.reasoning_tokens,
    )
    return got, calls


async def _claude(url: str, model: str, stream: bool) -> tuple[Any, list[tuple[str, str]]]:
    kwargs: Any = {
        "model": model,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "bash", "input_schema": TOOL_SCHEMA}],
    }
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as c:
        if stream:
            async with c.messages.stream(**kwargs) as s:
                done = await s.get_final_message()
        else:
            done = await c.messages.create(**kwargs)
    u = done.usage
    calls = [(b.id, _dumps(b.input)) for b in done.content if b.type == "tool_use"]
    return (u.input_tokens, u.cache_read_input_tokens, u.cache_creation_input_tokens, u.output_tokens), calls


async def _gemini(url: str, model: str, stream: bool) -> tuple[Any, list[tuple[str, str]]]:
    config_ = gtypes.GenerateContentConfig(
        tools=[
            gtypes.Tool(
                function_declarations=[
                    gtypes.FunctionDeclaration(name="bash", parameters_json_schema=TOOL_SCHEMA)
                ]
            )
        ]
    )
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        if stream:
            chunks = [
                c
                async for c in await client.aio.models.generate_content_stream(
                    model=model, contents="hi", config=config_
                )
            ]
        else:
            chunks = [await client.aio.models.generate_content(model=model, contents="hi", config=config_)]
    finally:
        await client.aio.aclose()
    calls = [
        (p.function_call.id or "", _dumps(p.function_call.args))
        for c in chunks
        if c.candidates and c.candidates[0].content
        for p in c.candidates[0].content.parts or []
        if p.function_call
    ]
    u = chunks[-1].usage_metadata
    assert u is not None
    got = (
        u.prompt_token_count,
        u.cached_content_token_count,
        u.candidates_token_count,
        u.thoughts_token_count,
        u.total_token_count,
    )
    return got, calls


def _dumps(args: Any) -> str:
    return orjson.dumps(args).decode()


RUN = {"chat": _chat, "responses": _responses, "claude": _claude, "gemini": _gemini}

# what each client reads, by where the answer came from (a Claude upstream has no reasoning count)
EXPECTED = {
    "chat": lambda claude: (100, 60, 30, 0 if claude else 12),
    "responses": lambda claude: (100, 60, 30, 0 if claude else 12),
    "claude": lambda claude: (40, 60, 0, 30),
    "gemini": lambda claude: (100, 60, 30, None, 130) if claude else (100, 60, 18, 12, 130),
}


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("upstream", list(MODELS))
@pytest.mark.parametrize("client", list(RUN))
async def test_usage_and_parallel_calls_reach_every_client(start_proxy, up, client, upstream, stream):
    proxy = await start_proxy(config(up.url, KEY))
    usage, calls = await RUN[client](proxy.url, MODELS[upstream], stream)
    assert usage == EXPECTED[client](upstream == "claude")
    # both calls, in order, with their ids (Gemini's own API would send none: these are kept)
    assert [i for i, _ in calls] == ["call_a", "call_b"]
    assert [orjson.loads(a) for _, a in calls] == [{"command": "echo é✓"}, {}]
