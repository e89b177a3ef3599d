"""Per-provider appliers: write a validated :class:`ThinkingConfig` into an upstream body.

Each applier mutates the body in place. ``caps`` is ``None`` for user-defined or unknown
models: the setting is then written as asked, for the upstream to judge.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .canonical import Mode, ThinkingCaps, ThinkingConfig, budget_to_level, level_to_budget

__all__ = ["APPLIERS", "STRIP_PATHS", "Applier"]

Body = dict[str, Any]
Applier = Callable[[Body, ThinkingConfig, "ThinkingCaps | None", str], None]


def _node(body: Body, *keys: str) -> Body:
    """The object at ``keys``, created (or replacing a non-object) as needed."""
    for key in keys:
        child = body.get(key)
        if not isinstance(child, dict):
            child = body[key] = {}
        body = child
    return body


def _find(body: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


# --- Claude -------------------------------------------------------------------------


def _claude_clear_effort(body: Body) -> None:
    config = body.get("output_config")
    if isinstance(config, dict):
        config.pop("effort", None)
        if not config:
            del body["output_config"]


def _claude_disable(body: Body, *, drop_display: bool = True) -> None:
    thinking = _node(body, "thinking")
    thinking["type"] = "disabled"
    thinking.pop("budget_tokens", None)
    if drop_display:
        thinking.pop("display", None)
    _claude_clear_effort(body)


def _claude_adaptive(body: Body, effort: str | None) -> None:
    thinking = _node(body, "thinking")
    thinking["type"] = "adaptive"
    thinking.pop("budget_tokens", None)
    if effort is None:
        _claude_clear_effort(body)
    else:
        _node(body, "output_config")["effort"] = effort


def _claude_enable(body: Body, budget: int | None) -> None:
    thinking = _node(body, "thinking")
    thinking["type"] = "enabled"
    if budget is None:
        thinking.pop("budget_tokens", None)
    else:
        thinking["budget_tokens"] = budget
    _claude_clear_effort(body)


def _claude_fit_budget(body: Body, budget: int, caps: ThinkingCaps) -> None:
    """Keep the budget below ``max_tokens`` (setting it from the model when absent)."""
    limit = body.get("max_tokens")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit <= 0:
        limit = caps.max_completion_tokens
        if limit > 0:
            body["max_tokens"] = limit
    if limit <= 0 or budget < limit:
        return
    if caps.min > 0 and limit - 1 < caps.min:
        return  # too little room left; the upstream will say so
    body["thinking"]["budget_tokens"] = limit - 1


def apply_claude(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """``thinking`` enabled{budget_tokens} / adaptive + ``output_config.effort`` / disabled."""
    adaptive = caps is None or bool(caps.levels)
    if cfg.mode is Mode.NONE:
        _claude_disable(body)
    elif cfg.mode is Mode.AUTO:
        if caps is not None and adaptive:
            _claude_adaptive(body, None)
        else:
            _claude_enable(body, None)
    elif cfg.mode is Mode.LEVEL and adaptive and cfg.level:
        _claude_adaptive(body, cfg.level)
    else:
        budget = cfg.budget if cfg.mode is Mode.BUDGET else level_to_budget(cfg.level)
        if budget is None:
            return
        if budget == 0:
            _claude_disable(body, drop_display=False)
            return
        _claude_enable(body, budget)
        if caps is not None:
            _claude_fit_budget(body, budget, caps)


# --- Gemini / Antigravity -----------------------------------------------------------

_GEMINI_ROOT = ("generationConfig",)
_ANTIGRAVITY_ROOT = ("request", "generationConfig")
_THOUGHTS = ("includeThoughts", "include_thoughts")


def _include_thoughts(config: Any) -> bool | None:
    if not isinstance(config, dict):
        return None
    for key in _THOUGHTS:
        if isinstance(config.get(key), bool):
            return bool(config[key])
    return None


def _gemini_write(body: Body, root: tuple[str, ...], key: str | None, value: Any) -> None:
    """Replace the amount in ``thinkingConfig`` (keeping an explicit includeThoughts)."""
    parent = _node(body, *root)
    config = parent.get("thinkingConfig")
    thoughts = _include_thoughts(config)
    if isinstance(config, dict):
        for name in ("thinkingBudget", "thinking_budget", "thinkingLevel", "thinking_level", *_THOUGHTS):
            config.pop(name, None)
    if key is None and value is None:
        parent.pop("thinkingConfig", None)
        return
    config = _node(parent, "thinkingConfig")
    if key is not None:
        config[key] = value
    if thoughts is not None:
        config["includeThoughts"] = thoughts


def _gemini_level(body: Body, root: tuple[str, ...], cfg: ThinkingConfig) -> None:
    if cfg.mode is Mode.NONE and cfg.budget == 0 and not cfg.level:
        _gemini_write(body, root, None, None)
    else:
        _gemini_write(body, root, "thinkingLevel" if cfg.level else None, cfg.level or None)


def _gemini_uses_levels(cfg: ThinkingConfig, caps: ThinkingCaps | None) -> bool:
    if cfg.mode is Mode.LEVEL:
        return True
    if cfg.mode is not Mode.NONE:
        return False
    return bool(cfg.level) if caps is None else bool(caps.levels)


def apply_gemini(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """``generationConfig.thinkingConfig`` ``thinkingLevel`` or ``thinkingBudget``."""
    if _gemini_uses_levels(cfg, caps):
        _gemini_level(body, _GEMINI_ROOT, cfg)
    else:
        _gemini_write(body, _GEMINI_ROOT, "thinkingBudget", cfg.budget)


def _antigravity_claude_budget(body: Body, budget: int, caps: ThinkingCaps) -> int | None:
    """Claude models behind Antigravity: budget under maxOutputTokens, or no thinking."""
    parent = _node(body, *_ANTIGRAVITY_ROOT)
    given = parent.get("maxOutputTokens")
    if isinstance(given, int) and not isinstance(given, bool) and given > 0:
        limit, from_model = given, False
    else:
        limit, from_model = caps.max_completion_tokens, True
    if limit > 0 and budget >= limit:
        budget = limit - 1
    if caps.min > 0 and 0 <= budget < caps.min:
        return None
    if from_model and limit > 0:
        parent["maxOutputTokens"] = limit
    return budget


def apply_antigravity(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """Gemini's fields under ``request.``; Claude models get their budget fitted."""
    if cfg.mode not in (Mode.AUTO, Mode.BUDGET) and _gemini_uses_levels(cfg, caps):
        _gemini_level(body, _ANTIGRAVITY_ROOT, cfg)
        return
    budget: int | None = cfg.budget
    if caps is not None and "claude" in model.lower():
        budget = _antigravity_claude_budget(body, cfg.budget, caps)
    if budget is None:
        _gemini_write(body, _ANTIGRAVITY_ROOT, None, None)
    else:
        _gemini_write(body, _ANTIGRAVITY_ROOT, "thinkingBudget", budget)


