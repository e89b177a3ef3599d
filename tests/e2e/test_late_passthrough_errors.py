"""An upstream error that comes after a pass-through stream began (same format in and
out: an OpenAI-compatible Chat stream for a Chat client, Claude for Claude, Gemini for
Gemini, an ``interactions-api-key`` upstream for an Interactions client) ends the client's stream in its own format and cools the credential, as CPA's
OpenAI-compatible executor fails such a stream (``openAICompatStreamDataError``) and its
conductor marks the stream's first error chunk (``wrapStreamResult``). Before, only a
Responses / Codex pass-through noticed: the others relayed the upstream's error event as
it came and the credential stayed in rotation.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY

MESSAGES: Any = [{"role": "user", "content": "hi"}]


def chat_keys(base_url: str) -> str:
    return (
        f'api-keys: ["{KEY}"]\nopenai-compatibility:\n  - name: compat\n    base-url: "{base_url}/v1"\n'
        '    api-key-entries: [{api-key: "k1"}, {api-key: "k2"}]\n'
        '    models: [{name: "up-model", alias: "compat-model"}]\n'
    )


def claude_keys(base_url: str) -> str:
    entries = "".join(
        f'\n  - api-key: "{key}"\n    base-url: "{base_url}"\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]'
        for key in ("sk-ant-1", "sk-ant-2")
    )
    return f'api-keys: ["{KEY}"]\nclaude-api-key:{entries}\n'


def gemini_keys(base_url: str) -> str:
    entries = "".join(
        f'\n  - api-key: "{key}"\n    base-url: "{base_url}"\n'
        '    models: [{name: "gemini-2.5-pro", alias: "gem-model"}]'
        for key in ("g-1", "g-2")
    )
    return f'api-keys: ["{KEY}"]\ngemini-api-key:{entries}\n'


async def cooled(proxy: Any) -> dict[str, list[Any]]:
    """The blocking cooldown records, by API key (credentials with none left out)."""
    pool = proxy.service.pool
    found = {c.api_key: await pool.cooldowns(c) for c in pool.credentials()}
    return {key: records for key, records in found.items() if records}


async def chat_stream(proxy: Any) -> tuple[str, list[Any], Exception | None]:
    """A streamed chat completion's text, its chunks and the error that ended it."""
    text, chunks = "", []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            async for chunk in await client.chat.completions.create(
                model="compat-model", messages=MESSAGES, stream=True
            ):
                chunks.append(chunk)
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
        except openai.APIError as exc:
            return text, chunks, exc
    return text, chunks, None


async def test_a_late_chat_error_chunk_ends_the_stream_and_cools(start_proxy, fake_openai) -> None:
    """An OpenAI-compatible upstream writes ``data: {"error": ...}`` after two content
    chunks of a Chat pass-through: the openai SDK gets the text so far, then an error
    with the upstream's message; the key cools (a 500: CPA's transient time, 60 s at
    most), so the next request goes to the other key."""
    proxy = await start_proxy(chat_keys(fake_openai.base_url))
    fake_openai.stream_error_next("server_error", after=2, message="mid-stream trouble")
    text, _, err = await chat_stream(proxy)
    assert text and isinstance(err, openai.APIError) and "mid-stream trouble" in err.message
    [first] = fake_openai.requests
    [(key, [record])] = (await cooled(proxy)).items()
    assert key == first.key and record.model == "compat-model"
    assert 0 < record.until() - time.time() <= 60
    text, _, err = await chat_stream(proxy)
    assert err is None and text
    assert fake_openai.requests[1].key == ({"k1", "k2"} - {key}).pop()


async def test_a_named_chat_error_frame_reaches_the_client_as_an_error(start_proxy, fake_openai) -> None:
    """A frame named ``event: error`` whose data holds no ``error`` object
    (``{"type": "server_error", "message": ...}``) after the answer began. CPA's
    OpenAI-compatible executor fails the stream at any frame so named and writes the payload
    as a ``data:`` frame without its name, and no ``[DONE]``. Deliberate difference: the
    client gets a ``data: {"error": {...}}`` frame made from it, because the openai SDK
    only raises on an ``error`` member (CPA's frame reads as an empty chunk and the answer
    looks complete); before, the frame went out raw and the SDK took it for a chunk too.
    The key cools."""
    proxy = await start_proxy(chat_keys(fake_openai.base_url))
    fake_openai.stream_error_next("named_error", after=2, message="named trouble")
    text, chunks, err = await chat_stream(proxy)
    assert text and isinstance(err, openai.APIError) and "named trouble" in err.message
    assert all(c.choices for c in chunks)  # nothing of the frame reached the client as a chunk
    assert len(await cooled(proxy)) == 1


