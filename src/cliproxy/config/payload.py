"""``payload``: rules that set, override or remove JSON paths in upstream requests."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from pydantic import Field

from ._base import ConfigModel

__all__ = ["PayloadConfig", "PayloadFilterRule", "PayloadModelRule", "PayloadRule"]

log = logging.getLogger(__name__)


class PayloadModelRule(ConfigModel):
    """``models[]`` of a payload rule: which requests the rule applies to."""

    name: str = ""
    protocol: str = ""
    from_protocol: str = ""
    headers: dict[str, str] = Field(default_factory=dict)
    match: list[dict[str, Any]] = Field(default_factory=list)
    not_match: list[dict[str, Any]] = Field(default_factory=list)
    exist: list[str] = Field(default_factory=list)
    not_exist: list[str] = Field(default_factory=list)


class PayloadRule(ConfigModel):
    """A ``default`` / ``override`` rule: JSON path -> value (raw JSON text for ``*-raw``)."""

    models: list[PayloadModelRule] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)


class PayloadFilterRule(ConfigModel):
    """A ``filter`` rule: JSON paths to delete."""

    models: list[PayloadModelRule] = Field(default_factory=list)
    params: list[str] = Field(default_factory=list)


class PayloadConfig(ConfigModel):
    """``payload``: applied in order default, default-raw, override, override-raw, filter."""

    default: list[PayloadRule] = Field(default_factory=list)
    default_raw: list[PayloadRule] = Field(default_factory=list)
    override: list[PayloadRule] = Field(default_factory=list)
    override_raw: list[PayloadRule] = Field(default_factory=list)
    filter: list[PayloadFilterRule] = Field(default_factory=list)

    def drop_invalid_raw_rules(self) -> None:
        """Drop ``*-raw`` rules with no params or a string param that is not JSON (CPA warns and drops)."""
        self.default_raw = _valid_raw(self.default_raw, "default-raw")
        self.override_raw = _valid_raw(self.override_raw, "override-raw")


def _valid_raw(rules: list[PayloadRule], section: str) -> list[PayloadRule]:
    kept = []
    for index, rule in enumerate(rules):
        bad = next((p for p, v in rule.params.items() if isinstance(v, str) and not _is_json(v)), None)
        if not rule.params:
            continue
        if bad is not None:
            log.warning("payload.%s[%d]: rule dropped, param %r is not valid JSON", section, index, bad)
            continue
        kept.append(rule)
    return kept


def _is_json(text: str) -> bool:
    stripped = text.strip()
    if not stripped:
        return False
    try:
        orjson.loads(stripped)
    except orjson.JSONDecodeError:
        return False
    return True
