"""Settings Anthropic refuses together, settled as a Claude request's last step: thinking
with a forced tool (:func:`no_thinking_when_forced`), and sampling it does not accept
(:func:`settle`, CPA ``normalizeClaudeSamplingForUpstream``), whoever set them.

Anthropic refuses some combinations outright: with thinking on (``enabled``, ``adaptive`` or
``auto``) ``temperature`` must be 1, ``top_p`` at least 0.95 and ``top_k`` unset; without
it, ``temperature`` and ``top_p`` cannot both be given. Thinking is often turned on by the
proxy itself after the client wrote its sampling (a model suffix, ``reasoning_effort``
shaping, payload rules), so the body's last step before it is sent drops exactly what would
be refused: a temperature other than 1, a ``top_p`` below 0.95 and any ``top_k`` with
thinking on; ``top_p`` beside a ``temperature`` without it.

Deliberate difference: CPA drops ``temperature`` and ``top_p`` from every request that is not
a confirmed Claude Code one, because a translated client's settings were "not written for
Anthropic". Here a setting Anthropic accepts is kept, whoever sent it: a client that asks
``temperature: 0`` for repeatable answers gets it (the translators already keep translated
settings in Anthropic's range and never send both).
"""

from __future__ import annotations

from typing import Any

__all__ = ["SAMPLING", "no_thinking_when_forced", "settle"]

SAMPLING = ("temperature", "top_p", "top_k")
_THINKING_ON = frozenset(("enabled", "adaptive", "auto"))


def _number(value: Any) -> float | None:
    return float(value) if type(value) in (int, float) else None


def settle(body: dict[str, Any]) -> None:
    """Drop, in place, the sampling settings Anthropic would refuse with the rest of ``body``."""
    thinking = body.get("thinking")
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if isinstance(kind, str) and kind.strip().lower() in _THINKING_ON:
        if "temperature" in body and _number(body["temperature"]) != 1:
            del body["temperature"]
        if "top_p" in body and ((top_p := _number(body["top_p"])) is None or top_p < 0.95):
            del body["top_p"]
        body.pop("top_k", None)
    elif "temperature" in body and "top_p" in body:
        del body["top_p"]  # (temperature is what Claude Code sends: top_p gives way, as CPA)


def no_thinking_when_forced(body: dict[str, Any]) -> None:
    """The API refuses thinking with a forced tool (``tool_choice`` ``any`` or ``tool``):
    drop ``thinking`` and the adaptive ``output_config.effort`` (CPA,
    ``disableThinkingIfToolChoiceForced``). Runs after every other step that may have
    turned thinking on (a model suffix, ``reasoning_effort`` shaping, payload rules)."""
    choice = body.get("tool_choice")
    if not isinstance(choice, dict) or choice.get("type") not in ("any", "tool"):
        return
    body.pop("thinking", None)
    config = body.get("output_config")
    if isinstance(config, dict) and "effort" in config:
        config = {k: v for k, v in config.items() if k != "effort"}
        if config:
            body["output_config"] = config
        else:
            del body["output_config"]