async def test_a_late_claude_error_event_cools(start_proxy, fake_claude) -> None:
    """Claude's ``event: error`` (``overloaded_error``) after a Claude pass-through
    began: the anthropic SDK raises with the upstream's error type and message; the key
    cools. CPA's Claude executor relays such an event as content and cools nothing; here
    it cools, as the same event does on a translated stream and before the first byte."""
    proxy = await start_proxy(claude_keys(fake_claude.base_url))
    fake_claude.stream_error_next("overloaded", after=4)
    got = ""
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as caught:
            async with client.messages.stream(model="claude-model", max_tokens=16, messages=MESSAGES) as s:
                async for text in s.text_stream:
                    got += text
    assert got and "Overloaded" in str(caught.value) and "overloaded_error" in str(caught.value.body)
    [first] = fake_claude.requests
    [(key, [record])] = (await cooled(proxy)).items()
    assert key == first.key and record.model == "claude-model"


async def test_a_late_gemini_error_object_cools(start_proxy, fake_gemini) -> None:
    """Gemini's ``{"error": {"code": 503, ...}}`` after a Gemini pass-through (``alt=sse``)
    began: the google-genai SDK gets the text so far and then the error (it raises), no
    chunk after it; the key cools."""
    proxy = await start_proxy(gemini_keys(fake_gemini.base_url))
    fake_gemini.stream_error_next("overloaded", after=1)
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    texts: list[str] = []
    try:
        with pytest.raises(genai.errors.APIError) as caught:
            async for chunk in await client.aio.models.generate_content_stream(
                model="gem-model", contents="hi"
            ):
                texts.append(chunk.text or "")
    finally:
        await client.aio.aclose()
    assert "".join(texts) and caught.value.code == 503
    [(key, [record])] = (await cooled(proxy)).items()
    assert key == fake_gemini.requests[0].key and record.model == "gem-model"


async def test_a_late_interactions_error_event_ends_the_stream_and_cools(start_proxy, fake_gemini) -> None:
    """The Interactions API's ``event: error`` (code 503) after an Interactions
    pass-through began: the client gets the deltas so far, then one error event written by
    the proxy in the Interactions shape (the upstream's message, redacted and bounded),
    no ``done`` after it; the key cools. Before, the upstream's event was relayed as it came
    and the key stayed in rotation. CPA's Gemini executor relays such an event as content
    and cools nothing (its Interactions handler writes ``event: error`` only for its own
    terminal errors); here it ends and cools as the Chat, Claude and Gemini pass-throughs do."""
    entries = "".join(
        f'\n  - api-key: "{key}"\n    base-url: "{fake_gemini.base_url}"\n'
        '    models: [{name: "gemini-2.5-pro", alias: "int-model"}]'
        for key in ("i-1", "i-2")
    )
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\ninteractions-api-key:{entries}\n')
    fake_gemini.stream_error_next("overloaded", after=3)
    body = {"model": "int-model", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(proxy.url + "/v1beta/interactions", json=body, headers={"x-goog-api-key": KEY}) as resp,
    ):
        assert resp.status == 200
        raw = await resp.read()
    frames = [f for f in raw.split(b"\n\n") if f.strip()]
    assert b'"step.delta"' in raw and b"[DONE]" not in raw
    last = frames[-1]
    assert last.startswith(b"event: error\ndata: ")
    error = orjson.loads(last.split(b"data: ", 1)[1])
    assert error["event_type"] == "error" and "overloaded" in error["error"]["message"]
    assert error["error"]["type"] == "server_error"  # the proxy's event, not the upstream's
    assert raw.count(b"event: error") == 1
    [first] = fake_gemini.requests
    [(key, [record])] = (await cooled(proxy)).items()
    assert key == first.key and record.model == "int-model"
