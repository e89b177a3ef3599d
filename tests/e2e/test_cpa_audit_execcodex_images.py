"""CPA's Codex Images API executor case the image tests did not hold yet
(internal/runtime/executor/codex_openai_images_test.go), through a running proxy against
the fake Codex backend (tests/fakes/openai_responses.py)."""

from __future__ import annotations

import base64

import aiohttp
import orjson

from tests.e2e.clients import KEY


def _config(fakes) -> str:
    return f"""
api-keys: ["{KEY}"]
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    prefix: "codex"
    models: [{{name: "gpt-image-2"}}, {{name: "gpt-image-1.5"}}]
"""


async def test_a_multipart_edit_under_a_prefix_reaches_images_edits_as_json(start_proxy, fakes) -> None:
    """CPA TestCodexExecutorDirectOpenAIImageEditUsesImagesEditEndpointForMultipart: a
    multipart edit naming ``codex/gpt-image-1.5`` (the credential's prefix), with its image
    under ``image[]``, a mask, ``n`` and ``output_format`` as form fields and
    ``stream=false``, reaches Codex's ``/images/edits`` as one JSON body: the bare model,
    ``n`` a number, the output format kept, no ``stream``, the image and the mask as
    ``data:`` URLs of their bytes."""
    proxy = await start_proxy(_config(fakes))
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("model", "codex/gpt-image-1.5")
    form.add_field("prompt", "Create a lovely gift basket")
    form.add_field("output_format", "webp")
    form.add_field("n", "2")
    form.add_field("stream", "false")
    form.add_field("image[]", b"png-data", filename="source.png", content_type="image/png")
    form.add_field("mask", b"mask-data", filename="mask.png", content_type="image/png")
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(
            proxy.url + "/v1/images/edits", data=form, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp,
    ):
        status, answer = resp.status, orjson.loads(await resp.read())
    assert status == 200, answer
    assert answer["data"], answer
    sent = fakes.responses.last
    assert sent.path == "/backend-api/codex/images/edits"
    assert sent.headers["Content-Type"].startswith("application/json")
    body = sent.json
    assert body["model"] == "gpt-image-1.5"
    assert body["prompt"] == "Create a lovely gift basket"
    assert body["output_format"] == "webp"
    assert body["n"] == 2 and type(body["n"]) is int
    assert "stream" not in body
    png, mask = base64.b64encode(b"png-data").decode(), base64.b64encode(b"mask-data").decode()
    assert body["images"][0]["image_url"].endswith(";base64," + png), body["images"]
    assert body["mask"]["image_url"].endswith(";base64," + mask), body["mask"]
