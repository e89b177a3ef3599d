"""A fast fake upstream for the benchmark, run in its own process.

    python bench/upstream.py --port 0 [--chunks 20] [--delay-ms 0]

Serves OpenAI Chat Completions (``POST /v1/chat/completions``), Anthropic Messages
(``POST /v1/messages``) and Gemini (``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``), stream and non-stream. A stream sends N content
chunks with a delay between them; N and the delay come from the query (``chunks``,
``delay_ms``), else the headers ``x-bench-chunks`` / ``x-bench-delay-ms``, else the
command line. ``--tls-cert``/``--tls-key`` serve HTTPS instead (the TLS scenario). The bodies are prebuilt per model, and the server is an ``asyncio.Protocol`` whose
requests ``httptools`` parses (keep-alive, chunked SSE), on uvloop: the fake shares the
machine's cores with the proxy and the load generator, so the less CPU it takes, the more
a run measures the proxy rather than the fake (an aiohttp.web fake took about 70 us per
request, more than the protocol floor it was measuring). Prints ``READY <port>`` on
stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import ssl
import sys
from collections import deque
from functools import lru_cache
from urllib.parse import parse_qs

import httptools
import orjson
from ready import until_signal

TEXT = "tok "
CREATED = 1_700_000_000
# OpenAI's answers as it writes them (2026): usage details, ``service_tier``,
# ``system_fingerprint``; a message's ``refusal`` and ``annotations``; a choice's
# ``logprobs``; each stream chunk's ``usage: null`` (under ``include_usage``) and ``obfuscation``
USAGE_OPENAI = {
    "prompt_tokens": 12,
    "completion_tokens": 20,
    "total_tokens": 32,
    "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
FINGERPRINT = "fp_560af6e559"
USAGE_GEMINI = {"promptTokenCount": 12, "candidatesTokenCount": 20, "totalTokenCount": 32}
DEFAULTS = {"chunks": 20, "delay_ms": 0.0}


def _sse(obj: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


# -- OpenAI Chat Completions


@lru_cache(maxsize=64)
def openai_whole(model: str) -> bytes:
    message = {"role": "assistant", "content": TEXT * 20, "refusal": None, "annotations": []}
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
            "usage": USAGE_OPENAI,
            "service_tier": "default",
            "system_fingerprint": FINGERPRINT,
        }
    )


@lru_cache(maxsize=64)
def openai_frames(model: str) -> tuple[bytes, bytes, bytes]:
    """(first chunk, each further chunk, closing frames)."""
    base = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "service_tier": "default",
        "system_fingerprint": FINGERPRINT,
    }

    def chunk(delta: dict, finish: str | None = None, obfuscation: str = "Xq3") -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse({**base, "choices": [choice], "usage": None, "obfuscation": obfuscation})

    first = chunk({"role": "assistant", "content": "", "refusal": None}, obfuscation="m0Qa2")
    first += chunk({"content": TEXT})
    more = chunk({"content": TEXT})
    end = chunk({}, "stop", obfuscation="r8")
    end += _sse({**base, "choices": [], "usage": USAGE_OPENAI, "obfuscation": "Tn"}) + b"data: [DONE]\n\n"
    return first, more, end


# -- Anthropic Messages


def _claude_message(model: str, text: str, out_tokens: int) -> dict:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}] if text else [],
        "stop_reason": "end_turn" if text else None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": out_tokens},
    }


@lru_cache(maxsize=64)
def claude_whole(model: str) -> bytes:
    return orjson.dumps(_claude_message(model, TEXT * 20, 20))


@lru_cache(maxsize=64)
def claude_frames(model: str) -> tuple[bytes, bytes, bytes]:
    first = _sse({"type": "message_start", "message": _claude_message(model, "", 1)}, "message_start")
    first += _sse(
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        "content_block_start",
    )
    delta = _sse(
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": TEXT}},
        "content_block_delta",
    )
    end = _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
    end += _sse(
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 20},
        },
        "message_delta",
    )
    end += _sse({"type": "message_stop"}, "message_stop")
    return first + delta, delta, end


# -- Gemini


def _gemini(model: str, text: str, last: bool) -> dict:
    """One answer or stream chunk as Google writes it: every stream chunk carries the usage
    known so far (the prompt's until the last), the model version and the response id."""
    candidate: dict = {"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}
    if last:
        candidate["finishReason"] = "STOP"
        usage = USAGE_GEMINI
    else:
        prompt = USAGE_GEMINI["promptTokenCount"]
        usage = {"promptTokenCount": prompt, "totalTokenCount": prompt}
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": "bench-gemini",
    }


@lru_cache(maxsize=64)
def gemini_whole(model: str) -> bytes:
    return orjson.dumps(_gemini(model, TEXT * 20, True))


@lru_cache(maxsize=64)
def gemini_frames(model: str) -> tuple[bytes, bytes, bytes]:
    chunk = b"data: " + orjson.dumps(_gemini(model, TEXT, False)) + b"\r\n\r\n"
    end = b"data: " + orjson.dumps(_gemini(model, "", True)) + b"\r\n\r\n"
    return chunk, chunk, end


# -- the server

Frames = tuple[bytes, bytes, bytes]
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n"
)
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
CLOSE = b"Connection: close\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Request:
    """One parsed request: what the fake needs of it."""

    __slots__ = ("body", "chunks", "delay", "keep", "url")

    def __init__(self) -> None:
        self.url = b""
        self.chunks: bytes | None = None
        self.delay: bytes | None = None
        self.body: list[bytes] = []
        self.keep = True

    def param(self, query: dict[str, list[str]], name: str, header: bytes | None) -> float:
        raw = query[name][0] if name in query else header
        return float(raw) if raw else DEFAULTS[name]


