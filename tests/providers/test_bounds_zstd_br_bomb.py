"""A zstd or brotli upstream answer that expands without measure (a few KiB standing for
hundreds of MiB) is refused piece by piece, as a gzip one is (test_gzip_bomb): one read of
the compressed body may decode to at most ``decoding.MAX_PIECE`` bytes, else the read is
broken (a 502 in the client's format, or an error event once a stream began) and the
decoded bytes never pile up in the proxy's memory. Before, zstd and br pieces were decoded
whole in one call: 384 MiB of spaces came out of 12 KiB (zstd) or 72 KiB (br) before any
limit saw them.

The upstream is an OpenAI-compatible gateway (a small aiohttp app); the limit is patched
down to 1 MiB so the refusal is quick, the bomb is big enough that decoding it whole shows
in the proxy's resident memory (the proxy runs in this process), and the same answers pass
under the real limit when they are small.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import openai
import orjson
import pytest
from aiohttp import web
from backports.zstd import ZstdCompressor

from cliproxy.providers import decoding
from cliproxy.providers.transport import UndecodableBody
from tests.providers.test_review_gzip_members import KEY, PATHS, chat_gateway, config

BOMB = 384  # MiB of spaces in the bomb's answer
SMALL = 4  # MiB of spaces in an answer that passes under the real limit


class _Packer:
    """A streaming compressor of one coding: ``piece`` (decodable at once), ``end``."""

    def __init__(self, coding: str) -> None:
        self.coding = coding
        if coding == "zstd":
            self._z: Any = ZstdCompressor(level=1)
        else:
            self._z = decoding.brotli.Compressor(quality=1)

    def piece(self, data: bytes) -> bytes:
        if self.coding == "zstd":
            return bytes(self._z.compress(data)) + bytes(self._z.flush(ZstdCompressor.FLUSH_BLOCK))
        return bytes(self._z.process(data)) + bytes(self._z.flush())

    def pad(self, mib: int) -> bytes:
        space = b" " * (1 << 20)
        if self.coding == "zstd":
            return b"".join(bytes(self._z.compress(space)) for _ in range(mib))
        return b"".join(bytes(self._z.process(space)) for _ in range(mib))

    def end(self, data: bytes) -> bytes:
        if self.coding == "zstd":
            return bytes(self._z.compress(data)) + bytes(self._z.flush())
        return bytes(self._z.process(data)) + bytes(self._z.finish())


def _frame(content: str, finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
    event = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini"}
    return b"data: " + orjson.dumps({**event, "choices": [choice]}) + b"\n\n"


_HEAD = b'{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o-mini","choices":['
_HEAD += b'{"index":0,"message":{"role":"assistant","content":"ok'
_TAIL = b'"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}'


@functools.cache
def _whole(coding: str, mib: int) -> bytes:
    """A chat completion whose content is "ok" and ``mib`` MiB of spaces, compressed."""
    packer = _Packer(coding)
    return packer.piece(_HEAD) + packer.pad(mib) + packer.end(_TAIL)


_X_HEAD = b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",'
_X_HEAD += b'"choices":[{"index":0,"delta":{"content":"x'
_X_TAIL = b'"},"finish_reason":null}]}\n\n'


@functools.cache
def _stream(coding: str, mib: int) -> tuple[bytes, bytes]:
    """A stream's first frame (decodable alone), then a frame of "x" and ``mib`` MiB of
    spaces, the last frame and ``[DONE]``."""
    packer = _Packer(coding)
    first = packer.piece(_frame("first"))
    end = _X_TAIL + _frame("", "stop") + b"data: [DONE]\n\n"
    return first, packer.piece(_X_HEAD) + packer.pad(mib) + packer.end(end)


def _handler(coding: str, mib: int) -> Callable[[web.Request], Any]:
    async def completions(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if not body.get("stream"):
            return web.Response(
                body=_whole(coding, mib),
                headers={"Content-Type": "application/json", "Content-Encoding": coding},
            )
        first, rest = _stream(coding, mib)
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Content-Encoding": coding})
        await resp.prepare(request)
        await resp.write(first)
        await asyncio.sleep(0.1)  # (the client has the first frame before the bomb comes)
        await resp.write(rest)
        await resp.write_eof()
        return resp

    return completions


@contextmanager
def _peak_rss() -> Iterator[list[int]]:
    """The growth of this process's resident memory over the block, sampled every ms."""
    page = 4096

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    base, peak, done = rss(), [0], threading.Event()

    def sample() -> None:
        while not done.wait(0.001):
            peak[0] = max(peak[0], rss() - base)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


