"""An upstream that streams given raw bytes: Chat Completions (``POST /v1/chat/completions``),
Claude Messages (``POST /v1/messages``), Gemini (``POST /v1beta/models/{model}:...``) and
Codex / Responses (``POST /responses``, under a ``codex-api-key`` base URL) all answer a
streaming request with :attr:`RawSSE.chunks`, each its own write with a pause after it
(so the proxy reads them apart), then a clean end. For framing cases the full fakes
cannot script: an error event cut anywhere, an event of several ``data:`` lines."""

from __future__ import annotations

import asyncio

from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["RawSSE"]

PAUSE = 0.02  # seconds after each write: the next one arrives as a read of its own


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
