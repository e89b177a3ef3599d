"""Read the thinking setting out of a request body, per wire format.

* OpenAI chat: ``reasoning_effort``.
* Responses / Codex / xAI: ``reasoning.effort``.
* Claude: ``thinking.type`` (``disabled`` wins; ``adaptive`` counts only with
  ``output_config.effort``), then ``thinking.budget_tokens``; ``enabled`` alone is auto.
* Gemini: ``generationConfig.thinkingConfig`` ``thinkingLevel`` before ``thinkingBudget``
  (snake_case spellings too); Antigravity the same under ``request.``.
* Kimi: native ``thinking.type`` / ``thinking.effort``, else ``reasoning_effort``.
* Gemini Interactions: ``generation_config`` ``thinking_level`` (or inside its
  ``thinking_config``) before ``thinking_budget`` (camelCase spellings too).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .canonical import Mode, ThinkingConfig

__all__ = ["Reader", "extract_thinking", "gate_of", "reader_for"]

# isinstance tuples made once (``A | B`` in a test builds a union each time it runs)
_SCALARS = (int, float, str)

Body = Mapping[str, Any]
# reads a body's setting, ``source`` naming where it came from
Reader = Callable[[Body, str], "ThinkingConfig | None"]


def extract_thinking(body: Body, fmt: str) -> ThinkingConfig | None:
    """The setting ``body`` (in format ``fmt``) carries, or ``None`` when it has none."""
    reader = _READERS.get(fmt.strip().lower())
    if reader is None or not isinstance(body, Mapping):
        return None
    return reader(body, fmt)


def reader_for(fmt: str) -> Reader | None:
    """The reader :func:`extract_thinking` uses for ``fmt`` (``None``: no setting to read),
    to look up once: ``reader(body, source)`` is ``extract_thinking(body, fmt)`` with
    ``source`` instead of ``fmt`` in the setting it returns, for a ``Mapping`` body."""
    return _READERS.get(fmt.strip().lower())


def _get(body: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(body, Mapping):
            return None
        body = body.get(key)
    return body


def _effort(value: Any, source: str) -> ThinkingConfig | None:
    """A named effort: ``none`` / ``auto`` are modes, anything else a level."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip().lower()
    if value == "none":
        return ThinkingConfig(Mode.NONE, source=source)
    if value == "auto":
        return ThinkingConfig(Mode.AUTO, budget=-1, source=source)
    return ThinkingConfig(Mode.LEVEL, level=value, source=source)


def _budget(value: Any, source: str) -> ThinkingConfig | None:
    if isinstance(value, bool) or not isinstance(value, _SCALARS):
        return None
    try:
        budget = int(float(value))
    except ValueError:
        return None
    if budget == 0:
        return ThinkingConfig(Mode.NONE, source=source)
    if budget == -1:
        return ThinkingConfig(Mode.AUTO, budget=-1, source=source)
    return ThinkingConfig(Mode.BUDGET, budget=budget, source=source)


def _openai(body: Body, source: str) -> ThinkingConfig | None:
    value = body.get("reasoning_effort")
    return None if value is None else _effort(value, source)


def _responses(body: Body, source: str) -> ThinkingConfig | None:
    reasoning = body.get("reasoning")
    return None if reasoning is None else _effort(_get(reasoning, "effort"), source)


def _claude(body: Body, source: str) -> ThinkingConfig | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    kind = _get(thinking, "type")
    if kind == "disabled":
        return ThinkingConfig(Mode.NONE, source=source)
    if kind in ("adaptive", "auto"):
        return _effort(_get(body, "output_config", "effort"), source)
    budget = _get(thinking, "budget_tokens")
    if budget is not None:
        return _budget(budget, source)
    if kind == "enabled":
        return ThinkingConfig(Mode.AUTO, budget=-1, source=source)
    return None


def _gemini_at(config: Any, source: str) -> ThinkingConfig | None:
    if config is None:  # (no thinkingConfig, the usual body: no ABC isinstance call)
        return None
    if type(config) is not dict and not isinstance(config, Mapping):  # (a parsed body's: a dict)
        return None
    level = config.get("thinkingLevel", config.get("thinking_level"))
    if level is not None:
        return _effort(level, source)
    budget = config.get("thinkingBudget", config.get("thinking_budget"))
    if budget is not None:
        return _budget(budget, source)
    return None


def _gemini(body: Body, source: str) -> ThinkingConfig | None:
    config = body.get("generationConfig")  # (read on every translated Gemini request: no _get)
    if type(config) is not dict and not isinstance(config, Mapping):  # (ABC's isinstance: Python code)
        return None
    return _gemini_at(config.get("thinkingConfig"), source)


def _antigravity(body: Body, source: str) -> ThinkingConfig | None:
    return _gemini_at(_get(body, "request", "generationConfig", "thinkingConfig"), source)


def _kimi(body: Body, source: str) -> ThinkingConfig | None:
    thinking = body.get("thinking")
    if not isinstance(thinking, Mapping):
        return _openai(body, source)
    kind = thinking.get("type")
    if isinstance(kind, str) and kind.strip().lower() == "disabled":
        return ThinkingConfig(Mode.NONE, source=source)
    if "effort" in thinking:
        return _effort(thinking["effort"], source)
    if kind is not None:
        # A native thinking type without an effort means "upstream default": the
        # legacy reasoning_effort must not override it.
        return None
    return _openai(body, source)


def _interactions(body: Body, source: str) -> ThinkingConfig | None:
    config = body.get("generation_config")
    if not isinstance(config, Mapping):
        return None
    nested = config.get("thinking_config", config.get("thinkingConfig"))
    for holder in (config, nested):
        if isinstance(holder, Mapping):
            level = holder.get("thinking_level", holder.get("thinkingLevel"))
            if level is not None:
                return _effort(level, source)
    for holder in (config, nested):
        if isinstance(holder, Mapping):
            budget = holder.get("thinking_budget", holder.get("thinkingBudget"))
            if budget is not None:
                return _budget(budget, source)
    return None


_READERS: dict[str, Reader] = {
    "openai": _openai,
    "openai-response": _responses,
    "openai-responses": _responses,
    "responses": _responses,
    "codex": _responses,
    "xai": _responses,
    "claude": _claude,
    "gemini": _gemini,
    "gemini-cli": _antigravity,
    "antigravity": _antigravity,
    "kimi": _kimi,
    "interactions": _interactions,
}

# the one top-level key a reader needs to find anything (a body without it reads None);
# the Kimi reader, which looks at two, has none
_GATES: dict[Reader, str] = {
    _openai: "reasoning_effort",
    _responses: "reasoning",
    _claude: "thinking",
    _gemini: "generationConfig",
    _antigravity: "request",
    _interactions: "generation_config",
}


def gate_of(reader: Reader | None) -> str | None:
    """The top-level key without which ``reader`` finds no setting (``None``: no such key),
    so a caller can skip the read of a body that lacks it."""
    return _GATES.get(reader) if reader is not None else None
