"""Stage 7's last steps: thinking settings and payload rules on an upstream body.

After translation the upstream body gets the canonical thinking setting (from the
``model(value)`` suffix or the client's own fields, validated against the model's
capabilities) written in the target's dialect, then the config's ``payload:`` rules,
in CPA's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cliproxy.formats import Format
from cliproxy.models.catalog import ModelInfo
from cliproxy.models.payload import PayloadRules
from cliproxy.models.registry import ModelRegistry
from cliproxy.models.thinking import ThinkingCaps, same_provider_family
from cliproxy.models.thinking.plan import ThinkingPlan

__all__ = [
    "EffortlessPlan",
    "ShapeRoute",
    "Shaper",
    "caps_of",
    "drop_effort",
    "payload_protocol",
    "thinking_target",
]

# provider key -> CPA thinking target
_TARGETS = {
    "claude": "claude",
    "codex": "codex",
    "gemini": "gemini",
    "vertex": "gemini",
    "antigravity": "antigravity",
    "xai": "xai",
    "kimi": "kimi",
    "gemini-interactions": "interactions",
}
# client format -> CPA "from-protocol"
_FROM = {
    Format.OPENAI: "openai",
    Format.RESPONSES: "responses",
    Format.CODEX: "responses",
    Format.CLAUDE: "claude",
    Format.GEMINI: "gemini",
    Format.INTERACTIONS: "interactions",
}
# upstream format -> CPA payload "protocol"
_PROTOCOL = {
    Format.OPENAI: "openai",
    Format.RESPONSES: "codex",
    Format.CODEX: "codex",
    Format.CLAUDE: "claude",
    Format.GEMINI: "gemini",
    Format.INTERACTIONS: "interactions",
}


def thinking_target(provider_key: str, upstream: Format | None = None) -> str:
    """CPA's thinking target for a provider: Kimi's Messages endpoint takes Claude's
    fields (CPA's Kimi executor hands a Claude request to its Claude executor)."""
    if provider_key == "kimi" and upstream is Format.CLAUDE:
        return "claude"
    return _TARGETS.get(provider_key, "openai")


def payload_protocol(provider_key: str, upstream: Format) -> str:
    return "antigravity" if provider_key == "antigravity" else _PROTOCOL[upstream]


class ShapeRoute:
    """What shaping decides once per (model, provider, client format, upstream format):
    ``thinking.apply(...)``, then ``payload(...)`` unless ``rules`` is ``None`` (no
    ``payload:`` rules configured), is :meth:`Shaper.shape`.

    ``effortless``: an xAI model without thinking levels, whose body never carries
    ``reasoning.effort`` (see :class:`EffortlessPlan`), whoever wrote it."""

    __slots__ = ("effortless", "from_protocol", "protocol", "rules", "thinking")

    def __init__(
        self,
        thinking: ThinkingPlan,
        from_protocol: str,
        protocol: str,
        rules: PayloadRules | None,
        effortless: bool = False,
    ) -> None:
        self.thinking = thinking
        self.from_protocol = from_protocol
        self.protocol = protocol
        self.rules = rules
        self.effortless = effortless

    def payload(
        self,
        body: dict[str, Any],
        model: str,
        requested: str,
        headers: Mapping[str, str],
        tracked: tuple[str, ...] = (),
    ) -> bool:
        """The config's ``payload:`` rules on ``body`` in place (``rules`` is not ``None``);
        whether one set or removed ``tracked`` (a member the provider adds itself, see
        ``providers.base.PayloadStep``) or a path inside it."""
        assert self.rules is not None
        changed = self.rules.apply(
            body,
            model=model,
            requested_model=requested,
            protocol=self.protocol,
            from_protocol=self.from_protocol,
            headers=headers,
            tracked=tracked,
        )
        if self.effortless:  # a rule's effort goes too (CPA strips after the payload rules)
            drop_effort(body)
        return changed


class Shaper:
    """Built once per config snapshot; ``shape`` runs once per upstream attempt. What a
    route decides is kept until the registry's next generation (a credential reload)."""

    def __init__(self, registry: ModelRegistry, payload: Any) -> None:
        self.registry = registry
        self.rules = PayloadRules.from_config(payload)
        self._has_rules = bool(self.rules)
        self._caps: dict[tuple[str, str, int], ThinkingCaps | None] = {}
        self._routes: dict[tuple[str, str, Format, Format], ShapeRoute] = {}
        self._generation = registry.generation

    def caps(self, model: str, provider: str) -> ThinkingCaps | None:
        key = (model, provider, self.registry.generation)
        if key in self._caps:
            return self._caps[key]
        caps = caps_of(self.registry.model_info(model, provider))
        if len(self._caps) > 4096:
            self._caps.clear()
        self._caps[key] = caps
        return caps

    def route(
        self,
        route_model: str,
        provider: str,
        client: Format,
        upstream: Format,
        info: ModelInfo | None = None,
    ) -> ShapeRoute:
        """What :meth:`shape` decides for a route, to keep (until a config reload, which
        makes a new ``Shaper``, or the registry's next generation).

        ``info``: the model as the serving credential registered it. When its thinking
        capabilities differ from the provider's registered ones (two API keys exposing one
        name with other ``thinking:`` levels), the route is built for it and not kept here:
        the caller keeps it per credential (CPA checks the selected credential's model)."""
        if info is not None and (caps := caps_of(info)) != self.caps(route_model, provider):
            return self._build(caps, info, provider, client, upstream)
        route = self._routes.get((route_model, provider, client, upstream))
        if route is None or self._generation != self.registry.generation:
            route = self._route(route_model, provider, client, upstream)
        return route

    def _route(self, route_model: str, provider: str, client: Format, upstream: Format) -> ShapeRoute:
        if self._generation != self.registry.generation:  # models were registered anew
            self._routes.clear()
            self._generation = self.registry.generation
        key = (route_model, provider, client, upstream)
        found = self._routes.get(key)
        if found is None:
            caps = self.caps(route_model, provider)
            info = self.registry.model_info(route_model, provider)
            if len(self._routes) > 4096:
                self._routes.clear()
            found = self._routes[key] = self._build(caps, info, provider, client, upstream)
        return found

    def _build(
        self,
        caps: ThinkingCaps | None,
        info: ModelInfo | None,
        provider: str,
        client: Format,
        upstream: Format,
    ) -> ShapeRoute:
        target = thinking_target(provider, upstream)
        from_protocol = _FROM[client]
        # a model of another family than the target's (Kimi behind Claude's protocol, an
        # OpenAI-compatible provider's behind OpenAI's) is clamped, not refused (CPA)
        same = same_provider_family(from_protocol, target, info.type if info is not None else None)
        effortless = target == "xai" and not (caps is not None and caps.levels)
        return ShapeRoute(
            (EffortlessPlan if effortless else ThinkingPlan)(caps, from_protocol, target, same),
            from_protocol,
            payload_protocol(provider, upstream),
            self.rules if self._has_rules else None,
            effortless,
        )

    def shape(
        self,
        body: dict[str, Any],
        *,
        client: Format,
        client_body: Mapping[str, Any],
        route_model: str,
        requested: str,
        suffix: str | None,
        provider: str,
        upstream: Format,
        model: str,
        headers: Mapping[str, str],
    ) -> None:
        """Write thinking and payload rules into ``body`` (ours, freshly built) in place."""
        route = self._routes.get((route_model, provider, client, upstream))
        if route is None or self._generation != self.registry.generation:
            route = self._route(route_model, provider, client, upstream)
        route.thinking.apply(body, client_body, suffix, model)
        if route.rules is not None:
            route.payload(body, model, requested, headers)


class EffortlessPlan(ThinkingPlan):
    """The thinking step for an xAI model without thinking levels: whatever the step
    writes, and whatever the translator wrote (the Codex dialect's default ``medium``),
    ``reasoning.effort`` is left out, as CPA's xAI executor leaves it out for a model the
    registry gives no levels (``sanitizeXAIResponsesBody``); xAI refuses it for such a
    model. CPA looks the upstream name up; cliproxy reads the model as the serving
    credential registered it, so an API key's model unknown to the catalog whose
    ``thinking:`` lists levels keeps its effort under an alias too (CPA finds no levels
    for the upstream name then, and drops it)."""

    __slots__ = ()

    def apply(
        self,
        body: dict[str, Any],
        client_body: Mapping[str, Any],
        suffix: str | None,
        model: str,
        untouched: bool = False,
        owned: bool = False,
    ) -> None:
        super().apply(body, client_body, suffix, model, untouched, owned)
        drop_effort(body)


def drop_effort(body: dict[str, Any]) -> None:
    """``reasoning.effort`` out of a Responses-dialect ``body`` (the attempt's own), and the
    ``reasoning`` object with it when nothing else is left in it."""
    reasoning = body.get("reasoning")
    if type(reasoning) is dict:
        reasoning.pop("effort", None)
        if not reasoning:
            del body["reasoning"]


def caps_of(info: ModelInfo | None) -> ThinkingCaps | None:
    """What ``info`` accepts for thinking (``None``: a model nothing is known of)."""
    if info is None:
        return None
    t = info.thinking
    if t is None:
        return ThinkingCaps(user_defined=info.user_defined, max_completion_tokens=info.max_output or 0)
    return ThinkingCaps(
        min=t.min,
        max=t.max,
        zero_allowed=t.zero_allowed,
        dynamic_allowed=t.dynamic_allowed,
        levels=t.levels,
        user_defined=info.user_defined,
        max_completion_tokens=info.max_output or 0,
        configured_type=info.type if info.configured else "",
    )
