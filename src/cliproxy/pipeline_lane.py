"""The short way through stages 5-9 for the commonest request: a whole (non-stream)
generation on a credential with one upstream name and nothing special about it (an API
key, or a token that needs no refresh now), passed through or translated.

``Pipeline.execute`` is general: session affinity, plugin schedulers, pinned credentials,
model pools, token refreshes, streams, counts, images, retry rounds. Each of those costs a
test or a layer whether it applies or not, and for this request none applies:
``bench/README.md`` ("A fast lane") measured the pipeline's layers at about a fifth of the
event loop's time a request. :func:`whole` makes the request's first attempt itself, with
the steps ``Pipeline.attempt`` makes for it and nothing else: the pick, the credential's
attempt plan, the attempt's own body (the client's copied, or translated), the thinking
step and payload rules, ``build``, the request log, the upstream call, the answer (the
upstream's own bytes, or translated by ``replies.whole_reply``), the credential's success.

Whatever it does not cover goes to ``execute`` with the credential it picked (a pick turns
the rotation: it is never made twice), and so does every failure (an error status, a
network error, a 200 that is no JSON object): ``execute`` goes on from there exactly as
after a failed attempt of its own (the same credential again where that helps, the next
credential, the rounds under the config the request started with, the cooldown wait, the
forwarded error headers). So the lane changes what a request costs, never what it gets.

``Pipeline._stages`` takes it for a request no plugin takes part in (a client key's policy
admits it first) with no pinned credential, Responses WebSocket session, session affinity or
routing explain; the credential's plan says whether the rest fits (``AttemptPlan.lane``,
decided once per plan).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from cliproxy.calls import Call, Reply, StreamReply
from cliproxy.errors import CooldownError, NoCredentialError, UpstreamError
from cliproxy.formats import Format
from cliproxy.models.registry import ModelRoute, Route
from cliproxy.models.suffix import split_suffix
from cliproxy.pipeline_failover import give_up, mark_success, refused_body
from cliproxy.pipeline_prepare import generate_to_claude, send, shape_step, start_attempt
from cliproxy.providers import decoding
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.identity import forwardable_response_headers
from cliproxy.providers.transport import network_error
from cliproxy.replies import json_object, whole_reply

if TYPE_CHECKING:
    from cliproxy.pipeline import Pipeline

__all__ = ["whole"]

_JSON = {"Content-Type": "application/json"}
_OPENAI, _GEMINI = Format.OPENAI, Format.GEMINI
_MAGIC_FIRST = decoding.MAGIC_FIRST
_READ_FAILURES = (TimeoutError, ConnectionError)


async def whole(pipe: Pipeline, call: Call, route: ModelRoute) -> Reply | StreamReply:
    """``call``'s answer (a whole generation), its first attempt made here when its
    credential fits, everything else by ``pipe.execute`` (see the module docstring)."""
    pool = pipe.pool
    if pool.owners.active:  # a relay attached with a client key serves that key alone (credentials.owners)
        route = pool.owners.scope(route, call.headers, call.query)
    try:
        cred = await pool.pick(route.model, route.providers, supports=route.supports)  # 5.
    except (CooldownError, NoCredentialError) as exc:  # as ``execute`` ends when none is free
        return await give_up(pipe, call, route, None, exc)
    plans = route.plans if type(route) is Route else None
    plan = plans.get(cred.id) if plans is not None else None
    config = pipe.config
    if plan is None or not (plan.cred is cred and plan.config is config and plan.shaper is pipe.shaper):
        try:
            plan = pipe.plan_for(route, cred)  # a first attempt, a reload
        except UpstreamError:  # no provider sends cred (a plugin's executor, a type without its
            plan = None  # endpoint): execute passes over it to the next credential
        if plan is None:  # (outside the except: what execute raises is not chained to it)
            return await pipe.execute(call, route, None, (cred, None, config))
    if (
        not plan.lane
        or cred.max_concurrency
        or pipe.concurrency.kinds
        or (cred.metadata and pipe.refresher is not None and pipe.refresher.presend.stale(cred))
    ):
        return await pipe.execute(call, route, None, (cred, None, config))
    # the attempt ``Pipeline.attempt`` would make at cred, less what does not apply here
    failure: UpstreamError | None = None
    fmt = call.format
    try:
        up_fmt, shaping = plan.formats.get(fmt) or plan.upstream(fmt, route.model)  # (as attempt: in the try)
        provider = plan.provider
        assert plan.names is not None
        model = plan.names[0]
        suffix = route.suffix
        if model[-1:] == ")":  # a configured name's own thinking suffix wins over the request's (CPA)
            base, own = split_suffix(model)
            if own is not None:
                model, suffix = base, own
        if pipe.replay_mirror is not None and generate_to_claude(call, provider):
            await pipe.replay_mirror.prefetch(  # a turn another worker recorded
                cred.id, model, call.headers, call.body, chat_client=fmt in (_OPENAI, _GEMINI)
            )
        attempt = start_attempt(pipe, call, cred, provider, model, False, up_fmt, plan.carry)  # 7.
        build: Callable[..., UpstreamRequest] = provider.build
        if provider.format_dependent:
            build = partial(build, fmt=attempt.fmt)
        if shaping is not None:  # thinking, payload rules
            untouched = attempt.untouched  # a pass-through body: the client's own top-level fields
            build = shape_step(build, shaping, attempt, call, None, suffix, model, route.requested, untouched)
        upreq, resp = await send(pipe, call, attempt, plan, build, False, "generate")  # 8.
        trace = call.trace
        if resp.status >= 400:
            data = await refused_body(pool, attempt, resp, trace)
            raise provider.classify(resp.status, resp.headers, data, cred.id)
        if up_fmt is not fmt:  # 9. translated
            result = await whole_reply(
                pipe.translations, call, attempt, resp, None, None, route.model, None, upreq.rewrite_body
            )
        else:  # the upstream's own bytes (``replies.whole_reply``'s pass-through)
            try:
                data = await resp.read()
                if data.startswith(_MAGIC_FIRST) and provider.sniffs_compression:  # (CPA's Claude)
                    data = decoding.undeclared_body(data)  # compressed, though no Content-Encoding said so
                if trace is not None and trace.keep_bodies:
                    trace.upstream_body(data)
                if upreq.rewrite_body is not None:
                    data = upreq.rewrite_body(data)
            except _READ_FAILURES as exc:
                raise network_error(exc, "while sending the response") from exc
            finally:
                resp.release()
            result = Reply(200, json_object(data), dict(_JSON), cred)
        pool.served[cred.id].add(route.model)  # (CPA's model state: listing.py)
        cooling = pool.cooling  # None or empty: nothing cools, nothing to clear
        if cooling is None or cooling:
            await mark_success(pool, route, cred)
        if config.passthrough_headers:  # the upstream's headers a client may see
            result.headers.update(forwardable_response_headers(resp.headers, result.headers))
        return result
    except UpstreamError as exc:
        failure = exc
    try:  # (outside the except: what execute raises is not chained to the lane's error)
        return await pipe.execute(call, route, None, (cred, failure, config))
    finally:  # a raised error's traceback holds this frame: the frame must not hold it
        failure = None
