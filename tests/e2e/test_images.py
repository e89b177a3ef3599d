"""Image generation through Codex: the ``image_generation`` tool offered on every Codex
request (``disable-image-generation: false``), its ``image_generation_call`` result in each
client format, and the other ``disable-image-generation`` modes. Clients are the official
SDKs; the fake Codex backend draws a 1x1 PNG when asked to "draw"."""

from __future__ import annotations

import base64
import io

import aiohttp
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.openai_responses import PNG_1X1

PNG_MAGIC = b"\x89PNG"


def _config(fakes, mode: str | None = None) -> str:
    return matrix_config(fakes, f"disable-image-generation: {mode}\n" if mode is not None else "")


def _sent_tools(fakes) -> list[dict]:
    return fakes.responses.last.json.get("tools") or []


async def test_responses_sdk_gets_the_image_generation_call(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(
            model="codex-model", input="draw a green square", tools=[{"type": "image_generation"}]
        )
    calls = [item for item in done.output if item.type == "image_generation_call"]
    assert len(calls) == 1
    assert base64.b64decode(calls[0].result or "").startswith(PNG_MAGIC)
    assert done.output_text


async def test_responses_sdk_stream_carries_the_image_events(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.stream(
            model="codex-model", input="draw a green square", tools=[{"type": "image_generation"}]
        ) as stream:
            kinds = [event.type async for event in stream]
            final = await stream.get_final_response()
    # Codex's own progress events reach a Responses client as they came (CPA: the Codex ->
    # Responses stream is passed through), the item whole in output_item.done
    progress = [k for k in kinds if k.startswith("response.image_generation_call.")]
    assert progress == [
        "response.image_generation_call.in_progress",
        "response.image_generation_call.generating",
        "response.image_generation_call.partial_image",
        "response.image_generation_call.completed",
    ]
    assert "response.output_item.done" in kinds
    images = [item for item in final.output if item.type == "image_generation_call"]
    assert images and images[0].result == PNG_1X1


async def test_the_tool_is_offered_when_the_client_did_not(start_proxy, fakes) -> None:
    """CPA TestEnsureImageGenerationTool_NoTools, end to end: a plain Responses request asking
    for a drawing reaches Codex with the tool, and the client gets the image."""
    proxy = await start_proxy(_config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(model="codex-model", input="draw a green square")
    assert _sent_tools(fakes) == [{"type": "image_generation", "output_format": "png"}]
    assert any(item.type == "image_generation_call" for item in done.output)


async def test_chat_client_gets_images_as_cpa_renders_them(start_proxy, fakes) -> None:
    """CPA codex_openai_response.go: ``message.images`` (whole) and ``delta.images``
    (stream), each ``{"type": "image_url", "image_url": {"url": "data:image/png;base64,..."}}``."""
    proxy = await start_proxy(_config(fakes))
    body = {"model": "codex-model", "messages": [{"role": "user", "content": "draw a green square"}]}
    headers = {"Authorization": f"Bearer {KEY}"}
    url = f"data:image/png;base64,{PNG_1X1}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(proxy.url + "/v1/chat/completions", json=body, headers=headers) as resp:
            whole = orjson.loads(await resp.read())
        async with session.post(
            proxy.url + "/v1/chat/completions", json={**body, "stream": True}, headers=headers
        ) as resp:
            raw = await resp.read()
    images = whole["choices"][0]["message"]["images"]
    assert images[0]["type"] == "image_url" and images[0]["image_url"]["url"] == url
    deltas = [
        orjson.loads(line[6:])
        for line in raw.split(b"\n")
        if line.startswith(b"data: {") and b'"images"' in line
    ]
    assert deltas and deltas[0]["choices"][0]["delta"]["images"][0]["image_url"]["url"] == url


async def test_gemini_client_gets_an_inline_data_part(start_proxy, fakes) -> None:
    """CPA codex_gemini_response.go: the image as an ``inlineData`` part."""
    from google import genai
    from google.genai import types as gtypes

    proxy = await start_proxy(_config(fakes))
    client = genai.Client(
        api_key=KEY, http_options=gtypes.HttpOptions(base_url=proxy.url, api_version="v1beta")
    )
    done = await client.aio.models.generate_content(model="codex-model", contents="draw a green square")
    parts = done.candidates[0].content.parts
    inline = [p.inline_data for p in parts if p.inline_data is not None]
    assert inline and inline[0].mime_type == "image/png"
    assert inline[0].data.startswith(PNG_MAGIC)


@pytest.mark.parametrize("mode", ["true", "chat"])
async def test_disabled_strips_the_tool(start_proxy, fakes, mode) -> None:
    """disable-image-generation true / chat: the client's image tool and tool_choice never
    reach Codex, and none is added; the answer is plain text."""
    proxy = await start_proxy(_config(fakes, mode))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.responses.create(
            model="codex-model",
            input="draw a green square",
            tools=[{"type": "image_generation"}],
            tool_choice={"type": "image_generation"},
        )
    sent = fakes.responses.last.json
    assert "tools" not in sent or sent["tools"] == []
    assert "tool_choice" not in sent
    assert not any(item.type == "image_generation_call" for item in done.output)


async def test_passthrough_leaves_the_tools_as_sent(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes, "passthrough"))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(model="codex-model", input="hello")
        assert "tools" not in fakes.responses.last.json
        await client.responses.create(
            model="codex-model", input="hi", tools=[{"type": "image_generation", "quality": "low"}]
        )
        assert _sent_tools(fakes) == [{"type": "image_generation", "quality": "low"}]


async def test_compact_never_gets_the_tool(start_proxy, fakes) -> None:
    """CPA TestCodexExecutorCompactAddsDefaultInstructionsWithoutInjectingImageTool."""
    proxy = await start_proxy(_config(fakes))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.compact(model="codex-model", input="history")
    assert "tools" not in fakes.responses.last.json


# ---------------------------------------------------------------------------- the Images API


def _images_config(fakes, mode: str | None = None) -> str:
    text = f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-image-2"}}, {{name: "gpt-image-1.5"}}]
"""
    return text + (f"disable-image-generation: {mode}\n" if mode is not None else "")


async def _post_images(url: str, body: dict, path: str = "/v1/images/generations") -> tuple[int, dict]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(url + path, json=body, headers={"Authorization": f"Bearer {KEY}"}) as resp:
            return resp.status, orjson.loads(await resp.read())


@pytest.mark.parametrize("mode", [None, "chat", "passthrough"])
async def test_images_generate_through_the_openai_sdk(start_proxy, fakes, mode) -> None:
    """CPA openai_images_handlers.go ImagesGenerations with a Codex image model: the body
    goes to the Codex backend's ``/images/generations`` (CPA's direct path) and its answer
    comes back; ``chat`` and ``passthrough`` keep the Images routes (CPA:
    TestApplyPayloadConfigWithRoot_DisableImageGenerationChat_KeepsImageGenerationOnImagesEndpoints:
    an Images request is never stripped)."""
    proxy = await start_proxy(_images_config(fakes, mode))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.images.generate(model="gpt-image-2", prompt="a green square", size="1024x1024")
    assert done.data and base64.b64decode(done.data[0].b64_json or "").startswith(PNG_MAGIC)
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/generations"
    assert sent.json == {"model": "gpt-image-2", "prompt": "a green square", "size": "1024x1024"}
    assert sent.key == "sk-codex-1"


async def test_images_generate_defaults_to_gpt_image_2(start_proxy, fakes) -> None:
    proxy = await start_proxy(_images_config(fakes))
    status, answer = await _post_images(proxy.url, {"prompt": "a green square", "n": 2})
    assert status == 200, answer
    assert len(answer["data"]) == 2
    assert fakes.responses.last.json["model"] == "gpt-image-2"


async def test_images_edit_multipart_becomes_cpas_json_edit(start_proxy, fakes) -> None:
    """CPA codexRewriteOpenAIImageEditMultipartToJSON: the SDK's multipart edit reaches Codex
    as JSON, the image and mask as data URLs, numbers as numbers."""
    proxy = await start_proxy(_images_config(fakes))
    png = base64.b64decode(PNG_1X1)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        done = await client.images.edit(
            model="gpt-image-1.5",
            image=("square.png", png, "image/png"),
            mask=("mask.png", png, "image/png"),
            prompt="make it blue",
            n=1,
        )
    assert done.data and done.data[0].b64_json == PNG_1X1
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/edits"
    url = f"data:image/png;base64,{PNG_1X1}"
    assert sent.json["images"] == [{"image_url": url}]
    assert sent.json["mask"] == {"image_url": url}
    assert (
        sent.json["n"] == 1
        and sent.json["prompt"] == "make it blue"
        and sent.json["model"] == "gpt-image-1.5"
    )


async def test_images_edit_json_passes_through(start_proxy, fakes) -> None:
    """CPA TestCodexExecutorDirectOpenAIImageEditUsesImagesEditEndpointForJSON: a JSON edit
    goes to ``/images/edits`` as sent (file ids, the mask), less ``stream: false``."""
    proxy = await start_proxy(_images_config(fakes))
    body = {
        "model": "gpt-image-2",
        "prompt": "Replace the background",
        "images": [{"image_url": f"data:image/png;base64,{PNG_1X1}"}, {"file_id": "file-abc123"}],
        "mask": {"file_id": "file-mask123"},
        "output_compression": 100,
        "stream": False,
    }
    status, answer = await _post_images(proxy.url, body, "/v1/images/edits")
    assert status == 200, answer
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/edits"
    assert sent.json == {k: v for k, v in body.items() if k != "stream"}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"model": "dall-e-3", "prompt": "x"}, "is not supported"),
        ({"model": "gpt-image-2"}, "prompt"),
    ],
    ids=["unsupported-model", "no-prompt"],
)
async def test_images_bad_requests_are_400s(start_proxy, fakes, body, needle) -> None:
    proxy = await start_proxy(_images_config(fakes))
    status, answer = await _post_images(proxy.url, body)
    assert status == 400
    assert needle in answer["error"]["message"]
    assert not fakes.responses.requests


async def test_images_routes_are_404_when_image_generation_is_disabled(start_proxy, fakes) -> None:
    """CPA: ``disable-image-generation: true`` disables the Images routes too (404).
    CPA: TestImagesGenerations_DisableImageGeneration_Returns404,
    TestImagesEdits_DisableImageGeneration_Returns404. Deliberate difference: the 404 says
    why in a JSON error (CPA's is empty)."""
    proxy = await start_proxy(_images_config(fakes, "true"))
    for path in ("/v1/images/generations", "/v1/images/edits"):
        status, answer = await _post_images(proxy.url, {"prompt": "x"}, path)
        assert status == 404
        assert "disable-image-generation" in answer["error"]["message"]
    assert not fakes.responses.requests


async def test_images_routes_stay_with_image_generation_disabled_in_chat_only(start_proxy, fakes) -> None:
    """CPA: TestImagesGenerations_DisableImageGenerationChat_DoesNotReturn404,
    TestImagesEdits_DisableImageGenerationChat_DoesNotReturn404: ``chat`` only strips the
    tool from chat requests; the Images routes still answer (here a 400 for a request
    without a prompt, not a 404)."""
    proxy = await start_proxy(_images_config(fakes, "chat"))
    for path in ("/v1/images/generations", "/v1/images/edits"):
        status, answer = await _post_images(proxy.url, {}, path)
        assert status == 400 and "disable-image-generation" not in answer["error"]["message"]


async def test_images_edit_multipart_is_capped_by_max_body_mb(start_proxy, fakes) -> None:
    """A multipart body is read part by part: past limits.max-body-mb it is a 413 and
    nothing goes upstream."""
    proxy = await start_proxy(_images_config(fakes) + "limits:\n  max-body-mb: 1\n")
    form = aiohttp.FormData()
    form.add_field("prompt", "make it blue")
    big = io.BytesIO(b"\x89PNG" + b"\x00" * (2 * 1024 * 1024))
    form.add_field("image", big, filename="big.png", content_type="image/png")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(
            proxy.url + "/v1/images/edits", data=form, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            status, answer = resp.status, orjson.loads(await resp.read())
    assert status == 413
    assert answer["error"]["message"] == "request body is larger than limits.max-body-mb allows"
    assert not fakes.responses.requests
