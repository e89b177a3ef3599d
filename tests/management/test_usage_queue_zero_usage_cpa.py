"""CPA's ``test/usage_logging_test.go`` case of a successful Gemini answer that reports zero
tokens: it is still a usage-queue record. Through the proxy (google-genai SDK) against a
Gemini upstream that answers ``usageMetadata`` of zeros, read back from
``GET /v0/management/usage-queue``."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from google import genai
from google.genai import types as gtypes

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.fakes.local import LocalServer
from tests.management.conftest import mcall
from tests.usage.helpers import close_recorder

ANSWER = {
    "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
    "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0},
}


class ZeroUsageGemini(LocalServer):
    def __init__(self) -> None:
        self.paths: list[str] = []

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/v1beta/models/{action}", self.generate)

    async def generate(self, request: web.Request) -> web.Response:
        self.paths.append(request.path)
        return web.json_response(ANSWER)


async def test_a_success_with_zero_usage_is_still_recorded(mproxy: Any) -> None:
    """CPA: TestGeminiExecutorRecordsSuccessfulZeroUsageInQueue: the answer reached the
    client, and the queue holds one record for the upstream model with zero tokens."""
    async with ZeroUsageGemini() as upstream:
        proxy = await mproxy(
            f'api-keys: ["{KEY}"]\nusage-statistics-enabled: true\ngemini-api-key:\n'
            f'  - api-key: "g-1"\n    base-url: "http://127.0.0.1:{upstream.port}"\n'
            '    models: [{name: "gemini-2.5-flash", alias: "zero-model"}]\n'
        )
        recorder_of(proxy.service)
        try:
            client = genai.Client(
                api_key=KEY,
                http_options=gtypes.HttpOptions(
                    base_url=proxy.url,
                    api_version="v1beta",
                    retry_options=gtypes.HttpRetryOptions(attempts=1),
                ),
            )
            try:
                answer = await client.aio.models.generate_content(model="zero-model", contents="hi")
            finally:
                await client.aio.aclose()
            assert answer.text == "ok"
            assert upstream.paths == ["/v1beta/models/gemini-2.5-flash:generateContent"]
            async with asyncio.timeout(5):
                while not (records := (await mcall(proxy, "GET", "/usage-queue"))[1]):
                    await asyncio.sleep(0.02)
        finally:
            close_recorder(proxy)
    (record,) = records
    assert (record["provider"], record["model"], record["failed"]) == ("gemini", "gemini-2.5-flash", False)
    assert record["tokens"]["total_tokens"] == 0
