"""Client keys with a policy: the mapping entries of ``api-keys`` and ``model-prices``.

``api-keys`` keeps CPA's plain strings (a key with no limits); beside them an entry may be
a mapping (see docs/keys.md)::

    api-keys:
      - "sk-plain"                       # no limits, as in CPA
      - key: "sk-team-a"
        name: team-a
        models: ["claude-*", "gpt-5*"]
        rpm: 60
        tpm: 200000
        max-concurrency: 4
        budget: {tokens: 5000000, cost: 25, period: month}
        expires-at: 2027-01-31
      - key-hash: "$2b$12$..."           # stored hashed (bcrypt, or sha256:<hex>)
        name: ci

Only the config layer reads this module; ``cliproxy.policies`` compiles the entries.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ._base import ConfigModel

__all__ = ["ClientKey", "KeyBudget", "ModelPrice", "parse_expiry"]

Period = Literal["day", "week", "month", "total"]


def parse_expiry(value: Any) -> float:
    """``expires-at`` as epoch seconds (0 = never): a date (end of that day, UTC), a
    date-time (naive = UTC), an ISO 8601 string or a number of epoch seconds."""
    if value is None or value == "" or value == 0:
        return 0.0
    if isinstance(value, bool):
        raise ValueError("expires-at: a date, a date-time or epoch seconds")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"expires-at: {text!r} is not an ISO 8601 date or date-time") from None
        if len(text) == 10:  # a bare date
            value = value.date()
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, dt.date):
        end = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
        return end.timestamp()
    raise ValueError("expires-at: a date, a date-time or epoch seconds")


class KeyBudget(ConfigModel):
    """``budget``: tokens and/or cost (USD) per ``period`` (0 = no such limit)."""

    tokens: int = Field(default=0, ge=0)
    cost: float = Field(default=0.0, ge=0)
    period: Period = "month"


class ClientKey(ConfigModel):
    """One ``api-keys`` mapping entry. ``key`` or ``key-hash`` is required."""

    key: str = ""
    key_hash: str = ""
    name: str = ""
    models: list[str] = Field(default_factory=list)
    rpm: int = Field(default=0, ge=0)
    tpm: int = Field(default=0, ge=0)
    max_concurrency: int = Field(default=0, ge=0)
    budget: KeyBudget | None = None
    expires_at: float = 0.0
    disabled: bool = False

    @field_validator("expires_at", mode="before")
    @classmethod
    def _expiry(cls, value: Any) -> float:
        return parse_expiry(value)

    @field_validator("models", mode="before")
    @classmethod
    def _models(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _needs_key(self) -> ClientKey:
        self.key, self.key_hash, self.name = self.key.strip(), self.key_hash.strip(), self.name.strip()
        if not self.key and not self.key_hash:
            raise ValueError("an api-keys entry needs key or key-hash")
        if self.key and self.key_hash:
            raise ValueError("an api-keys entry takes key or key-hash, not both")
        self.models = [m.strip() for m in self.models if m and m.strip()]
        return self

    @property
    def label(self) -> str:
        return self.name or "unnamed key"


class ModelPrice(ConfigModel):
    """``model-prices: {<model glob>: {...}}``: USD per million tokens. ``cached-input``
    defaults to ``input``, ``cache-write`` to ``input``, ``reasoning`` to ``output``."""

    input: float = Field(default=0.0, ge=0)
    cached_input: float | None = Field(default=None, ge=0)
    cache_write: float | None = Field(default=None, ge=0)
    output: float = Field(default=0.0, ge=0)
    reasoning: float | None = Field(default=None, ge=0)
