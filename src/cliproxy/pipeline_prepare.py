"""Stage 7 of the lifecycle (``cliproxy.pipeline``): one credential attempt's request.

:func:`start_attempt` gives an attempt its own upstream body: the client's as it came
(pass-through, with the signature and reasoning items another backend left in it
cleaned out), or the client's IR translated under the upstream model name, after the
request-side preparations CPA makes on the way: ``codex.optimize-multi-agent-v2`` for an
official Codex client, ``is-compat`` reasoning, Claude signatures (cache or bypass mode),
restored thinking a client cannot carry, and for Codex and xAI the prompt-cache key CPA
derives from the client's request (``providers.codex_cache``, ``providers.xai_session``:
the translated body has lost it),
for Antigravity what a Claude client's web search asks (``providers.antigravity_search``).
The body is never shared with the ``Call``: later stages (interceptors, thinking,
payload rules) write into it in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from cliproxy import replies
from cliproxy.calls import Attempt, Call, Reply
from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.formats import Format
from cliproxy.models.catalog import ModelInfo
from cliproxy.models.registry import ModelRoute
from cliproxy.models.shaping import Shaper, ShapeRoute
from cliproxy.models.thinking.plan import ThinkingPlan
from cliproxy.models.thinking.summary_first import summary_after_normalizers, summary_before_normalizers
from cliproxy.models.thinking.summary_restore import keep_original_summary
from cliproxy.pipeline_plain import own as _own
from cliproxy.pipeline_plain import plain_attempt
from cliproxy.providers.base import Carry, Provider, UpstreamRequest
from cliproxy.providers.codex_multi_agent import is_codex_client, prepare_tools
from cliproxy.providers.http import proxy_key
from cliproxy.providers.transport import UpstreamResponse
from cliproxy.translate import kimi_replay, tokens
from cliproxy.translate.antigravity_claude import antigravity_claude_signatures
from cliproxy.translate.compat import prepare as compat_prepare
from cliproxy.translate.compat import rewrite_agent_messages
from cliproxy.translate.gemini.build import for_antigravity, text_only
from cliproxy.translate.loop_thinking import settle_loop_thinking, unled_loop, unled_turn
from cliproxy.translate.reasoning_items import drop_foreign_encrypted_content
from cliproxy.translate.registry import Registry
from cliproxy.translate.replay import SignatureCache, ThinkingReplayCache, scope_for
from cliproxy.translate.signature_bodies import (
    sanitize_claude_body,
    sanitize_gemini_contents,
    sanitize_gemini_contents_for_claude,
)
from cliproxy.translate.signatures import provider_from_model

if TYPE_CHECKING:
    from cliproxy.plugins.flow import Flow

# read per request: a global, not ``Format.X`` (on Python 3.11 an ``EnumType.__getattr__`` dispatch)
_CLAUDE, _GEMINI, _OPENAI, _RESPONSES = Format.CLAUDE, Format.GEMINI, Format.OPENAI, Format.RESPONSES

__all__ = [
    "MEDIA",
    "AttemptPlan",
    "Preparing",
    "count_locally",
    "execute_limits",
    "generate_to_claude",
    "normalize_step",
    "plan_attempts",
    "send",
    "shape_step",
    "start_attempt",
    "think_step",
]

# Images / Videos API and Codex Alpha Search actions: bodies checked by the server, sent
# untranslated to the upstream's own endpoint
MEDIA = ("images.", "videos.", "alpha.")
# the actions whose body a provider's carrier completes: a generation, and a count of one
_CARRIED = ("generate", "count")


class Preparing(Protocol):
    """What preparing a request reads off the pipeline (read at each attempt: a config
    reload or a new Codex catalog applies to the next one)."""

    translations: Registry
    config: Any
    signature_cache: SignatureCache
    thinking_replay: ThinkingReplayCache
    agent_models: Callable[[], str]  # the Codex client catalog as spawn_agent lists it
    pool: Any
    http: Any
    shaper: Shaper | None


class AttemptPlan:
    """What every attempt at one credential on one route shares, decided at its first
    attempt: the provider, the proxy, the upstream names, the force-mapped answer model,
    ``is-compat``, and per client format the upstream format and the shaping plan.

    The pipeline keeps plans on the registry's route (``Route.plans``: dropped with the
    registry's generation, i.e. at every credential or model reload) and takes one only
    while ``cred``, ``config`` and ``shaper`` are still the objects it was made for (a
    token refresh makes a new credential, a config reload a new config and shaper)."""

    __slots__ = (
        "alias",
        "carry",
        "compat",
        "config",
        "cred",
        "formats",
        "info",
        "lane",
        "names",
        "prepares",
        "provider",
        "proxy",
        "proxy_url",
        "shaper",
        "unforced",
    )

    def __init__(
        self, route: ModelRoute, cred: Credential, provider: Provider, config: Any, shaper: Any
    ) -> None:
        self.cred = cred
        self.config = config
        self.shaper: Shaper | None = shaper
        self.provider = provider
        self.proxy_url = cred.proxy_url  # a plugin's auth data may change it in place: compared
        self.proxy = proxy_key(cred.proxy_url, config.proxy_url)
        # the base class's prepare answers None: nothing to call per attempt
        self.prepares = type(provider).prepare is not Provider.prepare
        self.carry = provider.carrier(cred)  # what build reads of the client's own request
        fixed = getattr(route, "fixed", None)  # the registry's routes know; a plugin's route is asked
        if fixed is not None:
            self.names, self.alias, self.compat = fixed(cred)
        else:
            self.names = None
            self.alias = route.response_model(cred) if route.force_mapping(cred) else None
            self.compat = route.is_compat(cred)
        unforced = getattr(route, "unforced", None)  # names of a pool not force-mapped (CPA: per attempt)
        self.unforced: frozenset[str] = unforced(cred) if unforced is not None else frozenset()
        own = getattr(route, "model_info", None)  # the model as this credential registered it
        self.info: ModelInfo | None = own(cred) if own is not None else None
        # client format -> (upstream format, shaping of a generation) for this credential
        self.formats: dict[Format, tuple[Format, ShapeRoute | None]] = {}
        # whether a whole generation in a format the upstream speaks can take the short way
        # (``cliproxy.pipeline_lane``): one upstream name, no force-mapped answer model, no
        # is-compat, an upstream answering a whole request whole and unwrapped, no plugin executor
        names = self.names
        self.lane = (
            names is not None
            and len(names) == 1
            and self.alias is None
            and not self.compat
            and not provider.always_stream
            and not provider.wraps_payloads
            and not (cred.attributes and cred.attributes.get("plugin"))
        )

    def upstream(self, client: Format, route_model: str) -> tuple[Format, ShapeRoute | None]:
        """The upstream format of a generation in ``client``'s format, and its shaping plan
        (``None`` without a shaper)."""
        found = self.formats.get(client)
        if found is None:
            provider = self.provider
            up_fmt = provider.upstream_format(client)
            shaper = self.shaper
            shaping = (
                shaper.route(route_model, provider.key, client, up_fmt, self.info)
                if shaper is not None
                else None
            )
            found = self.formats[client] = (up_fmt, shaping)
        return found

    def count_thinking(self, client: Format, route_model: str) -> ThinkingPlan | None:
        """The thinking step of a count in ``client``'s format: a generation's (CPA's
        executors run it in ``CountTokens`` too), without its payload rules."""
        shaping = self.upstream(client, route_model)[1]
        return shaping.thinking if shaping is not None else None

    def proxy_for(self, cred: Credential) -> str:
        """The proxy of an attempt with ``cred`` (this plan's credential)."""
        if cred.proxy_url == self.proxy_url:
            return self.proxy
        return proxy_key(cred.proxy_url, self.config.proxy_url)


def plan_attempts(
    plans: dict[str, Any] | None,
    route: ModelRoute,
    cred: Credential,
    provider: Provider,
    config: Any,
    shaper: Any,
) -> AttemptPlan:
    """A new :class:`AttemptPlan`, kept in ``plans`` (a route's) when there is one."""
    plan = AttemptPlan(route, cred, provider, config, shaper)
    if plans is not None:
        if len(plans) >= 4096:
            plans.clear()
        plans[cred.id] = plan
    return plan


def start_attempt(
    pipe: Preparing,
    call: Call,
    cred: Credential,
    provider: Provider,
    model: str,
    compat: bool = False,
    up_fmt: Format | None = None,
    carry: Carry | None = None,
) -> Attempt:
    """The attempt's own upstream body: the client's (pass-through) or translated from
    the client's IR under the upstream model name; never shared with the ``Call``.
    ``compat``: the credential's model has ``is-compat`` (``translate.compat``);
    ``up_fmt``: the provider's upstream format for a generation, when known already;
    ``carry``: the provider's :meth:`~cliproxy.providers.base.Provider.carrier` for the
    credential (the attempt plan's), called for a generation or a count."""
    if up_fmt is None:
        # a compact or Images body goes to the upstream's own endpoint as it came (CPA)
        passthrough = call.action == "compact" or call.action.startswith(MEDIA)
        up_fmt = call.format if passthrough else provider.upstream_format(call.format)
    if up_fmt == call.format:
        body = call.body.copy()  # _own, its first level inline
        for key, value in call.body.items():
            if type(value) is dict:
                body[key] = _own(value)
        attempt = Attempt(cred, provider, model, up_fmt, call.headers, body)
        if up_fmt is _GEMINI:  # another backend's signatures, after a failover too
            _sanitize_gemini(body, model)
        elif up_fmt is _CLAUDE and (compat or _CLAUDE_NAMED.get(model) or _claude_named(model)):
            # (is-compat: any model; thinking kept as it came, tool-call signatures dropped)
            # (unled_turn, on the client's messages: another backend answered the loop unled)
            unled = "thinking" in body and not compat and unled_turn(body)
            if sanitize_claude_body(body, compat) or unled:
                attempt.cut, attempt.unled = True, unled
            if compat and call.format is _CLAUDE and call.action == "generate":
                attempt.kept = _compat_replay(provider, cred, model, call.headers, body)
        elif compat:
            _compat_body(pipe.config, call, up_fmt, body)
        if provider.key == "codex" and not compat and not call.action.startswith(MEDIA):
            drop_foreign_encrypted_content(body)  # another backend's would fail the request (CPA)
        if carry is not None and call.action in _CARRIED:
            carry(body, call.format, call.body, call.headers, model, True)
        return attempt
    source = call
    if call.format is _RESPONSES:  # codex.optimize-multi-agent-v2 (Responses clients only)
        source = _multi_agent_entry(pipe, call, provider, up_fmt) or call
    if source is call and call.action == "generate" and not compat and provider.key != "antigravity":
        plain = plain_attempt(pipe, call, cred, provider, model, up_fmt, carry)  # (the hub's body, no IR)
        if plain is not None:
            return plain
    req = source.ir_under(pipe.translations, model)  # never the memo itself under another name
    if compat:  # is-compat: reasoning the upstream takes unsigned (translate.compat)
        req = compat_prepare(req, up_fmt)
    signed = antigravity_claude_signatures(
        pipe.signature_cache,
        pipe.config,
        provider=provider.key,
        client=call.format,
        upstream=up_fmt,
        model=model,
    )
    if signed is not None:  # Claude signatures in the configured cache or bypass mode
        req = signed.prepare(req)
    if provider.key == "antigravity" and up_fmt is _GEMINI:  # call ids (a history without tools too), schemas
        req = for_antigravity(req)
    scope = None
    if up_fmt is _CLAUDE and call.action == "generate":  # signed thinking a client cannot carry
        scope = scope_for(
            pipe.thinking_replay,
            pipe.signature_cache,
            credential_id=cred.id,
            model=model,
            headers=call.headers,
            body=call.body,
            chat_client=call.format in (_OPENAI, _GEMINI),  # no place for a signature
        )
        req = scope.restore(req)
    adapter = pipe.translations.adapter(up_fmt)
    body = adapter.build_request(req)
    cut = up_fmt is _CLAUDE and unled_loop(body)  # its thinking lost: the thinking step settles it
    if up_fmt is _GEMINI:  # (a Responses client: calls too; text alone carries no signature)
        if (signed is None or signed.responses) and not text_only(req):
            _sanitize_gemini(body, model)
    elif compat:
        _compat_body(pipe.config, call, up_fmt, body)
    elif provider.key == "codex":
        drop_foreign_encrypted_content(body)
    if carry is not None and call.action in _CARRIED:  # for build: the body lost what it reads
        carry(body, call.format, call.body, call.headers, model, False)
    elif adapter.owns_body(req):  # (what a carrier put in is the client's: copied below)
        return Attempt(cred, provider, model, up_fmt, call.headers, body, req, scope, cut=cut)
    return Attempt(cred, provider, model, up_fmt, call.headers, _own(body), req, scope, cut=cut)


def _compat_replay(
    provider: Provider, cred: Credential, model: str, headers: Mapping[str, str], body: dict[str, Any]
) -> kimi_replay.Scope | None:
    """A Claude client on an is-compat model of a Claude API key (CPA's Claude-compatible
    thinking replay): the session's last signed thinking and tool call put back into
    ``body`` when the client left them out (Claude Code drops thinking a third party
    signed, and such an upstream refuses a tool continuation without it); the scope the
    answer is recorded into. ``None`` for an OAuth account, another provider, no session."""
    cache = provider.compat_replay
    if cache is None or provider.key != "claude" or cred.kind == KIND_OAUTH:
        return None
    session = kimi_replay.session_key(headers, body)
    if not session:
        return None
    scope = kimi_replay.Scope(cache, model, session)
    scope.apply(body)
    return scope


def _multi_agent_entry(pipe: Preparing, call: Call, provider: Provider, up_fmt: Format) -> Call | None:
    """``codex.optimize-multi-agent-v2``, an official Codex client on the Responses API
    and a non-Codex upstream (xAI included: CPA's xAI executor rewrites its input too):
    the request CPA translates (its Responses-entry tool preparation, ``agent_message``
    items as user messages), as a ``Call`` of its own whose body shares every untouched
    part with the client's; ``None`` otherwise."""
    if call.format is not _RESPONSES or up_fmt is _RESPONSES or provider.key == "codex":
        return None
    codex = getattr(pipe.config, "codex", None)
    if not getattr(codex, "optimize_multi_agent_v2", False) or not is_codex_client(call.headers):
        return None
    body = call.body.copy()
    changed = prepare_tools(body, pipe.agent_models)
    if not rewrite_agent_messages(body) and not changed:
        return None
    return dataclasses.replace(call, body=body, _ir=None)


def _compat_body(config: Any, call: Call, up_fmt: Format, body: dict[str, Any]) -> None:
    """is-compat on a Codex-dialect key with ``codex.optimize-multi-agent-v2``: an
    official Codex client's ``agent_message`` items become portable user messages."""
    codex = getattr(config, "codex", None)
    if (
        up_fmt is Format.CODEX
        and getattr(codex, "optimize_multi_agent_v2", False)
        and is_codex_client(call.headers)
    ):
        rewrite_agent_messages(body)


def _sanitize_gemini(body: dict[str, Any], model: str) -> None:
    """CPA's signature policy for a Gemini-format body on the attempt's own body (the array
    is copied first): Gemini's, or Claude's for a Claude model (behind Antigravity)."""
    contents = body.get("contents")
    if isinstance(contents, list):
        copy = list(contents)
        claude = _CLAUDE_NAMED.get(model)
        if claude is None:
            claude = _claude_named(model)
        if (sanitize_gemini_contents_for_claude if claude else sanitize_gemini_contents)(copy):
            body["contents"] = copy


# upstream model name -> whether it names a Claude model (signatures.provider_from_model)
_CLAUDE_NAMED: dict[str, bool] = {}


def _claude_named(model: str) -> bool:
    if len(_CLAUDE_NAMED) >= 4096:
        _CLAUDE_NAMED.clear()
    named = _CLAUDE_NAMED[model] = provider_from_model(model) == "claude"
    return named


async def count_locally(
    pipe: Preparing,
    call: Call,
    cred: Credential,
    provider: Provider,
    model: str,
    compat: bool,
    flow: Flow | None = None,
    thinking: ThinkingPlan | None = None,
    suffix: str | None = None,
) -> Reply:
    """A count for an upstream with no count endpoint: the request translated as it
    would be sent (``call`` as the after-auth interceptors left it, the request
    normalizers of ``flow`` after, then ``thinking`` with ``suffix``, as for an upstream
    count), its text counted with the model's encoding; nothing goes upstream and nothing
    here can cool the credential (a failure is never an upstream error)."""
    attempt = start_attempt(pipe, call, cred, provider, model, compat)
    untouched, owned = attempt.untouched, False
    if flow is not None:
        untouched, owned = await normalize_step(pipe, call, attempt, flow, thinking, suffix, untouched)
    if thinking is not None:  # a setting the model cannot take is the client's 400 (CPA)
        think_step(thinking, attempt, call, flow, suffix, model, untouched, owned)
    encoding, segments = provider.count_locally(attempt.body, model, cred)
    return replies.local_count(pipe.translations, call, cred, await tokens.count(encoding, segments))


async def normalize_step(
    pipe: Preparing,
    call: Call,
    attempt: Attempt,
    flow: Flow,
    thinking: ThinkingPlan | None,
    suffix: str | None,
    untouched: bool,
) -> tuple[bool, bool]:
    """Stage 7's request normalizers on the attempt's upstream body; ``untouched`` as it
    is after them, and whether they took out the summary thinking written before them
    (``models.thinking.summary_first``: for a Claude target that CPA's registry turns
    thinking on for, from what the registry knows of the upstream name)."""
    wrote = False
    shaper = pipe.shaper
    if thinking is not None and shaper is not None and flow.host.any("request_normalizer"):
        named = shaper.caps(attempt.model, "claude") if thinking.target == "claude" else None
        wrote = summary_before_normalizers(thinking, attempt.body, call.body, named)
    raw = await flow.normalize_request(call, attempt)
    if raw is not None:
        attempt.body = replies.loads_object(raw)
        untouched = False
    if not wrote or thinking is None:
        return untouched, False
    return untouched, summary_after_normalizers(thinking, attempt.body, suffix)


def think_step(
    thinking: ThinkingPlan,
    attempt: Attempt,
    call: Call,
    flow: Flow | None,
    suffix: str | None,
    model: str,
    untouched: bool,
    owned: bool = False,
) -> None:
    """Stage 7's thinking step on an attempt's upstream body, a generation's or a
    count's: the request's setting checked against the model (``ThinkingError``: the
    client's 400) and written in the target's fields; when an interceptor rewrote the
    request, the summary the client itself asked for is kept; a tool loop the sanitizer
    cut goes without thinking again (``Attempt.cut``). An Antigravity body is seen in the
    envelope ``build`` puts it in later, where CPA applies it (``request.generationConfig``).
    ``owned``: a request normalizer took out the summary thinking (``normalize_step``)."""
    body = attempt.body
    if thinking.target == "antigravity":
        body = {"request": body}
    thinking.apply(body, call.body, suffix, model, untouched, owned)
    if flow is not None and flow.original is not None:
        keep_original_summary(thinking, body, call.body, flow.original)
    if attempt.cut:  # (translated, or unled as the client sent it: no client loop to compare)
        compare = attempt.untouched and not attempt.unled
        settle_loop_thinking(attempt.body, call.body.get("messages") if compare else None)


def shape_step(
    build: Callable[..., UpstreamRequest],
    shaping: ShapeRoute,
    attempt: Attempt,
    call: Call,
    flow: Flow | None,
    suffix: str | None,
    model: str,
    requested: str,
    untouched: bool,
    owned: bool = False,
) -> Callable[..., UpstreamRequest]:
    """Stage 7's thinking step and payload rules on a generation's upstream body; the
    ``build`` to call then (the rules go into it when the provider writes fields of its
    own in ``build`` first: Claude's identity)."""
    think_step(shaping.thinking, attempt, call, flow, suffix, model, untouched, owned)
    if shaping.rules is None:
        return build
    if attempt.provider.payload_in_build:  # after what build writes itself
        return partial(
            build, payload=partial(shaping.payload, model=model, requested=requested, headers=attempt.headers)
        )
    shaping.payload(attempt.body, model, requested, attempt.headers)
    return build


async def send(
    pipe: Preparing,
    call: Call,
    attempt: Attempt,
    plan: AttemptPlan,
    build: Callable[..., UpstreamRequest],
    stream: bool,
    action: str,
) -> tuple[UpstreamRequest, UpstreamResponse]:
    """Stage 8's request for ``attempt``: the provider's ``prepare`` (when it has one) and
    ``build``, the request log's entry, the upstream call, its status in the log, and the
    headroom a good answer states (``routing.quota-steering``)."""
    cred, provider, model = attempt.cred, attempt.provider, attempt.model
    proxy = plan.proxy if cred.proxy_url == plan.proxy_url else plan.proxy_for(cred)
    prepared = None
    if plan.prepares:  # before build: it may complete cred
        pending = provider.prepare(cred, pipe.http, proxy=proxy, body=attempt.body)
        prepared = await pending if pending is not None else None
    upreq = build(
        cred, attempt.body, model=model, stream=stream, client_headers=attempt.headers, action=action
    )
    if prepared:
        upreq.headers.update(prepared)
    if attempt.kept is not None:  # (a Claude client's own thinking: _compat_replay)
        kimi_replay.record(upreq, attempt.kept)
    trace = call.trace
    if trace is not None:  # request log: this upstream attempt
        trace.upstream_request(upreq.method, upreq.url, upreq.headers, upreq.body, cred, provider.key, model)
        if upreq.tool_usage is not None:  # the answer's tool usage, recorded apart (usage.tool_usage)
            trace.tool_usage = upreq.tool_usage
    resp = await (provider.transport or pipe.http).request(
        upreq.method, upreq.url, headers=upreq.headers, body=upreq.body, proxy=proxy
    )
    if trace is not None:
        trace.upstream_response(resp.status, resp.headers)
    pool = pipe.pool
    if pool.steering and resp.status < 400:  # the headroom it states
        await pool.quota.observe(cred.id, resp.status, resp.headers)
    return upreq, resp


def generate_to_claude(call: Call, provider: Provider) -> bool:
    """A generation another format translates for a Claude upstream (thinking replay applies)."""
    return (
        call.action == "generate"
        and call.format is not Format.CLAUDE
        and provider.upstream_format(call.format) is Format.CLAUDE
    )


def execute_limits(config: Any) -> tuple[Any, int, int, int]:
    """``config``, its retry rounds, stream bootstrap retries and max-retry-credentials."""
    rounds = max(0, int(config.request_retry or 0)) + 1
    bootstrap = max(0, int(config.streaming.bootstrap_retries or 0))
    return config, rounds, bootstrap, int(config.max_retry_credentials or 0)
