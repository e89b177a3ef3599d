"""A fast fake upstream for the benchmark, run in its own process.

    python bench/upstream.py --port 0 [--chunks 20] [--delay-ms 0]

Serves OpenAI Chat Completions (``POST /v1/chat/completions``), Anthropic Messages
(``POST /v1/messages``) and Gemini (``POST /v1beta/models/{model}:generateContent`` and
``:streamGenerateContent?alt=sse``), stream and non-stream. A stream sends N content
chunks with a delay between them; N and the delay come from the query (``chunks``,
``delay_ms``), else the headers ``x-bench-chunks`` / ``x-bench-delay-ms``, else the
command line. ``--tls-cert``/``--tls-key`` serve HTTPS instead (the TLS scenario). The bodies are prebuilt per model, so the fake costs as little as it can.
Prints ``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
import sys
from functools import lru_cache

import orjson
from aiohttp import web

TEXT = "tok "
CREATED = 1_700_000_000
USAGE_OPENAI = {"prompt_tokens": 12, "completion_tokens": 20, "total_tokens": 32}
USAGE_GEMINI = {"promptTokenCount": 12, "candidatesTokenCount": 20, "totalTokenCount": 32}
DEFAULTS = {"chunks": 20, "delay_ms": 0.0}
SSE_HEADERS = {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}


def _sse(obj: object, event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + orjson.dumps(obj) + b"\n\n"


# -- OpenAI Chat Completions


@lru_cache(maxsize=64)
def openai_whole(model: str) -> bytes:
    message = {"role": "assistant", "content": TEXT * 20}
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": USAGE_OPENAI,
        }
    )


@lru_cache(maxsize=64)
def openai_frames(model: str) -> tuple[bytes, bytes, bytes]:
    """(first chunk, each further chunk, closing frames)."""
    base = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": CREATED, "model": model}
    first = _sse(
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": TEXT}, "finish_reason": None}],
        }
    )
    more = _sse({**base, "choices": [{"index": 0, "delta": {"content": TEXT}, "finish_reason": None}]})
    end = _sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    end += _sse({**base, "choices": [], "usage": USAGE_OPENAI}) + b"data: [DONE]\n\n"
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
    candidate: dict = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    out: dict = {"candidates": [candidate], "modelVersion": model}
    if last:
        candidate["finishReason"] = "STOP"
        out["usageMetadata"] = USAGE_GEMINI
    return out


@lru_cache(maxsize=64)
def gemini_whole(model: str) -> bytes:
    return orjson.dumps(_gemini(model, TEXT * 20, True))


@lru_cache(maxsize=64)
def gemini_frames(model: str) -> tuple[bytes, bytes, bytes]:
    chunk = b"data: " + orjson.dumps(_gemini(model, TEXT, False)) + b"\r\n\r\n"
    end = b"data: " + orjson.dumps(_gemini(model, "", True)) + b"\r\n\r\n"
    return chunk, chunk, end


# -- handlers


def _param(request: web.Request, query: str, header: str, key: str) -> float:
    raw = request.query.get(query) or request.headers.get(header)
    return float(raw) if raw else DEFAULTS[key]


async def _stream(request: web.Request, frames: tuple[bytes, bytes, bytes]) -> web.StreamResponse:
    chunks = int(_param(request, "chunks", "x-bench-chunks", "chunks"))
    delay = _param(request, "delay_ms", "x-bench-delay-ms", "delay_ms") / 1000
    first, more, end = frames
    resp = web.StreamResponse(headers=SSE_HEADERS)
    await resp.prepare(request)
    await resp.write(first)
    for _ in range(chunks - 1):
        if delay:
            await asyncio.sleep(delay)
        await resp.write(more)
    await resp.write(end)
    await resp.write_eof()
    return resp


def _json(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="application/json")


async def openai_chat(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model = body.get("model", "bench")
    if body.get("stream"):
        return await _stream(request, openai_frames(model))
    return _json(openai_whole(model))


async def claude_messages(request: web.Request) -> web.StreamResponse:
    body = orjson.loads(await request.read())
    model = body.get("model", "bench")
    if body.get("stream"):
        return await _stream(request, claude_frames(model))
    return _json(claude_whole(model))


async def gemini(request: web.Request) -> web.StreamResponse:
    await request.read()
    model, _, method = request.match_info["target"].partition(":")
    if method == "streamGenerateContent":
        return await _stream(request, gemini_frames(model))
    if method == "generateContent":
        return _json(gemini_whole(model))
    raise web.HTTPNotFound()


def create_app() -> web.Application:
    app = web.Application()
    app.router.add_post("/v1/chat/completions", openai_chat)
    app.router.add_post("/v1/messages", claude_messages)
    app.router.add_post("/v1beta/models/{target}", gemini)
    return app


async def serve(host: str, port: int, tls: ssl.SSLContext | None = None) -> None:
    await run_until_signal(create_app(), host, port, tls)


async def run_until_signal(
    app: web.Application, host: str, port: int, tls: ssl.SSLContext | None = None
) -> None:
    """Serve ``app`` (HTTPS with ``tls``), print ``READY <port>``, stop cleanly on SIGINT or SIGTERM."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096, reuse_address=True, ssl_context=tls)
    await site.start()
    print(f"READY {runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


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
