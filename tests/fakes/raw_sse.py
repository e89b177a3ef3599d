"""An upstream that streams given raw bytes: Chat Completions (``POST /v1/chat/completions``),
Claude Messages (``POST /v1/messages``), Gemini (``POST /v1beta/models/{model}:...``) and
Codex / Responses (``POST /responses``, under a ``codex-api-key`` base URL) all answer a
streaming request with :attr:`RawSSE.chunks`, each its own write with a pause after it
(so the proxy reads them apart), then a clean end. For framing cases the full fakes
cannot script: an error event cut anywhere, an event of several ``data:`` lines."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["RawSSE", "claude_event", "claude_start"]

PAUSE = 0.02  # seconds after each write: the next one arrives as a read of its own


def claude_event(kind: str, **fields: Any) -> bytes:
    """One Claude Messages SSE event of type ``kind``, as Anthropic frames it."""
    return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps({"type": kind, **fields}) + b"\n\n"


def claude_start(input_tokens: int) -> bytes:
    """A Claude stream's ``message_start`` and the opening of a text block at index 0."""
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sonnet-4-6",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": 1},
    }
    return claude_event("message_start", message=message) + claude_event(
        "content_block_start", index=0, content_block={"type": "text", "text": ""}
    )


class RawSSE(LocalServer):
    """``chunks``: what every streaming request gets; ``keys``: the upstream key of each
    request, in order."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.keys: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._stream)
        router.add_post("/v1/messages", self._stream)
        router.add_post("/v1beta/models/{target}", self._stream)
        router.add_post("/responses", self._stream)

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        headers = request.headers
        key = headers.get("x-api-key") or headers.get("x-goog-api-key") or headers.get("Authorization", "")
        self.keys.append(key.removeprefix("Bearer "))
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for chunk in self.chunks:
            await resp.write(chunk)
            await asyncio.sleep(PAUSE)
        await resp.write_eof()
        return resp
