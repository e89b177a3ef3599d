"""CPA TestApplySummaryConfigNormalizesTargetAliases (internal/thinking/summary_test.go),
through a running proxy: the thought-visibility switch spelt with the API's other casing
(Gemini ``include_thoughts``, Interactions ``thinkingSummaries``). The three rows of CPA's
case: Gemini (``generationConfig.thinkingConfig``), Antigravity (the same, inside Cloud
Code's ``request`` envelope) and Interactions (``generation_config``).

Where the proxy writes the request's thinking (the client also set an amount), the upstream
gets the canonical field only, as in CPA. Deliberate difference: a request that states only
the switch is a pass-through here and keeps the client's spelling, where CPA rewrites it.
Google's APIs read a field by its JSON or its proto name alike (tests/fakes/gemini.py
``_get`` does the same), so the upstream hears the same request, and the proxy does not
rebuild a pass-through body to change a spelling.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.e2e.test_providers_more import antigravity_auth


async def _post(base: str, path: str, body: dict[str, Any]) -> None:
    headers = {"x-goog-api-key": KEY, "authorization": f"Bearer {KEY}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.post(base + path, json=body, headers=headers) as resp,
    ):
        data = await resp.read()
        assert resp.status == 200, data


GEMINI_BODY = {
    "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "generationConfig": {"thinkingConfig": {"include_thoughts": True}},
}


WITH_BUDGET = {
    "contents": GEMINI_BODY["contents"],
    "generationConfig": {"thinkingConfig": {"include_thoughts": True, "thinkingBudget": 1024}},
}


async def test_gemini_include_thoughts_goes_up_as_include_thoughts_camel(start_proxy, fakes):
    """The "gemini" row: with an amount, ``include_thoughts`` becomes ``includeThoughts``,
    the alias gone; the switch alone goes up as the client spelt it (the difference above)."""
    proxy = await start_proxy(matrix_config(fakes))
    await _post(proxy.url, "/v1beta/models/gemini-model:generateContent", WITH_BUDGET)
    rec = fakes.gemini.last
    assert ":generateContent" in rec.path
    assert rec.json["generationConfig"]["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}
    await _post(proxy.url, "/v1beta/models/gemini-model:generateContent", GEMINI_BODY)
    assert fakes.gemini.last.json["generationConfig"]["thinkingConfig"] == {"include_thoughts": True}


async def test_antigravity_include_thoughts_goes_up_as_include_thoughts_camel(
    start_proxy, fake_gemini, tmp_path
):
    """The "antigravity" row: the same inside the envelope (``request.generationConfig``)."""
    antigravity_auth(tmp_path, fake_gemini.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    await _post(proxy.url, "/v1beta/models/gemini-3-flash:generateContent", WITH_BUDGET)
    [rec] = [r for r in fake_gemini.requests if r.path.startswith("/v1internal:") and "Content" in r.path]
    thinking = rec.json["request"]["generationConfig"]["thinkingConfig"]
    assert thinking.get("includeThoughts") is True and "include_thoughts" not in thinking, thinking


@pytest.mark.parametrize("value", ["auto", "none"])
async def test_interactions_thinking_summaries_camel_goes_up_snake(start_proxy, fakes, value):
    """The "interactions" row: with a level, ``thinkingSummaries`` becomes
    ``thinking_summaries``; the switch alone goes up as the client spelt it."""
    extra = f"""
interactions-api-key:
  - api-key: "int-key-1"
    base-url: "{fakes.gemini.base_url}"
    models:
      - {{name: "gemini-2.5-pro", alias: "native-model"}}
"""
    proxy = await start_proxy(matrix_config(fakes, extra))
    cfg = {"thinkingSummaries": value, "thinking_level": "low"}
    await _post(
        proxy.url, "/v1beta/interactions", {"model": "native-model", "input": "hi", "generation_config": cfg}
    )
    rec = fakes.gemini.last
    assert rec.path == "/v1beta/interactions"
    assert rec.json["generation_config"] == {"thinking_level": "low", "thinking_summaries": value}
    alone = {"thinkingSummaries": value}
    await _post(
        proxy.url,
        "/v1beta/interactions",
        {"model": "native-model", "input": "hi", "generation_config": alone},
    )
    assert fakes.gemini.last.json["generation_config"] == alone
