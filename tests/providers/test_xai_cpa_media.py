"""CPA's xAI executor cases for Images and Videos (``xai_executor_test.go``): what an
image or video call sends xAI, through a running proxy to the fake xAI media API where a
client sees it. The Images API shapes are in tests/e2e/test_images_upstreams.py, the
Videos API in tests/e2e/test_videos.py."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.providers import xai_media
from cliproxy.providers.xai import API_BASE_URL, XAIProvider
from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.fakes.xai_media import XAIMediaFake
from tests.providers.test_xai_cpa_executor import post
from tests.providers.test_xai_cpa_headers import _CLI_ONLY, cred
from tests.providers.test_xai_cpa_prepare import xai_config
from tests.usage.helpers import close_recorder


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        yield fake


def test_image_refs_take_url() -> None:
    """CPA: TestNormalizeXAIImageRefsRewritesImageURLField: ``image``, ``images[]`` and
    ``reference_images[]`` objects, nested too, carry ``url`` (an own ``url`` wins) and
    no ``image_url``; a chat-style ``content`` part keeps its ``image_url``."""
    body: dict[str, Any] = {
        "image": {"type": "image_url", "image_url": "https://example.com/a.png"},
        "images": [
            {"image_url": {"url": "https://example.com/b.png"}},
            {"url": "https://example.com/c.png", "image_url": "https://example.com/ignored.png"},
        ],
        "reference_images": [{"image_url": "https://example.com/d.png"}],
        "nested": {"image": {"image_url": "https://example.com/e.png"}},
        "content": [{"type": "image_url", "image_url": {"url": "https://example.com/keep.png"}}],
    }
    xai_media.normalize_refs(body)
    assert body["image"] == {"type": "image_url", "url": "https://example.com/a.png"}
    assert body["images"] == [{"url": "https://example.com/b.png"}, {"url": "https://example.com/c.png"}]
    assert body["reference_images"] == [{"url": "https://example.com/d.png"}]
    assert body["nested"]["image"] == {"url": "https://example.com/e.png"}
    assert body["content"] == [{"type": "image_url", "image_url": {"url": "https://example.com/keep.png"}}]


def test_image_refs_under_any_key() -> None:
    """CPA: TestNormalizeXAIImageRefsSupportsSpecialJSONKeys (keys with dots, backslashes
    or none at all are plain keys here)."""
    keys = ("metadata.with.dot", "back\\slash", "")
    body = {key: {"image": {"image_url": f"https://example.com/{i}.png"}} for i, key in enumerate(keys)}
    xai_media.normalize_refs(body)
    assert [body[key]["image"] for key in keys] == [{"url": f"https://example.com/{i}.png"} for i in range(3)]


def test_media_calls_carry_no_grok_cli_headers() -> None:
    """CPA: TestXAIExecutorExecuteImagesUsesImagesEndpointAndPublishesUsage (its request
    half; the usage record is in tests/e2e/test_images_usage.py): an OAuth account's image
    call goes to the API's ``/images/generations`` with its token, JSON, and none of the
    Grok CLI's headers that its chat carries."""
    oauth = cred(API_BASE_URL, kind="oauth")
    req = XAIProvider().build(
        oauth,
        {"model": "grok-imagine-image-quality", "prompt": "draw"},
        model="grok-imagine-image-quality",
        stream=False,
        client_headers={},
        action="images.generations",
    )
    assert req.url == API_BASE_URL + "/images/generations"
    assert req.headers["Authorization"] == "Bearer xai-token" and req.headers["Accept"] == "application/json"
    assert not any(name in req.headers for name in (*_CLI_ONLY, "User-Agent"))
    assert orjson.loads(req.body)["prompt"] == "draw"


async def test_json_image_edit_sends_url(start_proxy, fake_xai) -> None:
    """CPA: TestXAIExecutorExecuteImagesRewritesImageURLToURL: a JSON edit whose image is
    ``{"image_url": ...}`` reaches xAI's ``/images/edits`` as ``{"url": ...}``."""
    proxy = await start_proxy(xai_config(fake_xai.base_url))
    body = {
        "model": "grok-imagine-image",
        "prompt": "edit",
        "image": {"image_url": "https://example.com/a.png"},
    }
    status, data = await post(proxy, "/v1/images/edits", body)
    assert status == 200, data
    sent = fake_xai.last
    assert sent.path == "/v1/images/edits"
    assert sent.json["image"]["url"] == "https://example.com/a.png" and "image_url" not in sent.json["image"]


