"""An empty stop list (``stop: []``, ``stop_sequences: []``, ``stopSequences: []``) means no
stop sequence; translated for another format's upstream it is left out, as CPA's translators
leave it out (each writes the list only ``if len(stops) > 0``). Before, a Claude or Gemini
client's empty list reached a Chat Completions upstream as ``stop: []``, which OpenAI's
schema refuses (a stop array holds 1 to 4 strings), and a Chat or Gemini client's reached
Claude as ``stop_sequences: []``. A client talking to its own format keeps what it sent."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY


async def _claude(matrix: Any, model: str) -> None:
    async with anthropic.AsyncAnthropic(base_url=matrix.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(
            model=model, max_tokens=64, messages=[{"role": "user", "content": "Say hi"}], stop_sequences=[]
        )


async def _chat(matrix: Any, model: str) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Say hi"}], stop=[]
        )


async def _gemini(matrix: Any, model: str) -> None:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=matrix.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        await client.aio.models.generate_content(
            model=model, contents="Say hi", config=gtypes.GenerateContentConfig(stop_sequences=[])
        )
    finally:
        await client.aio.aclose()


_CLIENTS = {"claude": _claude, "chat": _chat, "gemini": _gemini}


@pytest.mark.parametrize(
    ("client", "model", "fake", "key"),
    [
        ("claude", "compat-model", "openai", "stop"),
        ("gemini", "compat-model", "openai", "stop"),
        ("chat", "claude-model", "claude", "stop_sequences"),
        ("gemini", "claude-model", "claude", "stop_sequences"),
    ],
)
async def test_an_empty_stop_list_is_left_out(
    matrix: Any, client: str, model: str, fake: str, key: str
) -> None:
    """No CPA test names the empty list; CPA's code (openai_claude_request.go,
    openai_gemini_request.go, claude_openai_request.go, claude_gemini_request.go) writes the
    stop list only when it holds a sequence."""
    await _CLIENTS[client](matrix, model)
    body = getattr(matrix.fakes, fake).last.json
    assert key not in body, body


@pytest.mark.parametrize(
    ("client", "model", "fake", "key"),
    [("chat", "compat-model", "openai", "stop"), ("claude", "claude-model", "claude", "stop_sequences")],
)
async def test_its_own_format_keeps_the_empty_list(
    matrix: Any, client: str, model: str, fake: str, key: str
) -> None:
    await _CLIENTS[client](matrix, model)
    assert getattr(matrix.fakes, fake).last.json[key] == []
