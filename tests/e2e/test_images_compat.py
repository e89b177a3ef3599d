"""The Images API of an ``openai-compatibility`` model marked ``image: true`` as CPA serves
it (openai_images_handlers.go ``handleOpenAICompatImages``, openai_compat_executor.go
``executeImages`` / ``executeImagesStream``): ``stream: true`` reaches the upstream and its
own event stream comes back as it was sent; a multipart edit goes upstream as a form under
the upstream model name, each file with its own Content-Type. The fake upstream is
OpenAI's Images API (tests/fakes/openai_images.py); the client is the official openai SDK."""

from __future__ import annotations

import base64
import io

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.server import Behavior, FormFile

PNG = base64.b64decode(PNG_1X1)


def _config(fake_openai, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
{extra}
openai-compatibility:
  - name: pics
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-pics"
    models:
      - name: "upstream-image"
        alias: "compat-image"
        image: true
"""


def _client(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


async def test_generate_stream_reaches_the_upstream_and_comes_back(start_proxy, fake_openai) -> None:
    """CPA TestOpenAICompatExecutorImagesGenerationsStreamsUpstream and
    TestBuildOpenAICompatImagesJSONRequestPreservesStreamForStreaming: the upstream gets
    ``stream: true`` under its own model name with ``Accept: text/event-stream``, and its
    partial and completed events reach the client."""
    proxy = await start_proxy(_config(fake_openai))
    async with _client(proxy) as client:
        stream = await client.images.generate(
            model="compat-image", prompt="draw", stream=True, partial_images=2
        )
        events = [event async for event in stream]
    sent = fake_openai.last
    assert sent.path == "/v1/images/generations" and sent.key == "sk-pics"
    assert sent.headers["Accept"] == "text/event-stream"
    assert sent.json["model"] == "upstream-image" and sent.json["stream"] is True
    assert sent.json["partial_images"] == 2
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert events[-1].b64_json == PNG_1X1 and events[-1].usage.total_tokens == 110


async def test_stream_bytes_are_the_upstreams(start_proxy, fake_openai) -> None:
    """CPA relays the upstream's stream raw (``streamOpenAICompatImages`` writes each chunk
    as it came): the client's bytes are the upstream's, event lines included."""
    proxy = await start_proxy(_config(fake_openai))
    async with aiohttp.ClientSession() as session:
        async with session.post(
            proxy.url + "/v1/images/generations",
            json={"model": "compat-image", "prompt": "draw", "stream": True, "partial_images": 1},
            headers={"Authorization": f"Bearer {KEY}"},
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/event-stream")
            got = await resp.read()
    assert got == fake_openai.image_stream
    assert got.startswith(b"event: image_generation.partial_image\ndata: {")


async def test_generate_without_stream_sends_none(start_proxy, fake_openai) -> None:
    """CPA TestOpenAICompatExecutorImagesGenerationsPassthrough and
    TestBuildOpenAICompatImagesJSONRequestDropsStreamForNonStreaming: a JSON body under
    the upstream name, without ``stream``, answered whole."""
    proxy = await start_proxy(_config(fake_openai))
    async with _client(proxy) as client:
        done = await client.images.generate(model="compat-image", prompt="draw", stream=False)
    sent = fake_openai.last
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json == {"model": "upstream-image", "prompt": "draw"}
    assert done.data[0].b64_json == PNG_1X1


async def test_edit_goes_upstream_as_multipart(start_proxy, fake_openai) -> None:
    """CPA TestOpenAICompatExecutorImagesEditsMultipartRewritesModel: the form keeps its
    fields and files (each with its Content-Type, the mask too) and names the upstream
    model; an upstream that takes only forms (the real API checks each file's type)
    answers."""
    proxy = await start_proxy(_config(fake_openai))
    async with _client(proxy) as client:
        done = await client.images.edit(
            model="compat-image",
            prompt="edit",
            image=[
                ("a.png", io.BytesIO(PNG), "image/png"),
                ("b.webp", io.BytesIO(b"webp-data"), "image/webp"),
            ],
            mask=("mask.png", io.BytesIO(PNG), "image/png"),
            n=2,
        )
    sent = fake_openai.last
    assert sent.path == "/v1/images/edits"
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sent.body.startswith(b"--")  # the model field comes first
    assert sent.body.split(b"\r\n", 3)[1:3] == [b'Content-Disposition: form-data; name="model"', b""]
    form = sent.json
    assert form["model"] == "upstream-image" and form["prompt"] == "edit" and form["n"] == "2"
    assert "stream" not in form
    assert form["image[]"] == [
        FormFile("a.png", "image/png", PNG),
        FormFile("b.webp", "image/webp", b"webp-data"),
    ]
    assert form["mask"] == FormFile("mask.png", "image/png", PNG)
    assert len(done.data) == 2


async def test_edit_stream_keeps_the_file_type(start_proxy, fake_openai) -> None:
    """CPA TestBuildOpenAICompatImagesMultipartRequestPreservesStreamAndFileContentType and
    TestRewriteOpenAICompatImagesMultipartPayloadPreservesStreamAndFileContentType: a
    streamed edit's form says ``stream=true`` once, keeps ``image/webp``, and the
    upstream's ``image_edit`` events come back."""
    proxy = await start_proxy(_config(fake_openai))
    async with _client(proxy) as client:
        stream = await client.images.edit(
            model="compat-image",
            prompt="edit",
            image=("in.webp", io.BytesIO(b"webp"), "image/webp"),
            stream=True,
        )
        events = [event async for event in stream]
    form = fake_openai.last.json
    assert form["model"] == "upstream-image" and form["stream"] == "true"
    assert form["image"] == FormFile("in.webp", "image/webp", b"webp")
    assert [e.type for e in events] == ["image_edit.completed"]


async def test_edit_form_refusals(start_proxy, fake_openai) -> None:
    """A form without an image file is the client's 400 (CPA: "image is required"); one
    larger than ``limits.max-body-mb`` is a 413; neither reaches the upstream. The
    upstream's own refusal keeps its status and says why."""
    proxy = await start_proxy(_config(fake_openai, "limits:\n  max-body-mb: 1\n"))
    async with _client(proxy) as client:
        with pytest.raises(openai.BadRequestError, match="image"):
            await client.post(
                "/images/edits",
                cast_to=object,
                body={"model": "compat-image", "prompt": "edit"},
                files=[("mask", ("m.png", PNG, "image/png"))],
                options={"headers": {"Content-Type": "multipart/form-data"}},
            )
        big = ("big.png", io.BytesIO(b"\0" * (1024 * 1024 + 1)), "image/png")
        with pytest.raises(openai.APIStatusError) as err:
            await client.images.edit(model="compat-image", prompt="edit", image=big)
        assert err.value.status_code == 413
        assert fake_openai.requests == []
        with pytest.raises(openai.BadRequestError, match="unsupported mimetype"):
            await client.images.edit(
                model="compat-image",
                prompt="edit",
                image=("x.bin", io.BytesIO(b"x"), "application/octet-stream"),
            )
    assert fake_openai.last.json["image"].content_type == "application/octet-stream"


async def test_stream_failures(start_proxy, fake_openai) -> None:
    """An upstream refusal before the stream keeps its status (nothing streamed yet); a
    stream that breaks after its first event ends with an ``error`` event, which the SDK
    raises."""
    proxy = await start_proxy(_config(fake_openai))
    async with _client(proxy) as client:
        fake_openai.fail_next(400, message="size is not supported")
        with pytest.raises(openai.BadRequestError, match="size is not supported"):
            await client.images.generate(model="compat-image", prompt="draw", stream=True)
        fake_openai.script(Behavior(cut_after=1))
        stream = await client.images.generate(
            model="compat-image", prompt="draw", stream=True, partial_images=1
        )
        seen = []
        with pytest.raises(openai.APIError, match="upstream connection broke"):
            async for event in stream:
                seen.append(event.type)
    assert seen == ["image_generation.partial_image"]
