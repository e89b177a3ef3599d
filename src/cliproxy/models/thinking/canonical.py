"""The canonical thinking setting, a model's thinking capabilities, and level <-> budget tables.

Every client format's reasoning knob (OpenAI ``reasoning_effort``, Responses
``reasoning.effort``, Claude ``thinking``, Gemini ``thinkingConfig``, a ``model(value)``
suffix) is read into one :class:`ThinkingConfig`, checked against the target model's
:class:`ThinkingCaps`, then written into the upstream body by a provider applier.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "LEVEL_BUDGETS",
    "LEVEL_ORDER",
    "Mode",
    "ThinkingCaps",
    "ThinkingConfig",
    "budget_to_level",
    "claude_effort",
    "has_level",
    "level_to_budget",
]


class Mode(StrEnum):
    """How a :class:`ThinkingConfig` expresses the amount of thinking."""

    BUDGET = "budget"  # a token budget > 0
    LEVEL = "level"  # a named effort level
    NONE = "none"  # thinking off
    AUTO = "auto"  # the model decides (dynamic)


@dataclass(frozen=True, slots=True)
class ThinkingConfig:
    """One thinking setting, provider-neutral.

    ``budget`` counts for ``BUDGET`` (and is 0 for ``NONE``, -1 for ``AUTO``); ``level``
    counts for ``LEVEL``. A ``NONE`` config may carry a fallback ``level`` (or budget)
    when the model cannot turn thinking off. ``source`` says where the setting came from:
    ``"suffix"`` or the client format whose body held it.
    """

    mode: Mode
    budget: int = 0
    level: str = ""
    source: str = ""

    def with_(
        self,
        *,
        mode: Mode | None = None,
        budget: int | None = None,
        level: str | None = None,
        source: str | None = None,
    ) -> ThinkingConfig:
        """A copy with some fields changed (no ``dataclasses.replace``: this runs per request)."""
        return ThinkingConfig(
            self.mode if mode is None else mode,
            self.budget if budget is None else budget,
            self.level if level is None else level,
            self.source if source is None else source,
        )


@dataclass(frozen=True, slots=True)
class ThinkingCaps:
    """What a model accepts for thinking (CPA's ``ModelInfo.Thinking``).

    A model with neither a budget range (``min``/``max``) nor ``levels`` does not think:
    appliers strip thinking fields for it. ``user_defined`` models (from config) skip
    validation and let the upstream judge. ``max_completion_tokens`` (0 = unknown) keeps
    Claude budgets below the output limit. ``configured_type``: the family of an API
    key's model whose thinking the config defines (CPA's resolved API-key model: its
    ``Type``), which the setting is checked against as CPA checks it.
    """

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: tuple[str, ...] = ()
    user_defined: bool = False
    max_completion_tokens: int = 0
    configured_type: str = ""

    @property
    def has_budget(self) -> bool:
        """The model takes a numeric budget."""
        return self.min > 0 or self.max > 0

    @property
    def supported(self) -> bool:
        """The model thinks at all."""
        return self.has_budget or bool(self.levels)

    def allows(self, level: str) -> bool:
        """``level`` is one of the model's levels."""
        return has_level(self.levels, level)


LEVEL_BUDGETS: dict[str, int] = {
    "none": 0,
    "auto": -1,
    "minimal": 512,
    "low": 1024,
    "medium": 8192,
    "high": 24576,
    "xhigh": 32768,
    "max": 128000,
}

LEVEL_ORDER: tuple[str, ...] = ("minimal", "low", "medium", "high", "xhigh", "max")

# Upper budget bound of each level, lowest first; above the last one is "xhigh".
_THRESHOLDS: tuple[tuple[int, str], ...] = (
    (512, "minimal"),
    (1024, "low"),
    (8192, "medium"),
    (24576, "high"),
)


def level_to_budget(level: str) -> int | None:
    """The budget a level stands for; ``None`` for an unknown level."""
    return LEVEL_BUDGETS.get(level.strip().lower())


def budget_to_level(budget: int) -> str | None:
    """The level a budget falls in (0 -> none, -1 -> auto); ``None`` below -1."""
    if budget < -1:
        return None
    if budget == -1:
        return "auto"
    if budget == 0:
        return "none"
    for bound, level in _THRESHOLDS:
        if budget <= bound:
            return level
    return "xhigh"


def has_level(levels: tuple[str, ...] | list[str], level: str) -> bool:
    """Case- and space-insensitive membership."""
    want = level.strip().lower()
    return any(item.strip().lower() == want for item in levels)


def claude_effort(level: str, supports_max: bool) -> str | None:
    """The Claude adaptive ``output_config.effort`` for a generic level."""
    level = level.strip().lower()
    if level == "minimal":
        return "low"
    if level in ("low", "medium", "high"):
        return level
    if level in ("xhigh", "max"):
        return "max" if supports_max else "high"
    if level == "auto":
        return "high"
    return None
