"""What a count translated for a Gemini model sends upstream: the system instruction and
the tools are counted, each target in the form its countTokens takes them.

- Gemini API keys (and AI Studio, which asks the same API): ``countTokens`` takes only
  ``contents`` or a ``generateContentRequest`` (with its ``model``); a system instruction or
  tools go inside the latter, the one place the API counts them (the fake refuses them
  at the top level, as Google does).
- Vertex: its countTokens takes ``systemInstruction`` and ``tools`` at the top level, and
  nothing of a generation's other fields (``safetySettings``, ``toolConfig``...).

CPA's GeminiExecutor.CountTokens and GeminiVertexExecutor.CountTokens keep
``systemInstruction`` at the top level and drop ``tools``, ``generationConfig`` and
``safetySettings``; no CPA test pins those fields (TestGeminiExecutorCountTokensPrependsLeadingUser
pins the leading user turn, ported below). Deliberate difference: the tools are counted,
and on the Gemini API the system instruction goes where Google accepts it.
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

_TOOL = {
    "name": "lookup_weather",
    "description": "Look up the weather of a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
_SYSTEM = "You are a terse assistant who answers in exactly one sentence"
_VERTEX = """
vertex-api-key:
  - api-key: "vk-1"
    base-url: "{base}"
    models: [{{name: "gemini-2.5-pro", alias: "vertex-model"}}]
"""


@pytest.fixture
async def proxy(start_proxy: Any, fakes: Any) -> Any:
    started = await start_proxy(matrix_config(fakes, _VERTEX.format(base=fakes.gemini.base_url)))
    started.fakes = fakes
    return started


async def _claude_count(proxy: Any, model: str, **extra: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        got = await client.messages.count_tokens(
            model=model, messages=[{"role": "user", "content": "What is the weather in Paris?"}], **extra
        )
    return got.input_tokens


async def test_a_claude_count_on_the_gemini_api_counts_system_and_tools(proxy: Any) -> None:
    """Before, only ``contents`` went to countTokens: the system prompt and the tool
    declarations were left out of the count."""
    bare = await _claude_count(proxy, "gemini-model")
    assert proxy.fakes.gemini.last.json == {
        "contents": [{"role": "user", "parts": [{"text": "What is the weather in Paris?"}]}]
    }
    full = await _claude_count(proxy, "gemini-model", system=_SYSTEM, tools=[_TOOL])
    sent = proxy.fakes.gemini.last
    assert sent.path == "/v1beta/models/gemini-2.5-flash:countTokens"
    assert list(sent.json) == ["generateContentRequest"]
    inner = sent.json["generateContentRequest"]
    assert inner["model"] == "models/gemini-2.5-flash"
    assert inner["systemInstruction"]["parts"][0]["text"] == _SYSTEM
    assert inner["tools"][0]["functionDeclarations"][0]["name"] == "lookup_weather"
    assert "generationConfig" not in inner and "safetySettings" not in inner
    assert full > bare


async def test_a_responses_count_on_the_gemini_api_counts_the_instructions(proxy: Any) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        bare = await client.responses.input_tokens.count(model="gemini-model", input="Hello there")
        full = await client.responses.input_tokens.count(
            model="gemini-model", input="Hello there", instructions=_SYSTEM
        )
    inner = proxy.fakes.gemini.last.json["generateContentRequest"]
    assert inner["systemInstruction"]["parts"][0]["text"] == _SYSTEM
    assert full.input_tokens > bare.input_tokens


async def test_a_vertex_count_carries_system_and_tools_at_the_top(proxy: Any) -> None:
    bare = await _claude_count(proxy, "vertex-model")
    full = await _claude_count(
        proxy, "vertex-model", system=_SYSTEM, tools=[_TOOL], tool_choice={"type": "any"}
    )
    sent = proxy.fakes.gemini.last
    assert sent.path == "/v1/publishers/google/models/gemini-2.5-pro:countTokens"
    assert set(sent.json) == {"model", "contents", "systemInstruction", "tools"}  # no toolConfig
    assert full > bare


async def test_the_gemini_fake_refuses_a_top_level_system_instruction(fakes: Any) -> None:
    """The fake answers as Google does, so the tests above can fail: a system
    instruction next to ``contents`` is not a member of CountTokensRequest."""
    client = genai.Client(
        api_key="gem-key-1",
        http_options=gtypes.HttpOptions(
            base_url=fakes.gemini.base_url,
            api_version="v1beta",
            retry_options=gtypes.HttpRetryOptions(attempts=1),
            extra_body={"systemInstruction": {"parts": [{"text": _SYSTEM}]}},
        ),
    )
    try:
        with pytest.raises(genai.errors.ClientError) as refused:
            await client.aio.models.count_tokens(model="gemini-2.5-flash", contents="hi")
    finally:
        await client.aio.aclose()
    assert refused.value.code == 400 and "systemInstruction" in str(refused.value.message)


async def test_a_count_that_starts_with_the_model_gets_a_user_turn_first(proxy: Any) -> None:
    """TestGeminiExecutorCountTokensPrependsLeadingUser, with a Gemini client: an empty
    user turn goes before a history that opens with the model's turn, in the wrapped
    form too."""
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    history = [gtypes.Content(role="model", parts=[gtypes.Part(text="prior output")])]
    try:
        await client.aio.models.count_tokens(model="gemini-model", contents=history)
    finally:
        await client.aio.aclose()
    contents = proxy.fakes.gemini.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model"]
    assert contents[0]["parts"] == [{"text": ""}]
    assert contents[1]["parts"][0]["text"] == "prior output"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        await claude.messages.count_tokens(
            model="gemini-model",
            system=_SYSTEM,
            messages=[{"role": "assistant", "content": "prior output"}, {"role": "user", "content": "go on"}],
        )
    inner = proxy.fakes.gemini.last.json["generateContentRequest"]
    assert [c["role"] for c in inner["contents"]] == ["user", "model", "user"]
