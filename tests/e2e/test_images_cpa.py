"""CPA's Images API handler cases (sdk/api/handlers/openai/openai_images_handlers_test.go)
that the other image tests do not already hold: which models the routes take, and CPA's
refusal of the others, over HTTP against the fake Codex, xAI and OpenAI-compatible
upstreams."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.xai_media import XAIMediaFake

GENERATIONS, EDITS = "/v1/images/generations", "/v1/images/edits"
REFUSAL = (
    "Model {} is not supported on /v1/images/generations or /v1/images/edits. Use gpt-image-1.5, "
    "gpt-image-2, grok-imagine-image, grok-imagine-image-quality, grok-imagine-image-2.0, or a "
    "configured openai-compatibility image model."
)


@pytest.fixture
def fake_xai():
    with XAIMediaFake(api_keys={"xai-1"}) as fake:
        yield fake


def _config(fakes, fake_xai, mode: str = "false") -> str:
    return f"""
api-keys: ["{KEY}"]
disable-image-generation: {mode}
codex-api-key:
  - api-key: "sk-codex-1"
    base-url: "{fakes.responses.base_url}/backend-api/codex"
    models: [{{name: "gpt-image-2"}}, {{name: "gpt-image-1.5"}}]
xai-api-key:
  - api-key: "xai-1"
    base-url: "{fake_xai.base_url}/v1"
openai-compatibility:
  - name: pics
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries:
      - api-key: "sk-pics"
    models:
      - {{name: "upstream-image-model", alias: "my-image", image: true}}
      - {{name: "upstream-chat-model", alias: "my-chat"}}
"""


async def _post(url: str, path: str, body: dict | None = None, form: aiohttp.FormData | None = None):
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(url + path, json=body, data=form, headers={"Authorization": f"Bearer {KEY}"}) as resp,
    ):
        return resp.status, orjson.loads(await resp.read())


@pytest.mark.parametrize(
    "model",
    [
        "gpt-image-1.5",
        "codex/gpt-image-1.5",
        "gpt-image-2",
        "codex/gpt-image-2",
        "grok-imagine-image",
        "xai/grok-imagine-image",
        "grok-imagine-image-quality",
        "xai/grok-imagine-image-quality",
        "grok-imagine-image-2.0",
        "xai/grok-imagine-image-2.0",
        "my-image",
    ],
)
async def test_image_models_the_routes_take(start_proxy, fakes, fake_xai, model) -> None:
    """TestImagesModelValidationAllowsGPTImageAndXAIModels and
    TestImagesModelValidationAllowsOpenAICompatImageModels (the accepted half): Codex's image
    models under any prefix, xAI's with no prefix or ``xai/``, and an ``image: true``
    openai-compatibility model pass the model check (a prefixed Codex name then has no
    route here: only the refusal is asserted absent)."""
    proxy = await start_proxy(_config(fakes, fake_xai))
    status, answer = await _post(proxy.url, GENERATIONS, {"model": model, "prompt": "a tree"})
    assert "is not supported on" not in str(answer), answer
    if "/" not in model:
        assert status == 200 and answer["data"], answer


@pytest.mark.parametrize("mode", ["false", "chat"])
@pytest.mark.parametrize(
    ("model", "path", "multipart"),
    [
        ("gpt-5.4-mini", GENERATIONS, False),
        ("gpt-5.4-mini", EDITS, False),
        ("gpt-5.4-mini", EDITS, True),
        ("codex/grok-imagine-image", GENERATIONS, False),
        ("my-chat", GENERATIONS, False),
    ],
)
async def test_other_models_are_refused_as_cpa_does(
    start_proxy, fakes, fake_xai, mode, model, path, multipart
):
    """TestImagesGenerationsRejectsUnsupportedModel, TestImagesEditsJSONRejectsUnsupportedModel,
    TestImagesEditsMultipartRejectsUnsupportedModel, the refused half of the two validation
    cases (``codex/grok-imagine-image``, a chat-only openai-compatibility model) and
    TestImages*_DisableImageGenerationChat_DoesNotReturn404: a 400 invalid_request_error with
    CPA's message, ``disable-image-generation: chat`` keeping the routes, and nothing sent
    upstream."""
    proxy = await start_proxy(_config(fakes, fake_xai, mode))
    body = {"model": model, "prompt": "edit this"}
    form = None
    if path == EDITS and not multipart:
        body["images"] = [{"image_url": "data:image/png;base64,AA=="}]
    if multipart:
        form, body = aiohttp.FormData(default_to_multipart=True), None
        form.add_field("model", model)
        form.add_field("prompt", "edit this")
    status, answer = await _post(proxy.url, path, body, form)
    assert status == 400
    assert answer["error"]["message"] == REFUSAL.format(model)
    assert answer["error"]["type"] == "invalid_request_error"
    assert not fakes.responses.requests and not fakes.openai.requests and not fake_xai.requests


@pytest.mark.parametrize(
    ("existing", "want"),
    [(["existing-1", "existing-2"], ["existing-1", "existing-2"]), (["existing-1"], ["existing-1"])],
    ids=["two", "one"],
)
async def test_a_multipart_edit_appends_its_files_to_the_images_it_names(
    start_proxy, fakes, fake_xai, existing, want
) -> None:
    """CPA: TestCodexMultipartImageEditAppendsExistingImages: ``images`` text fields of a
    multipart edit come first, each uploaded file after them as a data URL (the part's
    type, ``application/octet-stream`` when it names none). One ``images`` field is kept
    as one item too; before, its text was split into one item per character (CPA would
    drop it for the file: a deliberate difference). The fake, like the real Images API,
    refuses a bare string item: the body is what is checked here."""
    proxy = await start_proxy(_config(fakes, fake_xai))
    form = aiohttp.FormData()
    form.add_field("model", "gpt-image-1.5")
    form.add_field("prompt", "edit it")
    for value in existing:
        form.add_field("images", value)
    form.add_field("image[]", b"png-data", filename="source.png", content_type="application/octet-stream")
    status, _ = await _post(proxy.url, EDITS, form=form)
    sent = fakes.responses.last
    assert (status, sent.path) == (400, "/backend-api/codex/images/edits")
    assert sent.json["images"] == [*want, {"image_url": "data:application/octet-stream;base64,cG5nLWRhdGE="}]
