"""Thinking (reasoning) settings: one canonical setting across every format and provider.

``resolve_thinking`` reads a request's setting (a ``model(value)`` suffix first, then the
client body) and checks it against the model; ``apply_thinking`` writes it into the
upstream body for the target protocol::

    caps = ThinkingCaps(min=1024, max=128000, zero_allowed=True)
    cfg = resolve_thinking("high", "openai", body, caps, same_provider=False, target="claude")
    apply_thinking(upstream, cfg, "claude", "claude-sonnet-4-5", caps)
"""

from __future__ import annotations

from .apply import apply_thinking, strip_thinking
from .canonical import (
    LEVEL_BUDGETS,
    LEVEL_ORDER,
    Mode,
    ThinkingCaps,
    ThinkingConfig,
    budget_to_level,
    claude_effort,
    level_to_budget,
)
from .extract import extract_thinking
from .resolve import resolve_thinking, same_provider_family
from .suffix import parse_suffix_value, split_model_suffix
from .validate import ThinkingError, clamp_level, validate_thinking

__all__ = [
    "LEVEL_BUDGETS",
    "LEVEL_ORDER",
    "Mode",
    "ThinkingCaps",
    "ThinkingConfig",
    "ThinkingError",
    "apply_thinking",
    "budget_to_level",
    "clamp_level",
    "claude_effort",
    "extract_thinking",
    "level_to_budget",
    "parse_suffix_value",
    "resolve_thinking",
    "same_provider_family",
    "split_model_suffix",
    "strip_thinking",
    "validate_thinking",
]
