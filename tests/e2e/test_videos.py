"""Videos through xAI as CPA serves them (openai_videos_handlers.go, xai_executor_media.go):
OpenAI's Videos API on ``/openai/v1/videos`` through the official openai SDK (create, poll,
content), xAI's own API on ``/v1/videos*``, and the video -> credential binding."""

from __future__ import annotations

import time

import aiohttp
import openai
import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.media import VideoBindings
from cliproxy.providers import xai_media
from cliproxy.providers.base import RewriteError
from tests.e2e.clients import KEY
from tests.fakes.proxies import http_proxy  # noqa: F401
from tests.fakes.xai_media import VIDEO_BYTES, XAIMediaFake

# the SDK warns that OpenAI's own Sora service shuts down; the API shape is what we serve
pytestmark = pytest.mark.filterwarnings("ignore:The Sora API:DeprecationWarning")


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1", "xai-2"}) as fake:
        yield fake


def _config(fake_xai, keys=("xai-1",), extra: str = "") -> str:
    entries = "".join(f'  - api-key: "{k}"\n    base-url: "{fake_xai.base_url}/v1"\n' for k in keys)
    return f'api-keys: ["{KEY}"]\nxai-api-key:\n{entries}{extra}'


_AUTH = {"Authorization": f"Bearer {KEY}"}


def _client(proxy) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=proxy.url + "/openai/v1", api_key=KEY, max_retries=0)


async def test_sdk_create_poll_and_download(start_proxy, fake_xai) -> None:
    """CPA VideosCreate / VideosRetrieve / VideosContent: sora-2 goes to grok-imagine-video,
    the xAI request_id is the video id, polls map xAI's statuses, content is the file with
    its Content-Type and Content-Disposition (CPA: TestWriteVideoContentFromURL)."""
    proxy = await start_proxy(_config(fake_xai))
    async with _client(proxy) as client:
        video = await client.videos.create(model="sora-2", prompt="a wave", seconds="8", size="1280x720")
        assert video.status == "queued" and video.model == "grok-imagine-video"
        assert video.seconds == "8" and video.size == "1280x720"
        sent = fake_xai.last.json
        assert fake_xai.last.path == "/v1/videos/generations"
        assert sent == {
            "model": "grok-imagine-video",
            "prompt": "a wave",
            "duration": 8,
            "aspect_ratio": "16:9",
            "resolution": "720p",
        }
        first = await client.videos.retrieve(video.id)
        assert first.status == "queued" and first.progress == 40
        done = await client.videos.poll(video.id, poll_interval_ms=10)
        assert done.status == "completed" and done.seconds == "4"
        content = await client.videos.download_content(video.id)
        assert await content.aread() == VIDEO_BYTES
        assert content.response.headers["content-type"] == "video/mp4"
        assert content.response.headers["content-disposition"] == 'attachment; filename="video.mp4"'
    assert fake_xai.last.path == f"/files/{video.id}.mp4"


async def test_polls_stay_on_the_creating_credential(start_proxy, fake_xai) -> None:
    """CPA videoAuthBindings (CPA: TestVideosCreateBindsRetrieveToSelectedAuth): a video is
    polled with the credential that created it (the
    fake only knows a video on the key that made it), whatever the rotation says."""
    proxy = await start_proxy(_config(fake_xai, keys=("xai-1", "xai-2")))
    async with _client(proxy) as client:
        videos = [await client.videos.create(model="grok-imagine-video", prompt=f"v{i}") for i in range(2)]
        owners = {v.id: fake_xai.videos[v.id]["key"] for v in videos}
        assert set(owners.values()) == {"xai-1", "xai-2"}  # round robin spread them
        for _ in range(2):
            for video in videos:
                got = await client.videos.retrieve(video.id)
                assert got.id == video.id
                assert fake_xai.last.key == owners[video.id]


async def test_bad_size_is_a_failed_video_400(start_proxy, fake_xai) -> None:
    """CPA writeVideosFailedError: a client mistake answers 400 with a failed video object."""
    proxy = await start_proxy(_config(fake_xai))
    async with _client(proxy) as client:
        with pytest.raises(openai.BadRequestError) as err:
            await client.videos.create(model="sora-2", prompt="x", size="999x999")  # type: ignore[arg-type]
    body = err.value.body
    assert isinstance(body, dict) and "size must be one of" in body["message"]
    assert not fake_xai.requests


