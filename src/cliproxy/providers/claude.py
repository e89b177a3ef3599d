"""Anthropic Messages: Claude API keys and Claude OAuth (subscription) credentials.

The default base is the endpoint table's ``claude`` ``api`` URL (``api.anthropic.com``, or
``CLIPROXY_OAUTH_CLAUDE_API`` / ``_BASE``). An API key goes as ``x-api-key`` to that base
(an override stands in for Anthropic's host) and to ``api.anthropic.com`` named in a file;
to any other ``base_url`` it goes as a bearer token (CPA). OAuth tokens are always bearer.

Identity (CPA's Claude Code emulation, :mod:`claude_identity` and :mod:`claude_cloak`):
a real Claude Code passes through with its own body; a subscription token, an API key
with ``fingerprint-profile: claude-code-cli`` and a credential with cloak settings take
Claude Code's headers and ``metadata.user_id``; a request from any other client to them is
cloaked (system layout, billing block, currentDate, sensitive words) and, for OAuth and
the CLI profile on Anthropic's host, signed (``cch``). A plain API key with no cloak
settings keeps the caller's own request shape.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import orjson

from cliproxy import __version__
from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import Credential
from cliproxy.credentials.request_faults import over_input_budget
from cliproxy.errors import RequestError, UpstreamError
from cliproxy.formats import Format
from cliproxy.providers import (
    claude_cache,
    claude_count,
    claude_device,
    claude_diagnostics,
    claude_helper,
    claude_limits,
    claude_payload,
    claude_sampling,
    claude_tools,
    decoding,
    impersonate,
)
from cliproxy.providers import claude_cloak as cloaking
from cliproxy.providers import claude_identity as ident
from cliproxy.providers import claude_sign as signing
from cliproxy.providers.base import Carry, PayloadStep, Provider, UpstreamRequest
from cliproxy.providers.claude_diagnostics import SharedDiagnostics
from cliproxy.providers.claude_plan import CredentialPlan, anthropic_origin, apply_custom, caller_accept
from cliproxy.providers.claude_profile import ProfileLookup
from cliproxy.providers.claude_shared import SharedKeyIds
from cliproxy.providers.claude_wire import wire_order
from cliproxy.providers.http import HttpClient
from cliproxy.providers.model_not_found import says_model_not_found
from cliproxy.translate import token_segments, tokens
from cliproxy.translate.claude import user_id
from cliproxy.translate.kimi_replay import CompatReplayCache

if TYPE_CHECKING:
    from cliproxy.state.redis import RedisState

__all__ = ["ClaudeProvider", "wire_order"]

ANTHROPIC_HOST = endpoints.URLS["claude"]["api"]  # the public host, whatever the overrides
API_VERSION = ident.ANTHROPIC_VERSION
OAUTH_BETA = ident.OAUTH_BETA
# client headers a caller-owned request (plain API key, no cloak) forwards as they are
# (CPA's copyClaudeCallerFingerprintHeaders): these names and these families
_PASS = frozenset(
    {"user-agent", "x-app", "x-client-request-id", "x-client-app", "x-anthropic-additional-protection"}
)
_PASS_PREFIXES = ("anthropic-", "x-stainless-", "x-claude-code-", "x-claude-remote-")
# a Claude Code client's own headers that CPA carries on when it sent them
_CARRY = (
    "x-claude-code-agent-id",
    "x-claude-code-parent-agent-id",
    "x-claude-remote-container-id",
    "x-claude-remote-session-id",
    "x-client-app",
    "x-anthropic-additional-protection",
)
_OWN_AGENT = f"cliproxy/{__version__}"
# the headers Claude Code owns, with the baseline a caller that is not one gets
_OWNED = (
    ("anthropic-version", API_VERSION),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("x-app", "cli"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-runtime", "node"),
    ("x-stainless-lang", "js"),
)
# Claude Code's Accept-Encoding; to Anthropic curl (the impersonating client) decodes all of
# it, elsewhere what the shared client can decode is asked for
_CLAUDE_CODE_ENCODING = "gzip, deflate, br, zstd"
_ACCEPT_ENCODING = _CLAUDE_CODE_ENCODING if ident.can_decode_br_zstd() else "gzip, deflate"
_ANTHROPIC_ENCODING = _CLAUDE_CODE_ENCODING if impersonate.available() else _ACCEPT_ENCODING
_PLANS = 1024  # credential plans kept per provider; emptied when more come
# client header name as sent -> its lower-case name when a caller-owned request forwards
# it, else "" (see _PASS); emptied when it grows past _NAMES
_FORWARDED: dict[str, str] = {}
_NAMES = 4096
# what api.anthropic.com's count_tokens refuses ("Extra inputs are not permitted");
# max_tokens too, which the thinking step writes when a budget needs room (CPA sends it)
_NOT_COUNTED = ("metadata", "context_management", "diagnostics", "max_tokens")
# a gateway's answers to a count_tokens path it does not serve
_NO_COUNT_ENDPOINT = frozenset((404, 405, 501))


class ClaudeProvider(Provider):
    key = "claude"
    format = Format.CLAUDE
    endpoints_key = "claude"
    # an API key goes as x-api-key to Anthropic's host (a delegate to another
    # Anthropic-compatible upstream, Kimi, sends every credential as a bearer token)
    api_key_header: ClassVar[bool] = True
    # a gateway that gzips (or zstd-compresses) without a Content-Encoding is read all the
    # same, success or error (CPA's decodeResponseBody sniffs the magic bytes)
    sniffs_compression: ClassVar[bool] = True
    # the payload rules run after Claude Code's identity, as in CPA (claude_payload)
    payload_in_build: ClassVar[bool] = True

    def __init__(self) -> None:
        super().__init__()
        self.profile = ident.DeviceProfile()
        self.cloak_disabled = False
        self.stabilize = False
        self._plans: dict[str, CredentialPlan] = {}  # credential id -> plan (see claude_plan)
        self.profiles = ProfileLookup()  # first-use account identities (claude_profile)
        # each conversation's last completed answer, and a cloaked key's ids: shared across
        # workers once the service calls ``share``
        self.diagnostics = claude_diagnostics.Diagnostics()
        self.compat_replay = CompatReplayCache()  # (see Provider.compat_replay)
        self.key_ids: SharedKeyIds | None = None
        # a delegate with its own last step (Kimi): ``finish`` is called only then
        self._finishes = type(self).finish is not ClaudeProvider.finish
        # a request without max_tokens: the model's (the service wires the catalog; 0: none)
        self.default_max_tokens: Callable[[str], int] = _no_default

    def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Awaitable[Mapping[str, str]] | None:
        """A subscription credential without its account identity, or with an old device
        pool, gets them first (CPA's ``PrepareRequestAuth``); a cloaked API key, the ids
        the workers agreed on (:mod:`claude_shared`, once a minute); else nothing to await."""
        if cred.provider == "claude" and self.profiles.due(cred):
            return self.profiles.ensure(cred, http, proxy=proxy or "")
        if self.key_ids is None or (plan := self._plan_for(cred)).cli or not plan.cloaks:
            return None
        return self.key_ids.due(cred.api_key or cred.id, user=bool(cred.api_key))

    def share(self, bus: RedisState) -> SharedDiagnostics:
        """Workers on the state backend ``bus`` agree on Claude Code's diagnostics and the
        per-key ids (the service, at start); the diagnostics' notices to close at the end."""
        self.key_ids = SharedKeyIds(bus)
        return SharedDiagnostics(self.diagnostics, bus)

    def carrier(self, cred: Credential) -> Carry:
        """A translated request's ``metadata.user_id`` from the client's own body, as CPA's
        translators make it (:mod:`cliproxy.translate.claude.user_id`); the identity below
        replaces it where CPA's executor does."""
        return user_id.carry

    def configure(self, config: Any) -> None:
        """``claude-header-defaults`` and ``disable-claude-cloak-mode``."""
        defaults = getattr(config, "claude_header_defaults", None)
        self.profile = ident.DeviceProfile.from_config(defaults)
        self.stabilize = bool(getattr(defaults, "stabilize_device_profile", None))
        self.cloak_disabled = bool(getattr(config, "disable_claude_cloak_mode", False))
        self._plans = {}  # made under the previous settings

    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
        payload: PayloadStep | None = None,
    ) -> UpstreamRequest:
        """``payload``: the config's ``payload:`` rules, run after Claude Code's identity
        (CPA's order, :mod:`claude_payload`)."""
        plan = self._plan_for(cred)
        count = action == "count"
        try:  # a server's headers, whose lines may repeat (a plain mapping's cannot)
            betas = client_headers.getall("anthropic-beta", ())  # type: ignore[attr-defined]
        except AttributeError:
            betas = ()
        if len(betas) > 1:  # one list, the lines joined in order (CPA)
            client_headers = ident.one_line(client_headers, "anthropic-beta", betas)
        # on the body as the client shaped it (the helper profile reads its exact key order);
        # every Claude Code signal needs X-App: cli, so any other caller is decided here
        app = client_headers.get("x-app")
        if app is None and type(client_headers) not in ident.CASE_FREE:
            app = ident.header(client_headers, "x-app")
        found = (
            claude_helper.detect(client_headers, body, count=count, profile=self.profile)
            if app == "cli"
            else None
        )
        confirmed = found is not None and found.confirmed
        body["model"] = model
        if plan.rebuild:  # role=system turns into the top-level system (opt-in, CPA)
            cloaking.rebuild_mid_system(body)
        cli = plan.cli
        cloaked = plan.cloaks and not confirmed
        anthropic = plan.anthropic
        if count:
            url = plan.count_url
            body.pop("stream", None)
            stream = False  # (a count is never streamed)
            if anthropic:  # fields Anthropic's count_tokens refuses, whoever sent them (CPA)
                for key in _NOT_COUNTED:
                    body.pop(key, None)
        else:
            url = plan.url
            if cloaked or payload is not None:  # the identity, then the rules over it (CPA)
                # Claude Code's session, from the body before the cloak rewrites its messages
                session = ident.session_uuid(client_headers, body, confirmed=confirmed) if cli else ""
                ticket = claude_payload.identity_then_rules(
                    body,
                    cred,
                    plan,
                    self.profile,
                    cloaked=cloaked,
                    payload=payload,
                    session=session,
                    table=self.diagnostics,
                )
            elif "tool_choice" in body:
                claude_sampling.no_thinking_when_forced(body)
            if "max_tokens" not in body and (default := self.default_max_tokens(model)):
                body["max_tokens"] = default  # a registered Claude model's limit, else 1024 (CPA)
            if "temperature" in body or "top_p" in body or "top_k" in body:
                claude_sampling.settle(body)  # after every step that may turn thinking on
            # a non-stream helper omits it (CPA)
            if stream or found is None or not found.helper or "stream" in body:
                body["stream"] = stream
        if "tools" in body:  # Anthropic refuses an empty web_search domain list (CPA)
            claude_tools.drop_empty_search_domains(body)
        extra = _pop_betas(body) if "betas" in body else []
        if anthropic and not confirmed:  # refused there for sure: the client's 400 (CPA)
            _check_mid_system(body)
        if not (cli or cloaked or confirmed):  # the caller's own request shape
            fast = "speed" in body and ident.fast_speed(body)
            headers = self._caller_headers(plan, client_headers, extra, stream=stream, fast=fast)
            if count:
                claude_cache.settle(body)
            else:  # CPA's placement when the caller placed no mark
                claude_cache.settle_unmarked(body)
            if self._finishes:
                self.finish(body, cli=False)
            claude_limits.note_request(anthropic and not count, body, headers, bool(plan.custom))
            return UpstreamRequest(url, headers, orjson.dumps(body), stream)
        if count or not (cloaked or payload is not None):  # (else read before the identity)
            session = ident.session_uuid(client_headers, body, confirmed=confirmed) if cli else ""
        signed = plan.signed
        if cloaked and count:
            cloaking.relocate_for_count(body, plan.settings)
        names = None
        if cloaked and cli:  # custom tools go as the caller's MCP aliases (before the CCH hash)
            names = claude_tools.alias_tools(body, seed=claude_tools.caller_seed(client_headers))
        if cli and not count:
            claude_payload.set_cli_user_id(body, cred, session)
        # CPA's placement unless a real Claude Code placed its own; at most 4 breakpoints;
        # the 1h pool for a Claude Code credential whose placement the proxy owns
        if count or confirmed:
            claude_cache.settle(body)
        elif cloaked:
            claude_cache.settle(body, place=True, one_hour=cli)
        else:
            claude_cache.settle_unmarked(body, one_hour=cli)
        if self._finishes:
            self.finish(body, cli=cli)
        helper = found is not None and found.helper
        if signed and not count:
            fallback = ""  # a helper without a system prompt gets no billing block (CPA)
            # (a body that already leads with its billing block, as every cloaked one, needs none)
            if (not helper or "system" in body) and not signing.billing_first(body):
                text = cloaking.user_text(body)
                entrypoint = found.entrypoint if found is not None else ident.entrypoint(client_headers)
                fallback = cloaking.billing_text(
                    self.profile.version, text, signed=True, entrypoint=entrypoint or "cli"
                )
            raw = signing.sign(body, fallback)
        else:
            raw = orjson.dumps(body)
        headers = self._cli_headers(
            plan,
            cred,
            client_headers,
            body,
            extra,
            oauth_betas=cli,
            confirmed=confirmed,
            helper=helper,
            count=count,
            stream=stream,
            session=session,
        )
        claude_limits.note_request(anthropic and not count, body, headers, bool(plan.custom))
        req = UpstreamRequest(url, headers, raw, stream)
        if names is not None and not count:  # the answer's tool calls under the client's names
            req.rewrite_body, req.rewrite_chunk = names.restore_body, names.restore_lines
        if cloaked and not count and ticket is not None:  # (set whenever a cloaked request is built)
            claude_diagnostics.watch(req, ticket)  # its completed answer: the next turn's diagnostics
        return req

    def _plan_for(self, cred: Credential) -> CredentialPlan:
        plan = self._plans.get(cred.id)
        return plan if plan is not None and plan.fits(cred) else self._plan(cred)

    def _plan(self, cred: Credential) -> CredentialPlan:
        """A new plan for ``cred`` (its values changed, or the first request)."""
        plans = self._plans
        if len(plans) >= _PLANS:
            plans.clear()
        plans[cred.id] = plan = CredentialPlan(
            cred,
            base=self.base_url(cred),
            oauth=self.subscription(cred),
            api_key_header=self.api_key_header,
            anthropic_host=ANTHROPIC_HOST,
            cloak_disabled=self.cloak_disabled,
        )
        return plan

    def subscription(self, cred: Credential) -> bool:
        """Whether ``cred`` is a Claude subscription token (the Claude Code identity, OAuth
        betas, signing); a delegate's own tokens are not."""
        return ident.is_oauth(cred)

    def finish(self, body: dict[str, Any], *, cli: bool) -> None:
        """A delegate's last change to the body before it is signed and sent (Kimi)."""
        return None

    # ------------------------------------------------------------------ headers

    def _caller_headers(
        self,
        plan: CredentialPlan,
        client_headers: Mapping[str, str],
        extra: list[str],
        *,
        stream: bool,
        fast: bool = False,
    ) -> dict[str, str]:
        """The caller's own headers with the credential's auth (CPA's caller-owned mode); a
        ``fast`` body gets :data:`ident.FAST_MODE_BETA` before the body's own betas."""
        headers: dict[str, str] = {"content-type": "application/json"}
        forwarded = _FORWARDED
        for name, value in client_headers.items():
            try:  # a subscript, not .get(): the name is known but for a client's first request
                lower = forwarded[name]
            except KeyError:
                lower = _forwarded_name(name)
            if lower and value:
                headers[lower] = value
        if "anthropic-version" not in headers:
            headers["anthropic-version"] = API_VERSION
        if "user-agent" not in headers:
            headers["user-agent"] = _OWN_AGENT  # never a library default (CPA)
        name, value = plan.auth
        if name:
            headers[name] = value
        if fast:  # Anthropic refuses "speed" without its beta
            extra = [ident.FAST_MODE_BETA, *extra]
        if extra:
            betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
            betas.extend(b for b in extra if b not in betas)
            headers["anthropic-beta"] = ",".join(betas)
        if plan.custom:
            apply_custom(headers, plan.custom, client_headers)
        caller_accept(headers, plan.anthropic, client_headers, stream=stream)
        # CPA: a gateway's stream asks for plain events, whatever the credential's headers
        # say; a whole answer offers what the proxy decodes (a gateway may be told otherwise)
        if stream and not plan.anthropic:
            _set_encoding(headers, "identity", plan.custom_encoding)
        elif plan.anthropic:
            _set_encoding(headers, _ANTHROPIC_ENCODING, plan.custom_encoding)
        elif not plan.custom_encoding or not any(n.lower() == "accept-encoding" for n in headers):
            headers["accept-encoding"] = _ACCEPT_ENCODING
        return headers

    def _cli_headers(
        self,
        plan: CredentialPlan,
        cred: Credential,
        incoming: Mapping[str, str],
        body: Mapping[str, Any],
        extra: list[str],
        *,
        oauth_betas: bool,
        confirmed: bool,
        helper: bool,
        count: bool,
        stream: bool,
        session: str,
    ) -> dict[str, str]:
        """Claude Code's headers (CPA's ``applyClaudeHeaders``): a confirmed Claude Code
        keeps the values it sent, anyone else gets the configured baseline; a native
        helper keeps its exact betas and transport headers. Names and order as Claude Code
        writes them (:func:`wire_order`)."""
        p = self.profile
        anthropic = plan.anthropic
        # a header the client sent, "" when none (ident.header: a server's mapping ignores case)
        h: Callable[[str], str | None] = (
            incoming.get if type(incoming) in ident.CASE_FREE else functools.partial(ident.header, incoming)
        )
        headers: dict[str, str] = {"content-type": "application/json"}
        name, value = plan.auth
        if name:
            headers[name] = value
        sent_betas = (h("anthropic-beta") or "").strip()
        if confirmed and sent_betas:  # a helper's list already is its credential's (CPA)
            oauth = oauth_betas and not helper
            betas = ident.with_oauth_betas(sent_betas, count=count) if oauth else sent_betas
        elif count:
            betas = ident.count_betas(oauth_betas)
        else:
            betas = ident.cli_betas(body, ident.requested_betas(sent_betas, extra), oauth_betas)
        listed = betas.split(",")
        if not anthropic:
            more = ([] if confirmed else sent_betas.split(",")) + extra
            listed.extend(b.strip() for b in more if b.strip() and b.strip() not in listed)
        headers["anthropic-beta"] = ",".join(dict.fromkeys(b for b in listed if b))
        # a confirmed client keeps the values it sent of the headers Claude Code owns
        for name, value in _OWNED:
            headers[name] = (h(name) or value) if confirmed else value
        if confirmed and h("x-stainless-async") == "async":
            headers["x-stainless-async"] = "async"
        if not count:
            headers["x-stainless-timeout"] = (
                (h("x-stainless-timeout") or p.timeout) if confirmed else p.timeout
            )
        elif confirmed and (timeout := h("x-stainless-timeout")):
            headers["x-stainless-timeout"] = timeout
        if session:
            headers["x-claude-code-session-id"] = session
        else:
            value = ident.key_session(cred.api_key or cred.id)
            headers["x-claude-code-session-id"] = (
                (h("x-claude-code-session-id") or value) if confirmed else value
            )
        for name in _CARRY:
            if carried := h(name):
                headers[name] = carried
        if anthropic or helper:  # helpers send one on every base URL
            value = str(uuid.uuid4())
            headers["x-client-request-id"] = (h("x-client-request-id") or value) if confirmed else value
        headers["connection"] = "keep-alive"
        headers["host"] = plan.host
        self._device_headers(headers, cred, incoming, h, confirmed)
        if plan.custom:
            apply_custom(headers, plan.custom, incoming)
        if helper:  # the helper's own negotiation (a minimal one offers gzip only)
            headers["accept"] = (h("accept") or "application/json") if confirmed else "application/json"
            sent = h("accept-encoding")
            headers["accept-encoding"] = sent if sent and _decodable(sent) else "gzip"
        elif stream and not anthropic:
            headers["accept"], headers["accept-encoding"] = "text/event-stream", "identity"
        else:
            encoding = _ANTHROPIC_ENCODING if anthropic else _ACCEPT_ENCODING
            headers["accept"], headers["accept-encoding"] = "application/json", encoding
        return wire_order(headers)

    def _device_headers(
        self,
        headers: dict[str, str],
        cred: Credential,
        incoming: Mapping[str, str],
        h: Callable[[str], str | None],
        confirmed: bool,
    ) -> None:
        p = self.profile
        if self.stabilize:  # claude-header-defaults.stabilize-device-profile
            soft = claude_device.resolve(cred.id, incoming, p, confirmed=confirmed)
            headers["x-stainless-runtime-version"] = soft.runtime_version
            headers["x-stainless-package-version"] = soft.package_version
            headers["x-stainless-os"], headers["x-stainless-arch"] = soft.os, soft.arch
            headers["user-agent"] = soft.user_agent
            return
        # the software versions are always the baseline's (CPA accepts a client's own only
        # when it equals the baseline); a confirmed client keeps its platform and User-Agent
        headers["x-stainless-runtime-version"] = p.runtime_version
        headers["x-stainless-package-version"] = p.package_version
        if confirmed:
            headers["x-stainless-os"] = h("x-stainless-os") or p.os
            headers["x-stainless-arch"] = h("x-stainless-arch") or p.arch
            ua = h("user-agent") or ""
            headers["user-agent"] = ua if ident.plausible_user_agent(ua, p) else p.user_agent
            return
        headers["x-stainless-os"] = p.os
        headers["x-stainless-arch"] = p.arch
        headers["user-agent"] = p.user_agent

    def estimates_count(self, cred: Credential) -> bool:
        """Counted locally unless on Anthropic's own API (:mod:`claude_count`, CPA)."""
        return claude_count.estimated(cred, self.default_base_url)

    def counts_locally_after(self, cred: Credential, status: int, body: bytes, model: str) -> bool:
        """A Claude API that is asked to count (the endpoint table's, when it points at a
        relay that is not Anthropic's origin; a gateway never is, :mod:`claude_count`)
        without ``/v1/messages/count_tokens``: the count is CPA's local estimate, and the
        404 cools nothing (a 12-hour model cooldown would block generation too). A 404
        whose body says the model does not exist is the upstream's answer (CPA's
        isCountTokensEndpointNotFoundError): it goes back to the client and the model is
        suspended as after any 404."""
        if status not in _NO_COUNT_ENDPOINT or anthropic_origin(self.base_url(cred)):
            return False
        return status != 404 or not says_model_not_found(body, model)

    def count_locally(
        self, body: dict[str, Any], model: str, cred: Credential | None = None
    ) -> tuple[str, list[str]]:
        """CPA's local Claude count: the o200k encoding over the request's text, once the
        request passed CPA's checks (``rebuild-mid-system-message`` applied first)."""
        if cred is not None and self._plan_for(cred).rebuild:
            cloaking.rebuild_mid_system(body)
        claude_count.check(body)
        return tokens.O200K, token_segments.claude_segments(body)

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        """Retry-After and the resets of the rejected unified windows, whichever is later
        (:func:`claude_limits.reset_after`; a Fable-only rejection waits Retry-After)."""
        return claude_limits.reset_after(headers)

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """The scope of an Anthropic error (CPA). A 429 that rejects a shared window
        exhausts the credential, fast request or not. Otherwise a fast-mode credits
        refusal, and any error a fast-mode request to Anthropic gets, belong to the request:
        to the client as they are, no cooldown, no other credential."""
        if body.startswith(decoding.MAGIC_FIRST):  # compressed, though no Content-Encoding said so (CPA)
            body = decoding.sniffed(body)
        err = super().classify(status, headers, body, credential_id)
        claude_limits.scope(err, status, headers, body)
        if not err.credential_scoped and over_input_budget(status, headers, body):
            err.oversized = True  # one request over the key's input tokens/minute (CPA cools)
        return err

    def owns_failure(self, err: UpstreamError) -> bool:
        """A fast-mode request to Anthropic owns its failures without an answer too (CPA:
        a transport or decode error of such a request is request-scoped)."""
        return claude_limits.fast_request()


