"""Routing explain: why a request went where it went.

Two faces over the routing notes of :mod:`cliproxy.credentials.explain`:

- per request (:func:`wanted`, :func:`explained`): with ``routing.explain: true``, or
  when a client whose key is listed in ``routing.explain-keys`` sends
  ``X-Cliproxy-Explain: 1``, the pipeline binds an :class:`Explain` to the request and
  every answer (whole or streamed, success or error) carries the
  ``X-Cliproxy-Route-*`` headers. Any other key's header is ignored without a word.
- a dry run (:func:`dry_run`, served at ``POST /v0/management/route``): the router
  plugins' decision, the model resolution and every candidate credential with its state,
  in the order they would be tried, without calling an upstream and without moving a
  round-robin cursor, a session binding or a model pool's rotation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.access import extract_key
from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.credentials.concurrency import Gate
from cliproxy.credentials.derived_session import affinity_key
from cliproxy.credentials.dryrun import Plan, plan
from cliproxy.credentials.explain import NOTES, Candidate, Explain, mask
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError
from cliproxy.formats import Format
from cliproxy.models.listing import CLAUDE_CLOAK_PREFIX, uncloak_claude_id
from cliproxy.models.registry import ModelRoute
from cliproxy.plugins import rules
from cliproxy.plugins.routing import route_for
from cliproxy.times import format_utc

__all__ = ["EXPLAIN_HEADER", "Settings", "dry_run", "explained", "settings", "wanted"]

EXPLAIN_HEADER = "X-Cliproxy-Explain"
_YES = frozenset({"1", "true", "yes", "on"})


@dataclass(frozen=True, slots=True)
class Settings:
    """``routing.explain`` (``always``) and ``routing.explain-keys`` (``keys``)."""

    always: bool
    keys: frozenset[str]


def settings(routing: Any) -> Settings | None:
    """What the pipeline keeps of a config's ``routing`` section: ``None`` when explain is
    off, so a request pays one ``is None`` test."""
    keys = frozenset(k.strip() for k in routing.explain_keys or () if k and k.strip())
    return Settings(bool(routing.explain), keys) if routing.explain or keys else None


def wanted(explain: Settings, call: Call) -> Explain | None:
    """Notes for this request when explain applies to it, else ``None``."""
    if NOTES.get() is not None:  # a plugin's nested call: its notes join the outer request's
        return None
    if explain.always:
        return Explain()
    asked = call.headers.get(EXPLAIN_HEADER)
    if not asked or asked.strip().lower() not in _YES:
        return None
    found = extract_key(call.headers, call.query)
    if found is None or found[0] not in explain.keys:
        return None  # not a key that may ask: no sign the header was seen
    return Explain()


async def explained(
    notes: Explain, work: Awaitable[Reply | StreamReply], lookup: Callable[[str], Credential | None]
) -> Reply | StreamReply:
    """Run ``work`` with ``notes`` bound; its answer, or its error, carries the headers."""
    token = NOTES.set(notes)
    try:
        result = await work
    except CliproxyError as exc:
        exc.response_headers = {**(exc.response_headers or {}), **notes.headers(lookup)}
        raise
    finally:
        NOTES.reset(token)
    result.headers.update(notes.headers(lookup))
    return result


# ---------------------------------------------------------------------- the dry run

FORMATS = {
    "openai": Format.OPENAI,
    "chat": Format.OPENAI,
    "responses": Format.RESPONSES,
    "openai-response": Format.RESPONSES,
    "claude": Format.CLAUDE,
    "gemini": Format.GEMINI,
}


async def dry_run(
    *,
    pool: Pool,
    models: Any,
    plugins: Any,
    config: Any,
    model: str,
    fmt: Format,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
) -> dict[str, Any]:
    """The routing decision for a request of ``fmt`` asking for ``model``, as JSON data.

    Raises ``ModelNotFoundError`` when no provider serves the model. Router plugins are
    called (their decision is part of the answer); nothing else leaves the process."""
    if fmt is Format.CLAUDE and model.startswith(CLAUDE_CLOAK_PREFIX):
        model = uncloak_claude_id(model)
    decision = None
    if plugins is not None and plugins.snapshot and plugins.any("model_router"):
        decision = await rules.route_model(
            plugins,
            source_format=fmt.value,
            model=model,
            stream=body.get("stream") is True,
            headers=headers,
            query={},
            body=orjson.dumps(body),
            available_providers=pool.providers(),
            skip=None,
            scope=None,
        )
    route = route_for(models, decision, model)
    out: dict[str, Any] = {
        "model": model,
        "format": fmt.value,
        "router": None
        if decision is None
        else {
            "plugin": decision.router,
            "kind": decision.kind,
            "target": decision.target,
            "target_model": decision.target_model,
        },
    }
    if route is None:  # a plugin executor serves it: no credential of ours is picked
        out.update(route=None, strategy=None, candidates=[], pick=None)
        return out
    session = affinity_key(fmt, headers, dict(body)) if pool.session_affinity else None
    scheduler = plugins is not None and plugins.snapshot and plugins.any("scheduler")
    found = await plan(
        pool,
        route.model,
        route.providers,
        route.supports,
        session_key=session,
        gates=await _gates(pool, config, route.providers),
    )
    out["route"] = {
        "requested": route.requested,
        "model": route.model,
        "suffix": route.suffix,
        "providers": list(route.providers),
    }
    out.update(_plan_json(found, route, pool.clock()))
    out["scheduler_plugin"] = bool(scheduler)
    out["order_exact"] = found.exact and not scheduler
    out["max_retry_credentials"] = int(config.max_retry_credentials or 0)
    out["request_retry"] = int(config.request_retry or 0)
    return out


async def _gates(pool: Pool, config: Any, providers: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Credentials a gate holds back right now: at their ``max-concurrency``."""
    kinds = {k: int(v) for k, v in (config.routing.max_concurrency or {}).items() if int(v) > 0}
    wanted = {p.strip().lower() for p in providers}
    out: dict[str, tuple[str, str]] = {}
    for cred in pool.credentials():
        if cred.provider not in wanted or cred.disabled:
            continue
        limit = Gate.limit(cred, kinds)
        if limit > 0 and (used := await pool.state.slots_in_use(cred.id)) >= limit:
            out[cred.id] = ("over-concurrency", f"{used}/{limit}")
    return out


