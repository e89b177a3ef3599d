"""Stage 3 of a request with plugins: the route a model router's decision names
(:func:`route_for`), the registry's own when the router decided nothing, or a
:class:`ProviderRoute` to the provider it named."""

from __future__ import annotations

from typing import Any, Protocol

from cliproxy.errors import ModelNotFoundError
from cliproxy.models.image_only import refuse_image_only
from cliproxy.models.registry import ModelRoute
from cliproxy.plugins import rules

__all__ = ["ProviderRoute", "Resolver", "route_for"]


class Resolver(Protocol):
    """What routing needs of the model registry."""

    def resolve(self, model: str) -> Any: ...


class ProviderRoute:
    """A route a model router chose: one provider, its model name, no registry entry needed."""

    def __init__(self, base: Any, provider: str, model: str) -> None:
        self.requested = base.requested if base is not None else model
        self.model = base.model if base is not None else model
        self.suffix = base.suffix if base is not None else None
        self.providers = [provider]
        self._base = base
        self._target = model
        self._provider = provider

        def supports(cred: Any, _model: str) -> bool:
            return cred.provider == provider

        self.supports = supports if base is None else base.supports

    def upstream_models(self, cred: Any) -> list[str]:
        if self._base is not None:
            return self._base.upstream_models(cred)
        return [self._target]

    def force_mapping(self, cred: Any) -> bool:
        return self._base is not None and self._base.force_mapping(cred)

    def response_model(self, cred: Any) -> str:
        return self._base.response_model(cred) if self._base is not None else self._target

    def is_compat(self, cred: Any) -> bool:
        return self._base is not None and self._base.is_compat(cred)

    def unforced(self, cred: Any) -> frozenset[str]:
        """The pooled names whose answers keep their own name (decided per attempt)."""
        return self._base.unforced(cred) if self._base is not None else frozenset()


def route_for(models: Resolver, decision: rules.RouteDecision | None, model: str) -> ModelRoute | None:
    """Stage 3: the route for ``model`` (the registry's, or the provider a router named);
    ``None`` when a plugin executor serves the request."""
    if decision is None:
        return models.resolve(model)
    if decision.kind != "provider":
        return None
    target_model = decision.target_model or model
    if target_model.lower().find("image") >= 0:
        refuse_image_only(target_model)  # a router naming an Images API model: CPA's 503 too
    try:
        base = models.resolve(target_model)
    except ModelNotFoundError:
        base = None
    if base is not None and decision.target not in base.providers:
        base = None
    return ProviderRoute(base, decision.target, target_model)
