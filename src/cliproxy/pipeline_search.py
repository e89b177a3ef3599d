"""Codex Alpha Search through the pipeline (``cliproxy.providers.codex_search`` says what is
sent): the route is Codex's whatever the body names, the search is never translated, and of
the plugin stages only the model routers take part, as in CPA, which sends a search past
its interceptors and usage plugins.

A client key with a policy is admitted first, as for any request: a search spends a
Codex account, so a disabled or expired key, a model the key may not use (the one the
search names, empty when it names none) or a spent rate or budget refuses it.

A model router sees the request with source format ``codex-alpha-search``; when it handles
it, it may only name the ``codex`` provider (its target model then picks the credentials),
anything else refuses the search with 503 (CPA ``codexAlphaSearchSelectionModel``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.access import KEY_POLICY
from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.errors import ModelNotFoundError, NoCredentialError, UpstreamError
from cliproxy.models.registry import ModelRoute
from cliproxy.plugins import rules
from cliproxy.plugins.flow import Flow
from cliproxy.plugins.routing import ProviderRoute
from cliproxy.providers.codex_search import ROUTER_FORMAT

if TYPE_CHECKING:
    from cliproxy.pipeline import Pipeline

__all__ = ["search", "search_route"]


async def search(pipe: Pipeline, call: Call) -> Reply | StreamReply:
    """One search, admitted by the client key's policy when it has one."""
    policy = KEY_POLICY.get()
    if policy is None or call.skip is not None:  # a plugin's nested call was admitted already
        return await _search(pipe, call)
    ticket = await pipe.enforcer.admit(policy, call.format, call.model, call.action)
    if ticket is None:
        return await _search(pipe, call)
    try:
        result = await _search(pipe, call)
    except BaseException:
        await ticket.release()
        raise
    return await ticket.attach(call, result, None)


async def _search(pipe: Pipeline, call: Call) -> Reply | StreamReply:
    """One search: the model routers (when a plugin has one), then Codex's credentials."""
    model = call.model
    host = pipe.plugins
    if host is not None and host.snapshot and host.any("model_router", call.skip):
        flow = Flow(host, pipe.translations, pipe.config, call, model)
        decision = await rules.route_model(
            host,
            source_format=ROUTER_FORMAT,
            model=model,
            stream=False,
            headers=call.headers,
            query=call.query,
            body=orjson.dumps(call.body),
            available_providers=pipe.pool.providers(),
            skip=call.skip,
            scope=flow.scope,
        )
        if decision is not None:
            if decision.kind != "provider" or decision.target != "codex":
                raise UpstreamError(
                    f"unsupported Codex Alpha Search model route target {decision.kind!r} "
                    f"({decision.target!r})",
                    status=503,
                )
            model = decision.target_model or model
    try:
        return await pipe.execute(call, search_route(pipe.models, model))
    except NoCredentialError as exc:  # none of Codex's may search: say which may
        raise UpstreamError(
            "no credential serves Codex Alpha Search: it needs a Codex sign-in, or a "
            f"codex-api-key entry with alpha-search: true ({exc})",
            status=503,
        ) from exc


def search_route(models: Any, model: str) -> ModelRoute:
    """Codex's credentials for ``model``: those the registry routes it to (its prefix and
    alias resolved per credential) when it names a Codex model, else every Codex credential
    (a search needs no model: CPA selects any account then)."""
    base = None
    if model:
        try:
            base = models.resolve(model)
        except ModelNotFoundError:
            base = None
        if base is not None and "codex" not in base.providers:
            base = None
    return ProviderRoute(base, "codex", model)
