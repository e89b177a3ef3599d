"""What the usage records hold for Images API answers, whole and streamed, from the three
upstreams CPA sends them to: the Codex backend's own ``/images/*`` (``gpt-image-2``), an
``openai-compatibility`` model marked ``image: true`` and xAI (``grok-imagine-image``).
CPA reports the upstream's ``usage`` for each (``ParseOpenAIUsage`` on a whole answer,
``StreamUsageBuffer.ObserveOpenAIStream`` on each line of a relayed stream, the last
usage winning); cliproxy reads a relayed image stream with its own reader
(``cliproxy.translate.images_stream.UsageReader``) and a whole answer from its body. The
client is the official openai SDK; the figures are the management API's: the request
details of ``GET /usage``, the client key's counters (``/usage/keys``) and the
credentials' (``/api-key-usage``)."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import openai
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.fakes.openai_responses import PNG_1X1
from tests.fakes.xai_media import XAIMediaFake
from tests.usage.helpers import close_recorder

MKEY = "m-image-usage-secret"
IMAGE_TOKENS = {
    "input_tokens": 10,
    "output_tokens": 100,
    "reasoning_tokens": 0,
    "cached_tokens": 0,
    "total_tokens": 110,
}
NO_TOKENS = dict.fromkeys(IMAGE_TOKENS, 0)


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        yield fake


def _config(fakes, fake_xai, tmp_path) -> str:
    return f"""
api-keys: ["{KEY}"]
usage-statistics-enabled: true
usage-ledger: {{path: "{tmp_path / "usage.sqlite"}"}}
codex-api-key:
  - api-key: "sk-codex"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-image-2"}}]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_xai.base_url}/v1"
openai-compatibility:
  - name: pics
    base-url: "{fakes.responses.base_url}/v1"
    api-key-entries: [{{api-key: "sk-pics"}}]
    models: [{{name: "upstream-image-model", alias: "my-image", image: true}}]
"""


async def _mget(proxy, path: str) -> Any:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management" + path, headers={"Authorization": f"Bearer {MKEY}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json(content_type=None)


async def _requests(client: openai.AsyncOpenAI) -> None:
    """Each upstream once whole, once streamed (the compat one as an edit stream)."""
    for model in ("gpt-image-2", "my-image", "grok-imagine-image"):
        done = await client.images.generate(model=model, prompt="an otter")
        assert done.data and done.data[0].b64_json == PNG_1X1
    stream = await client.images.generate(
        model="gpt-image-2", prompt="an otter", stream=True, partial_images=2
    )
    assert [e.type async for e in stream][-1] == "image_generation.completed"
    stream = await client.images.edit(
        model="my-image",
        image=("in.png", base64.b64decode(PNG_1X1), "image/png"),
        prompt="make it blue",
        stream=True,
    )
    assert [e.type async for e in stream] == ["image_edit.completed"]
    stream = await client.images.generate(model="grok-imagine-image", prompt="an otter", stream=True)
    assert [e.type async for e in stream] == ["image_generation.completed"]


async def test_image_answers_record_the_upstreams_usage(
    start_proxy, fakes, fake_xai, tmp_path, monkeypatch
) -> None:
    """CPA TestCodexExecutorDirectOpenAIImageGenerationUsesImagesEndpoint /
    ...StreamsImagesEndpoint (the answers whose usage CPA's reporter publishes): the Codex
    and compat answers, whole and streamed, record the Images API usage of the answer
    (10 in, 100 out, 110 in all: ``input_tokens`` / ``output_tokens`` / ``total_tokens``
    of the body or of the ``*.completed`` event); xAI's, whose usage holds no token member
    (``cost_in_usd_ticks``), count as requests with no tokens, as in CPA."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy(_config(fakes, fake_xai, tmp_path))
    try:
        async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
            await _requests(client)
        ledger = recorder_of(proxy.service).stats.ledger
        assert ledger is not None and ledger.flush()

        snap = (await _mget(proxy, "/usage"))["usage"]
        assert (snap["total_requests"], snap["failure_count"], snap["total_tokens"]) == (6, 0, 440)
        (models,) = [api["models"] for api in snap["apis"].values()]
        for model, tokens in (
            ("gpt-image-2", IMAGE_TOKENS),
            ("my-image", IMAGE_TOKENS),
            ("grok-imagine-image", NO_TOKENS),
        ):
            details = models[model]["details"]
            assert [d["tokens"] for d in details] == [tokens, tokens], model  # whole, then streamed

        (key,) = (await _mget(proxy, "/usage/keys"))["keys"]
        assert (key["success"], key["failed"]) == (6, 0)
        assert (key["input_tokens"], key["output_tokens"], key["total_tokens"]) == (40, 400, 440)

        creds = await _mget(proxy, "/api-key-usage")
        by_provider = {name: next(iter(entries.values())) for name, entries in creds.items()}
        assert {name: (c["success"], c.get("total_tokens", 0)) for name, c in by_provider.items()} == {
            "codex": (2, 220),
            "pics": (2, 220),
            "xai": (2, 0),
        }
    finally:
        close_recorder(proxy)