async def test_native_api_passes_through(start_proxy, fake_xai) -> None:
    """CPA XAIVideosGenerations / XAIVideosRetrieve (and TestXAIExecutorExecuteVideosRetrieve:
    a poll is ``GET /videos/{request_id}``): xAI's body and answers as they are; the
    preview alias is sent as the GA model on the default xAI models (CPA:
    TestVideosCreatePreviewAliasUsesDefaultXAIModelsWithGAPayload)."""
    proxy = await start_proxy(_config(fake_xai))
    headers = {"Authorization": f"Bearer {KEY}", "x-idempotency-key": "idem-1"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        body = {
            "model": "xai/grok-imagine-video-1.5-preview",
            "prompt": "p",
            "image": {"image_url": "https://i"},
        }
        async with session.post(proxy.url + "/v1/videos/edits", json=body, headers=headers) as resp:
            assert resp.status == 200
            created = orjson.loads(await resp.read())
        sent = fake_xai.last
        assert sent.path == "/v1/videos/edits" and sent.headers["x-idempotency-key"] == "idem-1"
        assert sent.json["model"] == "grok-imagine-video-1.5" and sent.json["image"] == {"url": "https://i"}
        async with session.get(proxy.url + f"/v1/videos/{created['request_id']}", headers=headers) as resp:
            assert resp.status == 200
            assert orjson.loads(await resp.read())["status"] == "pending"
        async with session.post(
            proxy.url + "/v1/videos", json={"model": "grok-4", "prompt": "p"}, headers=headers
        ) as resp:
            assert resp.status == 400
            assert "grok-imagine-video" in orjson.loads(await resp.read())["error"]["message"]


async def test_native_polls_stay_on_the_creating_credential(start_proxy, fake_xai) -> None:
    """CPA: TestXAIVideosNativeCreateBindsRetrieveToSelectedAuth: on xAI's native API too, a
    video is polled with the credential that created it, whatever the rotation says."""
    proxy = await start_proxy(_config(fake_xai, keys=("xai-1", "xai-2")))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        ids = []
        for i in range(2):
            body = {"model": "grok-imagine-video", "prompt": f"v{i}"}
            async with session.post(proxy.url + "/v1/videos/generations", json=body, headers=_AUTH) as resp:
                assert resp.status == 200
                ids.append(orjson.loads(await resp.read())["request_id"])
        assert {fake_xai.videos[i]["key"] for i in ids} == {"xai-1", "xai-2"}  # round robin spread them
        for _ in range(2):
            for video_id in ids:
                async with session.get(proxy.url + f"/v1/videos/{video_id}", headers=_AUTH) as resp:
                    assert resp.status == 200
                assert fake_xai.last.key == fake_xai.videos[video_id]["key"]


async def test_unknown_video_is_a_404_and_cools_nothing(start_proxy, fake_xai) -> None:
    proxy = await start_proxy(_config(fake_xai))
    async with _client(proxy) as client:
        with pytest.raises(openai.NotFoundError):
            await client.videos.retrieve("nope")
        video = await client.videos.create(model="sora-2", prompt="still works")
    assert video.status == "queued"


async def test_binding_ttl_is_the_config_key(start_proxy, fake_xai) -> None:
    """``video-result-auth-cache-ttl``: the binding lasts as long as the key says (CPA:
    TestVideoAuthBindingTTLUsesConfig)."""
    proxy = await start_proxy(_config(fake_xai, extra='video-result-auth-cache-ttl: "90s"\n'))
    async with _client(proxy) as client:
        video = await client.videos.create(model="sora-2", prompt="p")
    bindings = proxy.service.videos.bindings
    found = bindings.get(video.id)
    assert found is not None
    assert 80 < found.expires - time.monotonic() <= 90


# -- CPA's unit cases (openai_videos_handlers_test.go), on our functions


def test_seconds_are_clamped_and_refs_cap_duration() -> None:
    """CPA normalizeXAIVideosSeconds (1..15) and the 10 s cap with reference images
    (CPA: TestBuildXAIVideosCreateRequestAllowsCustomSeconds)."""
    body, meta = xai_media.video_create_body({"prompt": "p", "seconds": "99"}, "sora-2")
    assert body["duration"] == 15 and meta.seconds == "15"
    body, meta = xai_media.video_create_body(
        {"prompt": "p", "seconds": "12", "reference_image_urls": ["https://a"]}, "sora-2"
    )
    assert body["duration"] == 10 and body["reference_images"] == [{"url": "https://a"}]


def test_create_rejections() -> None:
    """CPA: TestBuildXAIVideosCreateRequestRejectsFileIDReference, and the other refusals."""
    cases = [
        ({"prompt": ""}, "prompt is required"),
        ({"prompt": "p", "seconds": "four"}, "seconds must be an integer"),
        ({"prompt": "p", "input_reference": {"file_id": "f"}}, "file_id is not supported"),
        ({"prompt": "p", "image": "https://a", "reference_images": ["https://b"]}, "cannot be combined"),
        ({"prompt": "p", "reference_images": [f"https://{i}" for i in range(8)]}, "at most 7"),
    ]
    for body, needle in cases:
        with pytest.raises(RequestError) as err:
            xai_media.video_create_body(body, "sora-2")
        assert needle in err.value.message


def test_retrieve_maps_status_and_error() -> None:
    """CPA buildVideosRetrieveAPIResponseFromXAI / setOpenAIVideoErrorFromXAI (CPA:
    TestBuildVideosRetrieveAPIResponseFromXAINormalizesTopLevelError,
    TestBuildVideosRetrieveAPIResponseFromXAINormalizesNestedError: code and message kept,
    no ``type``)."""
    out = xai_media.video_retrieve_answer("v", orjson.dumps({"status": "expired", "error": "gone"}), "sora-2")
    assert out["status"] == "failed" and out["error"] == {
        "code": "video_generation_failed",
        "message": "gone",
    }
    assert out["model"] == "grok-imagine-video"
    out = xai_media.video_retrieve_answer("v", orjson.dumps({"code": "moderated"}), "sora-2")
    assert out["status"] == "failed" and out["progress"] == 0 and out["error"]["code"] == "moderated"
    nested = {
        "status": "failed",
        "error": {"message": "rejected", "type": "invalid_request_error", "code": "cpv"},
    }
    out = xai_media.video_retrieve_answer("v", orjson.dumps(nested), "sora-2")
    assert out["error"] == {"code": "cpv", "message": "rejected"}


def test_content_url_must_be_http() -> None:
    with pytest.raises(RewriteError):
        xai_media.video_content_url(orjson.dumps({"video": {"url": "file:///etc/passwd"}}))


def test_models_route_as_cpa() -> None:
    """CPA canonicalXAIVideosModel / routingXAIVideosModel (CPA:
    TestBuildXAIVideosCreateRequestMapsSoraModelToXAIBackend,
    TestBuildXAIVideosCreateRequestAllowsVideo15Model,
    TestBuildXAIVideosCreateRequestNormalizesVideo15PreviewAlias)."""
    assert xai_media.video_model("grok-imagine-video-1.5-preview") == "grok-imagine-video-1.5"
    assert xai_media.routing_video_model("grok-imagine-video-1.5-preview") == "grok-imagine-video-1.5-preview"
    assert xai_media.video_model("sora-2-pro") == "grok-imagine-video"
    assert not xai_media.is_video_model("openai/grok-imagine-video")
    body, meta = xai_media.video_create_body(
        {"prompt": "p", "seconds": "8"}, "xai/grok-imagine-video-1.5-preview"
    )
    assert body["model"] == meta.model == "grok-imagine-video-1.5"
    assert meta.routing_model == "grok-imagine-video-1.5-preview"


def test_bindings_expire() -> None:
    """CPA: TestVideoAuthBindingStoreExpiresEntries."""
    now = [100.0]
    bindings = VideoBindings(clock=lambda: now[0])
    bindings.bind("v", "cred", "m", 10)
    assert bindings.get("v") is not None
    now[0] = 111
    assert bindings.get("v") is None


@pytest.mark.parametrize("where", ["credential", "global"])
async def test_download_goes_through_the_credentials_proxy(start_proxy, fake_xai, http_proxy, where) -> None:  # noqa: F811
    """CPA TestVideosContentUsesSelectedAuthProxyForDownload,
    TestWriteVideoContentFromURLUsesPinnedAuthProxy: the video file is fetched through the
    proxy of the credential that made the video; without one, through the global
    ``proxy-url`` (CPA: TestWriteVideoContentFromURLFallsBackToGlobalProxy)."""
    if where == "credential":
        proxy = await start_proxy(_config(fake_xai) + f'    proxy-url: "{http_proxy.url}"\n')
    else:
        proxy = await start_proxy(f'proxy-url: "{http_proxy.url}"\n' + _config(fake_xai))
    async with _client(proxy) as client:
        video = await client.videos.create(model="sora-2", prompt="p")
        fake_xai.polls_pending = 0
        before = http_proxy.connections
        content = await client.videos.download_content(video.id)
        assert await content.aread() == VIDEO_BYTES
    # one connection per request through this proxy: the poll, then the file
    assert http_proxy.connections - before == 2


async def test_form_create(start_proxy, fake_xai) -> None:
    """CPA TestVideosCreateFormRequest: a urlencoded create with
    ``input_reference[image_url]`` reaches xAI as ``image.url``."""
    proxy = await start_proxy(_config(fake_xai))
    form = {
        "model": "grok-imagine-video",
        "prompt": "make a video",
        "seconds": "4",
        "size": "720x1280",
        "input_reference[image_url]": "https://example.com/a.png",
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session:
        async with session.post(
            proxy.url + "/openai/v1/videos", data=form, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp:
            assert resp.status == 200
            assert orjson.loads(await resp.read())["object"] == "video"
    assert fake_xai.last.json["image"] == {"url": "https://example.com/a.png"}
    assert fake_xai.last.json["aspect_ratio"] == "9:16"


def test_build_create_request() -> None:
    """CPA TestBuildXAIVideosCreateRequest."""
    body, meta = xai_media.video_create_body(
        {
            "model": "xai/grok-imagine-video",
            "prompt": "a cat playing piano",
            "seconds": "8",
            "size": "1280x720",
            "input_reference": {"image_url": "https://example.com/cat.png"},
        },
        "xai/grok-imagine-video",
    )
    assert body == {
        "model": "grok-imagine-video",
        "prompt": "a cat playing piano",
        "duration": 8,
        "aspect_ratio": "16:9",
        "resolution": "720p",
        "image": {"url": "https://example.com/cat.png"},
    }
    assert (meta.seconds, meta.size, meta.prompt) == ("8", "1280x720", "a cat playing piano")


def test_build_create_answer() -> None:
    """CPA TestBuildVideosCreateAPIResponseFromXAI."""
    meta = xai_media.VideoMeta("grok-imagine-video", "grok-imagine-video", "animate", "4", "720x1280", 123)
    out = xai_media.video_create_answer(b'{"request_id":"vid_123"}', meta)
    assert (out["id"], out["object"], out["status"], out["created_at"]) == ("vid_123", "video", "queued", 123)


def test_build_retrieve_answer() -> None:
    """CPA TestBuildVideosRetrieveAPIResponseFromXAI (+ ...NormalizesTopLevelError,
    ...NormalizesNestedError)."""
    url = "https://vidgen.x.ai/xai-vidgen-bucket/v.mp4"
    payload = {
        "object": "video",
        "id": "91989464",
        "model": "grok-imagine-video",
        "status": "completed",
        "progress": 100,
        "seconds": "4",
        "video": {"url": url, "duration": 4, "respect_moderation": True},
        "usage": {"cost_in_usd_ticks": 2800000000},
    }
    out = xai_media.video_retrieve_answer("91989464", orjson.dumps(payload), "sora-2")
    assert out == {
        "object": "video",
        "id": "91989464",
        "model": "grok-imagine-video",
        "status": "completed",
        "progress": 100,
        "seconds": "4",
        "video_url": url,
    }
    top = {"code": "invalid-argument", "error": "1080p video resolution is not available for your team."}
    out = xai_media.video_retrieve_answer("video_123", orjson.dumps(top), "sora-2")
    assert (out["status"], out["progress"]) == ("failed", 0)
    assert out["error"] == {"code": "invalid-argument", "message": top["error"]}
    nested = {
        "status": "failed",
        "error": {"message": "rejected", "type": "invalid_request_error", "code": "content_policy_violation"},
    }
    out = xai_media.video_retrieve_answer("video_123", orjson.dumps(nested), "sora-2")
    assert out["error"] == {"code": "content_policy_violation", "message": "rejected"}


def test_content_url() -> None:
    """CPA TestXAIVideoContentURLFromPayload."""
    payload = b'{"status":"done","video":{"url":"https://vidgen.x.ai/video.mp4","duration":6}}'
    assert xai_media.video_content_url(payload) == "https://vidgen.x.ai/video.mp4"
