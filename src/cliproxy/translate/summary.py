"""Reasoning-summary visibility: whether the client asked to see the model's thinking.

Each format says it its own way (CPA's ``thinking.ExtractSummaryConfig``): Responses
``reasoning.summary`` (``auto`` / ``concise`` / ``detailed``, or ``none``), Google
``thinkingConfig.includeThoughts``, Claude ``thinking.display`` (``summarized`` /
``omitted``), and for Chat, which has no field of its own, the extensions clients send
(:func:`summary_visibility`) or else a ``reasoning_effort`` other than ``none``. The
IR keeps them in ``Request.reasoning`` (``summary``, ``include_thoughts``,
``display``, ``effort``); builders write the intent in their format with
``summary_intent``.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CHAT_VISIBILITY_KEYS",
    "body_summary_intent",
    "summary_detail",
    "summary_intent",
    "summary_visibility",
]

_DETAILS = frozenset({"auto", "concise", "detailed"})
# where a Chat body may say whether to show the reasoning, in CPA's order: Google's Chat
# extension (and the spellings clients send it in) first
_INCLUDE_PATHS: tuple[tuple[str, ...], ...] = tuple(
    (*head, leaf)
    for head in (
        ("extra_body", "google", "thinking_config"),
        ("extra_body", "google", "thinkingConfig"),
        ("extra_body", "extra_body", "google", "thinking_config"),
        ("google", "thinking_config"),
        ("thinking",),
        ("reasoning",),
        ("generationConfig", "thinkingConfig"),
        ("generation_config", "thinking_config"),
    )
    for leaf in ("include_thoughts", "includeThoughts")
)
# the top-level keys of a Chat body that may hold one
CHAT_VISIBILITY_KEYS = frozenset(
    (
        "extra_body",
        "google",
        "thinking",
        "reasoning",
        "generationConfig",
        "generation_config",
        "include_reasoning",
    )
)


def summary_visibility(body: dict[str, Any]) -> tuple[bool | None, str]:
    """``(show, detail)`` a Chat body states outright (CPA's explicit controls): a Google
    ``include_thoughts``, a Responses-style ``reasoning.summary`` (or its deprecated
    ``generate_summary``), OpenRouter's ``reasoning.exclude``, ``include_reasoning`` or
    ``reasoning.enabled``; ``(None, "")`` when it says nothing. Only real booleans count."""
    for path in _INCLUDE_PATHS:
        node: Any = body
        for key in path:
            node = node.get(key) if type(node) is dict else None
        if type(node) is bool:
            return node, ""
    reasoning = body.get("reasoning")
    r = reasoning if type(reasoning) is dict else {}
    if (shown := _responses_summary(r)) is not None:
        detail = r.get("summary", r.get("generate_summary"))
        return shown, detail if shown and detail in _DETAILS else ""
    if type(exclude := r.get("exclude")) is bool:
        return not exclude, ""
    if type(include := body.get("include_reasoning")) is bool:
        return include, ""
    if type(enabled := r.get("enabled")) is bool:
        return enabled, ""
    return None, ""


def summary_intent(reasoning: dict[str, Any] | None, source: str) -> bool | None:
    """True: show thinking; False: hide it; None: the client did not say."""
    r = reasoning or {}
    include = r.get("include_thoughts")
    if isinstance(include, bool):
        return include
    display = r.get("display")
    if display is not None:
        if not _thinking_on(r):
            return None  # Claude takes display only with thinking on: it says nothing then (CPA)
        if type(display) is str:
            display = display.strip().lower()  # CPA reads it trimmed, in any case
    if display == "summarized":
        return True
    if display == "omitted":
        return False
    summary = r.get("summary")
    if summary in _DETAILS:
        return True
    if isinstance(summary, str) and summary in ("none", "off", "disabled"):
        return False
    if source == "openai":
        effort = r.get("effort")
        if isinstance(effort, str) and effort:
            return effort != "none"
    return None


def _thinking_on(r: dict[str, Any]) -> bool:
    """A Claude client's thinking is on: adaptive, or enabled with a budget that is not 0
    (none yet, or -1, CPA's "auto", count as on)."""
    mode = r.get("mode")
    if mode == "adaptive":
        return True
    budget = r.get("budget")
    return mode == "enabled" and (type(budget) is not int or budget > 0 or budget == -1)


def summary_detail(reasoning: dict[str, Any] | None) -> str:
    """The Responses summary level to ask for when thinking should be shown."""
    summary = (reasoning or {}).get("summary")
    return summary if summary in _DETAILS else "auto"


def body_summary_intent(body: Any, fmt: str) -> bool | None:
    """:func:`summary_intent` read straight from a client body in format ``fmt`` (``openai``,
    ``openai-response``, ``codex``, ``claude``, ``gemini``, ``interactions``), for the
    steps after translation that see only the client's body (CPA ``ExtractSummaryConfig``)."""
    if type(body) is not dict:
        return None
    if fmt == "openai":
        show, _ = summary_visibility(body)
        effort = body.get("reasoning_effort")
        if show is None and isinstance(effort, str) and effort.strip():
            show = effort.strip().lower() != "none"
        return show
    if fmt in ("openai-response", "codex"):
        r = body.get("reasoning")
        return _responses_summary(r) if type(r) is dict else None
    if fmt == "claude":
        t = body.get("thinking")
        if type(t) is not dict or type(display := t.get("display")) is not str:
            return None
        display = display.strip().lower()  # CPA reads it trimmed, in any case
        if display not in ("summarized", "omitted"):
            return None
        on = _thinking_on({"mode": t.get("type"), "budget": t.get("budget_tokens")})
        return display == "summarized" if on else None
    if fmt == "gemini":
        cfg = body.get("generationConfig")
        tc = cfg.get("thinkingConfig") if type(cfg) is dict else None
        if type(tc) is dict:
            for key in ("includeThoughts", "include_thoughts"):
                if type(tc.get(key)) is bool:
                    return bool(tc[key])
        return None
    if fmt == "interactions":
        cfg = body.get("generation_config")
        cfg = cfg if type(cfg) is dict else {}
        for key in ("thinking_summaries", "thinkingSummaries"):
            value = cfg.get(key)
            if isinstance(value, str) and value.lower() in ("auto", "none"):
                return value.lower() == "auto"
        r = body.get("reasoning")
        summary = r.get("summary") if type(r) is dict else None
        if isinstance(summary, str) and summary.lower() in ("auto", "none"):
            return summary.lower() == "auto"
        for holder in (cfg.get("thinking_config"), cfg.get("thinkingConfig")):
            if type(holder) is dict:
                for key in ("include_thoughts", "includeThoughts"):
                    if type(holder.get(key)) is bool:
                        return bool(holder[key])
    return None


def _responses_summary(r: dict[str, Any]) -> bool | None:
    for key in ("summary", "generate_summary"):
        if key in r:
            value = r[key]
            if value is None or value == "none":
                return False
            if value in _DETAILS:
                return True
    return None
