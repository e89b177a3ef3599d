"""``streaming.keepalive-seconds`` and ``nonstream-keepalive-interval``: keep-alive bytes
while the upstream is quiet, which the official SDKs skip and which keep a client (or a
proxy in front) with a short idle timeout from dropping the answer.

The fake Codex upstream goes quiet before its first content and again mid-stream
(``fake.pauses``); the client reads with ``sock_read=2``, as nginx with a 2 s
``proxy_read_timeout`` would.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior

KEEPALIVE = b": keep-alive\n\n"


def _config(fakes, keepalive: int = 1, nonstream: int = 0, buffering: bool = False) -> str:
    extra = f"streaming:\n  keepalive-seconds: {keepalive}\nnonstream-keepalive-interval: {nonstream}\n"
    if buffering:  # Codex holds its handshake until the first content: the wait has no bytes
        extra += "codex:\n  stream-bootstrap-buffering: true\n"
    return matrix_config(fakes, extra)


async def _read_stream(url: str, body: dict, path: str = "/v1/responses") -> tuple[int, bytes]:
    timeout = aiohttp.ClientTimeout(total=30, sock_read=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"Authorization": f"Bearer {KEY}"}
        async with session.post(url + path, json=body, headers=headers) as resp:
            return resp.status, await resp.read()


async def test_quiet_stream_gets_comment_lines_and_survives_a_2s_idle_timeout(start_proxy, fakes) -> None:
    """3 s of silence before the first content and 3 s mid-stream, keepalive-seconds: 1: the
    client with a 2 s read timeout gets the whole stream, with ``: keep-alive`` comment lines
    both before the first event (the 200 committed early) and in the middle."""
    proxy = await start_proxy(_config(fakes, buffering=True))
    fakes.responses.pauses = {2: 3.0, 5: 3.0}  # before output_item.added, and after the first delta
    status, raw = await _read_stream(proxy.url, {"model": "codex-model", "input": "hi", "stream": True})
    assert status == 200
    head, _, tail = raw.partition(b"event: response.created")
    assert KEEPALIVE in head  # during the wait for the first content
    assert KEEPALIVE in tail  # during the mid-stream pause
    assert b"response.completed" in tail


async def test_without_keepalive_the_same_client_times_out(start_proxy, fakes) -> None:
    """The defect the key fixes: with keepalive-seconds: 0 the 2 s idle timeout fires."""
    proxy = await start_proxy(_config(fakes, keepalive=0, buffering=True))
    fakes.responses.pauses = {2: 3.0}
    with pytest.raises(aiohttp.ServerTimeoutError):
        await _read_stream(proxy.url, {"model": "codex-model", "input": "hi", "stream": True})


async def test_openai_sdk_responses_stream_ignores_keepalives(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.responses.pauses = {2: 1.6, 5: 1.6}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.stream(model="codex-model", input="hi") as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert final.output_text


async def test_openai_sdk_chat_stream_ignores_keepalives(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.responses.pauses = {2: 1.6, 5: 1.6}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="codex-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text


async def test_anthropic_sdk_stream_ignores_keepalives(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.responses.pauses = {2: 1.6, 5: 1.6}
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="codex-model", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            final = await stream.get_final_message()
    # (a thinking block may come first: Codex's encrypted reasoning, carried as its signature)
    assert any(b.type == "text" and b.text for b in final.content)


async def test_genai_sdk_stream_ignores_keepalives(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.responses.pauses = {2: 1.6, 5: 1.6}
    client = genai.Client(
        api_key=KEY, http_options=gtypes.HttpOptions(base_url=proxy.url, api_version="v1beta")
    )
    text = ""
    async for chunk in await client.aio.models.generate_content_stream(model="codex-model", contents="hi"):
        text += chunk.text or ""
    assert text


async def test_error_after_early_commit_is_an_in_stream_error_event(start_proxy, fakes) -> None:
    """The 200 went out with a keep-alive; the only credential then answers 400: the client
    gets the error as an ``event: error`` in its format, not a second status line.
    CPA: TestForwardResponsesStreamExposesTerminalErrors (a ``"type":"error"`` event, no HTTP
    error body; cliproxy exposes every status alike, one stands for CPA's list). Our
    difference: the event carries the error object under ``error`` too, beside CPA's flat
    fields, since the openai SDK raises a stream's error only from that member."""
    proxy = await start_proxy(_config(fakes))
    fakes.responses.script(Behavior(status=400, message="bad input, slowly", delay=1.6))
    status, raw = await _read_stream(proxy.url, {"model": "codex-model", "input": "hi", "stream": True})
    assert status == 200
    assert raw.startswith(KEEPALIVE)
    event = raw[len(KEEPALIVE) :]
    assert event.startswith(b"event: error\ndata: ")
    assert b"bad input, slowly" in event
    data = orjson.loads(event.split(b"data: ", 1)[1])
    assert (data["type"], data["message"]) == ("error", "bad input, slowly")
    assert data["error"]["message"] == "bad input, slowly"


async def test_gemini_json_array_stream_gets_no_comment_lines(start_proxy, fakes) -> None:
    """CPA forwardGeminiStream: no keep-alives for the non-SSE framing (a comment is not JSON)."""
    proxy = await start_proxy(_config(fakes))
    fakes.responses.pauses = {2: 1.2}
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        url = proxy.url + "/v1beta/models/codex-model:streamGenerateContent"
        async with session.post(
            url, json={"contents": [{"parts": [{"text": "hi"}]}]}, headers={"x-goog-api-key": KEY}
        ) as resp:
            raw = await resp.read()
    assert b"keep-alive" not in raw
    assert isinstance(orjson.loads(raw), list)


# ---------------------------------------------------------------------------- non-streaming


async def test_nonstream_keepalive_commits_headers_and_pads_with_newlines(start_proxy, fakes) -> None:
    """CPA StartNonStreamingKeepAlive: the 200 and Content-Type go out at the first tick,
    then a blank line every interval; the answer follows, and the SDK parses it."""
    proxy = await start_proxy(_config(fakes, keepalive=0, nonstream=1))
    fakes.responses.script(Behavior(delay=2.5))
    timeout = aiohttp.ClientTimeout(total=30, sock_read=2)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        started = time.monotonic()
        body = {"model": "codex-model", "input": "hi"}
        async with session.post(
            proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            headers_after = time.monotonic() - started
            raw = await resp.read()
    assert resp.status == 200 and resp.headers["Content-Type"].startswith("application/json")
    assert headers_after < 2.0
    assert raw.startswith(b"\n\n")
    assert orjson.loads(raw)["output"]

    fakes.responses.script(Behavior(delay=1.5))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(model="codex-model", input="hi")
    assert done.output_text


async def test_nonstream_late_error_is_the_error_object_under_the_200(start_proxy, fakes) -> None:
    """As CPA: after the keep-alive committed the 200, an error is the client's error object."""
    proxy = await start_proxy(_config(fakes, keepalive=0, nonstream=1))
    fakes.responses.script(Behavior(status=400, message="late refusal", delay=1.5))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        body = {"model": "claude-like", "input": "hi"}
        body["model"] = "codex-model"
        async with session.post(
            proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            raw = await resp.read()
    assert resp.status == 200
    assert raw.startswith(b"\n")
    assert "late refusal" in orjson.loads(raw)["error"]["message"]


async def test_fast_answers_get_no_padding(start_proxy, fakes) -> None:
    """A reply faster than the interval is written as usual (status and all)."""
    proxy = await start_proxy(_config(fakes, keepalive=1, nonstream=1))
    fakes.responses.script(Behavior(status=400, message="quick refusal"))
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        body = {"model": "codex-model", "input": "hi"}
        async with session.post(
            proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            raw = await resp.read()
    assert resp.status == 400
    assert raw.startswith(b"{")


async def test_late_error_reaches_each_sdk_as_an_error(start_proxy, fakes) -> None:
    """After the early 200, the openai SDK (Responses and Chat) and the anthropic SDK each
    raise the upstream's refusal from the in-stream error event (the three at once: each
    waits out the upstream's delay)."""
    proxy = await start_proxy(_config(fakes))
    fakes.responses.script(Behavior(status=400, message="refused late", delay=1.4, times=3))

    async def responses(client: openai.AsyncOpenAI) -> None:
        with pytest.raises(openai.APIError, match="refused late"):
            async with client.responses.stream(model="codex-model", input="hi") as stream:
                async for _ in stream:
                    pass

    async def chat(client: openai.AsyncOpenAI) -> None:
        with pytest.raises(openai.APIError, match="refused late"):
            chunks = await client.chat.completions.create(
                model="codex-model", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            async for _ in chunks:
                pass

    async def messages(claude: anthropic.AsyncAnthropic) -> None:
        with pytest.raises(anthropic.APIStatusError, match="refused late"):
            async with claude.messages.stream(
                model="codex-model", max_tokens=50, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                async for _ in stream:
                    pass

    async with (
        openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client,
        anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude,
    ):
        await asyncio.gather(responses(client), chat(client), messages(claude))
    assert len(fakes.responses.requests) == 3


@pytest.mark.parametrize(
    "headers",
    [{"User-Agent": "codex_cli_rs/0.80.0 (Linux; x86_64)"}, {"Originator": "codex_cli_rs"}],
    ids=["user-agent", "originator"],
)
async def test_late_error_for_codex_clients_is_response_failed(start_proxy, fakes, headers) -> None:
    """CPA isCodexResponsesClientRequest: Codex clients get ``response.failed`` (which the
    Codex CLI reads), others CPA's ``error`` event."""
    proxy = await start_proxy(_config(fakes))
    fakes.responses.script(Behavior(status=400, message="refused late", delay=1.4))
    timeout = aiohttp.ClientTimeout(total=30)
    body = {"model": "codex-model", "input": "hi", "stream": True}
    async with aiohttp.ClientSession(timeout=timeout) as session:
        async with session.post(
            proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}", **headers}
        ) as resp:
            raw = await resp.read()
    event = raw[len(KEEPALIVE) :]
    assert event.startswith(b"event: response.failed\ndata: ")
    data = orjson.loads(event.split(b"data: ", 1)[1])
    assert data["type"] == "response.failed" and data["response"]["status"] == "failed"
    assert data["response"]["error"]["message"] == "refused late"


async def test_a_reload_turns_nonstream_keepalives_on_and_off(start_proxy, fakes) -> None:
    """The protocol-level server runs a call without keep-alives itself and reads the two
    settings on every request: a reload that turns ``nonstream-keepalive-interval`` on pads
    the next slow answer, and one that turns it off answers plainly again."""
    proxy = await start_proxy(_config(fakes, keepalive=0, nonstream=0), watch=True, poll_interval=0.05)

    async def answer() -> tuple[int, bytes]:
        fakes.responses.script(Behavior(delay=1.3))
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
            session.post(
                proxy.url + "/v1/responses",
                json={"model": "codex-model", "input": "hi"},
                headers={"Authorization": f"Bearer {KEY}"},
            ) as resp,
        ):
            return resp.status, await resp.read()

    async def reloaded(nonstream: int) -> None:
        proxy.config_path.write_text(_config(fakes, keepalive=0, nonstream=nonstream))
        deadline = time.monotonic() + 15
        while proxy.service.config.nonstream_keepalive_interval != nonstream:
            assert time.monotonic() < deadline, "the config reload was not seen"
            await asyncio.sleep(0.05)

    status, raw = await answer()
    assert status == 200 and raw.startswith(b"{")
    await reloaded(1)
    status, raw = await answer()
    assert status == 200 and raw.startswith(b"\n")
    assert orjson.loads(raw)["output"]
    await reloaded(0)
    status, raw = await answer()
    assert status == 200 and raw.startswith(b"{")
