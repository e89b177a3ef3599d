"""Stage 8's failure side (``cliproxy.pipeline``): what a failed upstream attempt means.

A failed attempt is first tried again where that can help (:func:`retry`: the same
credential with the whole conversation, a bootstrap retry, a refreshed token, or a model
pool's next upstream name). Otherwise it either cools its credential as CPA does and lets
the pipeline try the next credential (:func:`cool_down` returns), or goes to the client at
once as a :class:`Final` error (a request fault, an answer nobody else could fix).
``streaming.bootstrap-retries`` give a stream that failed before its first byte a few
more tries on the same credential (:func:`bootstrap_retry`). A stream the upstream failed
after its first byte went out cools its credential all the same, and that is all; one
that ended whole is the credential's success (:func:`settle_stream`).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from cliproxy import presence
from cliproxy.calls import Attempt, Call, Reply, StreamReply
from cliproxy.credentials.cooldown import (
    ACTION_CONTINUE_AND_COOLDOWN,
    ACTION_STOP,
    ACTION_STOP_AND_COOLDOWN,
    match_scoped_rule,
    round_wait,
)
from cliproxy.credentials.derived_session import affinity_key
from cliproxy.credentials.explain import note_attempt, note_skip
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential, model_key
from cliproxy.credentials.request_faults import over_token_limit
from cliproxy.credentials.unavailable import warn_all_cooling
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError, UpstreamError, clip
from cliproxy.formats import Format
from cliproxy.models.registry import ModelRoute, Route
from cliproxy.pipeline_prepare import MEDIA, AttemptPlan
from cliproxy.plugins.compat_refresh import refresher_of
from cliproxy.plugins.flow import Flow
from cliproxy.providers import antigravity_credits as ag_credits
from cliproxy.providers.base import REQUEST_FAULTS, Provider, RewriteError
from cliproxy.providers.gemini import note_refusal
from cliproxy.providers.identity import forward_error_headers
from cliproxy.providers.model_not_found import says_model_not_found
from cliproxy.providers.secrets import without_secrets
from cliproxy.providers.transport import UpstreamNetworkError, UpstreamResponse, read_body
from cliproxy.replies import inband_error
from cliproxy.translate import ir

if TYPE_CHECKING:
    from cliproxy.pipeline import Pipeline

__all__ = [
    "BOOTSTRAP_ERROR",
    "BOOTSTRAP_LEFT",
    "RETRYABLE",
    "Final",
    "another_round",
    "bootstrap_retry",
    "continuation_lost",
    "cool_down",
    "credits_fallback",
    "give_up",
    "log_failure",
    "pinned",
    "plugin_credential",
    "pool_names",
    "refresh_before_sending",
    "refused_body",
    "retry",
    "settle_stream",
    "wait_for_cooldown",
]

log = logging.getLogger(__name__)

RETRYABLE = frozenset({403, 408, 429, 500, 502, 503, 504})
# /responses/compact (CPA's conductor): only these statuses cool the credential; the rest
# leave it available, and these are the request's own fault (no other credential is tried)
_COMPACT_COOLS = frozenset({401, 402, 403, 429})
_COMPACT_FAULTS = frozenset({400, 404, 405, 409, 413, 422, 501})
# streaming.bootstrap-retries: retries of the same credential left to this request, for a
# stream that failed before its first byte with a transient status (network, 408, 5xx)
BOOTSTRAP_LEFT: contextvars.ContextVar[int] = contextvars.ContextVar("bootstrap_left", default=0)
# the last error of this request that came before a stream's first byte
BOOTSTRAP_ERROR: contextvars.ContextVar[UpstreamError | None] = contextvars.ContextVar(
    "bootstrap_error", default=None
)
_BOOTSTRAP_TRANSIENT = frozenset({408, 500, 502, 503, 504})
# a model pool's failure another upstream name of the same credential may not share (a
# 400 or 422 here is a model the upstream does not serve: request faults went up already)
_NEXT_NAME = frozenset({400, 404, 408, 422, 429, 500, 502, 503, 504})
_FORCED_COOLDOWN = frozenset({ACTION_STOP_AND_COOLDOWN, ACTION_CONTINUE_AND_COOLDOWN})
_UNAVAILABLE = (CooldownError, NoCredentialError)  # (made once: ``A | B`` builds a union each time)


class Final(UpstreamError):
    """An upstream error that must go to the client at once (a request fault)."""

    def __init__(self, err: UpstreamError) -> None:
        super().__init__(
            err.message,
            status=err.status,
            body=err.body,
            retry_after=err.retry_after,
            headers=err.headers,
            credential_id=err.credential_id,
            request_scoped=err.request_scoped,
            credential_scoped=err.credential_scoped,
        )


async def cool_down(
    pool: Pool,
    call: Call,
    route: ModelRoute,
    cred: Credential,
    provider: Provider,
    err: UpstreamError,
    model: str = "",
    upstream: str = "",
) -> None:
    """A failed attempt's consequences: ``cred`` cooled as CPA does (then this returns),
    or the error goes up at once (a request fault, a status that cools nothing).
    ``model``: what cools (default the route's model, or the upstream model its OAuth alias
    resolves to, with every name of ``cred`` that sends it: ``models.alias_state``; a model
    pool's upstream name); ``upstream``: the name the attempt sent."""
    if err.status == 501 and call.action.startswith(MEDIA):
        raise Final(err) from err  # no Images API there: not the credential's fault
    if err.status == 404 and call.action == "videos.retrieve":
        raise Final(err) from err  # a video id this account does not know
    if isinstance(err, UpstreamNetworkError) and provider.owns_failure(err):
        err.request_scoped = True  # e.g. a Claude fast-mode request's broken connection (CPA)
    if err.request_scoped:  # the provider says: this request, not the account (CPA)
        log_failure(cred, provider, route.model, err, "request-scoped: no cooldown")
        raise Final(err) from err
    if call.action == "compact" and err.status not in _COMPACT_COOLS:
        log_failure(cred, provider, route.model, err, "compact: no cooldown")
        if err.status in _COMPACT_FAULTS:
            raise Final(err) from err
        raise err  # the next credential; this one stays available
    if (
        call.action == "count"
        and err.status == 404
        and _count_route_missing(cred, err, upstream or route.model)
    ):
        return
    if isinstance(err, UpstreamNetworkError) and not err.cools:
        # a timeout or a connection the upstream ended: the next credential, none cools (CPA)
        log_failure(cred, provider, model or route.model, err, "connection ended: no cooldown")
        return
    shared = route.state_names(cred) if not model and type(route) is Route else ()
    model = model or (shared[0] if shared else route.model)
    decision = await pool.mark_failure(
        cred,
        model,
        err.status,
        retry_after=err.retry_after,
        body=err.body or b"",
        credential_scoped=err.credential_scoped,
        # a session bound to the credential that failed is bound anew (CPA)
        session_key=affinity_key(call.format, call.headers, call.body) if pool.session_affinity else None,
        providers=route.providers,
        oversized=err.oversized,  # the request alone over this account's limit: maybe not another's
    )
    if len(shared) > 1:  # a cooldown, or a back-off level kept with cooling off (its model's too)
        await _share_cooldown(pool, cred, shared)
    log_failure(cred, provider, model, err, decision.reason or decision.kind)
    if call.trace is not None and decision.scope != "none":
        # 11. usage: a cooldown event (and the credential's state in an error event)
        call.trace.cooled(cred.provider, decision.scope, model, decision.reason, decision.cooldown_seconds)
    # a 400 or 422 that is no request fault (a model the upstream does not serve, an
    # invalid grant, a request-scoped "continue" rule) goes on to the next credential (CPA)
    if decision.request_fault or decision.stop:
        raise Final(err) from err


async def _share_cooldown(pool: Pool, cred: Credential, names: Sequence[str]) -> None:
    """The record ``cred`` just got for ``names[0]`` (a cooldown, or a back-off level that
    blocks nothing) kept for each other name too, so a request by any of them sees it and a
    success by any of them clears it (CPA keeps the one state model for all)."""
    record = await pool.state.get_cooldown(cred.id, model_key(names[0]))
    if record is None:
        return
    for name in names[1:]:
        await pool.state.set_cooldown(
            dataclasses.replace(record, model=model_key(name), extras=dict(record.extras))
        )


async def mark_success(pool: Pool, route: ModelRoute, cred: Credential) -> None:
    """A whole answer clears the route's model of its cooldown and back-off, and every
    name a failure cooled with it (an OAuth alias's upstream model and its other names:
    CPA keeps one state for them all). They were cooled together, so the route's model's
    record says whether there is more to clear: when it has none, this costs nothing more
    than a plain success (no other name's records are read)."""
    had = type(route) is Route and await pool.state.get_cooldown(cred.id, model_key(route.model)) is not None
    await pool.mark_success(cred, route.model)
    if had and isinstance(route, Route):
        for name in route.state_names(cred):
            if name != route.model:
                await pool.mark_success(cred, name)


async def settle_stream(
    pool: Pool,
    call: Call,
    route: ModelRoute,
    cred: Credential,
    provider: Provider,
    error: ir.Error | None,
    *,
    model: str = "",
) -> None:
    """A stream that went to its client, once it ended (as CPA's ``wrapStreamResult``
    records a stream's result when it ends, not when it opens).

    ``error``: the upstream said it after the client got its first bytes: ``cred`` cools
    by the rules of a failure before the first byte (the cooldown table, request-scoped
    error rules, the reset a usage limit names), for ``model`` when given (a model pool's
    upstream name that failed: CPA's ``stateModelForExecution``), else the route's model.
    When no other name of the pool is free, the route's model cools instead (as in
    :func:`retry`). Nothing else is tried: the client has the answer's start, and the error
    event ends it. ``None``: the answer ended whole: the route's model is cleared of its
    cooldown and back-off, as a whole answer clears it (``Pool.mark_success``)."""
    if error is None:
        pool.served[cred.id].add(route.model)  # (CPA's model state: listing.py)
        if pool.cooling is None or pool.cooling:  # (``Pool.succeeded``: an empty memory map clears nothing)
            await mark_success(pool, route, cred)
        return
    if model and not await _another_name_free(pool, route, cred, model):
        model = ""  # the pool's last free name: the route's model cools, as in ``retry``
    # (what cool_down raises, a request fault or a rule's stop, changes nothing: it is over)
    with contextlib.suppress(UpstreamError):
        err = inband_error(error, cred.id, late=True)
        await cool_down(pool, call, route, cred, provider, err, model, model)


async def _another_name_free(pool: Pool, route: ModelRoute, cred: Credential, model: str) -> bool:
    """Whether a name of ``cred``'s model pool on ``route`` other than ``model`` is not
    cooling (CPA skips a credential whose every pooled name is suspended; here its route's
    model cools then). Read without turning the pool (``upstream_models`` would)."""
    binding = getattr(route, "_binding", None)
    found = binding(cred) if binding is not None else None
    now, failed = pool.clock(), model_key(model)
    for name in found.upstream if found is not None else ():
        key = model_key(name)
        if key != failed:
            record = await pool.state.get_cooldown(cred.id, key)
            if record is None or not record.blocks(now):
                return True
    return False


def _count_route_missing(cred: Credential, err: UpstreamError, model: str) -> bool:
    """A count_tokens 404 that names no missing ``model`` (CPA's
    isCountTokensEndpointNotFoundError): the upstream lacks the count route, and the model
    it still serves through messages must not cool. The failure is logged, the next
    credential is tried (a ``stop`` rule ends the request there), and the client gets
    the 404 when none counts. A rule whose action ends in ``-and-cooldown`` cools as usual."""
    body = err.body or b""
    if says_model_not_found(body, model):
        return False
    action = match_scoped_rule(cred.request_scoped_errors, 404, body.decode("utf-8", "replace"))
    if action in _FORCED_COOLDOWN:
        return False
    log.info(
        "upstream %s answered 404 to count_tokens for %s (no count route: no cooldown)",
        cred.label or cred.id,
        model,
    )
    if action == ACTION_STOP:
        raise Final(err) from err
    return True


async def pool_names(pool: Pool, route: ModelRoute, cred: Credential) -> list[str]:
    """The upstream names to try at ``cred`` for this request: a model pool's in its turn
    order, less the names ``cred`` is cooling for (one it refused lately is skipped by the
    next requests, as CPA suspends a pool's upstream model); all of them when every one is."""
    names = route.upstream_models(cred) or [route.model]
    local = pool.cooling  # the memory backend's records: empty, nothing cools
    if len(names) < 2 or (local is not None and not local):
        return names
    now = pool.clock()
    free = []
    for name in names:
        record = await pool.state.get_cooldown(cred.id, model_key(name))
        if record is None or not record.blocks(now):
            free.append(name)
    return free or names


def pinned(pin: str, scheduler: Any) -> Any:
    """A scheduler that takes credential ``pin`` when it is among the candidates, and
    otherwise leaves the choice to ``scheduler`` (or the pool's own rules)."""

    async def choose(tier: Any) -> Any:
        for cred in tier:
            if cred.id == pin:
                return cred
        return await scheduler(tier) if scheduler is not None else None

    return choose


def another_round(err: UpstreamError) -> bool:
    """Whether a request whose round ended with ``err`` may run another retry round: a
    retryable status, not a network failure (CPA's carries no status, so it starts none),
    nor a request larger than the key's per-minute token limit (it cooled nothing, so a
    round would start at once and be refused again by every key)."""
    if err.status not in RETRYABLE or isinstance(err, UpstreamNetworkError) or err.oversized:
        return False
    return not over_token_limit(err.status, (err.body or b"").decode("utf-8", "replace"))


async def wait_for_cooldown(pool: Pool, route: ModelRoute, config: Any, out: Collection[str] = ()) -> bool:
    """Wait, before another retry round, for the nearest cooldown of ``route``'s credentials
    (but those ``out`` of the next round) to end, within ``max-retry-interval`` (the
    request's config, as its rounds: CPA); False when there is none to wait for, it is too
    far, or the client left meanwhile."""
    limit = float(config.max_retry_interval or 0)
    wait = await pool.next_available_in(route.model, route.providers, out, supports=route.supports)
    pause = round_wait(wait, limit) if wait is not None else None
    if pause is None:
        return False
    return await presence.pause(pause)  # ends early for a client that left


def continuation_lost(err: UpstreamError) -> bool:
    """The upstream refused a ``previous_response_id`` it does not hold (a new socket)."""
    return err.status in (400, 404, 409) and (err.body or b"").find(b"previous_response_not_found") >= 0


def bootstrap_retry(cred: Credential, err: UpstreamError) -> bool:
    """Take one of the request's ``streaming.bootstrap-retries`` for ``err``, if it is one."""
    left = BOOTSTRAP_LEFT.get()
    if left <= 0 or err.status not in _BOOTSTRAP_TRANSIENT:
        return False
    BOOTSTRAP_LEFT.set(left - 1)
    log.info("stream of %s failed before its first byte (%s): retrying", cred.label or cred.id, err.message)
    return True


def log_failure(cred: Credential, provider: Provider, model: str, err: UpstreamError, why: str) -> None:
    """One line per failed attempt: the credential's label (never its key) and, for a
    network failure, the detail the client does not see (origin, cause)."""
    who = cred.label or cred.id
    if isinstance(err, UpstreamNetworkError):
        log.warning("upstream %s (%s) failed for %s: %s (%s)", who, provider.key, model, err.detail, why)
    elif err.status >= 500 and err.body and not err.body.lstrip().startswith((b"{", b"[")):
        log.warning(
            "upstream %s (%s) answered %d for %s with a non-JSON body: %r (%s)",
            who,
            provider.key,
            err.status,
            model,
            err.body[:300],
            why,
        )
    else:  # a warning as CPA's "upstream execution failed": the operator sees each failure
        log.warning(
            "upstream %s (%s) answered %d for %s: %s (%s)",
            who,
            provider.key,
            err.status,
            model,
            clip(err.message),
            why,
        )


async def retry(
    pipe: Pipeline,
    call: Call,
    route: ModelRoute,
    cred: Credential,
    plan: AttemptPlan,
    flow: Flow | None,
    names: Sequence[str],
    sent: Call,
    err: UpstreamError,
) -> Reply | StreamReply:
    """After attempt ``names[0]`` at ``cred`` failed with ``err``: the same credential
    again (a lost continuation, a bootstrap retry, a refreshed token), the next name of
    a model pool, or the error goes up (the credential cooled as CPA does)."""
    provider = plan.provider
    refreshed = False
    i = 0
    try:
        while True:
            if isinstance(err, RewriteError):  # the answer's fault: no cooldown, no other credential
                raise Final(err) from err
            note_skip(cred.id, "failed", str(err.status))
            if sent is not call and continuation_lost(err):
                sent = call  # the upstream no longer holds the conversation: send all of it
            elif err is BOOTSTRAP_ERROR.get() and bootstrap_retry(cred, err):
                pass  # the same credential once more: nothing reached the client
            else:
                fresh = None
                if (
                    err.status == 401
                    and not err.request_scoped
                    and not refreshed
                    and pipe.refresher is not None
                    and cred.refresh_token
                ):
                    refreshed = True
                    fresh = await refresh(pipe, cred)
                if fresh is not None:  # the same credential, once more, with a fresh token
                    cred = fresh
                    plan = pipe.plan_for(route, cred)
                else:
                    # a model pool's next name, if the failure may not be shared: the failed
                    # name cools alone (CPA's per-upstream state), else the route's model cools
                    more = i + 1 < len(names) and err.status in _NEXT_NAME
                    cooled = names[i] if more else ""
                    await cool_down(
                        pipe.pool, call, route, cred, provider, err, cooled, names[i]
                    )  # raises unless it cooled (or a count's missing route cools nothing)
                    if more:
                        i += 1  # the next upstream name before the next credential
                    else:
                        raise err
            note_attempt(cred.id, cred.provider, names[i])  # routing explain: nothing when off
            try:
                return await pipe.attempt(sent, route, cred, plan, names[i], flow)
            except UpstreamError as exc:
                err = exc
    finally:  # the error's traceback holds this frame: the frame must not hold it (a cycle)
        del err


async def refresh(pipe: Pipeline, cred: Credential) -> Credential | None:
    """``cred`` with a fresh token after a 401, ``None`` when the refresh failed: by the
    plugin auth provider of its type for an OpenAI-compatible plugin credential
    (``plugins.compat_refresh``), else by the token refresher."""
    assert pipe.refresher is not None
    try:
        if pipe.plugins is not None and (await refresher_of(pipe.plugins, cred, pipe.config)) is not None:
            return await pipe.compat_refresher.refresh(pipe.plugins, cred, pipe.config)
        fresh: Credential = await pipe.refresher.refresh_now(cred)
    except CliproxyError as exc:
        log.warning("token refresh of %s failed: %s", cred.label or cred.id, exc)
        return None
    return fresh


async def refresh_before_sending(
    pipe: Pipeline, route: ModelRoute, cred: Credential
) -> tuple[Credential, AttemptPlan]:
    """``cred`` with a fresh token, and its plan, for a token that has expired (or is about
    to: ``credentials.presend``), so the request does not go out to meet a 401. A failed
    refresh fails this attempt with an error of the proxy's own (the token endpoint's body
    is no answer to the client, nor a request fault): the credential cools as after a 401
    whose refresh failed, and the next one is tried (``PreSend.renew``)."""
    fresh: Credential = await pipe.refresher.presend.renew(cred)
    return fresh, pipe.plan_for(route, fresh)


async def refused_body(pool: Pool, attempt: Attempt, resp: UpstreamResponse, trace: Any) -> bytes:
    """The body of an upstream's error answer to ``attempt``, read (without the key it may
    repeat), and what it says noted: the quota it names, the request log, a token the
    upstream no longer takes, reasoning restored into the request that it may refuse."""
    cred = attempt.cred
    status = resp.status
    data = without_secrets(await read_body(resp), cred)
    if pool.steering:  # a 429's body may say until when the quota is gone
        await pool.quota.observe(cred.id, status, resp.headers, data)
    if trace is not None:
        trace.upstream_body(data)
    if attempt.fmt is Format.GEMINI:  # the request alone over its key's input tokens a minute?
        note_refusal(status, data, attempt.body)  # (for classify, which has no request)
    if status == 401:
        attempt.provider.forget(cred)  # a cached token the upstream no longer takes
    if status in (400, 422):  # the restored reasoning may be what it refused
        if attempt.replay is not None:
            attempt.replay.forget()
        if attempt.kept is not None:
            attempt.kept.forget()
    return data


async def give_up(
    pipe: Pipeline, call: Call, route: ModelRoute, flow: Flow | None, last: UpstreamError
) -> Reply | StreamReply:
    """After the last round failed with ``last``: Antigravity's credits, when configured,
    for a quota or an exhausted pool; else the error goes up (with the operator's one line
    when every credential cools, and the upstream's headers when they are forwarded)."""
    config = pipe.config
    if (last.status in (429, 503) or isinstance(last, _UNAVAILABLE)) and (
        config.quota_exceeded.antigravity_credits and ag_credits.applies(route.model, route.providers)
    ):
        credits = await credits_fallback(pipe, call, route, flow)
        if credits is not None:
            return credits
    if type(last) is CooldownError:  # every credential cools: the operator's one line (CPA)
        await warn_all_cooling(pipe.pool, route.model, route.providers, route.supports)
    if config.passthrough_headers:
        forward_error_headers(last)
    try:
        raise last
    finally:  # its traceback holds this frame: the frame must not hold it (a cycle)
        del last


async def credits_fallback(
    pipe: Pipeline, call: Call, route: ModelRoute, flow: Flow | None
) -> Reply | StreamReply | None:
    """``quota-exceeded.antigravity-credits``: every Antigravity credential once more,
    cooling or not, paying with Google One AI credits (``providers.antigravity_credits``)."""
    serves = [c for c in pipe.pool.credentials() if route.supports(c, route.model)]
    for cred in ag_credits.candidates(serves, pipe.credit_hints):
        try:
            with ag_credits.using_credits():
                answer = await pipe.with_credential(call, route, cred, flow)
        except Final:
            raise
        except UpstreamError as err:
            if ag_credits.credits_exhausted(err.body):
                pipe.credit_hints.mark(cred.id, False)
            continue
        pipe.credit_hints.mark(cred.id, True)
        log.info("%s answered %s with Antigravity credits", cred.label or cred.id, route.model)
        return answer
    return None


async def plugin_credential(
    pipe: Pipeline, call: Call, route: ModelRoute, cred: Credential, flow: Flow | None
) -> Reply | StreamReply:
    """A credential a plugin's executor serves: cooled and rotated like any other."""
    try:
        if flow is None:
            raise UpstreamError(f"plugin {cred.attributes['plugin']} is not active", status=503)
        result = await flow.credential_executor(call, route, cred, pipe.pool)
    except UpstreamError as err:
        # an OAuth alias's failure is kept under its upstream model and its other names (CPA's
        # stateModelForExecution does not ask which executor serves the auth)
        shared = route.state_names(cred) if type(route) is Route else ()
        model = shared[0] if shared else route.model
        decision = await pipe.pool.mark_failure(cred, model, err.status, retry_after=err.retry_after)
        if len(shared) > 1:
            await _share_cooldown(pipe.pool, cred, shared)
        if err.status in REQUEST_FAULTS or decision.request_fault or decision.stop:
            raise Final(err) from err
        raise
    pipe.pool.served[cred.id].add(route.model)
    await mark_success(pipe.pool, route, cred)
    result.credential = cred
    return result
