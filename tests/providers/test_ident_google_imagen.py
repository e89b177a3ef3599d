"""Imagen models on Vertex AI: ``:predict`` takes ``{"instances": [{"prompt"}],
"parameters": {"sampleCount"}}`` and answers ``{"predictions": [{"bytesBase64Encoded",
"mimeType"}]}``, not a Gemini body (CPA ``convertToImagenRequest`` and
``convertImagenToGeminiResponse`` in gemini_vertex_executor.go). A small Vertex fake here
answers ``:predict`` as Vertex does and refuses a Gemini body there.

Deliberate difference: CPA converts on its service-account path only (its API-key path
sends the Gemini body to ``:predict``, which Vertex refuses); here both forms convert, and
the API-key form is what these tests drive (the URL and auth of each form are tested in
tests/providers/test_vertex.py)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from aiohttp import web
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from tests.conftest import Proxy, StartProxy
from tests.e2e.clients import KEY

MODEL = "imagen-4.0-generate-001"
PNG = b"\x89PNG\r\n\x1a\nfake-image"


class VertexImagen:
    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _predict(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.paths.append(request.path)
        self.bodies.append(body)
        if request.headers.get("x-goog-api-key") != "vk-1":
            return web.json_response({"error": {"code": 401, "status": "UNAUTHENTICATED"}}, status=401)
        instances = body.get("instances")
        if not isinstance(instances, list) or not instances or not instances[0].get("prompt"):
            error = {"code": 400, "message": "Invalid instances", "status": "INVALID_ARGUMENT"}
            return web.json_response({"error": error}, status=400)
        count = int(body.get("parameters", {}).get("sampleCount", 1))
        image = base64.b64encode(PNG).decode()
        return web.json_response(
            {"predictions": [{"bytesBase64Encoded": image, "mimeType": "image/png"} for _ in range(count)]}
        )

    async def start(self) -> VertexImagen:
        app = web.Application()
        app.router.add_post("/v1/publishers/google/models/{model}:predict", self._predict)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self


@pytest.fixture
async def vertex() -> AsyncIterator[VertexImagen]:
    server = await VertexImagen().start()
    yield server
    assert server.runner is not None
    await server.runner.cleanup()


async def _proxy(start_proxy: StartProxy, vertex: VertexImagen) -> Proxy:
    return await start_proxy(
        f"""
api-keys: ["{KEY}"]
request-retry: 0
vertex-api-key:
  - api-key: "vk-1"
    base-url: "{vertex.url}"
    models: [{{name: "{MODEL}", alias: "{MODEL}"}}]
"""
    )


async def test_a_gemini_client_gets_the_image(start_proxy: StartProxy, vertex: VertexImagen) -> None:
    proxy = await _proxy(start_proxy, vertex)
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    answer = await client.aio.models.generate_content(
        model=MODEL,
        contents="a red fox in the snow",
        config=gtypes.GenerateContentConfig(image_config=gtypes.ImageConfig(aspect_ratio="16:9")),
    )
    assert vertex.paths == [f"/v1/publishers/google/models/{MODEL}:predict"]
    assert vertex.bodies == [
        {
            "instances": [{"prompt": "a red fox in the snow"}],
            "parameters": {"sampleCount": 1, "aspectRatio": "16:9"},
        }
    ]
    assert answer.candidates and answer.candidates[0].content and answer.candidates[0].content.parts
    part = answer.candidates[0].content.parts[0]
    assert part.inline_data is not None
    assert part.inline_data.mime_type == "image/png" and part.inline_data.data == PNG
    assert answer.candidates[0].finish_reason == gtypes.FinishReason.STOP


async def test_an_openai_client_prompt_is_its_user_text(
    start_proxy: StartProxy, vertex: VertexImagen
) -> None:
    """The prompt is the first user text of the request as sent on (a system prompt stays
    out of it)."""
    proxy = await _proxy(start_proxy, vertex)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        answer = await client.chat.completions.create(
            model=MODEL,
            messages=[
                {"role": "system", "content": "You draw."},
                {"role": "user", "content": "a lighthouse at dusk"},
            ],
        )
    assert vertex.bodies[0]["instances"] == [{"prompt": "a lighthouse at dusk"}]
    assert answer.choices[0].finish_reason == "stop"


async def test_no_prompt_is_the_clients_error(start_proxy: StartProxy, vertex: VertexImagen) -> None:
    proxy = await _proxy(start_proxy, vertex)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]
            )
    assert "prompt" in str(caught.value)
    assert vertex.bodies == []


async def test_a_streaming_request_is_refused_before_it_is_sent(
    start_proxy: StartProxy, vertex: VertexImagen
) -> None:
    """Imagen does not stream (CPA sends the Gemini body to ``:predict`` anyway, and Vertex
    refuses it): a 400 in the client's format, nothing sent."""
    proxy = await _proxy(start_proxy, vertex)
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(genai_errors.ClientError) as caught:
        async for _ in await client.aio.models.generate_content_stream(model=MODEL, contents="a cat"):
            pass
    assert caught.value.code == 400 and "does not stream" in str(caught.value)
    assert vertex.bodies == []
