"""Streams pushed from the upstream's reads to the client (``FastResponse.relay``).

With the protocol-level server and upstream client, the rest of a stream after its first
content is not pulled through async generators chunk by chunk: each read of the upstream
goes, inside the connection's ``data_received``, through the translator and the trace to
the client's transport. These tests show that it is used, that a client that stops
reading stops the upstream read (nothing is buffered whole), that a client that leaves
ends the upstream connection and still gets its request accounted, and that what the
client receives is what the pulled stream gives (the aiohttp engine pulls).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest

from cliproxy.formats import Format
from cliproxy.providers.fasthttp import FastResponse
from cliproxy.usage.hooks import recorder_of
from tests.e2e.clients import KEY, ask
from tests.e2e.test_claude_tool_alias import OPENCODE_TOOLS
from tests.e2e.test_claude_tool_alias import config as alias_config
from tests.e2e.test_providers_more import antigravity_auth
from tests.fakes.faulty import BIG_FRAMES, BIG_TEXT, FaultyUpstream, big_text

pytestmark = pytest.mark.engine_pinned  # every proxy here names its engine


@pytest.fixture
def faulty() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as fake:
        yield fake


def _config(base: str, keys: str = f'["{KEY}"]', claude: str = "", extra: str = "") -> str:
    """``keys``: the ``api-keys`` value; ``claude``: more YAML for the Claude credential."""
    return f"""{extra}
api-keys: {keys}
request-retry: 0
timeouts:
  upstream-idle: 5s
claude-api-key:
  - api-key: "k-claude"
    base-url: "{base}"{claude}
    models: [{{name: "claude-f", alias: "claude-model"}}]
openai-compatibility:
  - name: plain
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-plain"}}]
    models: [{{name: "gpt-f", alias: "gpt-model"}}]
  - name: big
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-big"}}]
    models: [{{name: "gpt-f", alias: "big-model"}}]
  - name: gzip
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-gzip"}}]
    models: [{{name: "gpt-f", alias: "gzip-model"}}]
"""


@pytest.fixture
def relays(monkeypatch) -> list[bool]:
    """Whether each ``FastResponse.relay`` call took the stream over (a spy: it calls through)."""
    seen: list[bool] = []
    real = FastResponse.relay

    def spy(self: FastResponse, *args: Any) -> Any:
        pushed = real(self, *args)
        seen.append(pushed is not None)
        return pushed

    monkeypatch.setattr(FastResponse, "relay", spy)
    return seen


def _chat(model: str) -> dict[str, Any]:
    return {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}


async def _stream(proxy: Any, model: str) -> bytes:
    """A Chat Completions stream's whole body (status 200 checked)."""
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{proxy.url}/v1/chat/completions", json=_chat(model), headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            assert resp.status == 200
            return await resp.read()


