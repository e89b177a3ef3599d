"""CPA sdk/cliproxy/service_codex_models_test.go through a running proxy: which models a
``codex-api-key`` entry serves, as ``/v1/models`` lists them."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.models.catalog import Catalog
from tests.e2e.clients import KEY

IMAGES = {"gpt-image-1.5", "gpt-image-2"}


async def _listed(start_proxy: Any, fakes: Any, entry: str) -> set[str]:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "k1"\n    base-url: "{base}"\n{entry}'
    )
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession() as http, http.get(proxy.url + "/v1/models", headers=headers) as r:
        assert r.status == 200
        return {m["id"] for m in orjson.loads(await r.read())["data"]}


@pytest.mark.parametrize(
    ("entry", "mode"),
    [
        ("", "defaults"),
        ('    models: [{name: "upstream-codex", alias: "configured-codex"}]\n', "configured"),
        ('    excluded-models: ["gpt-5.5"]\n', "excluded"),
    ],
    ids=["defaults", "configured", "excluded"],
)
async def test_a_codex_api_key_serves_its_models(start_proxy, fakes, entry: str, mode: str) -> None:
    """CPA TestRegisterModelsForAuthCodexAPIKeyModels and
    TestRegisterConfigAPIKeyAuthsCodexModelModes: an entry without ``models`` serves the
    Codex Pro defaults, the image models among them; one with ``models`` serves only those
    (no image models); ``excluded-models`` take models out of the defaults."""
    defaults = {m.id for m in Catalog.load().family("codex-pro")}
    assert defaults >= IMAGES and "gpt-5.5" in defaults
    listed = await _listed(start_proxy, fakes, entry)
    if mode == "defaults":
        assert listed == defaults
    elif mode == "configured":
        assert listed == {"configured-codex"}
    else:
        assert listed == defaults - {"gpt-5.5"}