def route(path: bytes, body: bytes) -> tuple[Frames | None, bytes | None]:
    """(stream frames, None) or (None, whole body) for a request; (None, None) is a 404.
    Raises ValueError for a body that is not JSON."""
    if path == b"/v1/chat/completions" or path == b"/v1/messages":
        parsed = orjson.loads(body)
        model = parsed.get("model", "bench")
        openai = path == b"/v1/chat/completions"
        if parsed.get("stream"):
            return (openai_frames if openai else claude_frames)(model), None
        return None, (openai_whole if openai else claude_whole)(model)
    if path.startswith(b"/v1beta/models/"):
        model, _, method = path[len(b"/v1beta/models/") :].decode().partition(":")
        if method == "streamGenerateContent":
            return gemini_frames(model), None
        if method == "generateContent":
            return None, gemini_whole(model)
    return None, None


class FakeConn(asyncio.Protocol):
    """One client connection; requests are answered one after another, in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpRequestParser(self)
        self.req = Request()
        self.pending: deque[Request] = deque()
        self.streaming: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.streaming is not None:
            self.streaming.cancel()

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n" + CLOSE + b"\r\n", close=True)

    # httptools callbacks

    def on_message_begin(self) -> None:
        self.req = Request()

    def on_url(self, url: bytes) -> None:
        self.req.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if name[:8].lower() == b"x-bench-":
            lower = name.lower()
            if lower == b"x-bench-chunks":
                self.req.chunks = value
            elif lower == b"x-bench-delay-ms":
                self.req.delay = value

    def on_body(self, data: bytes) -> None:
        self.req.body.append(data)

    def on_message_complete(self) -> None:
        self.req.keep = self.parser.should_keep_alive()
        self.pending.append(self.req)
        if self.streaming is None:
            self._answer_pending()

    # answers

    def _send(self, data: bytes, close: bool = False) -> None:
        if self.transport is not None:
            self.transport.write(data)
            if close:
                self.transport.close()
                self.transport = None

    def _answer_pending(self) -> None:
        while self.pending and self.transport is not None:
            req = self.pending.popleft()
            url = httptools.parse_url(req.url)
            end = b"" if req.keep else CLOSE
            try:
                frames, whole = route(url.path, b"".join(req.body))
            except ValueError:
                self._send(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n" + end + b"\r\n", not req.keep)
                continue
            if whole is not None:
                self._send(JSON_HEAD % len(whole) + end + b"\r\n" + whole, not req.keep)
                continue
            if frames is None:
                self._send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n" + end + b"\r\n", not req.keep)
                continue
            query = parse_qs(url.query.decode()) if url.query else {}
            chunks = int(req.param(query, "chunks", req.chunks))
            delay = req.param(query, "delay_ms", req.delay) / 1000
            self._send(SSE_HEAD + end + b"\r\n")
            if delay:
                self.streaming = asyncio.get_running_loop().create_task(
                    self._paced(frames, chunks, delay, req.keep)
                )
                return
            first, more, last = frames
            self._send(_chunk(first))
            more = _chunk(more)
            for _ in range(chunks - 1):
                self._send(more)
            self._send(_chunk(last) + b"0\r\n\r\n", not req.keep)

    async def _paced(self, frames: Frames, chunks: int, delay: float, keep: bool) -> None:
        first, more, last = frames
        self._send(_chunk(first))
        more = _chunk(more)
        for _ in range(chunks - 1):
            await asyncio.sleep(delay)
            self._send(more)
        self._send(_chunk(last) + b"0\r\n\r\n", not keep)
        self.streaming = None
        self._answer_pending()


async def serve(host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
    """Serve until SIGINT or SIGTERM (HTTPS with ``tls``); print ``READY <port>`` once listening."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FakeConn, host, port, backlog=4096, reuse_address=True, ssl=tls)
    try:
        await until_signal(server.sockets[0].getsockname()[1])
    finally:
        server.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--chunks", type=int, default=20)
    p.add_argument("--delay-ms", type=float, default=0.0)
    p.add_argument("--tls-cert", help="serve HTTPS with this certificate chain (PEM)")
    p.add_argument("--tls-key", help="the certificate's private key (PEM)")
    args = p.parse_args(argv)
    DEFAULTS.update(chunks=args.chunks, delay_ms=args.delay_ms)
    tls = None
    if args.tls_cert:
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(args.tls_cert, args.tls_key)
    import uvloop

    uvloop.run(serve(args.host, args.port, tls))


if __name__ == "__main__":
    sys.exit(main())
