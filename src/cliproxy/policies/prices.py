"""What a request cost: a price table per model family and the usage's token split.

Prices are USD per million tokens. The packaged table below holds list prices of the
common families (as published by their vendors in late 2025); ``model-prices`` in the
config adds or overrides entries. A model is priced by the most specific pattern that
matches it (the longest pattern; config entries before packaged ones); a model that no
pattern matches costs 0, so a cost budget never refuses it (docs/keys.md says so).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

__all__ = ["DEFAULT_PRICES", "Price", "PriceTable"]


@dataclass(frozen=True, slots=True)
class Price:
    input: float
    output: float
    cached_input: float
    cache_write: float
    reasoning: float

    @staticmethod
    def of(
        input: float,
        output: float,
        cached_input: float | None = None,
        cache_write: float | None = None,
        reasoning: float | None = None,
    ) -> Price:
        return Price(
            input,
            output,
            input if cached_input is None else cached_input,
            input if cache_write is None else cache_write,
            output if reasoning is None else reasoning,
        )

    def cost(self, usage: Any) -> float:
        """USD for an ``ir.Usage`` (cache read/write are part of input, reasoning of output)."""
        cache_read, cache_write = usage.cache_read_tokens, usage.cache_write_tokens
        uncached = max(usage.input_tokens - cache_read - cache_write, 0)
        reasoning = min(usage.reasoning_tokens, usage.output_tokens) if usage.output_tokens else 0
        visible = max(usage.output_tokens - reasoning, 0)
        return (
            uncached * self.input
            + cache_read * self.cached_input
            + cache_write * self.cache_write
            + visible * self.output
            + reasoning * self.reasoning
        ) / 1_000_000


P = Price.of
DEFAULT_PRICES: dict[str, Price] = {
    # Anthropic (cache write at 1.25x input, cache read at 0.1x)
    "claude-opus-4-5*": P(5, 25, 0.5, 6.25),
    "claude-opus-4*": P(15, 75, 1.5, 18.75),
    "claude-3-opus*": P(15, 75, 1.5, 18.75),
    "claude-sonnet-4*": P(3, 15, 0.3, 3.75),
    "claude-3-7-sonnet*": P(3, 15, 0.3, 3.75),
    "claude-3-5-sonnet*": P(3, 15, 0.3, 3.75),
    "claude-haiku-4*": P(1, 5, 0.1, 1.25),
    "claude-3-5-haiku*": P(0.8, 4, 0.08, 1),
    # OpenAI
    "gpt-5*": P(1.25, 10, 0.125),
    "gpt-5*-mini*": P(0.25, 2, 0.025),
    "gpt-5*-nano*": P(0.05, 0.4, 0.005),
    "gpt-4.1*": P(2, 8, 0.5),
    "gpt-4.1-mini*": P(0.4, 1.6, 0.1),
    "gpt-4.1-nano*": P(0.1, 0.4, 0.025),
    "gpt-4o*": P(2.5, 10, 1.25),
    "gpt-4o-mini*": P(0.15, 0.6, 0.075),
    "o3*": P(2, 8, 0.5),
    "o4-mini*": P(1.1, 4.4, 0.275),
    # Google
    "gemini-3-pro*": P(2, 12, 0.2),
    "gemini-2.5-pro*": P(1.25, 10, 0.31),
    "gemini-2.5-flash*": P(0.3, 2.5, 0.075),
    "gemini-2.5-flash-lite*": P(0.1, 0.4, 0.025),
    # xAI, Moonshot, DeepSeek
    "grok-4*": P(3, 15, 0.75),
    "grok-code-fast*": P(0.2, 1.5, 0.02),
    "kimi-k2*": P(0.6, 2.5, 0.15),
    "deepseek*": P(0.28, 0.42, 0.028),
}
del P

_FREE = Price(0, 0, 0, 0, 0)


class PriceTable:
    """The packaged prices under the config's ``model-prices``; look-ups are cached."""

    __slots__ = ("_cache", "_patterns")

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        own: list[tuple[str, Price]] = []
        for pattern, p in (overrides or {}).items():
            own.append(
                (
                    pattern.strip().lower(),
                    Price.of(p.input, p.output, p.cached_input, p.cache_write, p.reasoning),
                )
            )
        packaged = [(k, v) for k, v in DEFAULT_PRICES.items()]
        by_length = lambda item: -len(item[0])  # noqa: E731 - the most specific pattern first
        self._patterns = sorted(own, key=by_length) + sorted(packaged, key=by_length)
        self._cache: dict[str, Price] = {}

    def price(self, model: str) -> Price:
        name = model.lower()
        found = self._cache.get(name)
        if found is None:
            found = next((p for pat, p in self._patterns if fnmatchcase(name, pat)), _FREE)
            if len(self._cache) < 4096:
                self._cache[name] = found
        return found

    def known(self, model: str) -> bool:
        return self.price(model) is not _FREE

    def cost(self, model: str, usage: Any) -> float:
        return self.price(model).cost(usage) if usage is not None else 0.0
