"""Shared pieces of the config model: the base class and CPA's small normalizers."""

from __future__ import annotations

import functools
import math
import os
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ModelWrapValidatorHandler,
    PlainValidator,
    PrivateAttr,
    WrapValidator,
    model_validator,
)

try:  # (POSIX: the password database, for a home when HOME is empty)
    import pwd
except ImportError:  # pragma: no cover - Windows
    pwd = None  # type: ignore[assignment]

__all__ = [
    "ConfigModel",
    "expand_home",
    "normalize_excluded_models",
    "normalize_headers",
    "normalize_prefix",
    "trimmed_unique",
]


def _kebab(name: str) -> str:
    return name.replace("_", "-")


class ConfigModel(BaseModel):
    """Base of every config section.

    Python names are snake_case, YAML names kebab-case; unknown keys are kept
    (``model_extra``) so nothing a user wrote is dropped.
    """

    model_config = ConfigDict(
        alias_generator=_kebab,
        populate_by_name=True,
        extra="allow",
        validate_default=False,
        coerce_numbers_to_str=True,
    )

    _yaml_keys: frozenset[str] = PrivateAttr(default_factory=frozenset)

    @model_validator(mode="wrap")
    @classmethod
    def _remember_keys(cls, data: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        # which keys the YAML mapping held (not null): ``cliproxy.config.effective`` names
        # the keys a user set that have no effect yet
        model = handler(data)
        if isinstance(data, dict) and isinstance(model, ConfigModel):
            model._yaml_keys = frozenset(str(k) for k, v in data.items() if v is not None)
        return model

    @property
    def yaml_keys(self) -> frozenset[str]:
        """The keys (YAML or Python names) present, not null, in the mapping this was read from."""
        return self._yaml_keys

    @model_validator(mode="before")
    @classmethod
    def _scalars_as_cpa_reads_them(cls, data: Any) -> Any:
        # CPA's YAML decoder takes ``true`` as the text "true" where a string goes (a header
        # value, a model name), a fraction as its whole part where an integer goes, and a null
        # list item or map value as the empty value: a config CPA loads loads here too
        if not isinstance(data, dict):
            return data
        fields = _field_types(cls)
        fitted = {k: _fit(fields[k], v) if k in fields else v for k, v in data.items()}
        return fitted if any(fitted[k] is not v for k, v in data.items()) else data

    @model_validator(mode="before")
    @classmethod
    def _nulls_mean_default(cls, data: Any) -> Any:
        # ``key:`` with no value reads as null; a known key then keeps its default.
        if isinstance(data, dict) and None in data.values():
            known = _known_keys(cls)
            return {k: v for k, v in data.items() if v is not None or k not in known}
        return data

    def yaml_dump(self) -> dict[str, Any]:
        """The section as plain data with YAML key names (unknown keys included)."""
        return self.model_dump(by_alias=True, mode="json")


@functools.cache
def _field_types(cls: type[BaseModel]) -> dict[str, Any]:
    """YAML and Python names of ``cls``'s fields -> their annotations; a field with a
    validator of its own (``weight``: integers only, as CPA checks) is left to it."""
    out: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if any(isinstance(m, BeforeValidator | PlainValidator | WrapValidator) for m in field.metadata):
            continue
        out[name] = field.annotation
        if field.alias:
            out[field.alias] = field.annotation
    return out


def _fit(annotation: Any, value: Any) -> Any:
    """``value`` as yaml.v3 decodes it into ``annotation`` (str, int, lists and maps of
    them, a section); the same object when nothing changes."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:  # a type with validators of its own
        return value
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _fit(options[0], value) if len(options) == 1 else value
    if annotation is str and isinstance(value, bool):
        return "true" if value else "false"
    if annotation is int and isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return int(value)  # Go's conversion: toward zero
    if origin is list and isinstance(value, list):
        (item,) = typing.get_args(annotation) or (Any,)
        items = [_fit(item, v) if v is not None else _empty(item, v) for v in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if origin is dict and isinstance(value, dict):
        _, item = typing.get_args(annotation) or (Any, Any)
        entries = {k: _fit(item, v) if v is not None else _empty(item, v) for k, v in value.items()}
        return entries if any(entries[k] is not v for k, v in value.items()) else value
    return value


def _empty(annotation: Any, value: Any) -> Any:
    """What a null list item or map value decodes to: the zero value of its type."""
    if annotation is str:
        return ""
    if typing.get_origin(annotation) is list:
        return []
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return {}
    return value


def _known_keys(cls: type[BaseModel]) -> set[str]:
    keys = set(cls.model_fields)
    keys.update(f.alias for f in cls.model_fields.values() if f.alias)
    return keys


def normalize_prefix(prefix: str) -> str:
    """A model prefix is one path segment: trimmed, no slashes; otherwise empty."""
    trimmed = prefix.strip().strip("/")
    if not trimmed or "/" in trimmed:
        return ""
    return trimmed


def normalize_headers(headers: Mapping[str, Any] | None) -> dict[str, str]:
    """Trim header names and values; drop pairs where either is empty."""
    clean: dict[str, str] = {}
    for key, value in (headers or {}).items():
        name = str(key).strip()
        text = "" if value is None else str(value).strip()
        if name and text:
            clean[name] = text
    return clean


def normalize_excluded_models(models: Iterable[str] | None) -> list[str]:
    """Trim, lowercase and de-duplicate exclusion patterns, keeping first-seen order."""
    return trimmed_unique(m.lower() for m in models or ())


def trimmed_unique(values: Iterable[str] | None) -> list[str]:
    """Trimmed, non-empty, de-duplicated strings in first-seen order."""
    seen: dict[str, None] = {}
    for raw in values or ():
        text = raw.strip()
        if text:
            seen.setdefault(text, None)
    return list(seen)


def _home() -> str:
    """The user's home: ``HOME``, or the password database's when it is unset or empty
    (an empty ``HOME`` would put ``~/x`` at ``/x``; CPA refuses such a path)."""
    if os.environ.get("HOME"):
        return os.path.expanduser("~")
    try:
        return pwd.getpwuid(os.getuid()).pw_dir if pwd is not None else os.path.expanduser("~")
    except KeyError:  # no entry: as expanduser leaves it
        return os.path.expanduser("~")


def expand_home(path: str) -> str:
    """Expand a leading ``~`` the way CPA does (``~``, ``~/x``, ``~\\x``), then clean."""
    if path.startswith("~"):
        rest = path[1:].lstrip("/\\").replace("\\", "/")
        home = _home()
        return os.path.normpath(os.path.join(home, rest)) if rest else os.path.normpath(home)
    return os.path.normpath(path) if path else path