def _decodable(encoding: str) -> bool:
    """Whether the upstream client can decode every coding of an ``Accept-Encoding``."""
    codings = {c.split(";")[0].strip().lower() for c in encoding.split(",") if c.strip()}
    plain = {"gzip", "deflate", "identity"}
    return codings <= plain or (codings <= plain | {"br", "zstd"} and ident.can_decode_br_zstd())


def _set_encoding(headers: dict[str, str], value: str, custom: bool) -> None:
    """``Accept-Encoding: value``, replacing a credential header of any spelling."""
    if custom:
        for name in [n for n in headers if n.lower() == "accept-encoding"]:
            del headers[name]
    headers["accept-encoding"] = value


def _forwarded_name(name: str) -> str:
    """The lower-case ``name`` when a caller-owned request forwards the header, else ""
    (remembered in :data:`_FORWARDED`)."""
    lower = name.lower()
    out = lower if lower in _PASS or lower.startswith(_PASS_PREFIXES) else ""
    if len(_FORWARDED) >= _NAMES:
        _FORWARDED.clear()
    _FORWARDED[name] = out
    return out


def _check_mid_system(body: Mapping[str, Any]) -> None:
    found = ident.legacy_mid_system_error(body)
    if found is not None:
        raise RequestError(found[0], param=f"messages.{found[1]}.role")


def _pop_betas(body: dict[str, Any]) -> list[str]:
    """A body ``betas`` field moves to the ``anthropic-beta`` header (CPA)."""
    raw = body.pop("betas", None)
    if raw is None:
        return []
    items = raw if isinstance(raw, list) else [raw]
    return [str(b).strip() for b in items if str(b).strip()]


def _no_default(model: str) -> int:
    return 0
