"""The Images API through the upstreams other than Codex that CPA sends it to: xAI
(``grok-imagine-image*``, CPA openai_images_handlers.go + xai_executor_media.go) and an
``openai-compatibility`` model marked ``image: true``. Clients: the official openai SDK."""

from __future__ import annotations

import base64
import io

import aiohttp
import openai
import orjson
import pytest

from cliproxy.providers import xai_media
from cliproxy.providers.base import RewriteError
from tests.e2e.clients import KEY
from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.server import Behavior
from tests.fakes.xai_media import XAIMediaFake


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        yield fake


def _config(fake_xai, fake_openai) -> str:
    return f"""
api-keys: ["{KEY}"]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_xai.base_url}/v1"
openai-compatibility:
  - name: pics
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-pics"
    models:
      - name: "upstream-image-model"
        alias: "my-image"
        image: true
"""


def _client(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


async def test_xai_generate_b64_by_default(start_proxy, fake_xai, fake_openai) -> None:
    """CPA ImagesGenerations with an xAI model: xAI's body (aspect ratio from size,
    resolution 1k by default, response_format b64_json) and the answer in OpenAI's shape."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    async with _client(proxy) as client:
        done = await client.images.generate(model="grok-imagine-image", prompt="a cat", size="1792x1024", n=2)
    sent = fake_xai.last
    assert sent.path == "/v1/images/generations"
    assert sent.json == {
        "model": "grok-imagine-image",
        "prompt": "a cat",
        "response_format": "b64_json",
        "aspect_ratio": "16:9",
        "resolution": "1k",
        "n": 2,
    }
    assert sent.key == "xai-1"
    assert len(done.data) == 2 and done.data[0].b64_json == PNG_1X1
    assert done.data[0].revised_prompt == "a cat!"


async def test_xai_generate_url_and_prefixed_model(start_proxy, fake_xai, fake_openai) -> None:
    """``response_format: url`` reaches xAI and its URL comes back; ``xai/`` prefix is CPA's."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    async with _client(proxy) as client:
        done = await client.images.generate(
            model="xai/grok-imagine-image-quality", prompt="a dog", response_format="url", size="2048x2048"
        )
    assert fake_xai.last.json["model"] == "grok-imagine-image-quality"
    assert fake_xai.last.json["resolution"] == "2k" and fake_xai.last.json["aspect_ratio"] == "1:1"
    assert done.data[0].url == fake_xai.url("/files/image.png")


async def test_xai_edit_multipart_sends_image_ref(start_proxy, fake_xai, fake_openai) -> None:
    """CPA TestXAIExecutorExecuteImagesUsesEditsEndpoint and buildXAIImagesEditRequest: an
    edit goes to ``/images/edits``; one image becomes ``image: {type, url}``."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    png = base64.b64decode(PNG_1X1)
    async with _client(proxy) as client:
        done = await client.images.edit(
            model="grok-imagine-image", prompt="make it blue", image=("in.png", io.BytesIO(png), "image/png")
        )
    sent = fake_xai.last
    assert sent.path == "/v1/images/edits"
    assert sent.json["image"] == {"type": "image_url", "url": f"data:image/png;base64,{PNG_1X1}"}
    assert "aspect_ratio" not in sent.json and "resolution" not in sent.json  # no defaults on edits
    assert done.data[0].b64_json == PNG_1X1


async def test_openai_compat_image_model(start_proxy, fake_xai, fake_openai) -> None:
    """CPA isOpenAICompatImagesModel: an ``image: true`` compat model goes to its upstream's
    /images/generations under the upstream name; the answer passes through."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    async with _client(proxy) as client:
        done = await client.images.generate(model="my-image", prompt="a tree")
    sent = fake_openai.last
    assert sent.path == "/v1/images/generations"
    assert sent.json["model"] == "upstream-image-model" and sent.key == "sk-pics"
    assert done.data[0].b64_json == PNG_1X1


async def test_unknown_image_model_is_a_400(start_proxy, fake_xai, fake_openai) -> None:
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    async with _client(proxy) as client:
        with pytest.raises(openai.BadRequestError) as err:
            await client.images.generate(model="grok-4", prompt="a tree")
    assert "grok-imagine-image" in str(err.value)


async def test_xai_upstream_error_keeps_its_status(start_proxy, fake_xai, fake_openai) -> None:
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    fake_xai.fail_next(400, message="bad prompt")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.post(
            proxy.url + "/v1/images/generations",
            json={"model": "grok-imagine-image", "prompt": "x"},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as resp:
            assert resp.status == 400
            assert "error" in orjson.loads(await resp.read())


# -- CPA's unit cases (openai_images_handlers_test.go / xai_executor tests), on our functions


def test_image_answer_url_from_b64_is_a_data_url() -> None:
    """CPA buildImagesAPIResponseFromXAI: url requested, only base64 given -> data: URL."""
    data = orjson.dumps({"created": 3, "data": [{"b64_json": "QUJD", "mime_type": "image/jpeg"}]})
    out = orjson.loads(xai_media.image_answer(data, "url"))
    assert out == {"created": 3, "data": [{"url": "data:image/jpeg;base64,QUJD"}]}


def test_image_answer_b64_falls_back_to_url() -> None:
    data = orjson.dumps({"created": 3, "data": [{"url": "https://x/y.png"}], "usage": {"a": 1}})
    out = orjson.loads(xai_media.image_answer(data, "b64_json"))
    assert out["data"] == [{"url": "https://x/y.png"}] and out["usage"] == {"a": 1}


def test_image_answer_without_images_is_a_502() -> None:
    with pytest.raises(RewriteError) as err:
        xai_media.image_answer(b'{"data": [{}]}', "b64_json")
    assert err.value.status == 502


def test_is_image_model_prefixes() -> None:
    """CPA isXAIImagesModel: bare, xai/, x-ai/ and grok/ prefixes; others are not xAI's."""
    assert xai_media.is_image_model("grok-imagine-image")
    assert xai_media.is_image_model("x-ai/grok-imagine-image-2.0")
    assert xai_media.is_image_model("grok/GROK-IMAGINE-IMAGE")
    assert not xai_media.is_image_model("openai/grok-imagine-image")
    assert not xai_media.is_image_model("gpt-image-2")


def test_normalize_image_refs() -> None:
    """CPA normalizeXAIImageRefs: image_url (string or object) becomes url, anywhere."""
    body = {
        "image": {"image_url": "https://a"},
        "nested": {"images": [{"image_url": {"url": "https://b"}}, {"url": "https://c"}]},
        "reference_images": [{"image_url": " https://d "}],
    }
    xai_media.normalize_refs(body)
    assert body == {
        "image": {"url": "https://a"},
        "nested": {"images": [{"url": "https://b"}, {"url": "https://c"}]},
        "reference_images": [{"url": "https://d"}],
    }


def test_canonical_model_keeps_image_2_0() -> None:
    """CPA TestCanonicalXAIImagesModelPreservesImage20."""
    for model in ("grok-imagine-image-2.0", "xai/grok-imagine-image-2.0", "XAI/Grok-Imagine-Image-2.0"):
        assert xai_media.image_body({"model": model, "prompt": "p"}, "images.generations")["model"] == (
            "grok-imagine-image-2.0"
        )


def test_build_generations_request() -> None:
    """CPA TestBuildXAIImagesGenerationsRequest."""
    body = {
        "model": "xai/grok-imagine-image-quality",
        "prompt": "abstract art",
        "aspect_ratio": "landscape",
        "resolution": "2k",
        "n": 2,
        "response_format": "url",
    }
    assert xai_media.image_body(body, "images.generations") == {
        "model": "grok-imagine-image-quality",
        "prompt": "abstract art",
        "response_format": "url",
        "aspect_ratio": "16:9",
        "resolution": "2k",
        "n": 2,
    }


def test_build_edit_request_images() -> None:
    """CPA TestBuildXAIImagesEditRequest, TestBuildXAIImagesEditRequestSingleImage: several images -> ``images``,
    one -> ``image``, each ``{"type": "image_url", "url"}``."""
    many = xai_media.image_body(
        {
            "model": "grok-imagine-image",
            "prompt": "edit it",
            "images": [
                {"image_url": "data:image/png;base64,AA=="},
                {"image_url": {"url": "https://e/i.png"}},
            ],
        },
        "images.edits",
    )
    assert many["images"] == [
        {"type": "image_url", "url": "data:image/png;base64,AA=="},
        {"type": "image_url", "url": "https://e/i.png"},
    ]
    assert "image" not in many
    one = xai_media.image_body(
        {"model": "grok-imagine-image", "prompt": "edit it", "image": "https://e/i.png"}, "images.edits"
    )
    assert one["image"] == {"type": "image_url", "url": "https://e/i.png"} and "images" not in one


def test_build_images_answer_from_xai() -> None:
    """CPA TestBuildImagesAPIResponseFromXAI."""
    payload = orjson.dumps(
        {
            "created": 123,
            "data": [{"b64_json": "AA==", "revised_prompt": "refined", "mime_type": "image/png"}],
            "usage": {"total_tokens": 0},
        }
    )
    out = orjson.loads(xai_media.image_answer(payload, "b64_json"))
    assert out == {
        "created": 123,
        "data": [{"b64_json": "AA==", "revised_prompt": "refined"}],
        "usage": {"total_tokens": 0},
    }


async def test_xai_generate_streamed(start_proxy, fake_xai, fake_openai) -> None:
    """CPA streamImagesWithModel: xAI answers whole; the client gets one
    ``image_generation.completed`` event per image (with the usage)."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    async with _client(proxy) as client:
        stream = await client.images.generate(model="grok-imagine-image", prompt="a cat", n=2, stream=True)
        events = [event async for event in stream]
    assert "stream" not in fake_xai.last.json
    assert [e.type for e in events] == ["image_generation.completed"] * 2
    assert events[0].b64_json == PNG_1X1
    assert events[0].usage is not None


async def test_xai_stream_waits_with_image_stream_keepalives(start_proxy, fake_xai, fake_openai) -> None:
    """CPA streamImagesWithModel waits with the stream's keep-alive comment
    (``streaming.keepalive-seconds``) under the image stream headers, then writes the
    events; before, the wait was a whole answer's (blank lines, ``application/json``)."""
    proxy = await start_proxy(_config(fake_xai, fake_openai) + "streaming:\n  keepalive-seconds: 1\n")
    fake_xai.script(Behavior(delay=1.2))
    body = {"model": "grok-imagine-image", "prompt": "a cat", "stream": True}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(
            proxy.url + "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            headers, got = resp.headers, await resp.read()
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert got.startswith(b": keep-alive\n\nevent: image_generation.completed\ndata: ")


def test_image_events_url() -> None:
    answer = orjson.dumps({"created": 1, "data": [{"url": "https://x/y.png"}]})
    frame = xai_media.image_events(answer, "image_edit")
    assert frame.startswith(b"event: image_edit.completed\ndata: ")
    assert orjson.loads(frame.split(b"data: ", 1)[1]) == {
        "type": "image_edit.completed",
        "url": "https://x/y.png",
    }
