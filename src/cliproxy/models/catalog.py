"""The static model catalog: per provider family, the models a credential may serve.

The catalog ships as ``models/data/catalog.json`` (our own format, below). An operator
file in the same format overrides it: a family's entries replace packaged entries with
the same id, new ids are appended, new families are added::

    {"format": "cliproxy-model-catalog", "version": 1,
     "families": {"claude": {"owned_by": "anthropic", "type": "claude", "models": [
         {"id": "claude-x", "display_name": "Claude X", "created": 1700000000,
          "limits": {"context": 200000, "output": 64000},
          "methods": ["generateContent"], "parameters": ["tools"], "version": "x",
          "modalities": {"in": ["text", "image"], "out": ["text"]},
          "thinking": {"min": 1024, "max": 128000, "zero": true, "dynamic": false,
                       "levels": ["low", "high"]},
          "upstream_headers": {"user-agent": "..."}}]}}}

Family names are CPA's catalog sections: ``claude``, ``gemini``, ``vertex``,
``gemini-cli``, ``aistudio``, ``codex-free``, ``codex-team``, ``codex-plus``,
``codex-pro``, ``kimi``, ``antigravity``, ``xai``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import orjson

from ..errors import ConfigError

__all__ = ["CATALOG_FORMAT", "Catalog", "ModelInfo", "ThinkingSupport"]

CATALOG_FORMAT = "cliproxy-model-catalog"
_PACKAGED = "catalog.json"


@dataclass(frozen=True, slots=True)
class ThinkingSupport:
    """What reasoning controls a model accepts: a budget range and/or discrete levels."""

    min: int = 0
    max: int = 0
    zero_allowed: bool = False
    dynamic_allowed: bool = False
    levels: tuple[str, ...] = ()

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ThinkingSupport:
        """From catalog JSON (``zero``/``dynamic``) or config (``zero-allowed``...)."""
        levels = tuple(_levels(data.get("levels")))
        zero = bool(data.get("zero", data.get("zero_allowed", data.get("zero-allowed", False))))
        dynamic = bool(data.get("dynamic", data.get("dynamic_allowed", data.get("dynamic-allowed", False))))
        # A level list that names "none"/"auto" also allows zero/dynamic (CPA's normalizer).
        return cls(
            min=int(data.get("min") or 0),
            max=int(data.get("max") or 0),
            zero_allowed=zero or "none" in levels,
            dynamic_allowed=dynamic or "auto" in levels,
            levels=levels,
        )

    def to_dict(self) -> dict[str, Any]:
        """CPA's JSON shape (``min, max, zero_allowed, dynamic_allowed, levels``)."""
        out: dict[str, Any] = {}
        if self.min:
            out["min"] = self.min
        if self.max:
            out["max"] = self.max
        if self.zero_allowed:
            out["zero_allowed"] = True
        if self.dynamic_allowed:
            out["dynamic_allowed"] = True
        if self.levels:
            out["levels"] = list(self.levels)
        return out


