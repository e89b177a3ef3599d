"""A summary-only request's Claude thinking, written where CPA writes it: before the
request normalizers, which then have the last word on it.

CPA's translator registry (``sdk/translator/registry.go`` ``TranslateRequest``) puts the
client's reasoning-summary intent into the translated body (``ApplySummaryConfigForModel``)
before the plugin request normalizers run; for a Claude target that asks only to see the
reasoning, that turns thinking on (``enableClaudeThinkingForSummary``) from what the
registry knows of the upstream name (``LookupModelInfo``: the name as registered, else the
catalog's), so a normalizer sees that thinking and may take its ``display`` (or all of it)
out. The executor's thinking step then keeps what the normalizer left
(``translatedRequestSummaryConfig``: a summary it removed stays removed) and drops
adaptive thinking that was only inferred for the summary when the selected model thinks
with a budget only (``stripInferredClaudeSummaryActivation``); with the summary removed,
no thinking is left.

cliproxy writes a summary-only request's thinking in the thinking step, after the
normalizers (``plan.summary_thinking``, from the serving credential's model); these two
functions move that first write before them when a normalizer is active (without one
the thinking step alone gives CPA's result)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.translate.summary import body_summary_intent

from .canonical import ThinkingCaps
from .plan import ThinkingPlan, summary_thinking

__all__ = ["summary_after_normalizers", "summary_before_normalizers"]


def summary_before_normalizers(
    plan: ThinkingPlan, body: dict[str, Any], client_body: Mapping[str, Any], named: ThinkingCaps | None
) -> bool:
    """Turn Claude thinking on in ``body`` (translated from another format) for a client
    that asked only to see the reasoning, as CPA's registry does before the normalizers:
    ``named`` is what the registry knows of the upstream name (``None``: nothing, and
    nothing is written). Whether it wrote thinking."""
    if plan.target != "claude" or plan.source == "claude" or "thinking" in body or named is None:
        return False
    read, key = plan.read_client, plan.client_key
    if (
        read is not None
        and (key is None or key in client_body)
        and read(client_body, plan.source) is not None
    ):
        return False  # the client set thinking itself: the translator wrote (or refused) it
    summary_thinking(body, client_body, plan.source, named)
    return "thinking" in body


def summary_after_normalizers(plan: ThinkingPlan, body: dict[str, Any], suffix: str | None) -> bool:
    """After the normalizers, on a body :func:`summary_before_normalizers` wrote thinking
    into: whether they took the summary out (no ``display`` on thinking that is on: the
    thinking step writes none again). Adaptive thinking with no effort on a model that
    thinks with a budget only was inferred for the summary from the upstream name: it
    goes (the thinking step turns the model's own on again if the summary is still asked)."""
    owned = body_summary_intent(body, "claude") is None
    caps = plan.caps
    thinking = body.get("thinking")
    if (
        suffix is None
        and caps is not None
        and plan.checked
        and plan.thinks
        and not caps.levels
        and caps.min > 0
        and type(thinking) is dict
        and str(thinking.get("type", "")).strip().lower() == "adaptive"
        and plan.read_upstream is not None
        and plan.read_upstream(body, "claude") is None  # no effort: no setting of its own
    ):
        for name in ("type", "budget_tokens", "display"):
            thinking.pop(name, None)
        if not thinking:
            del body["thinking"]
        config = body.get("output_config")
        if type(config) is dict:
            config.pop("effort", None)
            if not config:
                del body["output_config"]
    return owned
