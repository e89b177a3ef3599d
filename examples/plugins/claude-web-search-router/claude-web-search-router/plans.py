"""Which backends may run a search, and in which order (failures push a backend back)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from cliproxy.plugins.api import PluginError

from .settings import ROUTES, Settings

RETRYABLE_STATUSES = frozenset({429, 502, 503})
FAILURE_PENALTY = 5


@dataclass(frozen=True, slots=True)
class Plan:
    backend: str  # antigravity | codex | xai | tavily
    model: str = ""  # the model a built-in backend is called with


def plans_for(settings: Settings, available: Collection[str] | None) -> list[Plan]:
    """The runnable backends of the configured route, in chain order.

    ``available`` is the router's ``AvailableProviders``: a built-in backend needs its
    provider there. ``None`` (at execution time, where the host does not send it) is
    lenient, as in CPA: codex and xai are assumed, antigravity needs a configured model.
    """
    plans = []
    for backend in ROUTES[settings.route]:
        if backend == "tavily":
            ok = bool(settings.tavily_api_keys)
        else:
            ok = (backend != "antigravity" or bool(settings.antigravity_model)) and (
                available is None or backend in available
            )
        if ok:
            plans.append(Plan(backend, settings.model_for(backend)))
    return plans


def retryable(exc: PluginError) -> bool:
    """A failure worth a penalty: HTTP 429, 502 or 503 (by status, or named in the message)."""
    return exc.http_status in RETRYABLE_STATUSES or any(str(s) in exc.message for s in RETRYABLE_STATUSES)


class Penalties:
    """In-memory scores per backend: +5 on a retryable failure, -1 (never below 0) on success."""

    def __init__(self) -> None:
        self.scores: dict[str, int] = {}

    def order(self, plans: list[Plan]) -> list[Plan]:
        """``plans`` sorted by score, keeping chain order among equals."""
        return sorted(plans, key=lambda p: self.scores.get(p.backend, 0))

    def failed(self, backend: str, exc: PluginError) -> None:
        if retryable(exc):
            self.scores[backend] = self.scores.get(backend, 0) + FAILURE_PENALTY

    def succeeded(self, backend: str) -> None:
        self.scores[backend] = max(0, self.scores.get(backend, 0) - 1)