@pytest.mark.parametrize("kind", ["generations", "edits", "extensions"])
async def test_native_video_endpoint_follows_the_path(start_proxy, fake_xai, kind: str) -> None:
    """CPA: TestXAIExecutorExecuteVideosUsesNativeEndpointFromRequestPath and
    TestXAIExecutorExecuteVideosCreate (its request half): ``POST /v1/videos/{kind}``
    goes to xAI's ``/videos/{kind}`` with the account's key, the client's
    ``x-idempotency-key`` and its body; the answer is xAI's."""
    proxy = await start_proxy(xai_config(fake_xai.base_url))
    body = {"model": "grok-imagine-video", "prompt": "animate", "duration": 4}
    headers = {"Authorization": f"Bearer {KEY}", "x-idempotency-key": "idem-123"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.post(f"{proxy.url}/v1/videos/{kind}", json=body, headers=headers) as resp,
    ):
        assert resp.status == 200, await resp.read()
        answer = orjson.loads(await resp.read())
    sent = fake_xai.last
    assert sent.path == f"/v1/videos/{kind}" and sent.key == "xai-1"
    assert sent.headers["x-idempotency-key"] == "idem-123"
    assert sent.json == body
    assert answer["request_id"]


MKEY = "m-xai-media-usage"
MEDIA = (("/v1/images/generations", "grok-imagine-image"), ("/v1/videos", "grok-imagine-video"))


def usage_config(base_url: str, tmp_path: Any) -> str:
    """One xAI key at ``base_url``, with the usage ledger on."""
    return (
        f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{base_url}"\n'
        f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    )


async def failures_by_model(proxy: Any) -> tuple[tuple[int, int, int], dict[str, list[bool]]]:
    """(requests, failures, tokens) of ``GET /v0/management/usage``, and each model's
    requests as failed or not."""
    recorder = recorder_of(proxy.service)
    assert recorder.stats.ledger is not None and recorder.stats.ledger.flush()
    headers = {"Authorization": f"Bearer {MKEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session,
        session.get(proxy.url + "/v0/management/usage", headers=headers) as resp,
    ):
        assert resp.status == 200
        snap = (await resp.json(content_type=None))["usage"]
    (models,) = [api["models"] for api in snap["apis"].values()]
    failed = {name: [d["failed"] for d in m["details"]] for name, m in models.items()}
    return (snap["total_requests"], snap["failure_count"], snap["total_tokens"]), failed


async def test_media_calls_record_usage_and_failures(start_proxy, fake_xai, tmp_path, monkeypatch) -> None:
    """CPA: TestXAIExecutorExecuteVideosCreate (its usage record),
    TestXAIExecutorExecuteVideosPublishesFailureUsage and
    TestXAIExecutorExecuteImagesPublishesFailureUsage: a video created is a request with
    no tokens; xAI's 429 to an image or a video reaches the client with its status and is
    a failed request of the model asked for. Before, video calls recorded nothing."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy(usage_config(fake_xai.base_url + "/v1", tmp_path))
    try:
        status, data = await post(proxy, "/v1/videos", {"model": "grok-imagine-video", "prompt": "animate"})
        assert status == 200, data
        for path, model in MEDIA:
            fake_xai.fail_next(429, message="rate limited")
            status, data = await post(proxy, path, {"model": model, "prompt": "draw"})
            assert status == 429, data
        totals, failed = await failures_by_model(proxy)
        assert totals == (3, 2, 0)
        assert failed == {"grok-imagine-video": [False, True], "grok-imagine-image": [True]}
    finally:
        close_recorder(proxy)


async def test_media_calls_that_cannot_be_sent_are_failures(start_proxy, tmp_path, monkeypatch) -> None:
    """CPA: TestXAIExecutorExecuteImagesPublishesRequestBuildFailureUsage and
    TestXAIExecutorExecuteVideosPublishesRequestBuildFailureUsage: with a base URL that is
    no URL (``://invalid``) nothing reaches xAI; the client gets our 502 (CPA: its
    executor's error) and each call is a failed request of its model."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy(usage_config("://invalid", tmp_path))
    try:
        for path, model in MEDIA:
            status, data = await post(proxy, path, {"model": model, "prompt": "draw"})
            assert status == 502, data
        totals, failed = await failures_by_model(proxy)
        assert totals == (2, 2, 0)
        assert failed == {"grok-imagine-image": [True], "grok-imagine-video": [True]}
    finally:
        close_recorder(proxy)
