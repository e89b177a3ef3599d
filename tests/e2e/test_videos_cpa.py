"""CPA's video handler cases (sdk/api/handlers/openai/openai_videos_handlers_test.go) that
tests/e2e/test_videos.py does not already hold: which models each video API takes, CPA's
refusals word for word, and how the 1.5 preview alias is routed, over HTTP against the fake
xAI media server."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.xai_media import XAIMediaFake

NATIVE, OPENAI = "/v1/videos/generations", "/openai/v1/videos"


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1", "xai-2"}) as fake:
        yield fake


def _entry(fake_xai, key: str, models: str = "") -> str:
    return f'  - api-key: "{key}"\n    base-url: "{fake_xai.base_url}/v1"\n' + models


async def _call(proxy, method: str, path: str, body: object = None, data: bytes | None = None):
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.request(
            method,
            proxy.url + path,
            json=body,
            data=data,
            headers={"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"},
        ) as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


@pytest.mark.parametrize("prefix", ["", "xai/", "x-ai/", "grok/", "codex/"])
@pytest.mark.parametrize(
    "model", ["grok-imagine-video", "grok-imagine-video-1.5", "grok-imagine-video-1.5-preview"]
)
async def test_video_models_each_api_takes(start_proxy, fake_xai, prefix, model) -> None:
    """TestVideosModelValidationAllowsXAIVideoModel: xAI's video models with no prefix or
    ``xai/``, ``x-ai/``, ``grok/`` are taken by xAI's own API; ``codex/`` ones are refused."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n' + _entry(fake_xai, "xai-1"))
    status, answer = await _call(proxy, "POST", NATIVE, {"model": prefix + model, "prompt": "p"})
    if prefix == "codex/":
        assert status == 400 and "is not supported on" in answer["error"]["message"]
        assert not fake_xai.requests
    else:
        assert status == 200 and answer["request_id"], answer


async def test_refusals_are_cpas(start_proxy, fake_xai) -> None:
    """TestVideosCreateRejectsUnsupportedModel, TestVideosCreateInvalidSizeReturnsFailedVideoResource,
    TestXAIVideosNativeRejectsUnsupportedModel, TestXAIVideosNativeRejectsInvalidJSON and the
    sora-2 half of TestVideosModelValidationAllowsXAIVideoModel: OpenAI's Videos API answers
    a client mistake with a failed ``video`` object (``error.code`` invalid_request_error, no
    ``error.type``); xAI's API refuses sora-2 and a broken JSON body with OpenAI's error."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\nxai-api-key:\n' + _entry(fake_xai, "xai-1"))
    status, video = await _call(
        proxy, "POST", OPENAI, {"model": "not-a-video-model", "prompt": "make a video"}
    )
    assert status == 400
    assert (video["object"], video["model"], video["status"], video["progress"]) == (
        "video",
        "not-a-video-model",
        "failed",
        0,
    )
    assert video["error"] == {
        "code": "invalid_request_error",
        "message": "Model not-a-video-model is not supported on /openai/v1/videos. Use sora-2.",
    }
    assert video["id"].startswith("video_")
    status, video = await _call(
        proxy, "POST", OPENAI, {"model": "sora-2", "prompt": "make a video", "size": "1080x1920"}
    )
    assert status == 400 and video["model"] == "grok-imagine-video" and video["status"] == "failed"
    assert video["error"] == {
        "code": "invalid_request_error",
        "message": "Invalid request: size must be one of 720x1280, 1280x720, 1024x1792, or 1792x1024",
    }
    status, answer = await _call(proxy, "POST", NATIVE, {"model": "sora-2", "prompt": "make a video"})
    assert status == 400
    assert answer["error"]["message"] == (
        "Model sora-2 is not supported on /v1/videos/generations, /v1/videos/edits, or "
        "/v1/videos/extensions. Use grok-imagine-video."
    )
    status, answer = await _call(proxy, "POST", "/v1/videos/edits", data=b'{"model":')
    assert status == 400 and answer["error"]["type"] == "invalid_request_error"
    assert not fake_xai.requests
    status, _ = await _call(proxy, "POST", OPENAI, {"model": "sora-2", "prompt": "p"})
    assert status == 200


@pytest.mark.parametrize("path", [OPENAI, NATIVE])
async def test_preview_alias_goes_to_the_credential_serving_it(start_proxy, fake_xai, path) -> None:
    """TestVideosCreatePreviewAliasUsesPreviewAuthWithGAPayload,
    TestXAIVideosNativePreviewAliasUsesPreviewAuthWithGAPayload and
    TestXAIVideosNativeRetrieveUsesCanonicalBoundModel: ``grok-imagine-video-1.5-preview`` is
    routed to the credential listing that alias (not to one listing only the default video
    model) and xAI is sent the GA name ``grok-imagine-video-1.5``; the poll goes to the same
    credential."""
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\nxai-api-key:\n'
        + _entry(fake_xai, "xai-1", '    models: [{name: "grok-imagine-video"}]\n')
        + _entry(fake_xai, "xai-2", '    models: [{name: "grok-imagine-video-1.5-preview"}]\n')
    )
    for _ in range(2):  # round robin would give one of the two to xai-1
        status, created = await _call(
            proxy, "POST", path, {"model": "grok-imagine-video-1.5-preview", "prompt": "p"}
        )
        assert status == 200, created
        assert fake_xai.last.key == "xai-2" and fake_xai.last.json["model"] == "grok-imagine-video-1.5"
        video_id = created.get("id") or created["request_id"]
        if path == OPENAI:
            assert created["model"] == "grok-imagine-video-1.5"
        status, _ = await _call(proxy, "GET", f"{path.removesuffix('/generations')}/{video_id}")
        assert status == 200 and fake_xai.last.key == "xai-2"
