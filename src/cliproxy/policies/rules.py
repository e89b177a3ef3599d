"""Client keys compiled for the request path: one ``KeyRule`` per ``api-keys`` mapping.

A rule is immutable and built on every config load; the request path reads its plain
attributes. Plain string keys get no rule at all, so they cost nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import translate
from typing import Any

from cliproxy.access import AccessPolicy
from cliproxy.state.base import KeyLimits
from cliproxy.usage.mask import hide_key

__all__ = ["KeyRule", "build_access", "compile_rule", "period_tag", "rule_id"]


def rule_id(key: str = "", key_hash: str = "") -> str:
    """The key's id in state, management views and the usage ledger (the ledger's key id:
    16 hex digits of SHA-256 of the key; of the stored hash for a hashed key)."""
    return hashlib.sha256((key or key_hash).encode()).hexdigest()[:16]


def period_tag(period: str, now: float) -> tuple[str, float]:
    """(tag of the budget period holding ``now``, when it ends; 0 for ``total``), UTC."""
    if period == "total":
        return "total", 0.0
    day = dt.datetime.fromtimestamp(now, dt.UTC).date()
    if period == "day":
        start = day
        end = day + dt.timedelta(days=1)
    elif period == "week":  # ISO weeks start on Monday
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    stamp = dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp()
    return f"{period[0]}:{start.isoformat()}", stamp


@dataclass(frozen=True, slots=True)
class KeyRule:
    """A client key's policy, compiled."""

    id: str
    name: str
    masked: str
    index: int  # position in api-keys
    models: tuple[str, ...]
    model_match: Any  # compiled regex of every glob, or None (any model)
    rpm: int
    tpm: int
    max_concurrency: int
    budget_tokens: int
    budget_cost: float
    period: str
    expires_at: float
    disabled: bool
    hashed: bool

    @property
    def counts(self) -> bool:
        """Whether the rule keeps counters (any limit beyond the static checks)."""
        return bool(self.rpm or self.tpm or self.max_concurrency or self.budget_tokens or self.budget_cost)

    def allows(self, model: str) -> bool:
        return self.model_match is None or self.model_match.match(model) is not None

    def limits(self, now: float) -> KeyLimits:
        tag = period_tag(self.period, now)[0] if (self.budget_tokens or self.budget_cost) else "total"
        return KeyLimits(self.rpm, self.tpm, self.max_concurrency, self.budget_tokens, self.budget_cost, tag)

    def view(self) -> dict[str, Any]:
        """The policy as the management API shows it (the key masked, never whole)."""
        out: dict[str, Any] = {"id": self.id, "name": self.name, "key": self.masked, "hashed": self.hashed}
        out["models"] = list(self.models)
        out.update({"rpm": self.rpm, "tpm": self.tpm, "max-concurrency": self.max_concurrency})
        out["budget"] = {"tokens": self.budget_tokens, "cost": self.budget_cost, "period": self.period}
        out["expires-at"] = (
            dt.datetime.fromtimestamp(self.expires_at, dt.UTC).isoformat().replace("+00:00", "Z")
            if self.expires_at
            else None
        )
        out["disabled"] = self.disabled
        return out


def _matcher(globs: Iterable[str]) -> Any:
    patterns = [translate(g.lower()) for g in globs]
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)


def compile_rule(entry: Any, index: int) -> KeyRule:
    """A ``KeyRule`` from one ``config.client_keys.ClientKey``."""
    budget = entry.budget
    return KeyRule(
        id=rule_id(entry.key, entry.key_hash),
        name=entry.name,
        masked=hide_key(entry.key) if entry.key else "(hashed)",
        index=index,
        models=tuple(entry.models),
        model_match=_matcher(entry.models),
        rpm=entry.rpm,
        tpm=entry.tpm,
        max_concurrency=entry.max_concurrency,
        budget_tokens=budget.tokens if budget is not None else 0,
        budget_cost=budget.cost if budget is not None else 0.0,
        period=budget.period if budget is not None else "total",
        expires_at=entry.expires_at,
        disabled=entry.disabled,
        hashed=bool(entry.key_hash),
    )


def rules_of(config: Any) -> list[tuple[Any, KeyRule]]:
    """(entry, rule) for every policy entry of the config."""
    return [(entry, compile_rule(entry, i)) for i, entry in enumerate(config.client_keys)]


def build_access(config: Any) -> AccessPolicy:
    """The access policy of a config: its plain keys, and its policy keys with their rules."""
    policies: dict[str, KeyRule] = {}
    hashed: list[tuple[str, KeyRule]] = []
    for entry, rule in rules_of(config):
        if entry.key:
            policies[entry.key] = rule
        else:
            hashed.append((entry.key_hash, rule))
    return AccessPolicy(config.api_keys, policies=policies, hashed=hashed)
