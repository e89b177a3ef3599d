"""The wire codec every plugin dataclass shares.

Each dataclass mirrors one CPA ``pluginapi`` struct. Attributes are snake_case; on the
wire they take Go's field names (``auth_id`` <-> ``AuthID``, ``storage_json`` <->
``StorageJSON``), except the few host types CPA tags in snake_case (``ModelResponse``,
``AuthFile``...). ``to_wire()`` gives the JSON shape CPA sends (bytes as base64, times as
RFC 3339, durations as nanoseconds); ``from_wire()`` reads one, matching keys
case-insensitively as Go does and filling absent fields with defaults.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import UnionType
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from cliproxy.plugins.abi import b64decode, b64encode
from cliproxy.times import GO_ZERO_TIME, duration_ns, format_datetime, parse_rfc3339

__all__ = ["Headers", "Metadata", "Query", "WireModel", "go_name", "wire"]

Headers = dict[str, list[str]]  # http.Header and url.Values: {"Key": ["v1", "v2"]}
Query = dict[str, list[str]]
Metadata = dict[str, Any]

_ACRONYMS = {
    "id": "ID",
    "url": "URL",
    "json": "JSON",
    "api": "API",
    "ttft": "TTFT",
    "github": "GitHub",
    "oauth": "OAuth",
}

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def go_name(attr: str) -> str:
    """The Go field name of a snake_case attribute: ``auth_id`` -> ``AuthID``."""
    return "".join(_ACRONYMS.get(part, part.capitalize()) for part in attr.split("_"))


class WireModel:
    """Base of every wire dataclass: ``to_wire`` / ``from_wire`` by declared field types."""

    __wire_case__: ClassVar[str] = "go"  # "go": PascalCase keys; "snake": keys as attributes
    __wire_plan__: ClassVar[tuple[tuple[str, str, Codec | None], ...] | None] = None
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # set by ``@wire``

    @classmethod
    def wire_keys(cls) -> tuple[str, ...]:
        """The JSON keys this type uses, in field order."""
        return tuple(key for _, key, _ in cls._plan())

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, key, codec in self._plan():
            value = getattr(self, attr)
            out[key] = codec[0](value) if codec else value
        return out

    @classmethod
    def from_wire(cls, data: Mapping[str, Any] | None) -> Self:
        if not data:
            return cls()
        lowered: dict[str, Any] | None = None
        kwargs: dict[str, Any] = {}
        for attr, key, codec in cls._plan():
            value = data.get(key, dataclasses.MISSING)
            if value is dataclasses.MISSING:
                if lowered is None:
                    lowered = {k.lower(): v for k, v in data.items()}
                value = lowered.get(key.lower())
            if value is not None:
                kwargs[attr] = codec[1](value) if codec else value
        return cls(**kwargs)

    @classmethod
    def _plan(cls) -> tuple[tuple[str, str, Codec | None], ...]:
        plan = cls.__dict__.get("__wire_plan__")
        if plan is None:
            hints = typing.get_type_hints(cls)
            naming = go_name if cls.__wire_case__ == "go" else str
            plan = tuple((f.name, naming(f.name), _codec(hints[f.name])) for f in dataclasses.fields(cls))
            cls.__wire_plan__ = plan
        return plan


def _codec(tp: object) -> Codec | None:
    """Converters for one annotated type; ``None`` when the JSON value is used as is."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    origin = typing.get_origin(tp)
    if origin in (typing.Union, UnionType) and len(args) == 1:
        return _codec(args[0])
    if tp is bytes:
        return b64encode, b64decode
    if tp is datetime:
        return _time_out, _time_in
    if tp is timedelta:
        return _duration_out, _duration_in
    if isinstance(tp, type) and issubclass(tp, WireModel):
        model: type[WireModel] = tp
        return (lambda v: v.to_wire() if v is not None else None), model.from_wire
    if origin is list and args:
        inner = _codec(args[0])
        if inner:
            enc, dec = inner
            return (lambda v: [enc(x) for x in v or ()]), (lambda v: [dec(x) for x in v or ()])
    if origin is dict and len(args) == 2:
        inner = _codec(args[1])
        if inner:
            enc, dec = inner
            return (
                (lambda v: {k: enc(x) for k, x in (v or {}).items()}),
                (lambda v: {k: dec(x) for k, x in (v or {}).items()}),
            )
    return None


def _time_out(value: datetime | None) -> str:
    return GO_ZERO_TIME if value is None else format_datetime(value)


def _time_in(value: object) -> datetime | None:
    if not value or value == GO_ZERO_TIME:
        return None
    parsed = parse_rfc3339(str(value), assume=None)
    return None if parsed.year == 1 else parsed


def _duration_out(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1_000


def _duration_in(value: int | float | str) -> timedelta:
    """Go's time.Duration on the wire: integer nanoseconds (a Go duration string is read too)."""
    if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
        return timedelta(microseconds=duration_ns(value.strip()) / 1_000)
    return timedelta(microseconds=int(value) / 1_000)


_T = TypeVar("_T")


@dataclass_transform(field_specifiers=(field,))
def wire(cls: type[_T]) -> type[_T]:
    """Make ``cls`` a slotted dataclass (the decorator for every wire type)."""
    return dataclass(slots=True)(cls)
