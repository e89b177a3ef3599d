"""The model registry: which credentials serve which client-visible model, and how.

Rebuilt on every reload (:meth:`ModelRegistry.rebuild`); a generation is immutable, so
:meth:`ModelRegistry.resolve` is a dict lookup without locks. A rebuild binds again only the
credentials that changed: an auth-file credential object seen by the last rebuild, under the
same model inputs of the config, the same catalog and plugin models, keeps its table::

    registry = ModelRegistry(Catalog.load())
    registry.rebuild(credentials, config)
    route = registry.resolve("gpt-5(high)")      # ModelNotFoundError when unknown
    route.model, route.suffix, route.providers   # "gpt-5", "high", ["codex"]
    [c for c in creds if route.supports(c, route.model)]
    route.upstream_models(cred)                  # ["gpt-5"]
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..credentials.record import Credential
from ..errors import ModelNotFoundError
from .alias_state import shared_names
from .bindings import Binding, bind_credential, shares_bindings
from .catalog import Catalog, ModelInfo
from .suffix import split_suffix

__all__ = ["AUTO_MODEL", "ModelRegistry", "Route", "Supports"]

AUTO_MODEL = "auto"
Supports = Callable[[Credential, str], bool]
_NO_BINDINGS: Mapping[str, Binding] = {}


@dataclass(slots=True)
class _Entry:
    """One client-visible model id in one generation."""

    model: str
    info: ModelInfo
    providers: list[str] = field(default_factory=list)
    by_provider: dict[str, ModelInfo] = field(default_factory=dict)
    credentials: list[str] = field(default_factory=list)
    route: Route | None = None


@dataclass(slots=True)
class _Generation:
    number: int
    entries: dict[str, _Entry]
    bindings: dict[str, Mapping[str, Binding]]
    supports: Supports
    auto: str | None


class ModelRoute(Protocol):
    """What the pipeline needs of a resolved model: :class:`Route` from the registry, or
    the one-provider route a model-router plugin names (``plugins.routing.ProviderRoute``)."""

    requested: str
    model: str
    suffix: str | None
    providers: list[str]
    supports: Supports

    def upstream_models(self, cred: Credential) -> list[str]: ...

    def force_mapping(self, cred: Credential) -> bool: ...

    def response_model(self, cred: Credential) -> str: ...

    def is_compat(self, cred: Credential) -> bool: ...


class Route:
    """A resolved request model. Built once per model and generation; do not mutate."""

    __slots__ = ("_bindings", "_cursors", "model", "plans", "providers", "requested", "suffix", "supports")

    def __init__(
        self,
        requested: str,
        model: str,
        suffix: str | None,
        providers: list[str],
        supports: Supports,
        bindings: Mapping[str, Mapping[str, Binding]],
        cursors: dict[tuple[str, str], int],
        plans: dict[str, Any] | None = None,
    ) -> None:
        self.requested = requested
        self.model = model
        self.suffix = suffix
        self.providers = providers
        self.supports = supports
        self._bindings = bindings
        self._cursors = cursors
        # what a caller decided once per credential of this model and generation (the
        # pipeline's attempt plans): shared by every request of the model, dropped with it
        self.plans: dict[str, Any] = {} if plans is None else plans

    def __repr__(self) -> str:
        return f"Route(requested={self.requested!r}, model={self.model!r}, suffix={self.suffix!r})"

    def with_request(self, requested: str, suffix: str | None) -> Route:
        return Route(
            requested,
            self.model,
            suffix,
            self.providers,
            self.supports,
            self._bindings,
            self._cursors,
            self.plans,
        )

    def _binding(self, cred: Credential) -> Binding | None:
        return self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)

    def upstream_models(self, cred: Credential) -> list[str]:
        """Upstream name(s) for ``cred``, as configured (a name may carry its own suffix).

        A compat alias pool is rotated one step per call, so failover can try the next
        name on the same credential before moving on.
        """
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        if binding is None:
            return [self.model]
        names = binding.upstream
        if len(names) == 1:
            return [names[0]]
        key = (cred.id, self.model)
        offset = self._cursors.get(key, 0)
        self._cursors[key] = (offset + 1) % len(names)
        return [*names[offset:], *names[:offset]]

    def force_mapping(self, cred: Credential) -> bool:
        """Whether responses from ``cred`` must report :meth:`response_model` as ``model``."""
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        return binding is not None and binding.force_mapping

    def response_model(self, cred: Credential) -> str:
        """The ``model`` a force-mapped response reports (the configured alias)."""
        binding = self._binding(cred)
        return binding.alias if binding is not None and binding.alias else self.model

    def is_compat(self, cred: Credential) -> bool:
        """Whether ``cred``'s configured model asks for CPA's compatibility translation."""
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        return binding is not None and binding.is_compat

    def unforced(self, cred: Credential) -> frozenset[str]:
        """Upstream names of ``cred``'s force-mapped pool whose answers keep their own name."""
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        return binding.unforced if binding is not None else frozenset()

    def state_names(self, cred: Credential) -> tuple[str, ...]:
        """The names whose cooldown ``cred`` shares with this model, the one CPA keeps it
        under first (``models.alias_state``); ``()`` when this model's is its own."""
        return shared_names(self._bindings.get(cred.id, _NO_BINDINGS), self.model, cred)

    def model_info(self, cred: Credential) -> ModelInfo | None:
        """The model as ``cred`` registered it: its own config's capabilities (two keys may
        expose one id with other ``thinking:`` levels); ``None`` when it has no binding."""
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        return binding.info if binding is not None else None

    def fixed(self, cred: Credential) -> tuple[tuple[str, ...] | None, str | None, bool]:
        """What serving ``cred`` means on this route, the same for every request of this
        generation: the :meth:`upstream_models` (``None`` for an alias pool, whose order
        turns at each call: ask :meth:`upstream_models` then), the ``model`` a force-mapped
        answer reports (``None``: not force-mapped) and :meth:`is_compat`."""
        binding = self._bindings.get(cred.id, _NO_BINDINGS).get(self.model)
        if binding is None:
            return (self.model,), None, False
        names = binding.upstream
        fixed = (names[0],) if len(names) == 1 else None
        alias = (binding.alias or self.model) if binding.force_mapping else None
        return fixed, alias, binding.is_compat