# --- OpenAI chat / Codex / xAI ------------------------------------------------------


def _effort_for(cfg: ThinkingConfig, caps: ThinkingCaps | None) -> str | None:
    """The effort string an OpenAI-style upstream gets, or ``None`` to leave it alone."""
    if caps is None:
        return _compat_effort(cfg)
    if cfg.mode is Mode.LEVEL:
        return cfg.level or None
    if cfg.mode is not Mode.NONE:
        return None
    if cfg.budget == 0 and (caps.zero_allowed or caps.allows("none")):
        return "none"
    if cfg.level:
        return cfg.level
    return caps.levels[0].strip().lower() if caps.levels else None


def _compat_effort(cfg: ThinkingConfig) -> str | None:
    if cfg.mode is Mode.LEVEL:
        return cfg.level or None
    if cfg.mode is Mode.NONE:
        return cfg.level or "none"
    if cfg.mode is Mode.AUTO:
        return "auto"
    return budget_to_level(cfg.budget)


def apply_openai(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """Chat Completions ``reasoning_effort``."""
    effort = _effort_for(cfg, caps)
    if effort is not None:
        body["reasoning_effort"] = effort


def apply_codex(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """Responses ``reasoning.effort`` (Codex and xAI)."""
    effort = _effort_for(cfg, caps)
    if effort is not None:
        _node(body, "reasoning")["effort"] = effort


# --- Kimi ---------------------------------------------------------------------------


def apply_kimi(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """Kimi's native ``thinking`` {type, effort}; the legacy ``reasoning_effort`` goes."""
    if cfg.mode is Mode.LEVEL:
        effort = cfg.level or None
    elif cfg.mode is Mode.NONE:
        effort = cfg.level if cfg.level not in ("", "none") else None
        if effort is None:
            body.pop("reasoning_effort", None)
            body["thinking"] = {"type": "disabled"}
            return
    elif cfg.mode is Mode.AUTO:
        effort = "auto"
    else:
        effort = budget_to_level(cfg.budget)
    if effort is None:
        return
    body.pop("reasoning_effort", None)
    thinking = _node(body, "thinking")
    thinking["type"] = "enabled"
    thinking["effort"] = effort


# --- Gemini Interactions ----------------------------------------------------------

# every spelling of a thinking field an Interactions body may carry (CPA strips them all
# before it writes its own)
_INTERACTIONS_FIELDS = tuple(
    (root, name)
    for root in ("generation_config", "generationConfig")
    for name in (
        "thinking_level",
        "thinkingLevel",
        "thinking_budget",
        "thinkingBudget",
        "thinking_summaries",
        "thinkingSummaries",
        "thinking_config",
        "thinkingConfig",
    )
)


def _interactions_summaries(config: Any) -> str | None:
    """The summary visibility the client asked for: ``thinking_summaries`` auto/none, else
    ``thinking_config.include_thoughts`` as auto/none; ``None`` when it asked nothing."""
    if not isinstance(config, dict):
        return None
    for key in ("thinking_summaries", "thinkingSummaries"):
        value = config.get(key)
        if isinstance(value, str) and value.strip().lower() in ("auto", "none"):
            return value.strip().lower()
    for key in ("thinking_config", "thinkingConfig"):
        thoughts = _include_thoughts(config.get(key))
        if thoughts is not None:
            return "auto" if thoughts else "none"
    return None


def _interactions_level(level: str, caps: ThinkingCaps | None) -> str | None:
    """``level`` as the model takes it: one of its levels (else its top one); without known
    levels, max and xhigh become high. none and auto write no level."""
    level = level.strip().lower()
    if level in ("", "none", "auto"):
        return None
    if caps is not None and caps.levels:
        for candidate in caps.levels:
            if candidate.strip().lower() == level:
                return level
        return caps.levels[-1].strip().lower()
    return "high" if level in ("max", "xhigh") else level


def apply_interactions(body: Body, cfg: ThinkingConfig, caps: ThinkingCaps | None, model: str) -> None:
    """Google's Interactions API: ``generation_config.thinking_level`` and
    ``thinking_summaries`` (CPA's interactions applier). It has no budget and no "none"
    level: a budget becomes its level, none writes nothing, and the summary visibility the
    client asked for is kept unless thinking is switched off."""
    summaries = _interactions_summaries(body.get("generation_config"))
    for root, name in _INTERACTIONS_FIELDS:
        config = body.get(root)
        if isinstance(config, dict):
            config.pop(name, None)
    if cfg.mode is Mode.NONE and not cfg.level and cfg.budget <= 0:
        return
    level: str | None = None
    if cfg.level:
        level = _interactions_level(cfg.level, caps)
    elif cfg.mode in (Mode.BUDGET, Mode.NONE):
        level = _interactions_level(budget_to_level(cfg.budget) or "", caps)
    if level is not None:
        _node(body, "generation_config")["thinking_level"] = level
    if summaries is not None:
        _node(body, "generation_config")["thinking_summaries"] = summaries


APPLIERS: dict[str, Applier] = {
    "claude": apply_claude,
    "gemini": apply_gemini,
    "antigravity": apply_antigravity,
    "openai": apply_openai,
    "codex": apply_codex,
    "xai": apply_codex,
    "kimi": apply_kimi,
    "interactions": apply_interactions,
}

STRIP_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "claude": (("thinking",), ("output_config", "effort")),
    "gemini": (("generationConfig", "thinkingConfig"),),
    "antigravity": (("request", "generationConfig", "thinkingConfig"),),
    "openai": (("reasoning_effort",), ("reasoning",)),
    "codex": (("reasoning",),),
    "xai": (("reasoning",),),
    "kimi": (("reasoning_effort",), ("thinking",)),
    "interactions": _INTERACTIONS_FIELDS,
}
