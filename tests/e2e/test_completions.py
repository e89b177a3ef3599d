"""``/v1/completions`` (legacy text completions) through the official openai SDK, mapped
onto chat upstreams as CPA's ``openai_handlers.go`` does (``Completions``)."""

from __future__ import annotations

import aiohttp
import openai
import orjson
import pytest

from cliproxy.translate import completions
from tests.e2e.clients import KEY


@pytest.mark.parametrize("model", ["compat-model", "claude-model", "gemini-model", "codex-model"])
async def test_completions_create_whole(matrix, model) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.completions.create(
            model=model, prompt="Say hello", max_tokens=20, temperature=0.5
        )
    assert done.object == "text_completion"
    assert done.choices and isinstance(done.choices[0].text, str) and done.choices[0].text
    assert done.choices[0].finish_reason in ("stop", "length")


async def test_completions_request_becomes_one_user_message(matrix) -> None:
    """CPA convertCompletionsRequestToChatCompletions: prompt -> messages[0], sampling copied."""
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.completions.create(
            model="compat-model", prompt="Once upon", max_tokens=7, top_p=0.9, stop=["\n"]
        )
    sent = matrix.fakes.openai.last.json
    assert sent["messages"] == [{"role": "user", "content": "Once upon"}]
    assert sent["max_tokens"] == 7 and sent["top_p"] == 0.9 and sent["stop"] == ["\n"]


@pytest.mark.parametrize("model", ["compat-model", "claude-model"])
async def test_completions_stream(matrix, model) -> None:
    async with openai.AsyncOpenAI(base_url=matrix.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.completions.create(model=model, prompt="Say hello", stream=True)
        chunks = [chunk async for chunk in stream]
    assert chunks and all(c.object == "text_completion" for c in chunks)
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text
    assert any(c.choices and c.choices[0].finish_reason for c in chunks)


async def test_completions_bad_prompt_is_a_400(matrix) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.post(
            matrix.url + "/v1/completions",
            json={"model": "compat-model", "prompt": [1, 2, 3]},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as resp:
            assert resp.status == 400
            assert "prompt" in orjson.loads(await resp.read())["error"]["message"]


def test_empty_prompt_gets_cpas_default_text() -> None:
    """CPA convertCompletionsRequestToChatCompletions: an empty prompt is "Complete this:"."""
    chat = completions.chat_request({"model": "m", "prompt": "", "logprobs": 2, "stream": True})
    assert chat["messages"][0]["content"] == "Complete this:"
    assert chat["logprobs"] is True and chat["stream"] is True


def test_stream_chunk_without_text_is_dropped() -> None:
    """CPA convertChatCompletionsStreamChunkToCompletions: a role-only delta is skipped; a
    finish chunk and a usage-only chunk are kept."""
    role = orjson.dumps({"id": "c", "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
    assert completions.completion_chunk(role) is None
    end = orjson.loads(
        completions.completion_chunk(
            orjson.dumps(
                {"id": "c", "model": "m", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            )
        )
        or b"{}"
    )
    assert end["choices"] == [{"index": 0, "text": "", "finish_reason": "stop"}]
    usage = completions.completion_chunk(
        orjson.dumps({"id": "c", "choices": [], "usage": {"total_tokens": 3}})
    )
    assert usage is not None and orjson.loads(usage)["usage"] == {"total_tokens": 3}


def test_whole_answer_shape() -> None:
    """CPA convertChatCompletionsResponseToCompletions."""
    chat = {
        "id": "x",
        "created": 5,
        "model": "m",
        "usage": {"total_tokens": 2},
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    }
    out = orjson.loads(completions.completion_response(orjson.dumps(chat)))
    assert out == {
        "id": "x",
        "object": "text_completion",
        "created": 5,
        "model": "m",
        "choices": [{"index": 0, "text": "hi", "finish_reason": "stop"}],
        "usage": {"total_tokens": 2},
    }


def test_the_stream_reframer_gives_the_same_frames_however_the_bytes_are_cut() -> None:
    """Chat SSE in any chunking (one read of many events, lines cut anywhere, CRLF line
    ends, comments) makes the same completion frames, in order."""
    events = [
        orjson.dumps({"id": "c", "model": "m", "choices": [{"index": 0, "delta": {"content": f"t{i}"}}]})
        for i in range(300)
    ]
    wire = b"".join(b"data: " + e + (b"\r\n\r\n" if i % 7 == 0 else b"\n\n") for i, e in enumerate(events))
    wire = b": keep-alive\n\n" + wire + b"data: [DONE]\n\n"
    whole = completions.ChunkReframer().feed(wire)
    frames = [f for f in whole.split(b"\n\n") if f.startswith(b"data: {")]
    assert [orjson.loads(f[6:])["choices"][0]["text"] for f in frames] == [f"t{i}" for i in range(300)]
    assert whole.startswith(b": keep-alive\n\n") and whole.endswith(b"data: [DONE]\n\n")
    for size in (1, 2, 5, 64, 1000):
        framer = completions.ChunkReframer()
        pieces = [framer.feed(wire[i : i + size]) for i in range(0, len(wire), size)]
        assert b"".join(pieces) + framer.flush() == whole
