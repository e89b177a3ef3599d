"""Streamed Images API answers for Codex's image models, as CPA serves them
(``streamRoutedImages`` -> ``executeDirectOpenAIImageStream``): ``stream: true`` goes to the
Codex backend's own ``/images/generations`` or ``/images/edits`` and its event stream comes
back as it was sent, with CPA's image stream headers; failures before the first byte fail
over, after it they end the stream in a bounded, redacted ``error`` event. The client is
the official openai SDK; the fake Codex backend streams the Images API's events
(tests/fakes/openai_images.py)."""

from __future__ import annotations

import base64

import aiohttp
import openai
import orjson
import pytest

from cliproxy.providers.identity import CODEX_USER_AGENT
from tests.e2e.clients import KEY
from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.server import Behavior

SECRET_KEY = "sk-codex-image-secret-key"
DEBUG = "x" * 8192


def _config(fakes, extra: str = "", keys: int = 1) -> str:
    entries = "".join(
        f"""
  - api-key: "{SECRET_KEY if i == 0 else f"sk-codex-{i}"}"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-image-2"}}, {{name: "gpt-image-1.5"}}]"""
        for i in range(keys)
    )
    return f'api-keys: ["{KEY}"]\nrequest-retry: 0\ncodex-api-key:{entries}\n{extra}'


def _client(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0)


async def test_generate_stream_goes_to_the_images_endpoint(start_proxy, fakes) -> None:
    """CPA TestCodexExecutorDirectOpenAIImageGenerationStreamsImagesEndpoint: the backend's
    ``/images/generations`` gets ``stream: true`` (its other fields as sent) with
    ``Accept: text/event-stream``, and its partial and completed events reach the client.
    Before, cliproxy asked ``/responses`` with the image tool forced (CPA's old path)."""
    proxy = await start_proxy(_config(fakes))
    async with _client(proxy) as client:
        stream = await client.images.generate(
            model="gpt-image-2", prompt="A cute baby sea otter", stream=True, partial_images=2
        )
        events = [event async for event in stream]
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/generations" and sent.key == SECRET_KEY
    assert sent.headers["Accept"] == "text/event-stream"
    assert sent.json == {
        "model": "gpt-image-2",
        "prompt": "A cute baby sea otter",
        "stream": True,
        "partial_images": 2,
    }
    assert [e.type for e in events] == [
        "image_generation.partial_image",
        "image_generation.partial_image",
        "image_generation.completed",
    ]
    assert [e.partial_image_index for e in events[:2]] == [0, 1]
    assert events[-1].b64_json == PNG_1X1 and events[-1].usage.total_tokens == 110


async def test_edit_stream_sends_cpas_json_edit(start_proxy, fakes) -> None:
    """CPA ``codexRewriteOpenAIImageEditMultipartToJSON`` with ``stream``: the SDK's
    multipart edit reaches ``/images/edits`` as JSON with ``stream: true`` and the image as
    a data URL; the backend's ``image_edit`` events come back."""
    proxy = await start_proxy(_config(fakes))
    async with _client(proxy) as client:
        stream = await client.images.edit(
            model="gpt-image-1.5",
            image=("in.png", base64.b64decode(PNG_1X1), "image/png"),
            prompt="make it blue",
            stream=True,
            partial_images=1,
        )
        events = [event async for event in stream]
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/edits"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json["stream"] is True and sent.json["model"] == "gpt-image-1.5"
    assert sent.json["images"] == [{"image_url": f"data:image/png;base64,{PNG_1X1}"}]
    assert [e.type for e in events] == ["image_edit.partial_image", "image_edit.completed"]


