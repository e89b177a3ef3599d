"""What a request normalizer sees of a client's reasoning-summary intent, and what it may
take out: CPA's registry writes the summary into the translated body before the plugin
normalizers and they own the final body (sdk/translator/registry_summary_test.go
TestRegistryTranslateRequestNormalizerOwnsFinalSummaryField,
TestRegistryTranslateRequestActivatesClaudeForEnabledSummary,
TestRegistryTranslateRequestDoesNotActivateClaudeForDisabledSummary;
internal/thinking/apply_configured_api_key_test.go
TestApplyThinkingWithModelInfoAndSummaryDropsInferredClaudeModeWhenSummaryRemoved).

For a Claude target asked only to see the reasoning, the thinking the normalizer sees is
turned on from what the registry knows of the upstream name (CPA ``LookupModelInfo``): a
catalog model with levels gets adaptive thinking; a name the registry knows nothing of gets
none before the normalizer (the thinking step turns the key's own model on after it).
Every case goes through a running proxy with the official OpenAI SDK; the normalizer
writes what it saw to a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai

from cliproxy.models.thinking import ThinkingCaps
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.models.thinking.summary_first import summary_after_normalizers
from tests.e2e.clients import KEY
from tests.plugins.test_flow_python import HEADER, _proxy

# MODE: "keep" (changes nothing), "display" (takes thinking.display out), "thinking" (takes
# the whole thinking out), "thoughts" (takes Gemini's includeThoughts out)
WATCH = (
    HEADER
    + """
SEEN = {seen!r}
MODE = {mode!r}
class Watch(Plugin, RequestNormalizer):
    name = "watch"; version = "1.0.0"; author = "t"; github_repository = "https://example.com/w"
    async def normalize_request(self, req):
        body = json.loads(req.body)
        tc = body.get("generationConfig", {{}}).get("thinkingConfig")
        with open(SEEN, "w") as f:
            json.dump({{"thinking": body.get("thinking"), "thinkingConfig": tc}}, f)
        if MODE == "display" and isinstance(body.get("thinking"), dict):
            body["thinking"].pop("display", None)
        elif MODE == "thinking":
            body.pop("thinking", None)
        elif MODE == "thoughts" and isinstance(tc, dict):
            tc.pop("includeThoughts", None)
        return json.dumps(body).encode()
plugin = Watch()
"""
)

CLAUDE = """claude-api-key:
  - api-key: "sk-ant-order"
    base-url: "{base}"
    models:
      - {{name: "claude-opus-4-6", alias: "opus"}}
      - {{name: "claude-opus-4-6", alias: "opus-manual", thinking: {{min: 1024, max: 16000}}}}
      - {{name: "private-manual-claude", alias: "private-manual", thinking: {{min: 1024, max: 16000}}}}
"""

GEMINI = """gemini-api-key:
  - api-key: "gem-order"
    base-url: "{base}"
    models:
      - {{name: "gemini-3-flash-preview", alias: "gemini-levels"}}
"""


async def _run(
    start_proxy: Any, fakes: Any, tmp_path: Path, mode: str, model: str, reasoning: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The request through a proxy with the watching normalizer: what it saw, and the
    upstream body."""
    seen = tmp_path / "seen.json"
    extra = CLAUDE.format(base=fakes.claude.base_url) + GEMINI.format(base=fakes.gemini.base_url)
    plugin = WATCH.format(seen=str(seen), mode=mode)
    proxy = await _proxy(start_proxy, fakes, tmp_path, {"watch": plugin}, {"watch": {}}, extra, base=False)
    async with openai.AsyncOpenAI(
        base_url=proxy.url + "/v1", api_key=KEY, max_retries=0, timeout=15
    ) as client:
        await client.responses.create(
            model=model, input="hi", max_output_tokens=32000, extra_body={"reasoning": reasoning}
        )
    fake = fakes.gemini if model.startswith("gemini") else fakes.claude
    return json.loads(seen.read_text()), fake.last.json


