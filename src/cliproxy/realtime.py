"""The OpenAI Realtime service through Codex sign-ins (CPA ``internal/client/codex/live``):
what a Realtime request means, for the routes in ``cliproxy.server.realtime``.

The server reads the request (headers, query, a bounded body) and answers in OpenAI's
error shape; this module decides:

- a Realtime socket (:meth:`Realtime.open`): the model asked (``gpt-realtime`` when none)
  mapped to Codex's name for the credential pick and a client secret's scope; the client
  key's policy (``api-keys`` policies: disabled, expiry, model allowlist, limits, budget)
  admits the socket first and holds one in-flight slot of it while the socket is open; a Codex
  sign-in picked from the pool (never an API key, nor a plugin's account: CPA selects
  OAuth accounts only); the upstream socket dialled with the Realtime headers and the
  client's subprotocols (``cliproxy.providers.codex_realtime``), once more with a
  refreshed token after a 401; a refusal made CPA's error for it; a client secret's
  session applied first with a ``session.update``. The server then relays frames between
  the two sockets (``cliproxy.server.realtime_relay``).
- the usage (:class:`ResponseUsage`): each response the upstream generates on the socket
  is one request in the usage records (counters, ledger, usage queue, metrics), from its
  ``response.created`` to its ``response.done``, with the usage that event reports, which
  is charged to the key's policy too; so is each input audio transcription whose
  ``conversation.item.input_audio_transcription.completed`` reports a ``usage``. CPA
  records none for a Realtime session (its relay only copies frames) and has no key
  policies.
- a client secret (:meth:`Realtime.client_secret`, :meth:`Realtime.legacy_session`): the
  mint request's body read as CPA does, the secret minted in the state backend
  (``cliproxy.providers.codex_realtime_secrets``) on behalf of the caller's key, and the
  answer's body.
- a secret presented as a key (:meth:`Realtime.grant`, :meth:`Realtime.caller`): the
  session it stands for and the key it acts for, checked again with ``api-keys`` (a key
  removed since it minted the secret lets no one in) and that key's policy.

Every refusal is a :class:`RealtimeError` (status, message, CPA's ``type`` and ``code``,
response headers such as ``Retry-After``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType

from cliproxy.access import AccessError, HashCheckNeeded, Principal
from cliproxy.credentials.record import KIND_OAUTH
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError, RequestError, UpstreamError
from cliproxy.formats import Format
from cliproxy.formats.validate import check_depth
from cliproxy.policies.enforce import PolicyError, Ticket
from cliproxy.providers.codex_realtime import (
    DEFAULT_MODEL,
    RealtimeUpstream,
    Refused,
    UpstreamSocket,
    realtime_model,
    realtime_usage,
    response_event,
    session_update,
    transcription_usage,
    upstream_headers,
    upstream_protocols,
)
from cliproxy.providers.codex_realtime_secrets import (
    MAX_BODY,
    PREFIX,
    ClientSecrets,
    RealtimeError,
    SecretGrant,
    lifetime,
    normalize_session,
)
from cliproxy.providers.http import proxy_key
from cliproxy.requestid import new_request_id
from cliproxy.usage.timeline import API_TIMELINE, Timeline
from cliproxy.usage.trace import CLIENT_CLOSED

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.service import Service
    from cliproxy.usage.trace import RequestTrace

__all__ = [
    "MAX_BODY",
    "Opened",
    "Realtime",
    "RealtimeError",
    "ResponseUsage",
    "SecretGrant",
]

log = logging.getLogger(__name__)

_SOURCE = "realtime-client-secret"  # a Principal's source when an ek_ key stood in
OPEN_RESPONSES = 32  # responses of one socket timed at once (more are recorded at their end)


@dataclass(frozen=True, slots=True)
class Opened:
    """An upstream Realtime socket ready to relay: the model the client asked for, the
    name of the credential it goes through (for the log), the credential, the Codex
    model it serves the request as and the key policy's ticket (given back by
    :meth:`ResponseUsage.close`)."""

    socket: UpstreamSocket
    model: str
    through: str
    credential: Credential
    codex_model: str
    ticket: Ticket | None = None


class Realtime:
    """The Realtime side of ``service``: its client secrets (in the service's state
    backend) and the upstream dialler."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.secrets = ClientSecrets(service.state)
        self.upstream = RealtimeUpstream(service.http)

    # -- access

    async def grant(self, token: str) -> SecretGrant | None:
        """What a client secret presented as a key stands for; ``None`` when ``token`` is no
        ``ek_`` key; ``RealtimeError`` (401) for a secret that is unknown or expired."""
        if not token.startswith(PREFIX):
            return None
        return await self.secrets.check(token)

    async def caller(self, grant: SecretGrant) -> Principal:
        """The caller a client secret stands for: the key that minted it (CPA
        ``realtimeAuthMiddleware``), with its policy, as ``api-keys`` has it now;
        ``RealtimeError`` (401) when that key is no longer one."""
        issuer = grant.issuer
        access = self.service.access
        if issuer is None or not access.required:
            return Principal(issuer, _SOURCE)
        try:
            try:
                found = access.check({"Authorization": f"Bearer {issuer}"}, {})
            except HashCheckNeeded as needed:
                found = await access.verify(needed)
        except AccessError as exc:
            raise RealtimeError(
                401,
                "The key that minted this Realtime client secret is no longer valid",
                "invalid_request_error",
                "invalid_realtime_client_secret",
            ) from exc
        return Principal(issuer, _SOURCE, found.policy)

    # -- the WebSocket

    async def open(
        self,
        model: str,
        headers: Mapping[str, str],
        protocols: Iterable[str],
        grant: SecretGrant | None,
        policy: Any = None,
    ) -> Opened:
        """The upstream socket for a client that asked for ``model`` with ``headers`` and
        offered ``protocols`` (CPA ``HandleDirectWebsocket``), admitted by the client key's
        ``policy`` first; a client secret's session is applied on it first. The caller
        closes the socket and gives the ticket back."""
        requested = model.strip() or DEFAULT_MODEL
        codex_model = realtime_model(requested)
        if grant is not None and realtime_model(_session_model(grant.session)) != codex_model:
            raise RealtimeError(
                403,
                "Realtime client secret is not valid for the requested model",
                "invalid_request_error",
                "realtime_client_secret_scope_mismatch",
            )
        ticket = await self._admit(policy, requested) if policy is not None else None
        try:
            opened = await self._open(requested, codex_model, headers, protocols, grant)
        except BaseException:
            if ticket is not None:
                await ticket.release()
            raise
        if ticket is None:
            return opened
        return Opened(opened.socket, requested, opened.through, opened.credential, codex_model, ticket)

    async def _admit(self, policy: Any, model: str, action: str = "generate") -> Ticket | None:
        """The key policy's admission of a socket (one request, whatever its length); with
        ``action`` "count" only its standing checks (disabled, expiry, model allowlist)."""
        try:
            return await self.service.pipeline.enforcer.admit(policy, Format.RESPONSES, model, action)
        except PolicyError as exc:
            kind = "rate_limit_error" if exc.status == 429 else "permission_error"
            err = RealtimeError(exc.status, exc.message, kind, exc.code or "")
            err.response_headers = dict(exc.response_headers or {})
            raise err from exc

    async def _open(
        self,
        requested: str,
        codex_model: str,
        headers: Mapping[str, str],
        protocols: Iterable[str],
        grant: SecretGrant | None,
    ) -> Opened:
        cred = await self._pick(codex_model)
        socket = await self._dial(cred, requested, headers, upstream_protocols(protocols))
        if grant is not None:  # the secret's session first (CPA)
            try:
                await socket.send_frame(session_update(grant.session), WSMsgType.TEXT)
            except Exception as exc:
                await socket.close()
                raise RealtimeError(
                    502,
                    "Failed to apply Realtime client secret session",
                    "api_error",
                    "realtime_upstream_unavailable",
                ) from exc
            except BaseException:  # cancelled: the socket is not left open
                await socket.close()
                raise
        return Opened(socket, requested, cred.label or cred.id, cred, codex_model)

    async def _pick(self, model: str) -> Credential:
        """A Codex sign-in (never an API key: CPA selects OAuth accounts only)."""
        try:
            return await self.service.pool.pick(model, ["codex"], supports=_signed_in)
        except NoCredentialError as exc:
            raise RealtimeError(
                503, "Codex auth unavailable", "server_error", "codex_auth_unavailable"
            ) from exc
        except CooldownError as exc:
            err = RealtimeError(429, exc.message, "invalid_request_error", "realtime_request_failed")
            err.response_headers = {"Retry-After": str(max(1, int(exc.reset_seconds + 0.999)))}
            raise err from exc

    async def _dial(
        self, cred: Credential, requested: str, headers: Mapping[str, str], protocols: tuple[str, ...]
    ) -> UpstreamSocket:
        """The upstream socket; after a 401 once more with a refreshed token (CPA, with its
        home dispatch). A token that has expired (or is about to) is refreshed before the
        dial, as before a request (``credentials.presend``; CPA dials with it and meets the
        401). A refusal becomes CPA's error for it."""
        service = self.service
        url = self.upstream.url(requested)
        refresher = service.refresher
        refreshed = False
        if cred.metadata and refresher is not None and refresher.presend.stale(cred):
            refreshed = True  # one refresh per dial
            try:
                cred = await refresher.presend.renew(cred)
            except UpstreamError as exc:
                log.warning("realtime websocket: %s", exc.message)
                raise _unrefreshed(exc, cred) from exc
        timeline = API_TIMELINE.get()  # the socket's request log, when it is on
        while True:
            proxy = proxy_key(cred.proxy_url, service.config.proxy_url)
            sent = upstream_headers(headers, cred)
            if timeline is not None:
                timeline.upstream_request(url, sent, b"")
            opened = await self.upstream.dial(url, sent, protocols, proxy)
            if timeline is not None:
                _log_dial(timeline, opened)
            if not isinstance(opened, Refused):
                return opened
            if opened.status == 401 and not refreshed and refresher is not None and cred.refresh_token:
                refreshed = True
                try:
                    cred = await refresher.refresh_now(cred)
                    continue
                except CliproxyError as exc:
                    log.warning("token refresh of %s failed: %s", cred.label or cred.id, exc)
            log.info("realtime websocket: the upstream refused %s: %s", cred.label or cred.id, opened.reason)
            err = _refusal(opened)
            err.credential = cred
            raise err

    # -- client secrets

    async def client_secret(self, body: bytes, issuer: str | None, policy: Any = None) -> dict[str, Any]:
        """The answer to ``POST /v1/realtime/client_secrets`` with ``body`` (CPA
        ``CreateClientSecret``): ``{"session": ..., "expires_after": ...}``, both optional."""
        try:
            request = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            request = []  # not JSON: refused below
        if request is not None and not isinstance(request, dict):
            raise RealtimeError(
                400, "Invalid Realtime client secret request", "invalid_request_error", "invalid_request"
            )
        _check_depth(body, request)
        request = request or {}
        session, token, expires_at = await self._mint(
            request.get("session"), request.get("expires_after"), issuer, policy
        )
        return {"value": token, "expires_at": expires_at, "session": session}

    async def legacy_session(self, body: bytes, issuer: str | None, policy: Any = None) -> dict[str, Any]:
        """The answer to ``POST /v1/realtime/sessions``, whose ``body`` is the session (CPA
        ``CreateLegacySession``)."""
        try:
            session = orjson.loads(body) if body.strip() else None
        except orjson.JSONDecodeError:
            session = []  # not JSON: refused as a session that is no object
        _check_depth(body, session)
        answer, token, expires_at = await self._mint(session, None, issuer, policy)
        return {**answer, "client_secret": {"value": token, "expires_at": expires_at}}

    async def _mint(
        self, session: Any, expires_after: Any, issuer: str | None, policy: Any = None
    ) -> tuple[dict[str, Any], str, int]:
        """(the session as answered, the secret, its expiry) for a mint request; the
        minting key's ``policy`` must allow it now (a disabled or expired key, or one whose
        allowlist lacks the session's model, mints nothing: 403 as for the socket)."""
        seconds = lifetime(expires_after)
        answer, kept = normalize_session(session)
        if policy is not None:
            model = answer.get("model")
            await self._admit(policy, model if isinstance(model, str) and model else DEFAULT_MODEL, "count")
        minted = await self.secrets.mint(kept, seconds, issuer)
        answer.update(id=minted.grant.principal, object="realtime.session", expires_at=minted.expires_at)
        return answer, minted.token, minted.expires_at


