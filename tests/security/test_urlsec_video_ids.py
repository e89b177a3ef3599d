"""A video id is one path segment of the xAI poll (``GET {base}/videos/{id}``), percent-
encoded; but "." and ".." are segments every HTTP client resolves (RFC 3986 dot
segments), so an id of ".." sent the credential's key to the base URL's root and "." to
the videos collection, and the client got the upstream's answer verbatim. They are no
video id: the client's 400, nothing sent."""

from __future__ import annotations

import aiohttp
import pytest
from yarl import URL

from tests.e2e.clients import KEY
from tests.fakes.xai_media import XAIMediaFake

PATHS = [
    "/v1/videos/..",  # (as sent: the client does not resolve it, encoded=True)
    "/v1/videos/%2E%2E",
    "/v1/videos/%2e%2E",
    "/v1/videos/.",
    "/v1/videos/%2E",
    "/v1/videos/%20..%20",  # (the id is trimmed)
    "/openai/v1/videos/%2E%2E",
    "/openai/v1/videos/%2E",
    "/openai/v1/videos/%2E%2E/content",
]


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        yield fake


@pytest.mark.parametrize("upstream_http", ["", "upstream-http: aiohttp\n"])
async def test_a_dot_segment_video_id_is_refused(start_proxy, fake_xai, upstream_http):
    """Before, each of these polled ``GET /v1/`` (or ``/v1/videos/``) on the xAI base URL
    with the account's key and answered 200 with whatever came back. Now: 400 in OpenAI's
    error shape, and the fake saw no request. A real id with a dot still goes, encoded."""
    config = (
        f'api-keys: ["{KEY}"]\nxai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_xai.base_url}/v1"\n'
    )
    proxy = await start_proxy(config + upstream_http)
    auth = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as s:
        for path in PATHS:
            async with s.get(URL(proxy.url + path, encoded=True), headers=auth) as r:
                answer = await r.json()
                assert r.status == 400, (path, answer)
                assert "video id" in answer["error"]["message"], (path, answer)
        assert not fake_xai.requests
        async with s.get(URL(proxy.url + "/v1/videos/a.b%2F..", encoded=True), headers=auth) as r:
            await r.read()
    assert [r.path for r in fake_xai.requests] == ["/v1/videos/a.b/.."]  # (the fake's decoded view)
