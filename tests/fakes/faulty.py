"""A fake upstream that misbehaves on purpose, per API key.

One aiohttp server on 127.0.0.1 speaks three shapes: OpenAI Chat Completions
(``/v1/chat/completions``), Anthropic Messages (``/v1/messages``) and Gemini
(``/v1beta/models/{model}:generateContent`` / ``:streamGenerateContent``, SSE with
``alt=sse``, else the JSON-array stream). A key with no fault answers normally with the
text ``"hello from <key>"``, so a test can tell which credential served it::

    fake.faults["k-bad"] = "hang"          # every request with key k-bad hangs
    fake.faults["k-bad"] = "garbage_mid"   # a stream turns to garbage after the first content

Faults (``FAULTS``): ``hang`` (no headers, ever), ``stall_headers`` (headers, then
nothing), ``stall_mid`` (first content, then nothing), ``cut_early`` (headers, then the
connection is closed), ``cut_mid`` (first content, then closed), ``garbage`` (a 200 whose
body, or every SSE data line, is not JSON), ``garbage_mid`` (first content, then a data
line that is not JSON), ``keepalive`` (a ``: ping`` comment and an empty ``data:`` line
before every SSE frame: legitimate, not garbage), ``huge`` (the text is 10 MB, sent as one SSE line), ``slow``
(headers after ``slow_delay`` seconds, then a normal answer), ``html_502`` (an nginx
HTML page naming an internal host, status 502), ``empty_200`` (status 200, empty body),
``big`` (a Chat Completions stream of ``BIG_FRAMES`` content frames of ``BIG_TEXT`` text
bytes each, numbered, written as fast as the connection takes them), ``paced`` (a normal
stream whose frames after the first come ``pace`` seconds apart, each in its own read; with
``pace_at`` a set of frame numbers, only those wait),
``gzip`` (a normal answer, its body gzip-encoded), ``drop`` (the connection closed before
any answer: an EOF), ``reset`` (the connection reset before any answer: a TCP RST). ``written`` counts
the stream bytes written so far (a write waits while the socket's buffers are full).
Hanging handlers wait until the server stops.
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.server import FakeServer, sse

__all__ = ["BIG_FRAMES", "BIG_TEXT", "FAULTS", "HTML_502", "HUGE_TEXT_BYTES", "FaultyUpstream", "big_text"]

FAULTS = (
    "hang",
    "stall_headers",
    "stall_mid",
    "cut_early",
    "cut_mid",
    "garbage",
    "garbage_mid",
    "keepalive",
    "huge",
    "slow",
    "html_502",
    "empty_200",
    "big",
    "paced",
    "gzip",
    "drop",
    "reset",
)
HUGE_TEXT_BYTES = 10 * 1024 * 1024
BIG_FRAMES = 256
BIG_TEXT = 128 * 1024
INTERNAL = "10.0.0.5:8080"
HTML_502 = (
    f"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    f"</center><hr><center>nginx/1.25.3 upstream {INTERNAL}</center></body></html>"
).encode()
_HANG = 60.0


class FaultyUpstream(FakeServer):
    kind = "faulty"

    def __init__(self) -> None:
        super().__init__()
        self.faults: dict[str, str] = {}
        self.slow_delay = 0.3
        self.written = 0  # stream bytes written (all streams)
        self.pace = 0.02
        self.pace_at: set[int] | None = None

    # ---- routing and keys

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._handle)
        router.add_post("/v1/messages", self._handle)
        router.add_post("/v1beta/models/{target}", self._handle)

    def extract_key(self, request: web.Request) -> str | None:
        key = (
            request.headers.get("x-api-key")
            or request.headers.get("x-goog-api-key")
            or request.query.get("key")
        )
        return key or super().extract_key(request)

    def keys(self) -> list[str | None]:
        """The key of every request received, in order."""
        return [r.key for r in self.requests]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        key = self.extract_key(request) or ""
        fault = self.faults.get(key, "")
        api = _api_of(request)
        body = self.body(request)
        streaming = api == "gemini-sse" or api == "gemini-array" or body.get("stream") is True
        text = f"hello from {key}"
        if fault == "huge":
            text = "x" * HUGE_TEXT_BYTES
        if fault in ("drop", "reset"):
            return _hang_up(request, reset=fault == "reset")
        if fault == "hang":
            await asyncio.sleep(_HANG)
        if fault == "slow":
            await asyncio.sleep(self.slow_delay)
        if fault == "html_502":
            return web.Response(status=502, body=HTML_502, content_type="text/html")
        if fault == "empty_200":
            ctype = "text/event-stream" if streaming else "application/json"
            return web.Response(status=200, body=b"", headers={"Content-Type": ctype})
        if fault == "garbage" and not streaming:
            return web.Response(
                status=200, body=b"<html><body>upstream maintenance</body></html>", content_type="text/html"
            )
        if not streaming:
            return self.json_response(_whole(api, text))
        frames = list(_big_frames() if fault == "big" and api == "openai" else _frames(api, text))
        if fault == "garbage":
            # then the terminator, as a proxy that mangles the payload but keeps the framing would
            frames = [b"data: <html>upstream maintenance</html>\n\n"] * 3 + frames[-1:] * (api == "openai")
        return await self._send(request, api, frames, fault)

    async def _send(
        self, request: web.Request, api: str, frames: list[bytes], fault: str
    ) -> web.StreamResponse:
        ctype = "application/json" if api == "gemini-array" else "text/event-stream"
        resp = web.StreamResponse(headers={"Content-Type": ctype, "Cache-Control": "no-cache"})
        if fault == "gzip":
            resp.enable_compression(force=web.ContentCoding.gzip)
        await resp.prepare(request)
        if fault == "stall_headers":
            await asyncio.sleep(_HANG)
        if fault == "cut_early":
            return _abort(request, resp)
        head = _FIRST_CONTENT[api]
        for i, frame in enumerate(frames):
            if i == head:  # the first content is out
                if fault == "stall_mid":
                    await asyncio.sleep(_HANG)
                if fault == "cut_mid":
                    return _abort(request, resp)
                if fault == "garbage_mid":
                    await resp.write(b"data: this is not json\n\n")
            if fault == "keepalive" and api != "gemini-array":
                await resp.write(b": ping\n\ndata:\n\n")
            if fault == "paced" and i and (self.pace_at is None or i in self.pace_at):
                await asyncio.sleep(self.pace)
            await resp.write(frame)
            self.written += len(frame)
        await resp.write_eof()
        return resp


# ---- shapes


def _api_of(request: web.Request) -> str:
    if request.path.endswith("/chat/completions"):
        return "openai"
    if request.path.endswith("/messages"):
        return "claude"
    if request.path.endswith(":streamGenerateContent"):
        return "gemini-sse" if request.query.get("alt") == "sse" else "gemini-array"
    return "gemini"


# index of the first frame after the first content frame, per API
_FIRST_CONTENT = {"openai": 2, "claude": 3, "gemini-sse": 1, "gemini-array": 1}


def _whole(api: str, text: str) -> dict[str, Any]:
    if api == "openai":
        return {
            "id": "chatcmpl-f",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-f",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        }
    if api == "claude":
        return {
            "id": "msg_f",
            "type": "message",
            "role": "assistant",
            "model": "claude-f",
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 4},
        }
    return _gemini_chunk(text, "STOP")


def big_text(i: int) -> str:
    """The text of content frame ``i`` of the ``big`` stream: its number, then filler."""
    head = f"<{i:05d}>"
    return head + "x" * (BIG_TEXT - len(head))


def _big_frames() -> Iterator[bytes]:
    base = {"id": "chatcmpl-big", "object": "chat.completion.chunk", "created": 1, "model": "gpt-f"}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    for i in range(BIG_FRAMES):
        yield chunk({"content": big_text(i)})
    yield chunk({}, "stop")
    yield sse(
        {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12}}
    )
    yield b"data: [DONE]\n\n"


def _gemini_chunk(text: str, finish: str | None = None) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": "gemini-f", "responseId": "r-f"}
    if finish:
        cand["finishReason"] = finish
        out["usageMetadata"] = {"promptTokenCount": 3, "candidatesTokenCount": 4, "totalTokenCount": 7}
    return out


def _frames(api: str, text: str) -> Iterator[bytes]:
    head, tail = text[:6], text[6:]
    if api == "openai":
        base = {"id": "chatcmpl-f", "object": "chat.completion.chunk", "created": 1, "model": "gpt-f"}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            return sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

        yield chunk({"role": "assistant", "content": ""})
        yield chunk({"content": head})
        yield chunk({"content": tail})
        yield chunk({}, "stop")
        yield sse(
            {**base, "choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
        )
        yield b"data: [DONE]\n\n"
    elif api == "claude":
        yield sse(
            {
                "type": "message_start",
                "message": {
                    "id": "msg_f",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-f",
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {"input_tokens": 3, "output_tokens": 1},
                },
            },
            "message_start",
        )
        yield sse(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            "content_block_start",
        )
        yield sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": head}},
            "content_block_delta",
        )
        yield sse({"type": "ping"}, "ping")
        yield sse(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": tail}},
            "content_block_delta",
        )
        yield sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
        yield sse(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 4},
            },
            "message_delta",
        )
        yield sse({"type": "message_stop"}, "message_stop")
    elif api == "gemini-sse":
        yield sse(_gemini_chunk(head))
        yield sse(_gemini_chunk(tail))
        yield sse(_gemini_chunk("", "STOP"))
    else:  # the JSON-array stream
        yield b"[" + orjson.dumps(_gemini_chunk(head))
        yield b",\r\n" + orjson.dumps(_gemini_chunk(tail))
        yield b",\r\n" + orjson.dumps(_gemini_chunk("", "STOP")) + b"]"


def _hang_up(request: web.Request, *, reset: bool) -> web.StreamResponse:
    """Close the connection before any answer: a FIN (the client reads an EOF) or, with a
    zero linger, a RST (the client reads a reset)."""
    transport = request.transport
    assert transport is not None
    if reset:
        sock = transport.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.close()
    raise asyncio.CancelledError


def _abort(request: web.Request, resp: web.StreamResponse) -> web.StreamResponse:
    if request.transport is not None:
        request.transport.abort()
    raise asyncio.CancelledError
