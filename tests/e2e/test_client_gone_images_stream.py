"""A client that leaves a streamed Images API request before the upstream's first image
event ends the upstream call at once (the same leak as the stream bootstrap's:
tests/e2e/test_client_gone_bootstrap.py). The Images routes are served by aiohttp on
either engine; the server cancels the request when its client goes, and the first read
(``translate.images_stream.relay``) let go of the upstream answer only on a read failure,
so the image generation went on for nobody until the garbage collector found it."""

from __future__ import annotations

import openai

from tests.e2e.clients import KEY
from tests.e2e.gone import ended_promptly, leave_once_held
from tests.fakes.server import Behavior

SILENCE = 5.0  # seconds before the first image event: far past the test's bound


def _config(fakes) -> str:
    return (
        f'api-keys: ["{KEY}"]\nrequest-retry: 0\ncodex-api-key:\n'
        f'  - api-key: "sk-codex-image"\n'
        f'    base-url: "{fakes.responses.base_url}/backend-api/codex"\n'
        f'    models: [{{name: "gpt-image-2"}}]\n'
    )


async def test_a_client_that_leaves_before_the_first_image_event_ends_the_upstream_call(
    start_proxy, fakes
) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.responses.script(Behavior(stream_delay=SILENCE, delay_from=0))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as oai:
        call = oai.images.generate(model="gpt-image-2", prompt="an otter", stream=True)
        left = await leave_once_held(call, fakes.responses, 0.2)
    await ended_promptly(proxy, fakes.responses, left, row=False)
