"""The Codex backend's Images API for the fake OpenAI server: ``POST
/backend-api/codex/images/generations`` and ``.../images/edits`` (JSON in, JSON out, as
CPA's direct Codex image path uses them). Every answer is one 1x1 PNG per ``n``."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.openai_responses import PNG_1X1

if TYPE_CHECKING:
    from tests.fakes.openai import OpenAIFake

__all__ = ["edits", "generations"]


async def generations(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return fake.error_response(400, "prompt is required", None)
    return fake.json_response(_answer(body))


async def edits(fake: OpenAIFake, request: web.Request) -> web.StreamResponse:
    body = fake.body(request)
    images = body.get("images")
    if (
        not isinstance(images, list)
        or not all(isinstance(i, dict) and i.get("image_url") for i in images)
        or not images
    ):
        return fake.error_response(400, "images: at least one image_url is required", None)
    return fake.json_response(_answer(body))


def _answer(body: dict[str, Any]) -> dict[str, Any]:
    n = body.get("n") if isinstance(body.get("n"), int) else 1
    return {
        "created": int(time.time()),
        "background": "opaque",
        "output_format": body.get("output_format") or "png",
        "quality": body.get("quality") or "high",
        "size": body.get("size") or "1024x1024",
        "data": [{"b64_json": PNG_1X1, "revised_prompt": body["prompt"]} for _ in range(n)],
        "usage": {
            "input_tokens": 10,
            "input_tokens_details": {"image_tokens": 0, "text_tokens": 10},
            "output_tokens": 100,
            "total_tokens": 110,
        },
    }