async def test_the_stream_is_the_backends_bytes_with_cpas_headers(start_proxy, fakes) -> None:
    """CPA relays the backend's chunks as they come (``forwardRawImageStream``) under
    ``setImagesSSEHeaders``: ``text/event-stream``, ``no-cache``, ``keep-alive`` and
    ``Access-Control-Allow-Origin: *``, even without an ``Origin``. Where no key is
    required, a browser's loopback ``Origin`` still gets itself back, never ``*``
    (docs/security.md: a deliberate difference)."""
    proxy = await start_proxy(_config(fakes).replace(f'api-keys: ["{KEY}"]\n', ""))
    body = {"model": "gpt-image-2", "prompt": "draw", "stream": True, "partial_images": 1}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(proxy.url + "/v1/images/generations", json=body) as resp:
            assert resp.status == 200
            headers = resp.headers
            got = await resp.read()
        origin = {"Origin": "http://localhost:3000"}
        async with session.post(proxy.url + "/v1/images/generations", json=body, headers=origin) as resp:
            browser = resp.headers
            await resp.read()
    assert got == fakes.responses.image_stream
    assert got.startswith(b"event: image_generation.partial_image\ndata: {")
    assert headers["Content-Type"] == "text/event-stream"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Connection"].lower() == "keep-alive"
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert browser["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def test_a_failure_before_the_first_byte_fails_over(start_proxy, fakes) -> None:
    """An account the backend refuses, or whose stream breaks before any event, is passed
    over for the next one (nothing has reached the client): the client gets the image."""
    proxy = await start_proxy(_config(fakes, keys=3))
    fakes.responses.script(Behavior(status=429, message="Rate limit reached"), Behavior(cut_after=0))
    async with _client(proxy) as client:
        stream = await client.images.generate(model="gpt-image-2", prompt="draw", stream=True)
        events = [event async for event in stream]
    assert [e.type for e in events] == ["image_generation.completed"]
    keys = [r.key for r in fakes.responses.requests]
    assert len(keys) == 3 and len(set(keys)) == 3  # each attempt on another account


async def test_a_stream_that_breaks_ends_in_an_error_event(start_proxy, fakes) -> None:
    """CPA: a read error after the first chunk is written as the image stream's ``error``
    event (``writeImagesStreamErrorEvent``), which the SDK raises (CPA:
    TestForwardRawImageStreamPrefersPendingErrorOnClose, without its Go channel race)."""
    proxy = await start_proxy(_config(fakes))
    fakes.responses.script(Behavior(cut_after=1))
    seen = []
    async with _client(proxy) as client:
        stream = await client.images.generate(
            model="gpt-image-2", prompt="draw", stream=True, partial_images=1
        )
        with pytest.raises(openai.APIError, match="upstream connection broke") as err:
            async for event in stream:
                seen.append(event.type)
    assert seen == ["image_generation.partial_image"]
    assert err.value.body["type"] == "server_error"


async def test_an_upstream_error_event_is_made_safe_and_ends_the_stream(start_proxy, fakes) -> None:
    """CPA TestForwardImagesStreamCancelsWithPayloadError and
    TestCollectImagesRejectsPayloadErrorBeforeCompleted: an error event in the image stream
    reaches the client with only its ``type`` / ``code`` / ``message`` / ``param``, bounded
    and redacted (``token=`` values, the credential's own key), a debug dump dropped; the
    stream ends there. (CPA's direct path relays such an event as it came: we screen it,
    as its Responses-era image path did.)"""
    proxy = await start_proxy(_config(fakes))
    event = {
        "type": "error",
        "error": {"code": "upstream_failed", "message": f"token=image-secret key {SECRET_KEY}"},
        "debug": DEBUG,
    }
    fakes.responses.script(Behavior(stream_error="upstream_failed", body=event))
    body = {"model": "gpt-image-2", "prompt": "draw", "stream": True, "partial_images": 2}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(
            proxy.url + "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            got = await resp.read()
    first, error = got.split(b"\n\n", 1)
    assert first.startswith(b"event: image_generation.partial_image\n")
    assert error.startswith(b"event: error\ndata: ") and error.endswith(b"}\n\n")
    data = orjson.loads(error.split(b"data: ", 1)[1])
    assert data == {
        "type": "error",
        "error": {"code": "upstream_failed", "message": "token=[REDACTED] key [REDACTED]"},
    }
    async with _client(proxy) as client:  # the SDK raises it
        fakes.responses.script(Behavior(stream_error="upstream_failed", body=event))
        stream = await client.images.generate(
            model="gpt-image-2", prompt="draw", stream=True, partial_images=2
        )
        with pytest.raises(openai.APIError, match=r"token=\[REDACTED\]"):
            async for _ in stream:
                pass


async def test_an_error_after_keepalives_is_cpas_safe_error_event(start_proxy, fakes) -> None:
    """CPA TestWriteImagesStreamErrorEventSanitizesPayload: once keep-alives committed the
    200 (with the image headers), the backend's refusal comes as an ``error`` event whose
    secret is redacted and whose debug dump is gone, well under 4 KiB."""
    proxy = await start_proxy(_config(fakes, "streaming:\n  keepalive-seconds: 1\n"))
    refusal = {"error": {"code": "upstream_failed", "message": "token=image-secret"}, "debug": DEBUG}
    fakes.responses.script(Behavior(status=500, body=refusal, delay=1.2))
    body = {"model": "gpt-image-2", "prompt": "draw", "stream": True}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(
            proxy.url + "/v1/images/generations", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            got = await resp.read()
    assert got.startswith(b": keep-alive\n\n")
    error = got[got.index(b"event: error") :]
    assert len(error) < 4096 and b"image-secret" not in error and b"[REDACTED]" in error
    data = orjson.loads(error.split(b"data: ", 1)[1])
    assert data == {"error": {"code": "upstream_failed", "message": "token=[REDACTED]"}}


async def test_generate_whole_sends_cpas_direct_headers(start_proxy, fakes) -> None:
    """CPA TestCodexExecutorDirectOpenAIImageGenerationUsesImagesEndpoint: JSON to
    ``/images/generations`` with ``Accept: application/json``, the body as sent less
    ``stream``, Codex's own client headers passed on, but never the client's
    ``User-Agent`` (CPA ``applyCodexDirectImageHeaders``). Shown with
    ``disable-codex-cloaking: true``, where the client's ``Originator`` is kept (CPA's test
    runs with cloaking on, which forces Codex's own)."""
    proxy = await start_proxy(_config(fakes, "codex:\n  disable-codex-cloaking: true\n"))
    headers = {
        "User-Agent": "downstream-client/9.9",
        "Version": "0.135.0",
        "X-Codex-Turn-Metadata": '{"turn_id":"turn-1"}',
        "X-Client-Request-Id": "client-request-1",
        "Originator": "Codex Desktop",
    }
    async with _client(proxy) as client:
        done = await client.images.generate(
            model="gpt-image-1.5",
            prompt="A cute baby sea otter",
            size="1024x1024",
            output_compression=70,
            stream=False,
            extra_body={"extra": {"preserve": True}},
            extra_headers=headers,
        )
    assert done.data[0].b64_json == PNG_1X1
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/generations"
    assert sent.headers["Accept"] == "application/json"
    assert sent.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert sent.headers["User-Agent"] == CODEX_USER_AGENT  # Codex's own, not the client's
    assert sent.headers["Originator"] == "Codex Desktop"
    for name in ("Version", "X-Codex-Turn-Metadata", "X-Client-Request-Id"):
        assert sent.headers[name] == headers[name]
    assert sent.json["model"] == "gpt-image-1.5" and sent.json["extra"] == {"preserve": True}
    assert sent.json["output_compression"] == 70 and "stream" not in sent.json


async def test_a_compat_image_streams_error_event_is_made_safe_too(start_proxy, fake_openai) -> None:
    """The same screen on an ``image: true`` openai-compatibility model's relay (CPA's
    ``streamOpenAICompatImages`` bounds and redacts its terminal errors with the Responses
    rules; an in-band error event, relayed as it came there, is screened here too)."""
    proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: pics
    base-url: "{fake_openai.base_url}/v1"
    api-key-entries: [{{api-key: "sk-pics-secret-key"}}]
    models: [{{name: "upstream-image", alias: "compat-image", image: true}}]
""")
    event = {"type": "error", "error": {"message": "bad sk-pics-secret-key", "debug": DEBUG}}
    fake_openai.script(Behavior(stream_error="server_error", body=event))
    async with _client(proxy) as client:
        stream = await client.images.generate(
            model="compat-image", prompt="draw", stream=True, partial_images=2
        )
        with pytest.raises(openai.APIError) as err:
            async for _ in stream:
                pass
    assert err.value.message == "bad [REDACTED]" and err.value.body == {"message": "bad [REDACTED]"}
