"""CPA's translator-registry summary cases with a plugin request normalizer
(sdk/translator/registry_summary_test.go): through a running proxy, a Responses client on
a Gemini model, a Python plugin editing the upstream body."""

from __future__ import annotations

from typing import Any

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

STRIP = (
    HEADER
    + """
class Strip(Plugin, RequestNormalizer):
    name = "strip"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/s"
    async def normalize_request(self, req):
        body = json.loads(req.body)
        seen = body.get("generationConfig", {}).get("thinkingConfig", {})
        body.setdefault("labels", {})["seen"] = str(seen.get("includeThoughts"))
        seen.pop("includeThoughts", None)
        return json.dumps(body).encode()
plugin = Strip()
"""
)


async def test_a_request_normalizer_has_the_last_word_on_the_summary(start_proxy, fakes, tmp_path) -> None:
    """TestRegistryTranslateRequestNormalizerOwnsFinalSummaryField: the normalizer is handed
    the body with the client's summary intent written (includeThoughts true) and what it
    removes stays removed upstream (the thinking step after it does not write it back).
    CPA: TestApplyThinkingWithSourcePayloadPreservesNormalizerSummaryRemoval."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"strip": STRIP}, {"strip": {}})
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="gemini-model", input="hi", extra_body={"reasoning": {"effort": "high", "summary": "auto"}}
        )
    sent: dict[str, Any] = fakes.gemini.last.json
    assert sent["labels"]["seen"] == "True"
    assert "includeThoughts" not in sent["generationConfig"]["thinkingConfig"]