class ModelRegistry:
    """Client-visible model ids -> credentials, rebuilt whole on every reload."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._cursors: dict[tuple[str, str], int] = {}
        self._gen = _Generation(0, {}, {}, _never, None)
        self.generation = 0  # bumped by every rebuild (read only): caches keyed by it start over
        # provider -> models plugins add to it (``plugins.registration``): every credential
        # of the provider serves them too, and they are listed even with none (CPA)
        self.provider_models: Mapping[str, tuple[ModelInfo, ...]] = {}
        # what the last rebuild bound, reused while the model inputs stay: credential id ->
        # (the credential object, its table), and the tables shared by identical credentials
        self._kept: dict[str, tuple[Credential, Mapping[str, Binding]]] = {}
        self._cache: dict[tuple[Any, ...], dict[str, Binding]] = {}
        self._inputs: tuple[Any, ...] | None = None
        self._catalog: Catalog | None = None
        self._extra: Mapping[str, tuple[ModelInfo, ...]] | None = None

    def rebuild(self, credentials: Iterable[Credential], config: Any) -> None:
        """Register every enabled credential's models; bumps :attr:`generation`."""
        now = int(time.time())
        inputs = _model_inputs(config)
        if (
            inputs != self._inputs
            or self.catalog is not self._catalog
            or self.provider_models is not self._extra
        ):
            self._inputs, self._catalog, self._extra = inputs, self.catalog, self.provider_models
            self._kept, self._cache = {}, {}
        keep: dict[str, tuple[Credential, Mapping[str, Binding]]] = {}
        kept, self._kept = self._kept, keep
        bindings: dict[str, Mapping[str, Binding]] = {}
        groups: dict[tuple[int, str], _Group] = {}  # credentials sharing one table, in first-seen order
        for cred in credentials:
            if cred.disabled or cred.id in bindings:
                continue
            memo = kept.get(cred.id)
            if memo is not None and memo[0] is cred:
                keep[cred.id] = memo  # kept last time: its table follows from the object alone
                table = memo[1]
            else:
                table = bind_credential(cred, config, self.catalog, now, self._cache, self.provider_models)
                if shares_bindings(cred):  # its table depends on nothing else (no clock, no config entry)
                    keep[cred.id] = (cred, table)
            if table:
                bindings[cred.id] = table
                group = groups.get(key := (id(table), cred.provider))
                if group is None:
                    groups[key] = _Group(table, cred.provider.strip().lower(), [cred.id])
                else:
                    group.ids.append(cred.id)
        entries = _register(groups.values())
        for provider, infos in self.provider_models.items():
            for info in infos:  # listed with no credential to serve it, as CPA's registry lists it
                if info.id not in entries:
                    entries[info.id] = _Entry(info.id, info, [provider], {provider: info})
        self._publish(entries, bindings)

    def _publish(self, entries: dict[str, _Entry], bindings: dict[str, Mapping[str, Binding]]) -> None:
        supports = _supports_for(bindings)
        for entry in entries.values():
            # an id that carries a thinking suffix (an alias "public(low)") asks for it (CPA)
            suffix = split_suffix(entry.model)[1] if entry.model[-1:] == ")" else None
            entry.route = Route(
                entry.model, entry.model, suffix, entry.providers, supports, bindings, self._cursors
            )
        self._gen = _Generation(self._gen.number + 1, entries, bindings, supports, _pick_auto(entries))
        self.generation = self._gen.number

    def resolve(self, requested: str) -> Route:
        """The route for a request model; raises :class:`ModelNotFoundError` when unknown."""
        entry = self._gen.entries.get(requested)
        if entry is not None and entry.route is not None:
            return entry.route
        base, suffix = split_suffix(requested.strip())
        if base.strip() == AUTO_MODEL and self._gen.auto is not None:
            base = self._gen.auto
        entry = self._gen.entries.get(base.strip()) if suffix is not None or base != requested else None
        if entry is not None and entry.route is not None:
            return entry.route.with_request(requested, suffix)
        raise ModelNotFoundError(requested)

    def model_info(self, model: str, provider: str = "") -> ModelInfo | None:
        """Capabilities of ``model`` as ``provider`` registered it, else the catalog's entry."""
        entry = self._gen.entries.get(model) or self._gen.entries.get(split_suffix(model)[0])
        if entry is not None:
            return entry.by_provider.get(provider.strip().lower(), entry.info)
        return self.catalog.lookup(split_suffix(model)[0])

    def providers(self, model: str) -> list[str]:
        """Providers serving ``model`` (CPA order), empty when none."""
        entry = self._gen.entries.get(model)
        return list(entry.providers) if entry is not None else []

    def models_for(self, cred: Credential) -> list[ModelInfo]:
        """The models ``cred`` registered in this generation."""
        return [b.info for b in self._gen.bindings.get(cred.id, _NO_BINDINGS).values()]

    def listable(self, suspended: Mapping[str, Any] | None = None) -> list[ModelInfo]:
        """Models to list: those with at least one credential not suspended for them.

        ``suspended`` maps credential id -> set of model names suspended for a non-quota
        reason (not_found, unauthorized, model_not_supported...). A name may be the
        client-visible id or one of its upstream names. Quota cooldowns must not be
        passed: quota-cooled models stay listed, as in CPA.
        """
        gen = self._gen
        if not suspended:
            return [e.info for e in gen.entries.values()]
        return [e.info for e in gen.entries.values() if _available(e, gen.bindings, suspended)]


