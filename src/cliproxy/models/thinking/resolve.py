"""Resolve the thinking setting of a request: suffix first, then the client body.

The result is validated against the target model (strict on the same provider, clamped
across providers) and handed to :func:`~cliproxy.models.thinking.apply.apply_thinking`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .canonical import Mode, ThinkingCaps, ThinkingConfig, budget_to_level, claude_effort
from .extract import extract_thinking
from .suffix import parse_suffix_value
from .validate import validate_thinking

__all__ = [
    "adaptive_setting",
    "adaptive_top",
    "body_format",
    "resolve_thinking",
    "same_provider_family",
    "settle_thinking",
]

_FAMILIES: dict[str, str] = {
    "gemini": "gemini",
    "gemini-cli": "gemini",
    "antigravity": "gemini",
    "aistudio": "gemini",
    "vertex": "gemini",
    "openai": "openai",
    "openai-response": "openai",
    "responses": "openai",  # the pipeline's name for a Responses client (CPA openai-response)
    "codex": "openai",
}


def same_provider_family(client_format: str, target: str, model_type: str | None = None) -> bool:
    """Whether a request is "same provider" for validation (strict) purposes.

    True when the client format and the target protocol are one family (Gemini /
    Antigravity, or OpenAI chat / Responses / Codex) and, when the model's own family
    ``model_type`` is known, it belongs to that family too (a Kimi model behind a
    Claude-compatible endpoint is not Claude).
    """
    if not _same_family(client_format, target):
        return False
    return not model_type or _same_family(target, model_type)


def _same_family(a: str, b: str) -> bool:
    a, b = a.strip().lower(), b.strip().lower()
    return a == b or _FAMILIES.get(a, a) == _FAMILIES.get(b, b)


def resolve_thinking(
    suffix: str | None,
    client_format: str,
    client_body: Mapping[str, Any],
    caps: ThinkingCaps | None,
    same_provider: bool,
    *,
    target: str | None = None,
) -> ThinkingConfig | None:
    """The thinking setting to apply upstream, or ``None`` to leave the body alone.

    ``suffix`` is the raw value inside ``model(...)`` (``None`` without one); a valid
    suffix overrides the body, an unknown one is ignored. ``caps`` ``None`` (unknown
    model) or ``user_defined`` skips validation. Returns ``None`` for a model that does
    not think (``apply_thinking`` then strips thinking fields). ``target`` (the upstream
    protocol id), when given, lets Claude adaptive models map other formats' budgets to
    efforts the way CPA's translators do. Raises ``ThinkingError`` (a ``RequestError``,
    400) for a strict same-provider setting the model cannot take.
    """
    cfg = parse_suffix_value(suffix)
    if cfg is None:
        cfg = extract_thinking(client_body, body_format(client_format, target))
        cfg = cfg.with_(source=client_format) if cfg is not None else None
        if cfg is None and (top := adaptive_top(caps, client_format, target)):
            cfg = adaptive_setting(top, client_body)
    if cfg is None or caps is None or caps.user_defined:
        return cfg
    return settle_thinking(cfg, caps, same_provider, target, client_format)


def settle_thinking(
    cfg: ThinkingConfig,
    caps: ThinkingCaps,
    same_provider: bool,
    target: str | None,
    client_format: str = "",
) -> ThinkingConfig | None:
    """:func:`resolve_thinking`'s checks of a setting ``cfg`` against a model whose
    ``caps`` are known and not user-defined (``None``: the model does not think).

    "xhigh" and "max" become the top level the model lists across providers, and, on a
    model whose thinking an API key's config defines (``caps.configured_type``), whenever
    the client's format is not the target's (a Responses client on a Codex key too:
    CPA ``mapConfiguredHighIntent``)."""
    if not caps.supported:
        return None
    top = not same_provider or (caps.configured_type and client_format != target)
    if top and cfg.mode is Mode.LEVEL:
        cfg = cfg.with_(level=_high_intent(cfg.level, caps))
    if target == "claude" and caps.levels and cfg.source not in ("suffix", "claude"):
        cfg = _as_claude_effort(cfg, caps)
    return validate_thinking(cfg, caps, same_provider=same_provider, target=target)


def adaptive_top(caps: ThinkingCaps | None, client_format: str, target: str | None) -> int:
    """The budget a Claude client's adaptive thinking with no effort asks of a Gemini model:
    its largest (CPA's Claude-to-Gemini translator writes the registered maximum, also
    above the level high's 24576); 0 for any other route, whose translator's level is
    fitted to the model instead (an Antigravity model gets high). Only a model whose
    thinking is known and not user-defined has a largest budget."""
    if caps is None or caps.user_defined or client_format != "claude" or target != "gemini":
        return 0
    return caps.max


def adaptive_setting(top: int, body: Mapping[str, Any]) -> ThinkingConfig | None:
    """Budget ``top`` (from :func:`adaptive_top`) when the Claude ``body`` asks adaptive
    thinking; its effort, when it names one, is read before this is asked."""
    thinking = body.get("thinking")
    if type(thinking) is not dict or thinking.get("type") not in ("adaptive", "auto"):
        return None
    return ThinkingConfig(Mode.BUDGET, budget=top, source="claude")


def body_format(client_format: str, target: str | None) -> str:
    """The format a client body's setting is read in (it may hold the target's own fields)."""
    # An OpenAI chat body sent on to Kimi may carry Kimi's native ``thinking`` object.
    if target == "kimi" and client_format == "openai":
        return "kimi"
    return client_format


def _high_intent(level: str, caps: ThinkingCaps) -> str:
    """Across providers, "xhigh" and "max" mean "the top the model offers"."""
    candidates = {"xhigh": ("xhigh", "max", "high"), "max": ("max", "xhigh", "high")}.get(level)
    for candidate in candidates or ():
        if caps.allows(candidate):
            return candidate
    return level


def _as_claude_effort(cfg: ThinkingConfig, caps: ThinkingCaps) -> ThinkingConfig:
    """Another format's setting as a Claude adaptive effort (minimal -> low, auto -> high)."""
    if cfg.mode is Mode.NONE:
        return cfg
    level = cfg.level if cfg.mode is Mode.LEVEL else budget_to_level(cfg.budget)
    if level in ("xhigh", "max"):  # the top the model lists (CPA clamps to a listed level)
        level = _high_intent(level, caps)
        effort: str | None = level if caps.allows(level) else "high"
    else:
        effort = claude_effort(level, caps.allows("max")) if level else None
    if level == "none":
        return cfg.with_(mode=Mode.NONE, budget=0, level="")
    if effort is None:
        return cfg
    return cfg.with_(mode=Mode.LEVEL, level=effort, budget=0)