CODINGS = pytest.mark.parametrize(
    "coding",
    [
        "zstd",
        pytest.param(
            "br", marks=pytest.mark.skipif(decoding.brotli is None, reason="brotli >= 1.2 is not installed")
        ),
    ],
)
ASK: dict[str, Any] = {"model": "gz-model", "messages": [{"role": "user", "content": "hi"}]}


@PATHS
@CODINGS
async def test_a_whole_answer_that_expands_past_the_limit_is_a_502(
    start_proxy: Any,
    coding: str,
    upstream_http: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(decoding, "MAX_PIECE", 1 << 20)
    _whole(coding, BOMB)  # (made before the memory is measured)
    async with chat_gateway(_handler(coding, BOMB)) as url:
        proxy = await start_proxy(config(url, upstream_http))
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
            with _peak_rss() as grew, pytest.raises(openai.APIStatusError) as caught:
                await sdk.chat.completions.create(**ASK)
    assert grew[0] < 128 << 20, f"the proxy's memory grew by {grew[0] >> 20} MiB"
    assert caught.value.status_code == 502
    assert caught.value.body is not None and "error" in str(caught.value.body)  # OpenAI's shape
    assert "decodes to more than 1048576 bytes" in caplog.text  # the operator's log says why


@PATHS
@CODINGS
async def test_a_stream_piece_that_expands_past_the_limit_ends_the_stream_with_an_error(
    start_proxy: Any,
    coding: str,
    upstream_http: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(decoding, "MAX_PIECE", 1 << 20)
    _stream(coding, BOMB)
    texts: list[str] = []
    async with chat_gateway(_handler(coding, BOMB)) as url:
        proxy = await start_proxy(config(url, upstream_http))
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
            with _peak_rss() as grew, pytest.raises(openai.APIError):
                stream = await sdk.chat.completions.create(**ASK, stream=True)
                async for chunk in stream:
                    if chunk.choices:
                        texts.append(chunk.choices[0].delta.content or "")
    assert grew[0] < 128 << 20, f"the proxy's memory grew by {grew[0] >> 20} MiB"
    assert "".join(texts) == "first"  # what came before the bomb reached the client
    assert "decodes to more than 1048576 bytes" in caplog.text


@PATHS
@CODINGS
async def test_under_the_real_limit_the_same_answers_pass(
    start_proxy: Any, coding: str, upstream_http: str
) -> None:
    async with chat_gateway(_handler(coding, SMALL)) as url:
        proxy = await start_proxy(config(url, upstream_http))
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as sdk:
            whole = await sdk.chat.completions.create(**ASK)
            stream = await sdk.chat.completions.create(**ASK, stream=True)
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    content = whole.choices[0].message.content or ""
    assert content.startswith("ok") and len(content) == 2 + (SMALL << 20)
    assert text.startswith("firstx") and len(text) > SMALL << 20


def test_a_piece_at_the_limit_passes_and_one_byte_more_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(decoding, "MAX_PIECE", 1000)
    codings = ["zstd"] + (["br"] if decoding.brotli is not None else [])
    for coding in codings:
        for size in (999, 1000):
            packer = _Packer(coding)
            decoder = decoding.decoder_for(coding)
            assert decoder is not None
            assert decoder.decompress(packer.end(b"a" * size)) == b"a" * size
        decoder = decoding.decoder_for(coding)
        assert decoder is not None
        with pytest.raises(UndecodableBody, match="decodes to more than 1000 bytes"):
            decoding.decode(decoder.decompress, _Packer(coding).end(b"a" * 1001))