def _never(cred: Credential, model: str) -> bool:
    return False


def _supports_for(bindings: Mapping[str, Mapping[str, Binding]]) -> Supports:
    def supports(cred: Credential, model: str) -> bool:
        """Whether ``cred`` registered ``model`` in this generation."""
        return model in bindings.get(cred.id, _NO_BINDINGS)

    return supports


@dataclass(slots=True)
class _Group:
    """Credentials of one provider that registered the very same table."""

    table: Mapping[str, Binding]
    provider: str
    ids: list[str]


def _model_inputs(config: Any) -> tuple[Any, ...]:
    """What an auth-file credential's table takes from the config (see ``bind_credential``)."""
    return (
        getattr(config, "oauth_model_alias", None) or {},
        getattr(config, "oauth_excluded_models", None) or {},
        bool(getattr(config, "force_model_prefix", False)),
        # the entries a compat-sourced auth file takes its models from
        tuple(getattr(config, "openai_compatibility", None) or ()),
    )


def _register(groups: Iterable[_Group]) -> dict[str, _Entry]:
    """The entries of every model the groups serve. Groups come in the order of their first
    credential, so each model's entry, its order and its info per provider are those of the
    first credential registering it, as one credential at a time would give."""
    entries: dict[str, _Entry] = {}
    counts: dict[str, dict[str, int]] = {}
    for group in groups:
        provider, ids = group.provider, group.ids
        for model_id, binding in group.table.items():
            entry = entries.get(model_id)
            if entry is None:
                entry = entries[model_id] = _Entry(model_id, binding.info)
            entry.credentials += ids
            entry.by_provider.setdefault(provider, binding.info)
            per = counts.setdefault(model_id, {})
            per[provider] = per.get(provider, 0) + len(ids)
    for model_id, entry in entries.items():
        per = counts[model_id]
        entry.providers = sorted(per, key=lambda name: (-per[name], name))
    return entries


def _pick_auto(entries: Mapping[str, _Entry]) -> str | None:
    """CPA's ``auto``: the newest (``created``) registered model; ties by id."""
    best = min(entries.values(), key=lambda e: (-e.info.created, e.model), default=None)
    return best.model if best is not None else None


def _available(
    entry: _Entry, bindings: Mapping[str, Mapping[str, Binding]], suspended: Mapping[str, Any]
) -> bool:
    if not entry.credentials:  # a plugin's model no credential serves: listed all the same
        return True
    for cred_id in entry.credentials:
        names = suspended.get(cred_id)
        if not names:
            return True
        binding = bindings[cred_id][entry.model]
        if entry.model not in names and not any(n in names for n in binding.upstream):
            return True
    return False
