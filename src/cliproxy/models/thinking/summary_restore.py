"""A client's reasoning-summary intent a request interceptor took out, put back upstream
(CPA ``translatedRequestSummaryConfig``: the original request speaks when the one that was
translated no longer carries the intent).

Only the visibility is written, never an amount: Gemini's and Antigravity's
``includeThoughts``, Interactions' ``thinking_summaries``, a Codex ``reasoning.summary``
(left out to hide it, as OpenAI documents), Claude's ``display`` on thinking that is on.
Chat, Kimi and xAI bodies have no such field CPA writes. A summary the upstream body
already states (a translator's, a request normalizer's) stays as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.translate.summary import body_summary_intent, summary_detail

from .plan import ThinkingPlan, summary_thinking

__all__ = ["keep_original_summary", "stated_summary", "write_summary"]

_BODY_FORMATS = {"responses": "openai-response"}  # the pipeline's client format -> CPA's body format
# target -> the body format its summary field is read in
_READ_AS = {"gemini": "gemini", "codex": "codex", "interactions": "interactions", "claude": "claude"}


def keep_original_summary(
    plan: ThinkingPlan, body: dict[str, Any], client_body: Mapping[str, Any], original: Mapping[str, Any]
) -> None:
    """After ``plan.apply``, for a request whose interceptors changed it: when the request
    they left (``client_body``) says nothing of showing the reasoning but the client's
    ``original`` did, and ``body`` states nothing itself, the original's intent goes up."""
    fmt = _BODY_FORMATS.get(plan.source, plan.source)
    if body_summary_intent(client_body, fmt) is not None:
        return
    shown = body_summary_intent(original, fmt)
    if shown is None or stated_summary(body, plan.target) is not None:
        return
    caps = plan.caps
    if plan.target == "claude" and shown and "thinking" not in body and caps is not None and plan.thinks:
        summary_thinking(body, original, plan.source, caps)  # thinking it can be shown (CPA)
        return
    reasoning = original.get("reasoning") if fmt == "openai-response" else None
    write_summary(body, plan.target, shown, summary_detail(reasoning if type(reasoning) is dict else None))


def stated_summary(body: dict[str, Any], target: str) -> bool | None:
    """The summary intent ``body`` (in ``target``'s format) states itself, if any."""
    if target == "antigravity":
        return body_summary_intent(body.get("request"), "gemini")
    fmt = _READ_AS.get(target)
    return body_summary_intent(body, fmt) if fmt is not None else None


def write_summary(body: dict[str, Any], target: str, shown: bool, detail: str = "auto") -> None:
    """Show (``shown``) or hide the reasoning in ``body`` (the attempt's own), in place."""
    if target in ("gemini", "antigravity"):
        holder = body.get("request") if target == "antigravity" else body
        if type(holder) is dict:
            config = _own_dict(_own_dict(holder, "generationConfig"), "thinkingConfig")
            config["includeThoughts"] = shown
            config.pop("include_thoughts", None)
    elif target == "interactions":
        _own_dict(body, "generation_config")["thinking_summaries"] = "auto" if shown else "none"
    elif target == "codex":
        if shown:
            _own_dict(body, "reasoning")["summary"] = detail
        elif type(reasoning := body.get("reasoning")) is dict:
            reasoning.pop("summary", None)
            reasoning.pop("generate_summary", None)
            if not reasoning:
                del body["reasoning"]
    elif target == "claude":
        thinking = body.get("thinking")
        if type(thinking) is dict and _thinking_on(thinking):
            thinking["display"] = "summarized" if shown else "omitted"


def _thinking_on(thinking: dict[str, Any]) -> bool:
    kind = thinking.get("type")
    if kind == "adaptive":
        return True
    budget = thinking.get("budget_tokens")
    return kind == "enabled" and (type(budget) is not int or budget == -1 or budget > 0)


def _own_dict(parent: dict[str, Any], key: str) -> dict[str, Any]:
    """``parent[key]`` as a dict (made when missing or not an object)."""
    value = parent.get(key)
    if type(value) is not dict:
        value = parent[key] = {}
    return value
