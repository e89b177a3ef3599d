"""JSON nested deeper than the proxy can write back, on the routes whose handlers read
their body themselves (xAI's video routes, Realtime client secrets): the client's 400,
nothing sent upstream, as on every other route (``formats.validate.check_depth``)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_images_upstreams import _config, fake_xai

__all__ = ["fake_xai"]

DEEP = "[" * 300 + "]" * 300  # orjson reads 1,024 levels and writes 254


async def _post(proxy: Any, path: str, body: str) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession() as s, s.post(proxy.url + path, data=body, headers=headers) as r:
        return r.status, await r.json(content_type=None)


@pytest.mark.parametrize("path", ["/v1/videos", "/v1/videos/generations", "/openai/v1/videos"])
async def test_a_deep_video_body_is_the_clients_400(start_proxy, fake_xai, fake_openai, path):
    """Before, xAI's own video routes passed the body to the provider, whose write of it
    failed: a 500 "internal error in cliproxy" with a traceback per request. (OpenAI's
    video create dropped the field and went on; it now refuses the body as the others do.)"""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    status, answer = await _post(proxy, path, f'{{"model":"grok-imagine-video","prompt":"x","extra":{DEEP}}}')
    assert status == 400, answer
    error = answer["error"]
    assert error.get("type", error.get("code")) == "invalid_request_error"
    assert "nested too deeply" in error["message"]
    assert fake_xai.requests == []
    status, _ = await _post(proxy, path, '{"model":"grok-imagine-video","prompt":"x","extra":[[[1]]]}')
    assert status == 200  # a body of ordinary depth still goes through


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/realtime/sessions", f'{{"model":"gpt-realtime","extra":{DEEP}}}'),
        ("/v1/realtime/client_secrets", f'{{"session":{{"type":"realtime","extra":{DEEP}}}}}'),
        ("/v1/realtime/client_secrets", f'{{"extra":{DEEP}}}'),
    ],
)
async def test_a_deep_realtime_mint_is_the_clients_400(start_proxy, fake_xai, fake_openai, path, body):
    """Before, a session nested that deep made the mint's write of it fail: a 500 with a
    traceback per request (the legacy sessions route and a client secret's session); a
    deep field beside the session was dropped, and is now refused as on every route."""
    proxy = await start_proxy(_config(fake_xai, fake_openai))
    status, answer = await _post(proxy, path, body)
    assert status == 400, answer
    assert answer["error"]["type"] == "invalid_request_error"
    assert "nested too deeply" in answer["error"]["message"]
    status, _ = await _post(proxy, path, "{}")
    assert status == 200