async def test_the_normalizer_sees_the_summary_thinking_turned_on(start_proxy, fakes, tmp_path) -> None:
    """TestRegistryTranslateRequestActivatesClaudeForEnabledSummary: a summary-only request
    for a model that thinks with levels: adaptive thinking, summarized, before the normalizer
    (and, kept by it, upstream)."""
    seen, sent = await _run(start_proxy, fakes, tmp_path, "keep", "opus", {"summary": "auto"})
    assert seen["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert sent["thinking"] == {"type": "adaptive", "display": "summarized"}


async def test_a_display_the_normalizer_took_out_is_not_written_again(start_proxy, fakes, tmp_path) -> None:
    """The normalizer has the last word on the summary: the thinking stays, unshown (CPA
    finds no summary in the normalized body and writes none)."""
    seen, sent = await _run(start_proxy, fakes, tmp_path, "display", "opus", {"summary": "auto"})
    assert seen["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert sent["thinking"] == {"type": "adaptive"}


async def test_thinking_the_normalizer_took_out_stays_out(start_proxy, fakes, tmp_path) -> None:
    seen, sent = await _run(start_proxy, fakes, tmp_path, "thinking", "opus", {"summary": "auto"})
    assert seen["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert "thinking" not in sent, sent.get("thinking")


async def test_a_disabled_summary_turns_no_thinking_on(start_proxy, fakes, tmp_path) -> None:
    """TestRegistryTranslateRequestDoesNotActivateClaudeForDisabledSummary."""
    seen, sent = await _run(start_proxy, fakes, tmp_path, "keep", "opus", {"summary": None})
    assert seen["thinking"] is None
    assert "thinking" not in sent


async def test_a_kept_summary_gets_the_budget_only_models_own_thinking(start_proxy, fakes, tmp_path) -> None:
    """The key's model thinks with a budget only, its upstream name with levels: the
    normalizer sees the adaptive thinking inferred from the name; kept, it becomes the
    model's own (enabled at its minimum budget, shown), as without a normalizer."""
    seen, sent = await _run(start_proxy, fakes, tmp_path, "keep", "opus-manual", {"summary": "auto"})
    assert seen["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}


async def test_an_upstream_name_nothing_is_known_of_gets_thinking_after(start_proxy, fakes, tmp_path) -> None:
    """CPA's registry knows nothing of ``private-manual-claude`` (the key registers its
    alias): the normalizer sees no thinking, so it cannot take the summary out; the
    thinking step turns the key's model on after it (CPA's executor does the same)."""
    seen, sent = await _run(start_proxy, fakes, tmp_path, "display", "private-manual", {"summary": "auto"})
    assert seen["thinking"] is None
    assert sent["model"] == "private-manual-claude"
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}


async def test_the_normalizer_owns_gemini_include_thoughts(start_proxy, fakes, tmp_path) -> None:
    """TestRegistryTranslateRequestNormalizerOwnsFinalSummaryField: the normalizer gets the
    summary as ``includeThoughts: true``; taken out, it is not written again."""
    reasoning = {"effort": "high", "summary": "auto"}
    seen, sent = await _run(start_proxy, fakes, tmp_path, "thoughts", "gemini-levels", reasoning)
    assert seen["thinkingConfig"]["includeThoughts"] is True
    config = sent["generationConfig"]["thinkingConfig"]
    assert config["thinkingLevel"] == "high"
    assert "includeThoughts" not in config


def test_inferred_adaptive_on_a_budget_only_model_goes() -> None:
    """The Go test's own body: a Responses summary-only request whose translated Claude body
    carries adaptive thinking (inferred for the summary) on a model configured with a budget
    range only; its display is gone: so is the thinking, and none is written again."""
    plan = ThinkingPlan(ThinkingCaps(min=1024, max=16000), "responses", "claude", same_provider=False)
    body: dict[str, Any] = {
        "model": "private-manual-claude",
        "max_tokens": 32000,
        "thinking": {"type": "adaptive"},
    }
    owned = summary_after_normalizers(plan, body, None)
    assert owned
    assert "thinking" not in body
    plan.apply(body, {"reasoning": {"summary": "auto"}}, None, "private-manual-claude", owned=owned)
    assert "thinking" not in body
    body = {"max_tokens": 32000, "thinking": {"type": "adaptive", "display": "summarized"}}
    assert not summary_after_normalizers(plan, body, None)  # kept: the model's own is written
    plan.apply(body, {"reasoning": {"summary": "auto"}}, None, "private-manual-claude")
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 1024, "display": "summarized"}
