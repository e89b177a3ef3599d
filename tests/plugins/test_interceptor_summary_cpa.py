"""CPA's executor summary case with a request interceptor
(internal/runtime/executor/helps/thinking_test.go): through a running proxy, a Responses
client on a Gemini model, a Python plugin taking ``reasoning`` out of the request before it
is translated."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

CUT = (
    HEADER
    + """
class Cut(Plugin, RequestInterceptor):
    name = "cut"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/c"
    async def intercept_before(self, req):
        body = json.loads(req.body)
        body.pop("reasoning", None)
        return InterceptResult(body=json.dumps(body).encode())
    async def intercept_after(self, req):
        return None
plugin = Cut()
"""
)


@pytest.mark.parametrize(("summary", "shown"), [(None, False), ("auto", True)])
async def test_the_original_requests_summary_intent_goes_up(
    start_proxy, fakes, tmp_path, summary: str | None, shown: bool
) -> None:
    """CPA: TestApplyThinkingWithSourcePayloadPreservesOriginalOnlySummary: an interceptor
    left the request without ``reasoning``; the client's original ``summary: null`` still
    hides the thoughts of the thinking its suffix asks for (``includeThoughts: false``),
    and ``summary: auto`` shows them. Before, no ``includeThoughts`` was sent."""
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"cut": CUT}, {"cut": {}})
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="gemini-model(high)", input="hi", extra_body={"reasoning": {"summary": summary}}
        )
    sent: dict[str, Any] = fakes.gemini.last.json
    assert "reasoning" not in sent
    assert sent["generationConfig"]["thinkingConfig"]["includeThoughts"] is shown, sent
