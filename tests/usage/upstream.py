"""A Chat Completions upstream with fixed, fully itemised usage, for the usage tests.

The shared OpenAI fake estimates usage from the text and never reports cached tokens;
counting tests need exact, known numbers: every answer reports ``USAGE`` (prompt 100 of
which 40 cached, completion 30 of which 12 reasoning), a stream only in its last chunk.
Key ``sk-bad`` gets a 429 (one hour Retry-After), model ``reject-me`` a 400.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["USAGE", "UsageUpstream"]

USAGE = {
    "prompt_tokens": 100,
    "completion_tokens": 30,
    "total_tokens": 130,
    "prompt_tokens_details": {"cached_tokens": 40},
    "completion_tokens_details": {"reasoning_tokens": 12},
}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None, usage: Any = None) -> bytes:
    data: dict[str, Any] = {
        "id": "chatcmpl-u",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
    }
    if usage is not None:
        data["usage"] = usage
    return b"data: " + orjson.dumps(data) + b"\n\n"


class UsageUpstream(LocalServer):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1/chat/completions", self._chat)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        body = orjson.loads(await request.read())
        model = str(body.get("model"))
        if request.headers.get("Authorization") == "Bearer sk-bad":
            err = {"error": {"message": "rate limited", "type": "rate_limit_error"}}
            return web.json_response(err, status=429, headers={"Retry-After": "3600"})
        if model == "reject-me":
            err = {"error": {"message": "bad request", "type": "invalid_request_error"}}
            return web.json_response(err, status=400)
        if not body.get("stream"):
            message = {"role": "assistant", "content": "hello"}
            return web.json_response(
                {
                    "id": "chatcmpl-u",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                    "usage": USAGE,
                }
            )
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(_chunk(model, {"role": "assistant", "content": ""}))
        await resp.write(_chunk(model, {"content": "hel"}))
        await resp.write(_chunk(model, {"content": "lo"}))
        await resp.write(_chunk(model, {}, "stop"))
        await resp.write(_chunk(model, {}, usage=USAGE))
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp
