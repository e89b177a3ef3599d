"""What the usage ledger says of a streamed Images API request whose upstream (an
``openai-compatibility`` model marked ``image: true``, its own image stream relayed as it
comes) broke off after the first image event: CPA's ``executeImagesStream`` publishes the
read's failure, so the request is a failed one.

Found broken: the relayed stream ended with the proxy's ``error`` event for the client but
told the request's record nothing, so the row said 200, success."""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codexws_usage_rows import _rows_after
from tests.e2e.test_images_compat import _config
from tests.fakes.server import Behavior


async def _proxy(start_proxy, fake_openai, tmp_path):  # type: ignore[no-untyped-def]
    ledger = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}\n'
    return await start_proxy(_config(fake_openai, ledger))


async def _generate(proxy, kinds: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.images.generate(
            model="compat-image", prompt="draw", stream=True, partial_images=3
        )
        async for event in stream:
            kinds.append(event.type)
    return kinds


async def test_an_image_stream_the_upstream_broke_off_is_a_failed_request(start_proxy, fake_openai, tmp_path):
    """The connection breaks after two partial images: the client gets them, then the
    error, and the row says 502, failed (before: 200, success)."""
    proxy = await _proxy(start_proxy, fake_openai, tmp_path)
    fake_openai.script(Behavior(cut_after=2))
    kinds: list[str] = []
    with pytest.raises(openai.APIError, match="broke mid-stream"):
        await _generate(proxy, kinds)
    assert kinds == ["image_generation.partial_image"] * 2  # (it failed late)
    assert await _rows_after(proxy, 1) == [(502, 1)]


async def test_a_whole_image_stream_is_a_success(start_proxy, fake_openai, tmp_path):
    """The same stream whole: 200, success."""
    proxy = await _proxy(start_proxy, fake_openai, tmp_path)
    kinds = await _generate(proxy, [])
    assert kinds[-1] == "image_generation.completed"
    assert await _rows_after(proxy, 1) == [(200, 0)]


async def test_an_upstreams_own_error_event_stays_a_success_as_in_cpa(start_proxy, fake_openai, tmp_path):
    """An error event the upstream itself sent in its image stream reaches the client (its
    safe fields), and the row stays 200, success: CPA relays an image stream's bytes as
    they come and publishes a failure only for a read that fails."""
    proxy = await _proxy(start_proxy, fake_openai, tmp_path)
    fake_openai.script(Behavior(stream_error="server_error", error_after=2))
    kinds: list[str] = []
    with pytest.raises(openai.APIError, match="server_error"):
        await _generate(proxy, kinds)
    assert kinds == ["image_generation.partial_image"] * 2
    assert await _rows_after(proxy, 1) == [(200, 0)]