def _plan_json(found: Plan, route: ModelRoute, now: float) -> dict[str, Any]:
    def one(c: Candidate, order: int | None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "order": order,
            "credential": mask(c.cred),
            "provider": c.cred.provider,
            "priority": c.cred.priority,
            "weight": c.cred.weight,
            "state": c.state,
        }
        if c.detail:
            entry["detail"] = c.detail
        if c.until:
            entry["until"] = format_utc(c.until, "seconds")
            entry["seconds_left"] = max(0, int(c.until - now + 0.999))
        if c.state not in ("disabled", "excluded"):
            entry["upstream_models"] = _upstream_names(route, c.cred)
        return entry

    ordered = {id(c.cred): n for n, c in enumerate(found.order, 1)}
    rest = [c for c in found.candidates if id(c.cred) not in ordered]
    return {
        "strategy": found.strategy,
        "session_bound": mask(found.bound) if found.bound is not None else None,
        "pick": one(found.order[0], 1) if found.order else None,
        "candidates": [one(c, n) for n, c in enumerate(found.order, 1)] + [one(c, None) for c in rest],
    }


def _upstream_names(route: Any, cred: Credential) -> list[str]:
    """The upstream model name(s) ``cred`` would get, read without rotating a model pool
    (``ModelRoute.upstream_models`` advances the pool's cursor: a dry run must not)."""
    base = getattr(route, "_base", route)  # a router's ProviderRoute wraps the registry's
    if base is None:
        return list(route.upstream_models(cred))  # the router's own name: no cursor
    binding = getattr(base, "_binding", None)
    found = binding(cred) if binding is not None else None
    return list(found.upstream) if found is not None else [base.model]