class ResponseUsage:
    """The usage records of one relayed socket: each response the upstream generates is a
    request, timed from its ``response.created`` to its ``response.done`` (one that ends
    with no ``response.created`` seen, or past :data:`OPEN_RESPONSES` at once, is timed 0)
    and recorded with that event's usage through the socket's credential. A ``failed``
    response is a failed request (502, the upstream's message); ``cancelled`` and
    ``incomplete`` ones used tokens and are not. A response the socket closes before its
    ``response.done`` is a failed request: 499 when the client ended the socket, else 502.
    Each response's usage is charged to the key's policy (``ticket``), whose slot
    :meth:`close` gives back. An input audio transcription whose ``completed`` event
    reports a ``usage`` is a request of its own too, timed 0 (its start is not announced),
    charged and recorded with that usage (no tokens when billed by duration).

    ``begin`` opens a trace for the request (``None`` while nothing records)."""

    __slots__ = ("_begin", "_credential", "_model", "_open", "_ticket")

    def __init__(
        self,
        begin: Callable[[], RequestTrace | None],
        credential: Credential,
        model: str,
        ticket: Ticket | None = None,
    ) -> None:
        self._begin = begin
        self._credential = credential
        self._model = model
        self._ticket = ticket
        self._open: dict[str, RequestTrace] = {}

    def see(self, data: bytes) -> None:
        """An upstream text frame, once it is on its way to the client."""
        seen = response_event(data)
        if seen is None:
            transcribed = transcription_usage(data)
            if transcribed is not None:
                self._transcribed(transcribed, data)
            return
        done, response = seen
        rid = response.get("id")
        key = rid if isinstance(rid, str) else ""
        try:
            if not done:
                if key and key not in self._open and len(self._open) < OPEN_RESPONSES:
                    trace = self._trace()
                    if trace is not None:
                        self._open[key] = trace
                return
            usage = realtime_usage(response)
            ticket = self._ticket
            if ticket is not None and usage is not None:
                ticket.enforcer.charge(ticket.rule, ticket.limits, self._model, usage, release=False)
            trace = self._open.pop(key, None) or self._trace()
            if trace is not None:
                self._done(trace, response, usage, data)
        except Exception:  # the relay goes on whatever the records do
            log.exception("realtime websocket: the usage of response %s was not recorded", key)

    def _transcribed(self, usage: Any, data: bytes) -> None:
        try:
            ticket = self._ticket
            if ticket is not None:
                ticket.enforcer.charge(ticket.rule, ticket.limits, self._model, usage, release=False)
            trace = self._trace()
            if trace is not None:
                trace.usage = usage
                trace.respond(200, {}, data)
                trace.finish()
        except Exception:  # the relay goes on whatever the records do
            log.exception("realtime websocket: the usage of a transcription was not recorded")

    async def close(self, by_client: bool) -> None:
        """The socket ended: the responses still open end as failed requests, the key's
        slot is given back."""
        status, message = (
            (CLIENT_CLOSED, "the client closed the Realtime socket before response.done")
            if by_client
            else (502, "the Realtime socket closed before response.done")
        )
        traces, self._open = self._open, {}
        for trace in traces.values():
            trace.failed(status, message, {}, b"")
        if self._ticket is not None:
            await self._ticket.release()

    def _trace(self) -> RequestTrace | None:
        trace = self._begin()
        if trace is not None:
            if trace.session is None:  # (in a logged socket: the id of the socket's log, as CPA)
                trace.id = new_request_id()  # a record of its own (the socket's log lines keep theirs)
            trace.credential = self._credential
            trace.model = self._model
            trace.stream = True
        return trace

    def _done(self, trace: RequestTrace, response: dict[str, Any], usage: Any, data: bytes) -> None:
        trace.usage = usage
        if response.get("status") != "failed":
            trace.respond(200, {}, data)
            trace.finish()
            return
        details = response.get("status_details")
        error = details.get("error") if isinstance(details, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        trace.failed(502, message if isinstance(message, str) and message else "response failed", {}, data)


def _signed_in(cred: Credential, model: str) -> bool:
    return cred.kind == KIND_OAUTH and not (cred.attributes and cred.attributes.get("plugin"))


def _refusal(refused: Refused) -> RealtimeError:
    status = refused.status or 502
    if status in (404, 501):
        err = RealtimeError(
            501,
            "Direct Realtime WebSocket is not supported by the Codex OAuth upstream",
            "not_supported_error",
            "realtime_capability_not_supported",
        )
    elif status == 401:
        err = RealtimeError(
            401,
            "Codex Realtime WebSocket upstream unavailable",
            "authentication_error",
            "realtime_upstream_unauthorized",
        )
    else:
        err = RealtimeError(
            status,
            "Codex Realtime WebSocket upstream unavailable",
            "api_error",
            "realtime_websocket_upstream_unavailable",
        )
    err.response_headers = dict(refused.headers)
    return err


def _unrefreshed(exc: UpstreamError, cred: Credential) -> RealtimeError:
    """The error for a dial that did not go out: the expired token's refresh failed (CPA
    would have dialled with it and met the upstream's 401)."""
    if exc.status == 401:
        err = RealtimeError(401, exc.message, "authentication_error", "realtime_upstream_unauthorized")
    else:
        err = RealtimeError(exc.status, exc.message, "api_error", "realtime_websocket_upstream_unavailable")
    err.credential = cred
    return err


def _session_model(session: bytes) -> str:
    model = orjson.loads(session).get("model")
    return model if isinstance(model, str) else ""


def _log_dial(timeline: Timeline, opened: Any) -> None:
    """The upgrade's answer on the socket's request log (CPA ``RecordAPIWebsocketHandshake``,
    or ``RecordAPIWebsocketError`` "dial" when no answer came)."""
    if isinstance(opened, Refused):
        if opened.status:
            timeline.handshake(opened.status, opened.headers)
        else:
            timeline.error("dial", opened.reason)
        return
    response = getattr(opened, "_response", None)
    timeline.handshake(101, response.headers if response is not None else {})


def _check_depth(raw: bytes, value: Any) -> None:
    """A mint request nested deeper than the proxy can write back (it answers the session
    and keeps it with the secret): the client's 400, not a 500."""
    try:
        check_depth(raw, value)
    except RequestError as exc:
        raise RealtimeError(400, exc.message, "invalid_request_error", "invalid_request") from None
