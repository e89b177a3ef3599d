"""CPA TestApplyThinkingWithModelInfoAndSummaryDropsInferredClaudeModeWhenSummaryRemoved
(internal/thinking/apply_configured_api_key_test.go), through a running proxy: a Responses
client asks only to see the reasoning (``reasoning.summary: auto``, no effort) of a Claude
API-key model configured with manual thinking only (a budget range, no levels), and a plugin
request normalizer takes the summary out of the Claude body (``thinking.display``). The
thinking that was there only to carry the summary goes with it: the Claude upstream gets no
``thinking`` at all. Without the normalizer the same request gets thinking it can show.

The upstream name is one the catalog knows with thinking levels (``claude-opus-4-6``), as
in CPA's test: its registry translation turns adaptive thinking on from what it knows of
that name (``enableClaudeThinkingForSummary``) before the normalizer, which then has the
last word (TestRegistryTranslateRequestNormalizerOwnsFinalSummaryField); the thinking step
drops the inferred adaptive mode for the key's budget-only model. For an upstream name the
registry knows nothing of, CPA's normalizer sees no thinking and cannot take it out
(tests/plugins/test_thinkorder_summary.py asserts both)."""

from __future__ import annotations

from typing import Any

import openai

from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

STRIP_DISPLAY = (
    HEADER
    + """
class StripDisplay(Plugin, RequestNormalizer):
    name = "strip"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/s"
    async def normalize_request(self, req):
        body = json.loads(req.body)
        thinking = body.get("thinking")
        if isinstance(thinking, dict):
            thinking.pop("display", None)
        return json.dumps(body).encode()
plugin = StripDisplay()
"""
)

MANUAL = """claude-api-key:
  - api-key: "sk-ant-manual"
    base-url: "{base}"
    models:
      - {{name: "claude-opus-4-6", alias: "manual-claude", thinking: {{min: 1024, max: 16000}}}}
"""


async def _ask(proxy: Any) -> None:
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model="manual-claude",
            input="hi",
            max_output_tokens=32000,
            extra_body={"reasoning": {"summary": "auto"}},
        )


async def test_thinking_inferred_from_a_removed_summary_is_dropped(start_proxy, fakes, tmp_path) -> None:
    extra = MANUAL.format(base=fakes.claude.base_url)
    proxy = await _proxy(
        start_proxy, fakes, tmp_path, {"strip": STRIP_DISPLAY}, {"strip": {}}, extra, base=False
    )
    await _ask(proxy)
    sent: dict[str, Any] = fakes.claude.last.json
    assert sent["model"] == "claude-opus-4-6"
    assert "thinking" not in sent, sent.get("thinking")


async def test_without_the_normalizer_the_summary_gets_thinking(start_proxy, fakes, tmp_path) -> None:
    """The control: the same request, no plugin: thinking the client can see (CPA's
    enableClaudeThinkingForSummary on a manual-only model: enabled at its minimum budget)."""
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n' + MANUAL.format(base=fakes.claude.base_url))
    await _ask(proxy)
    sent: dict[str, Any] = fakes.claude.last.json
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