def _levels(raw: Any) -> list[str]:
    seen: dict[str, None] = {}
    for item in raw if isinstance(raw, list) else ():
        level = str(item).strip().lower()
        if level:
            seen.setdefault(level, None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model as a credential exposes it (``id`` is the client-visible id).

    ``user_defined`` marks models from config ``models:`` lists of API keys: their
    thinking settings are passed through without strict validation, as in CPA.
    ``configured`` marks an API key's model whose ``thinking`` its config defines (an
    OpenAI-compatible provider's model always): a setting is checked against it as CPA
    checks the API key's resolved model. ``max_context_length`` is a window the config
    sets for the model (``max-context-length``, CPA's ``MaxContextLength``); it is also
    ``context_window``, but unlike a catalog's window it wins over a Codex client
    template's (:mod:`cliproxy.models.codex_client`).
    """

    id: str
    display_name: str = ""
    owned_by: str = ""
    type: str = ""
    created: int = 0
    version: str = ""
    description: str = ""
    context_window: int = 0
    max_output: int = 0
    methods: tuple[str, ...] = ()
    parameters: tuple[str, ...] = ()
    input_modalities: tuple[str, ...] = ()
    output_modalities: tuple[str, ...] = ()
    thinking: ThinkingSupport | None = None
    upstream_headers: Mapping[str, str] = field(default_factory=dict)
    user_defined: bool = False
    configured: bool = False
    max_context_length: int = 0

    def renamed(self, new_id: str, display_name: str = "") -> ModelInfo:
        """A copy exposed under another id (aliases, prefixes)."""
        return replace(self, id=new_id, display_name=display_name or self.display_name)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any], owned_by: str, kind: str) -> ModelInfo:
        """One catalog JSON entry; ``owned_by``/``kind`` are the family defaults."""
        model_id = str(entry.get("id") or "").strip()
        if not model_id:
            raise ValueError("model entry without id")
        limits = entry.get("limits") or {}
        mods = entry.get("modalities") or {}
        thinking = entry.get("thinking")
        return cls(
            id=model_id,
            display_name=str(entry.get("display_name") or model_id),
            owned_by=str(entry.get("owned_by") or owned_by),
            type=str(entry.get("type") or kind),
            created=int(entry.get("created") or 0),
            version=str(entry.get("version") or ""),
            description=str(entry.get("description") or ""),
            context_window=int(limits.get("context") or 0),
            max_output=int(limits.get("output") or 0),
            methods=tuple(entry.get("methods") or ()),
            parameters=tuple(entry.get("parameters") or ()),
            input_modalities=tuple(mods.get("in") or ()),
            output_modalities=tuple(mods.get("out") or ()),
            thinking=ThinkingSupport.from_data(thinking) if isinstance(thinking, Mapping) else None,
            upstream_headers=dict(entry.get("upstream_headers") or {}),
        )


class Catalog:
    """Model families read from the packaged catalog, optionally overridden by a file."""

    def __init__(self, families: Mapping[str, Iterable[ModelInfo]]) -> None:
        self._families = {name: tuple(models) for name, models in families.items()}
        self._by_id: dict[str, ModelInfo] = {}
        for models in self._families.values():
            for info in models:
                self._by_id.setdefault(info.id, info)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Catalog:
        """The packaged catalog, with ``path`` (same format) laid over it when given."""
        base = _parse(resources.files(__package__).joinpath("data", _PACKAGED).read_bytes(), _PACKAGED)
        if path is not None:
            try:
                raw = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigError(f"cannot read model catalog: {exc}", file=str(path)) from exc
            base = _merge(base, _parse(raw, str(path)))
        return cls(base)

    def replaced(self, families: Mapping[str, Iterable[ModelInfo]]) -> Catalog:
        """A catalog with ``families`` in place of the same-named ones (the remote
        ``models.json``, ``models.remote``); the other families stay."""
        return Catalog({**self._families, **{name: tuple(models) for name, models in families.items()}})

    @property
    def families(self) -> tuple[str, ...]:
        return tuple(self._families)

    def family(self, name: str) -> tuple[ModelInfo, ...]:
        """The models of one family (empty when unknown)."""
        return self._families.get(name, ())

    def lookup(self, model_id: str) -> ModelInfo | None:
        """The first family's entry for ``model_id`` (CPA's static lookup), or None."""
        return self._by_id.get(model_id)


def _parse(raw: bytes, where: str) -> dict[str, list[ModelInfo]]:
    try:
        doc = orjson.loads(raw)
        families = doc["families"]
        return {str(name): _family(fam) for name, fam in families.items()}
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"invalid model catalog: {exc}", file=where) from exc


def _family(fam: Mapping[str, Any]) -> list[ModelInfo]:
    owned, kind = str(fam.get("owned_by") or ""), str(fam.get("type") or "")
    return [ModelInfo.from_entry(entry, owned, kind) for entry in fam.get("models") or ()]


def _merge(base: dict[str, list[ModelInfo]], over: dict[str, list[ModelInfo]]) -> dict[str, list[ModelInfo]]:
    out = dict(base)
    for name, models in over.items():
        merged = list(base.get(name, ()))
        index = {info.id: i for i, info in enumerate(merged)}
        for info in models:
            if info.id in index:
                merged[index[info.id]] = info
            else:
                index[info.id] = len(merged)
                merged.append(info)
        out[name] = merged
    return out
