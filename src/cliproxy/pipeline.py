"""The request lifecycle, in one place.

Every generation request walks the same stages, in CPA's order (see docs/architecture.md);
``Pipeline.run`` reads them top to bottom:

1. access (server middleware)            7. request translation, thinking, payload rules
2. model router plugins      [seam]      8. upstream call; on failure classify, cool down,
3. model resolution                         fail over before the first byte
4. interceptors before auth  [seam]      9. response translation (whole or event by event)
5. credential pick (scheduler [seam])   10. response / stream-chunk interceptors [seam]
6. interceptors after auth   [seam]     11. usage record, lifecycle completion    [seam]

The plugin stages are methods of a per-request ``plugins.flow.Flow``, made only when a
plugin is loaded: without one each seam costs one ``is None`` test. The client's ``Call``
is never changed; each credential attempt works on an ``Attempt`` of its own
(``cliproxy.calls``). Request-retry rounds, ``max-retry-credentials`` and
``max-retry-interval`` follow CPA: a round tries every eligible credential once; another
round starts only for retryable statuses, after waiting for the nearest cooldown.
Upstreams are reached through the transport protocol (``providers.transport``); an
attempt's request (stage 7) is prepared in ``cliproxy.pipeline_prepare`` (with what a
credential's attempts share: its ``AttemptPlan``), a failed attempt's consequences are
``cliproxy.pipeline_failover``'s, and answers become replies (stage 9) in ``cliproxy.replies``.
A plain whole generation makes its first attempt on ``cliproxy.pipeline_lane``'s short way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Coroutine
from functools import partial
from typing import Any

from cliproxy import pipeline_lane as lane
from cliproxy import replies, replies_stream, route_explain
from cliproxy.access import KEY_POLICY
from cliproxy.calls import Call, Reply, RequestTerminated, StreamReply
from cliproxy.credentials.concurrency import Gate, Picker
from cliproxy.credentials.derived_session import affinity_keys
from cliproxy.credentials.explain import NOTES, note_attempt
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError, UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.validate import VALIDATORS
from cliproxy.models.image_only import refuse_image_only
from cliproxy.models.listing import CLAUDE_CLOAK_PREFIX, uncloak_claude_id
from cliproxy.models.registry import ModelRoute, Route
from cliproxy.models.shaping import Shaper
from cliproxy.models.suffix import split_suffix
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.pipeline_failover import (
    BOOTSTRAP_ERROR,
    BOOTSTRAP_LEFT,
    Final,
    another_round,
    give_up,
    mark_success,
    pinned,
    plugin_credential,
    pool_names,
    refresh_before_sending,
    refused_body,
    retry,
    settle_stream,
    wait_for_cooldown,
)
from cliproxy.pipeline_prepare import (
    MEDIA,
    AttemptPlan,
    count_locally,
    execute_limits,
    generate_to_claude,
    normalize_step,
    plan_attempts,
    send,
    shape_step,
    start_attempt,
    think_step,
)
from cliproxy.pipeline_search import search
from cliproxy.plugins.compat_refresh import CompatRefresher
from cliproxy.plugins.flow import Flow
from cliproxy.plugins.routing import route_for
from cliproxy.policies.enforce import Enforcer, Ticket
from cliproxy.providers import antigravity_credits as ag_credits
from cliproxy.providers.base import Provider, RewriteError, UpstreamRequest
from cliproxy.providers.codex_search import ACTION as SEARCH
from cliproxy.providers.codex_search import barred_for
from cliproxy.providers.codex_ws_wire import SESSION_HEADER, websocket_preference
from cliproxy.providers.http import HttpClient
from cliproxy.providers.identity import forward_error_headers, forwardable_response_headers
from cliproxy.providers.secrets import without_secrets
from cliproxy.providers.transport import network_error
from cliproxy.translate import images_stream
from cliproxy.translate.registry import Registry
from cliproxy.translate.replay import SignatureCache, ThinkingReplayCache
from cliproxy.translate.replay_shared import RedisMirror
from cliproxy.upstream_body import rewritten, unwrapped

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_CLAUDE, _OPENAI, _GEMINI = Format.CLAUDE, Format.OPENAI, Format.GEMINI

__all__ = ["Call", "Pipeline", "Reply", "StreamReply"]

log = logging.getLogger(__name__)


class Pipeline:
    def __init__(
        self,
        *,
        pool: Pool,
        models: Any,
        providers: Any,
        http: HttpClient,
        translations: Registry,
        config: Any,
        refresher: Any = None,
        plugins: Any = None,
    ) -> None:
        self.pool = pool
        self.models = models
        self.providers = providers
        self.http = http
        self.translations = translations
        self.config = config
        self.refresher = refresher
        self.plugins = plugins
        self.compat_refresher = CompatRefresher(pool)  # a plugin's OpenAI-compatible credentials
        self.shaper: Shaper | None = None
        self.thinking_replay = ThinkingReplayCache()  # in-process (translate/replay.py says why)
        self.signature_cache = SignatureCache()
        self.replay_mirror: RedisMirror | None = None  # the replay cache in Redis (several workers)
        # quota-exceeded.antigravity-credits: the provider's, which its balance lookups write
        self.credit_hints = ag_credits.shared_hints(providers)
        self.enforcer = Enforcer(pool.state)  # client key policies (cliproxy.policies)
        self.concurrency = Gate(pool.state, config.routing)  # per-credential max-concurrency, fair queue
        self.explain = route_explain.settings(config.routing)  # None: routing explain is off
        self.agent_models: Callable[[], str] = str  # the Codex client catalog as spawn_agent lists it
        self._limits: tuple[Any, int, int, int] = execute_limits(config)  # execute's, per config object

    # ------------------------------------------------------------------ the lifecycle

    def run(self, call: Call) -> Coroutine[Any, Any, Reply | StreamReply]:
        """One request, stage by stage (numbers as in the module docstring): a coroutine to
        await (a client's malformed body or unknown model raises at once)."""
        if self.explain is not None:  # routing explain (cliproxy.route_explain)
            notes = route_explain.wanted(self.explain, call)
            if notes is not None:  # this run again, under the notes (it asks for none of its own)
                return route_explain.explained(notes, self._rerun(call), self.pool.get)
        action = call.action
        if action == "generate":
            VALIDATORS[call.format](call.body)  # a malformed body is the client's 400, never sent upstream
        elif action == SEARCH:  # Codex Alpha Search: Codex's route, whatever the model
            return search(self, call)
        elif not action.startswith(MEDIA):  # Images API: checked by the server
            VALIDATORS[call.format](call.body)
        model = call.model
        if call.format is _CLAUDE and model.startswith(CLAUDE_CLOAK_PREFIX):
            model = uncloak_claude_id(model)  # an id we renamed for Claude Code's model list
        if model.lower().find("image") >= 0 and not action.startswith(MEDIA):
            refuse_image_only(model)  # an Images API model on another endpoint: CPA's 503
        policy = KEY_POLICY.get()  # 1. the key's policy: None for a plain key (nothing to do)
        if policy is not None and call.skip is None:  # a plugin's nested call was admitted already
            return self._admit(call, model, policy)
        host = self.plugins
        if host is None or not host.snapshot:  # no plugin: stages 2, 4, 10 and 11 are nothing
            return self._stages(call, self.models.resolve(model))  # 3., then 5.-9.
        return self._run(call, model)

    def _stages(self, call: Call, route: ModelRoute) -> Coroutine[Any, Any, Reply | StreamReply]:
        """Stages 5-9 of a request no plugin takes part in: a whole generation on the lane's
        short way, maybe (not a Responses WebSocket's turn, nor one routing explain follows:
        their picks and notes are execute's), else ``execute``."""
        if call.stream or call.action != "generate" or call.pin or self.pool.session_affinity:
            return self.execute(call, route)
        if SESSION_HEADER in call.headers or NOTES.get() is not None:
            return self.execute(call, route)
        return lane.whole(self, call, route)

    async def _rerun(self, call: Call) -> Reply | StreamReply:  # run, under explain's notes
        return await self.run(call)

    async def _admit(self, call: Call, model: str, policy: Any) -> Reply | StreamReply:
        """1. a key with a policy: admitted (or refused) before anything else."""
        ticket = await self.enforcer.admit(policy, call.format, model, call.action)
        if ticket is not None:
            return await self._run_admitted(call, model, ticket)
        host = self.plugins
        if host is None or not host.snapshot:
            return await self._stages(call, self.models.resolve(model))
        return await self._run(call, model)

    async def _run_admitted(self, call: Call, model: str, ticket: Ticket) -> Reply | StreamReply:
        """A request that holds a slot of its key's policy: given back however it ends."""
        try:
            result = await self._run(call, model)
        except BaseException:
            await ticket.release()
            raise
        sniffer = None if call.trace is not None else self.translations.adapter(call.format).usage_sniffer()
        return await ticket.attach(call, result, sniffer)

    async def _run(self, call: Call, model: str) -> Reply | StreamReply:
        flow = self._flow(call, model)  # None without plugins: every plugin stage is one test
        if flow is not None:
            call = flow.bind(call)
        result: Reply | StreamReply
        try:
            # 2. model router plugins
            decision = await flow.route(call, self.pool.providers) if flow is not None else None
            # 3. model resolution (a router may have named a provider or an executor)
            route = route_for(self.models, decision, model)
            # 4. interceptors before auth
            if flow is not None:
                call = await flow.before_auth(call)
            # 5.-9. credential pick (scheduler), interceptors after auth, translation, upstream
            # call with failover, response translation; or all on the plugin executor of 2.
            if route is None:  # the router named a plugin executor (kinds "self" / "executor")
                assert decision is not None and flow is not None
                result = await flow.execute(call, decision)
            elif flow is not None:
                result = await self.execute(call, route, flow)
            else:  # (a key policy's admitted request, no plugin: the lane's, maybe)
                result = await self._stages(call, route)
            # 10. response interceptors
            if flow is not None:
                result = await flow.intercept_response(call, result)
        except RequestTerminated as stop:  # an interceptor answered the client (4. or 6.)
            result = stop.reply
        except CliproxyError as exc:
            if flow is not None:
                flow.failed(call, exc, self.pool.get)  # 11. for a request that failed
            raise
        # 11. usage records and lifecycle completion (a stream's, when it ends)
        return flow.complete(call, result) if flow is not None else result

    def _flow(self, call: Call, model: str) -> Flow | None:
        host = self.plugins
        if host is None or not host.snapshot:
            return None
        return Flow(host, self.translations, self.config, call, model)

    async def execute(
        self,
        call: Call,
        route: ModelRoute,
        flow: Flow | None = None,
        first: tuple[Credential, UpstreamError | None, Any] | None = None,
    ) -> Reply | StreamReply:
        """Stages 5-9 for a resolved route: pick, attempt, fail over, retry rounds.

        A round tries every eligible credential once (at most ``max-retry-credentials``);
        another round starts only for a retryable status, after the nearest cooldown. The
        retry settings are those of the config the request started with (CPA: a reload
        meanwhile is for the next requests). ``first``: the credential the first round's
        first pick already chose (``cliproxy.pipeline_lane``), how its attempt failed
        (``None``: not attempted yet) and the config the request started with: the request
        goes on from there."""
        route = self.pool.owners.scope(route, call.headers, call.query) if self.pool.owners.active else route
        session_key = session_fallback = ""
        if self.pool.session_affinity:  # and the key it was bound under before, if another
            session_key, session_fallback = affinity_keys(call.format, call.headers, call.body)
        scheduler = flow.scheduler(call, route) if flow is not None else None
        prefer = None  # websocket-enabled credentials, for a Responses WebSocket client (CPA)
        if SESSION_HEADER in call.headers:
            prefer = websocket_preference(call.headers, route.providers)
        barred = None if call.action == "generate" else barred_for(call.action, self.pool.credentials())
        config = self.config if first is None else first[2]
        plans = route.plans if type(route) is Route else None  # attempt plans (pipeline_prepare)
        shaper = self.shaper
        limits = self._limits
        if limits[0] is not config:
            limits = self._limits = execute_limits(config)
        _, rounds, bootstrap, max_creds = limits
        if call.stream:  # only a stream's attempt sets BOOTSTRAP_ERROR, the one use of this
            BOOTSTRAP_LEFT.set(bootstrap)
        last: UpstreamError | None = None
        failure: UpstreamError | None = None  # the lane's attempt's, given in ``first``
        windows = None  # the rounds of each candidate, when one has a request-retry of its own
        if self.pool.retry_overrides:
            windows = self.pool.retry_windows(route.model, route.providers, route.supports, rounds - 1)
            if barred:  # a credential this request may not use lends it no rounds (CPA)
                windows = {cid: n for cid, n in windows.items() if cid not in barred}
            rounds = max(windows.values(), default=rounds - 1) + 1
        try:
            for round_no in range(rounds):
                tried: set[str] = set()  # the credentials that failed this round
                skipped = 0  # those in ``tried`` only because they sit this round out
                failed: UpstreamError | None = None  # this round's last failure
                if round_no and windows is not None:  # whose own request-retry ran out sit out
                    tried = {cid for cid, limit in windows.items() if limit < round_no}
                    skipped = len(tried)  # (they count for no max-retry-credentials)
                if barred:  # never tried for this request (free-plan accounts for images: CPA)
                    tried.update(barred)
                    skipped = len(tried)
                while not max_creds or len(tried) - skipped < max_creds:
                    if first is not None:  # the lane's pick, and its attempt's failure if any
                        (cred, failure, _), first = first, None
                    else:
                        pin = call.pin if call.pin and call.pin not in tried else ""
                        try:
                            cred = await self.pool.pick(  # 5. credential pick
                                route.model,
                                route.providers,
                                tried,
                                session_key=session_key,
                                supports=route.supports,
                                session_fallback_key=session_fallback,
                                scheduler=pinned(pin, scheduler) if pin else scheduler,
                                prefer=prefer and (None if pin else prefer),
                            )
                        except (CooldownError, NoCredentialError):
                            if failed is None:
                                raise
                            break
                    slot = None  # max-concurrency off: one test
                    if (cred.max_concurrency or self.concurrency.kinds) and call.action != "count":
                        other = self._picker(route, tried, session_key, scheduler)
                        cred, slot = await self.concurrency.enter(cred, other, call.headers, call.query)
                    try:  # with_credential, inline: one coroutine layer less per request
                        if cred.attributes and cred.attributes.get("plugin"):
                            answer = await plugin_credential(self, call, route, cred, flow)
                        else:
                            plan = plans.get(cred.id) if plans is not None else None
                            if plan is None or not (
                                plan.cred is cred and plan.config is config and plan.shaper is shaper
                            ):
                                plan = self.plan_for(route, cred)  # a first attempt, a reload, a new token
                            names = plan.names or await pool_names(self.pool, route, cred)
                            sent = call  # the pinned credential gets the pinned request
                            if call.pinned is not None and cred.id == call.pin and flow is None:
                                sent = call.pinned
                            if NOTES.get() is not None:  # routing explain
                                note_attempt(cred.id, cred.provider, names[0])
                            if failure is None:
                                try:
                                    answer = await self.attempt(sent, route, cred, plan, names[0], flow)
                                except UpstreamError as err:
                                    answer = await retry(
                                        self, call, route, cred, plan, flow, names, sent, err
                                    )
                            else:  # the lane's attempt at cred failed: on as after one of ours
                                try:
                                    answer = await retry(
                                        self, call, route, cred, plan, flow, names, sent, failure
                                    )
                                finally:  # (its traceback would hold this frame)
                                    failure = None
                        return answer if slot is None else slot.keep(answer)  # a stream keeps its slot
                    except Final as err:
                        if config.passthrough_headers:
                            forward_error_headers(err)
                        raise
                    except UpstreamError as err:
                        tried.add(cred.id)  # (read only by the next pick: a success returned)
                        failed = err
                    finally:
                        if slot is not None:
                            await slot.done()  # given back here unless a stream carries it
                if failed is None:
                    raise NoCredentialError(route.model, list(route.providers))
                last = failed
                if round_no + 1 >= rounds or not another_round(last):
                    break
                # not waited for: whose own request-retry sits the next round out, the barred (CPA)
                out = {cid for cid, n in windows.items() if n <= round_no} if windows else set()
                if not await wait_for_cooldown(self.pool, route, config, out.union(barred or ())):
                    break
        except (CooldownError, NoCredentialError) as err:
            last = err
        assert last is not None
        try:
            return await give_up(self, call, route, flow, last)
        finally:  # its traceback holds this frame: the frame must not hold it (a cycle)
            last = failed = None

    def _picker(self, route: ModelRoute, tried: set[str], session_key: str | None, scheduler: Any) -> Picker:
        """Another candidate for a request whose pick is at its ``max-concurrency``."""

        async def other(busy: Collection[str]) -> Credential | None:
            try:
                return await self.pool.pick(
                    route.model, route.providers, tried.union(busy), session_key=session_key,
                    supports=route.supports, scheduler=scheduler,
                )  # fmt: skip
            except (CooldownError, NoCredentialError):
                return None

        return other

    def plan_for(self, route: ModelRoute, cred: Credential) -> AttemptPlan:
        """The attempt plan of ``cred`` on ``route``, made anew (see ``AttemptPlan``)."""
        plans = route.plans if type(route) is Route else None
        provider: Provider = self.providers.provider_for(cred)
        return plan_attempts(plans, route, cred, provider, self.config, self.shaper)

    async def with_credential(
        self, call: Call, route: ModelRoute, cred: Credential, flow: Flow | None
    ) -> Reply | StreamReply:
        """Every attempt at ``cred`` (``execute`` runs the same, inline)."""
        if cred.attributes.get("plugin"):
            return await plugin_credential(self, call, route, cred, flow)
        plan = self.plan_for(route, cred)
        names = plan.names or await pool_names(self.pool, route, cred)
        # the pinned credential gets the pinned request (plugins rewrite only the Call itself)
        sent = call.pinned if call.pinned is not None and cred.id == call.pin and flow is None else call
        note_attempt(cred.id, cred.provider, names[0])  # routing explain: nothing when off
        try:
            return await self.attempt(sent, route, cred, plan, names[0], flow)
        except UpstreamError as err:
            return await retry(self, call, route, cred, plan, flow, names, sent, err)

    # ------------------------------------------------------------------ one attempt

    async def attempt(
        self,
        call: Call,
        route: ModelRoute,
        cred: Credential,
        plan: AttemptPlan,
        model: str,
        flow: Flow | None,
    ) -> Reply | StreamReply:
        if cred.metadata and self.refresher is not None and self.refresher.presend.stale(cred):  # expiring
            cred, plan = await refresh_before_sending(self, route, cred)
        provider = plan.provider
        compat = plan.compat
        suffix = route.suffix
        if model[-1:] == ")":  # a configured name's own thinking suffix wins over the request's (CPA)
            base, own = split_suffix(model)
            if own is not None:
                model, suffix = base, own
        action = call.action
        generate = action == "generate"
        images = False
        thinking: ThinkingPlan | None = None  # a count's thinking step (a generation's is in shaping)
        if generate:  # the upstream format and shaping, decided at the credential's first attempt
            up_fmt, shaping = plan.formats.get(call.format) or plan.upstream(call.format, route.model)
            if flow is not None:  # 6. after-auth interceptors: the client's request, translated after (CPA)
                call = await flow.after_auth(call, model, up_fmt.value)
            if self.replay_mirror is not None and generate_to_claude(call, provider):
                await self.replay_mirror.prefetch(  # a turn another worker recorded
                    cred.id, model, call.headers, call.body, chat_client=call.format in (_OPENAI, _GEMINI)
                )
            attempt = start_attempt(self, call, cred, provider, model, compat, up_fmt, plan.carry)  # 7.
            # a stream's result is marked as it ends (CPA): a late error cools cred, a whole
            # answer clears it; in a model pool the upstream name that failed cools alone
            if call.stream:
                if plan.names is None and type(route) is Route:
                    attempt.settle = partial(
                        settle_stream, self.pool, call, route, cred, provider, model=model
                    )
                else:
                    attempt.settle = partial(settle_stream, self.pool, call, route, cred, provider)
        else:
            shaping = None
            if flow is not None and (action == "count" or action == "compact"):  # 6. (these too, CPA)
                up = provider.upstream_format(call.format) if action == "count" else call.format
                call = await flow.after_auth(call, model, up.value)
            if action == "count":  # CPA's thinking step runs on counts too (payload rules do not)
                thinking = plan.count_thinking(call.format, route.model)
                if not provider.counts_upstream or provider.estimates_count(cred):
                    return await count_locally(
                        self, call, cred, provider, model, compat, flow, thinking, suffix
                    )
            if action == "compact" and not provider.compacts:
                raise UpstreamError("/responses/compact not supported", status=501, credential_id=cred.id)
            images = action.startswith(MEDIA)
            if images and not provider.serves_images:
                raise UpstreamError(f"{provider.key} does not serve the Images API", status=501)
            # a count carries what build reads as a generation does: counted as it would be sent
            carry = plan.carry if action == "count" else None
            attempt = start_attempt(self, call, cred, provider, model, compat, carry=carry)
        untouched, owned = attempt.untouched, False  # a pass-through body: the client's own fields
        if flow is not None and (generate or action == "count"):  # 7. request normalizers
            steps = shaping.thinking if shaping is not None else thinking
            untouched, owned = await normalize_step(self, call, attempt, flow, steps, suffix, untouched)
        build: Callable[..., UpstreamRequest] = provider.build
        if provider.format_dependent:  # its request follows the attempt's upstream format
            build = partial(build, fmt=attempt.fmt)  # (else a call without **: no dict made)
        if shaping is not None:  # 7. thinking, payload rules
            build = shape_step(
                build, shaping, attempt, call, flow, suffix, model, route.requested, untouched, owned
            )
        elif thinking is not None:  # a count's thinking
            think_step(thinking, attempt, call, flow, suffix, model, untouched, owned)
        elif self.shaper is not None and action == "compact":
            self.shaper.shape(
                attempt.body,
                client=call.format,
                client_body=call.body,
                route_model=route.model,
                requested=route.requested,
                suffix=suffix,
                provider=provider.key,
                upstream=attempt.fmt,
                model=model,
                headers=attempt.headers,
            )
        upstream_stream = (call.stream or provider.always_stream) and generate
        config = self.config
        upreq, resp = await send(self, call, attempt, plan, build, upstream_stream, action)  # 8.
        trace = call.trace
        if resp.status >= 400:
            data = await refused_body(self.pool, attempt, resp, trace)
            if action == "count" and provider.counts_locally_after(cred, resp.status, data, model):
                return await count_locally(self, call, cred, provider, model, compat)
            raise provider.classify(resp.status, resp.headers, data, cred.id)
        result: Reply | StreamReply
        whole: Reply | None = None
        if action == "count":  # 9. response translation
            result = await replies.count_reply(self.translations, call, attempt, resp)
        elif action == "compact" or images:
            if images and upreq.stream:  # an upstream's own Images API stream: relayed as it comes
                relayed = resp.chunks() if trace is None else trace.upstream_chunks(resp.chunks())
                if upreq.rewrite_chunk is not None:  # codex.identity-confuse: the caller's ids back
                    relayed = rewritten(relayed, upreq.rewrite_chunk, resp)
                scrub = partial(without_secrets, cred=cred)  # from an error event it rewrites
                result = await images_stream.relay(relayed, resp.release, cred, network_error, scrub)
            else:
                result = await replies.compact_reply(call, attempt, resp, upreq.rewrite_body)
        else:
            alias = plan.alias if not plan.unforced or model not in plan.unforced else None
            chunks = None
            wrapped = False  # the payloads of ``chunks`` carry the provider's envelope still
            if call.stream or upreq.stream:  # the body as it arrives (a whole answer is read at once)
                chunks = resp.chunks()
                if trace is not None:  # (the request log keeps the upstream's own bytes)
                    chunks = trace.upstream_chunks(chunks)
                if upreq.rewrite_chunk is not None:  # e.g. tool names of a cloaked Claude request
                    if provider.wraps_payloads:  # a rewrite reads the payloads unwrapped;
                        if upreq.chunk_reads_wrapped:  # an observer does not: the reader unwraps
                            wrapped = True
                        else:
                            chunks = unwrapped(chunks, provider, resp)
                    chunks = rewritten(chunks, upreq.rewrite_chunk, resp)
                else:  # unwrapped by the reader: a decoder takes the envelope off the objects it parses
                    wrapped = provider.wraps_payloads
            if call.stream:
                assert chunks is not None
                hold = not provider.commits_at_first_event
                hooks = flow.stream_normalizers(call, attempt, route.model) if flow else None
                try:
                    result = await replies_stream.open_stream(
                        self.translations,
                        call,
                        attempt,
                        resp,
                        chunks,
                        alias,
                        hold=hold,
                        wrapped=wrapped,
                        hooks=hooks,
                    )
                except RewriteError:
                    raise
                except UpstreamError as err:
                    BOOTSTRAP_ERROR.set(err)
                    raise
            else:
                result = whole = await replies.whole_reply(
                    self.translations,
                    call,
                    attempt,
                    resp,
                    chunks,
                    alias,
                    route.model,
                    flow,
                    upreq.rewrite_body,
                    wrapped=wrapped,
                )
        if attempt.settle is None:  # (a stream's: as it ends)
            self.pool.served[cred.id].add(route.model)  # (CPA's model state: listing.py)
            if (cooling := self.pool.cooling) is None or cooling:  # None or empty: nothing to clear
                await mark_success(self.pool, route, cred)
        if flow is not None and whole is not None:
            whole.body = await flow.normalize_response(
                call, attempt.fmt, route.model, "response_after_translator", whole.body, attempt.body
            )
        if flow is not None:  # response interceptors see the upstream's own headers (CPA)
            flow.raw_headers = resp.headers
        if config.passthrough_headers:  # the upstream's headers a client may see (the proxy's win)
            result.headers.update(forwardable_response_headers(resp.headers, result.headers))
        return result