def _contents(body: bytes) -> list[str]:
    """The content deltas of a Chat Completions SSE body, in order."""
    out = []
    for line in body.split(b"\n"):
        if line.startswith(b"data: {"):
            for choice in orjson.loads(line[6:]).get("choices", []):
                text = (choice.get("delta") or {}).get("content")
                if text:
                    out.append(text)
    return out


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_sdk_streams_are_pushed_on_the_fast_engine_and_read_alike(
    start_proxy, faulty, relays, engine
) -> None:
    # paced: the rest of each stream comes in later reads (one read holding the whole body
    # leaves nothing to push, and on a busy machine a local upstream's frames can coalesce)
    faulty.faults.update({"k-plain": "paced", "k-claude": "paced"})
    proxy = await start_proxy(_config(faulty.base_url), engine=engine)
    oa = openai.AsyncOpenAI(base_url=f"{proxy.url}/v1", api_key=KEY)
    texts = []
    usage = None
    async for chunk in await oa.chat.completions.create(
        model="gpt-model",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    ):
        texts += [c.delta.content for c in chunk.choices if c.delta.content]
        usage = chunk.usage or usage
    assert "".join(texts) == "hello from k-plain"
    assert usage is not None and usage.total_tokens == 7
    # translated: an Anthropic client through the OpenAI-compatible upstream, and back
    ac = anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY)
    async with ac.messages.stream(
        model="gpt-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        text = await stream.get_final_text()
        final = await stream.get_final_message()
    assert text == "hello from k-plain"
    assert final.usage.output_tokens == 4
    # a Claude upstream passed through to a Claude client
    async with ac.messages.stream(
        model="claude-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        assert await stream.get_final_text() == "hello from k-claude"
    await oa.close()
    await ac.close()
    # the fast server pushes each of them; aiohttp's writer is a coroutine: it pulls
    assert relays == ([True] * 3 if engine == "fast" else [])
    keys = recorder_of(proxy.service).stats.counters.by_key.values()
    assert sum(c.success for c in keys) == 3
    assert sum(c.output_tokens for c in keys) == 4 + 4 + 4


def _client_buffers(proxy) -> list[int]:
    """The bytes each client connection's transport holds for its client, unsent."""
    sizes = []
    for conn in list(proxy.listener.site.guard.admitted):
        transport = getattr(conn, "transport", None)
        if transport is not None and not transport.is_closing():
            sizes.append(transport.get_write_buffer_size())
    return sizes


async def test_a_client_that_stops_reading_stops_the_upstream_read(start_proxy, faulty, relays) -> None:
    faulty.faults["k-big"] = "big"
    total = BIG_FRAMES * BIG_TEXT  # 32 MB of text
    proxy = await start_proxy(_config(faulty.base_url), engine="fast")
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port, limit=1 << 16)
    body = orjson.dumps(_chat("big-model"))
    writer.write(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer " + KEY.encode() + b"\r\n"
        b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200") and b"chunked" in head.lower()
    # the client reads nothing for a while: the socket buffers fill, then the proxy's
    # transport pauses and the upstream's reading with it (nothing piles up in memory)
    most = 0
    for _ in range(40):
        await asyncio.sleep(0.025)
        most = max([most, *_client_buffers(proxy)])
    stalled_at = faulty.written
    assert relays == [True]
    assert most < 1 << 20, f"the proxy held {most} bytes for a client that does not read"
    assert stalled_at < total, "the upstream wrote the whole stream while the client read nothing"
    # then it reads on: every frame arrives, whole and in order
    data = bytearray()
    async with asyncio.timeout(30):
        while not data.endswith(b"\r\n0\r\n\r\n"):
            part = await reader.read(1 << 20)
            assert part, "the proxy closed before the end of the stream"
            data += part
    writer.close()
    body_bytes = _dechunk(bytes(data))
    texts = _contents(body_bytes)
    assert texts == [big_text(i) for i in range(BIG_FRAMES)]
    assert body_bytes.rstrip().endswith(b"data: [DONE]")


def _dechunk(data: bytes) -> bytes:
    """A chunked body's content."""
    out = bytearray()
    pos = 0
    while True:
        end = data.index(b"\r\n", pos)
        size = int(data[pos:end], 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        pos = end + 2 + size + 2


@pytest.mark.parametrize("stalled", [False, True])
async def test_a_client_that_leaves_mid_stream_closes_the_upstream_and_is_accounted(
    start_proxy, faulty, relays, caplog, stalled
) -> None:
    """Gone while the stream flows (a write fails), or while it waits for the client to
    drain (``stalled``: the drain fails): either way the client's doing, not the upstream's."""
    faulty.faults["k-big"] = "big"
    proxy = await start_proxy(_config(faulty.base_url), engine="fast")
    fast = proxy.service.pipeline.http.fast
    body = orjson.dumps(_chat("big-model"))
    with caplog.at_level(logging.INFO):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port, limit=1 << 22)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b"\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        await asyncio.wait_for(reader.readuntil(b"<00001>"), 10)  # a frame that came pushed
        if stalled:  # it reads no more: the proxy's transport pauses, the relay waits to drain
            async with asyncio.timeout(10):
                while not any(c.paused for c in proxy.listener.site.guard.admitted if hasattr(c, "paused")):
                    await asyncio.sleep(0.02)
        writer.transport.abort()  # gone, the stream half sent
        async with asyncio.timeout(10):
            while fast._live:  # the upstream connection is closed, not pooled
                await asyncio.sleep(0.02)
            keys = recorder_of(proxy.service).stats.counters.by_key.values()
            while not sum(c.success + c.failed for c in keys):
                await asyncio.sleep(0.02)
                keys = recorder_of(proxy.service).stats.counters.by_key.values()
    assert relays == [True]
    assert fast.idle_count(f"{faulty.base_url}/v1/chat/completions") == 0
    ours = [r for r in caplog.records if r.thread == threading.get_ident()]
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info], [r.getMessage() for r in ours]
    assert any("client went away" in r.getMessage() for r in ours)
    assert not any("broke off" in r.getMessage() for r in ours)  # not the upstream's fault
    assert "".join(_contents(await _stream(proxy, "gpt-model"))) == "hello from k-plain"  # it serves on


@pytest.mark.parametrize("commercial", [False, True])
async def test_a_stream_holding_a_slot_and_a_key_policy_is_pushed_and_settles_both(
    start_proxy, faulty, relays, commercial
) -> None:
    """A credential's ``max-concurrency`` slot and a client key's policy (its own slot and a
    token budget) ride along the pushed stream: both are given back, the budget charged
    (read off the stream by the request's trace, or, in ``commercial-mode`` where requests
    have none, by the policy's own sniffer)."""
    keys = '\n  - {key: "sk-p", max-concurrency: 1, budget: {tokens: 20, period: day}}'
    extra = "commercial-mode: true" if commercial else ""
    proxy = await start_proxy(
        _config(faulty.base_url, keys, "\n    max-concurrency: 1", extra), engine="fast"
    )
    faulty.faults["k-claude"] = "paced"  # its usage (message_delta) comes in a later read: pushed
    ac = anthropic.AsyncAnthropic(base_url=proxy.url, api_key="sk-p")
    for _ in range(2):  # a slot not given back would hold the second one (max-concurrency: 1)
        async with asyncio.timeout(10):
            async with ac.messages.stream(
                model="claude-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
            ) as stream:
                assert await stream.get_final_text() == "hello from k-claude"
    # 7 tokens a stream (3 in, 4 out): after three, 21 of the 20 are spent, and the next
    # request is refused only if every pushed stream was charged
    async with asyncio.timeout(10):
        async with ac.messages.stream(
            model="claude-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        ) as stream:
            await stream.get_final_text()
    with pytest.raises(anthropic.PermissionDeniedError) as spent:
        await ac.messages.create(
            model="claude-model", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
        )
    await ac.close()
    assert "budget" in str(spent.value)
    assert relays == [True, True, True]
    assert not proxy.service.pipeline.concurrency._held  # every slot given back


@pytest.mark.parametrize("client", [Format.GEMINI, Format.OPENAI], ids=["gemini", "openai"])
async def test_an_enveloped_stream_is_unwrapped_as_it_is_pushed(
    start_proxy, fake_gemini, tmp_path, relays, client
):
    """Antigravity wraps every SSE payload in an envelope: for a Gemini client the bytes are
    un-enveloped per read (``upstream_body.Mapped``), for another the decoder takes it off the
    objects it parses; either way pushed like the rest."""
    fake_gemini.stream_delay = 0.005  # frames in separate reads: a rest is left to push
    # (gzip on, as Cloud Code answers a request that offers it: decoded as it is pushed)
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n', engine="fast")
    answer = await ask(
        client, proxy.url, "gemini-3-flash", "FAKE_TOOL please run it", stream=True, tools=True
    )
    assert [name for name, _ in answer.calls] == ["bash"], answer.raw
    assert "FAKE_TOOL_OK" in answer.calls[0][1]["command"]
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    assert relays == [True]


async def test_a_cut_gzip_stream_pushed_fails_instead_of_ending(start_proxy, fake_gemini, tmp_path, relays):
    """A pushed gzip stream whose compressor never wrote its end (Content-Length right): the
    text that came reaches the client, then the decoder's end check at the body's end fails
    the stream (an error event), as the pulled path does, instead of ending it as whole."""
    fake_gemini.stream_delay = 0.005  # frames in separate reads: a rest is left to push
    fake_gemini.gzip_cut = True
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n', engine="fast")
    texts: list[str] = []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIError, match="broke in the middle of the stream"):
            stream = await client.chat.completions.create(
                model="gemini-3-flash", messages=[{"role": "user", "content": "hello"}], stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    texts.append(chunk.choices[0].delta.content)
    assert "".join(texts).startswith("Hello from fake-gemini")
    assert relays == [True]


async def test_a_cloaked_claude_stream_gets_its_tool_names_back_as_it_is_pushed(start_proxy, fakes, relays):
    """A cloaked Claude request sends custom tools under aliases; the answer's tool calls are
    renamed back line by line (``upstream_body.rewritten``), pushed like the rest."""
    fakes.claude.stream_delay = 0.005  # frames in separate reads: a rest is left to push
    proxy = await start_proxy(alias_config(fakes), engine="fast")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        async with client.messages.stream(
            model="claude-cloaked",
            max_tokens=1024,
            messages=[{"role": "user", "content": "FAKE_TOOL=bash run it"}],
            tools=OPENCODE_TOOLS,
        ) as s:
            done = await s.get_final_message()
    assert [(b.name, b.input) for b in done.content if b.type == "tool_use"] == [
        ("bash", {"command": "echo FAKE_TOOL_OK"})
    ]
    sent = [t["name"] for t in fakes.claude.last.json["tools"]]
    assert sent[0] != "bash" and sent[0].endswith("_bash")  # it went upstream under an alias
    assert relays == [True]


async def test_a_gzip_body_read_at_once_is_not_relayed(start_proxy, faulty, relays) -> None:
    """aiohttp's compressor sends the fake's whole gzip body in one read, and a Chat
    pass-through ends at its ``[DONE]``: no rest is left to push, nothing asks to relay it,
    and its decoded chunks reach the client as a paced plain body's pushed ones do.
    (A gzip body with a rest is pushed decoded: the Antigravity tests here.)"""
    faulty.faults["k-gzip"] = "gzip"
    faulty.faults["k-plain"] = "paced"
    proxy = await start_proxy(_config(faulty.base_url), engine="fast")
    for model, key in (("gzip-model", "k-gzip"), ("gpt-model", "k-plain")):
        body = await _stream(proxy, model)
        assert "".join(_contents(body)) == f"hello from {key}"
        assert body.rstrip().endswith(b"data: [DONE]")
    assert relays[-1] is True and True not in relays[:-1] and len(relays) <= 2
    keys = recorder_of(proxy.service).stats.counters.by_key.values()
    assert sum(c.total_tokens for c in keys) == 14  # both streams' usage read on the way


KEEPALIVE = b": keep-alive\n\n"


async def test_keepalives_go_out_between_pushed_events(start_proxy, faulty, relays) -> None:
    """``streaming.keepalive-seconds`` with a pushed stream: a timer (no task per chunk)
    writes the comment line when the stream was silent that long, between events only."""
    faulty.faults["k-plain"] = "paced"
    faulty.pace, faulty.pace_at = 1.6, {3}  # silent 1.6 s after the first content
    proxy = await start_proxy(
        _config(faulty.base_url, extra="streaming: {keepalive-seconds: 1}"), engine="fast"
    )
    body = await _stream(proxy, "gpt-model")
    assert relays == [True]
    assert body.count(KEEPALIVE) == 1
    before, _, after = body.partition(KEEPALIVE)
    assert before.endswith(b"\n\n") and after.startswith(b"data: ")  # at an event's end
    assert "".join(_contents(body)) == "hello from k-plain"


async def test_a_keepalive_the_client_cannot_take_ends_the_stream(
    start_proxy, faulty, relays, caplog
) -> None:
    """A client gone while the upstream is silent: the keep-alive write finds it gone, the
    relay closes the upstream connection then, not when the upstream speaks again."""
    faulty.faults["k-plain"] = "paced"
    faulty.pace, faulty.pace_at = 6.0, {3}
    proxy = await start_proxy(
        _config(faulty.base_url, extra="streaming: {keepalive-seconds: 1}"), engine="fast"
    )
    fast = proxy.service.pipeline.http.fast
    body = orjson.dumps(_chat("gpt-model"))
    with caplog.at_level(logging.INFO):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + KEY.encode() + b"\r\n"
            b"Content-Length: %d\r\n\r\n%b" % (len(body), body)
        )
        await asyncio.wait_for(reader.readuntil(b"hello "), 10)
        writer.transport.abort()
        started = asyncio.get_running_loop().time()
        async with asyncio.timeout(10):
            while fast._live:
                await asyncio.sleep(0.02)
        closed_after = asyncio.get_running_loop().time() - started
    assert relays == [True]
    # at a keep-alive (the first write to a reset socket fails later, the next one at
    # once: ~2 s), not when the upstream speaks again (6 s)
    assert closed_after < 4.5
    ours = [r for r in caplog.records if r.thread == threading.get_ident()]
    assert not [r for r in ours if r.levelno >= logging.ERROR or r.exc_info], [r.getMessage() for r in ours]
    assert any("client went away" in r.getMessage() for r in ours)
