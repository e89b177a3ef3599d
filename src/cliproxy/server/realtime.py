"""The OpenAI Realtime routes, served through Codex sign-ins (CPA
``internal/client/codex/live``): the HTTP and WebSocket side only. What goes upstream is
``cliproxy.providers.codex_realtime``; the client secrets are
``cliproxy.providers.codex_realtime_secrets``.

- ``GET /v1/realtime`` (a WebSocket): relayed to OpenAI's Realtime socket with a Codex
  account's token (``realtime_relay``). A plain GET answers 426 with ``Upgrade: websocket``.
- ``POST /v1/realtime/client_secrets`` and ``POST /v1/realtime/sessions``: mint an ``ek_``
  secret scoped to one session and model; ``Authorization: Bearer ek_...`` then opens the
  WebSocket (and the other routes CPA takes one on) without a client key.
- WebRTC calls are not relayed: ``POST /v1/realtime``, ``/v1/realtime/calls`` and
  ``/v1/live`` answer 503, and since no call is ever made here, joining one (``GET
  /v1/realtime/calls/{id}``, ``/v1/live/{id}``, ``/v1/realtime?call_id=``) answers 404 and
  hanging one up 404. Transcription-only sessions, translations and SIP control answer 501,
  as CPA does: the Codex upstream has no such capability.

Errors are OpenAI's shape with CPA's ``type`` and ``code`` (``param`` null). Access is the
middleware's (client keys; :func:`client_secret_principal` for an ``ek_`` key).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from cliproxy.access import Principal
from cliproxy.credentials.record import KIND_OAUTH
from cliproxy.errors import CliproxyError, CooldownError, NoCredentialError
from cliproxy.providers.codex_realtime import (
    DEFAULT_MODEL,
    RealtimeUpstream,
    Refused,
    UpstreamSocket,
    realtime_model,
    session_update,
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
from cliproxy.server.context import PRINCIPAL_KEY, SERVICE
from cliproxy.server.realtime_relay import relay
from cliproxy.server.ws import HEARTBEAT, OPEN

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.service import Service

__all__ = ["SECRETS", "client_secret_principal", "install", "realtime_handlers"]

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SECRETS: web.AppKey[ClientSecrets] = web.AppKey("realtime_secrets", ClientSecrets)
UPSTREAM: web.AppKey[RealtimeUpstream] = web.AppKey("realtime_upstream", RealtimeUpstream)
GRANT: web.RequestKey[SecretGrant] = web.RequestKey("realtime_grant", SecretGrant)

_CALL_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_REALTIME = "/v1/realtime"
_CLOSE_TIMEOUT = 5.0  # seconds for a client's close reply


def install(app: web.Application, service: Service) -> None:
    """The app's secret store (in the service's state backend) and upstream dialler."""
    app[SECRETS] = ClientSecrets(service.state)
    app[UPSTREAM] = RealtimeUpstream(service.http)


def realtime_handlers() -> dict[tuple[str, str], Handler]:
    """The Realtime and Live routes of ``cliproxy.server.routes.NOT_BUILT``, served."""
    unsupported = {
        ("POST", "/v1/realtime/transcription_sessions"): "Realtime transcription-only sessions",
        ("GET", "/v1/realtime/translations"): "Realtime translation sessions",
        ("POST", "/v1/realtime/translations"): "Realtime translation sessions",
        ("POST", "/v1/realtime/translations/client_secrets"): "Realtime translation sessions",
    }
    handlers: dict[tuple[str, str], Handler] = {
        ("GET", _REALTIME): realtime_websocket,
        ("POST", "/v1/realtime/client_secrets"): create_client_secret,
        ("POST", "/v1/realtime/sessions"): create_legacy_session,
        ("POST", "/v1/realtime/calls/{call_id}/hangup"): hangup,
        ("POST", "/v1/realtime/calls/{call_id}/{action:accept|reject|refer}"): sip_control,
        ("GET", "/v1/realtime/calls/{call_id}"): sideband,
        ("GET", "/v1/live/{call_id}"): sideband,
    }
    for route in (("POST", _REALTIME), ("POST", "/v1/realtime/calls"), ("POST", "/v1/live")):
        handlers[route] = call_unavailable
    for route, capability in unsupported.items():
        handlers[route] = _not_supported(capability)
    return handlers


# -- access


async def client_secret_principal(request: web.Request) -> Principal | None:
    """The caller of a route that takes a Realtime client secret, when it came with one
    (CPA ``realtimeAuthMiddleware``): on behalf of the key that minted it. ``None`` when
    the request carries no ``ek_`` key or the route takes none; ``RealtimeError`` (401)
    for a secret that is unknown or expired."""
    if not _takes_secret(request.method, request.path):
        return None
    token = _bearer(request.headers)
    if not token.startswith(PREFIX):
        return None
    secrets = request.config_dict.get(SECRETS)
    if secrets is None:
        return None
    grant = request[GRANT] = await secrets.check(token)
    return Principal(grant.issuer, "realtime-client-secret")


def _takes_secret(method: str, path: str) -> bool:
    if path in (_REALTIME, "/v1/realtime/translations"):
        return method in ("GET", "POST")
    if path == "/v1/realtime/calls":
        return method == "POST"
    rest = path.removeprefix("/v1/realtime/calls/")
    return method == "GET" and rest != path and "/" not in rest


def _bearer(headers: Mapping[str, str]) -> str:
    value = headers.get("Authorization", "").strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else ""


# -- the WebSocket


async def realtime_websocket(request: web.Request) -> web.StreamResponse:
    """``GET /v1/realtime``: a call's sideband with ``?call_id=``, else the direct relay
    (CPA ``HandleRealtimeWebsocket`` / ``HandleDirectWebsocket``)."""
    if request.query.get("call_id", "").strip():
        return await sideband(request)
    if not web.WebSocketResponse().can_prepare(request).ok:
        resp = _error(
            426, "WebSocket upgrade required", "invalid_request_error", "websocket_upgrade_required"
        )
        resp.headers["Upgrade"] = "websocket"
        return resp
    try:
        return await _direct(request)
    except RealtimeError as exc:
        return _error_of(exc)


async def _direct(request: web.Request) -> web.StreamResponse:
    service = request.app[SERVICE]
    requested = request.query.get("model", "").strip() or DEFAULT_MODEL
    model = realtime_model(requested)
    grant = request.get(GRANT)
    if grant is not None and realtime_model(_session_model(grant.session)) != model:
        raise RealtimeError(
            403,
            "Realtime client secret is not valid for the requested model",
            "invalid_request_error",
            "realtime_client_secret_scope_mismatch",
        )
    cred = await _pick(service, model)
    upstream = await _dial(request, service, cred, requested)
    try:
        if grant is not None:  # the secret's session first (CPA)
            try:
                await upstream.send_frame(session_update(grant.session), WSMsgType.TEXT)
            except Exception as exc:
                raise RealtimeError(
                    502,
                    "Failed to apply Realtime client secret session",
                    "api_error",
                    "realtime_upstream_unavailable",
                ) from exc
        client = web.WebSocketResponse(
            heartbeat=HEARTBEAT,
            timeout=_CLOSE_TIMEOUT,
            autoclose=False,  # the relay answers a close with the other side's code
            compress=False,
            max_msg_size=service.config.limits.max_body_bytes,
            protocols=(upstream.protocol,) if upstream.protocol else (),  # the upstream's choice
            decode_text=False,
        )
        await client.prepare(request)
    except BaseException:
        await upstream.close()
        raise
    sockets = request.app.get(OPEN)
    if sockets is not None:  # closed with 1001 on shutdown (cliproxy.server.ws)
        sockets.add(client)
    name = cred.label or cred.id
    log.info("realtime websocket: %s relayed through %s", requested, name)
    idle = service.config.timeouts.seconds("client_websocket_idle")
    code, reason = await relay(client, upstream, idle)
    log.info("realtime websocket through %s closed: %s %s", name, code, reason)
    return client


async def _pick(service: Service, model: str) -> Credential:
    """A Codex sign-in (never an API key: CPA selects OAuth accounts only)."""
    try:
        return await service.pool.pick(model, ["codex"], supports=_signed_in)
    except NoCredentialError as exc:
        raise RealtimeError(503, "Codex auth unavailable", "server_error", "codex_auth_unavailable") from exc
    except CooldownError as exc:
        err = RealtimeError(429, exc.message, "invalid_request_error", "realtime_request_failed")
        err.response_headers = {"Retry-After": str(max(1, int(exc.reset_seconds + 0.999)))}
        raise err from exc


def _signed_in(cred: Credential, model: str) -> bool:
    return cred.kind == KIND_OAUTH and not (cred.attributes and cred.attributes.get("plugin"))


async def _dial(request: web.Request, service: Service, cred: Credential, requested: str) -> UpstreamSocket:
    """The upstream socket; after a 401 once more with a refreshed token (CPA, with its
    home dispatch). A refusal becomes CPA's error for it."""
    dialler = request.app[UPSTREAM]
    url = dialler.url(requested)
    offered = request.headers.getall("Sec-WebSocket-Protocol", ())
    protocols = upstream_protocols(p.strip() for value in offered for p in value.split(","))
    refreshed = False
    while True:
        proxy = proxy_key(cred.proxy_url, service.config.proxy_url)
        opened = await dialler.dial(url, upstream_headers(request.headers, cred), protocols, proxy)
        if not isinstance(opened, Refused):
            return opened
        if opened.status == 401 and not refreshed and service.refresher is not None and cred.refresh_token:
            refreshed = True
            try:
                cred = await service.refresher.refresh_now(cred)
                continue
            except CliproxyError as exc:
                log.warning("token refresh of %s failed: %s", cred.label or cred.id, exc)
        log.info("realtime websocket: the upstream refused %s: %s", cred.label or cred.id, opened.reason)
        raise _refusal(opened)


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


def _session_model(session: bytes) -> str:
    model = orjson.loads(session).get("model")
    return model if isinstance(model, str) else ""


# -- client secrets


async def create_client_secret(request: web.Request) -> web.Response:
    """``POST /v1/realtime/client_secrets`` (CPA ``CreateClientSecret``)."""
    try:
        raw = await _mint_body(request)
        try:
            body = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            body = []  # not JSON: refused below
        if body is not None and not isinstance(body, dict):
            raise RealtimeError(
                400, "Invalid Realtime client secret request", "invalid_request_error", "invalid_request"
            )
        body = body or {}
        minted = await _mint(request, body.get("session"), body.get("expires_after"))
    except RealtimeError as exc:
        return _error_of(exc)
    session, token, expires_at = minted
    return _json({"value": token, "expires_at": expires_at, "session": session})


async def create_legacy_session(request: web.Request) -> web.Response:
    """``POST /v1/realtime/sessions``: the body is the session (CPA ``CreateLegacySession``)."""
    try:
        raw = await _mint_body(request)
        try:
            session = orjson.loads(raw) if raw.strip() else None
        except orjson.JSONDecodeError:
            session = []  # not JSON: refused as a session that is no object
        minted = await _mint(request, session, None)
    except RealtimeError as exc:
        return _error_of(exc)
    answer, token, expires_at = minted
    return _json({**answer, "client_secret": {"value": token, "expires_at": expires_at}})


async def _mint_body(request: web.Request) -> bytes:
    if (request.content_length or 0) > MAX_BODY:
        raise RealtimeError(
            413, "Codex live request body too large", "invalid_request_error", "invalid_request"
        )
    raw = await request.read()
    if len(raw) > MAX_BODY:
        raise RealtimeError(
            413, "Codex live request body too large", "invalid_request_error", "invalid_request"
        )
    return raw


async def _mint(request: web.Request, session: Any, expires_after: Any) -> tuple[dict[str, Any], str, int]:
    """(the session as answered, the secret, its expiry) for a mint request."""
    seconds = lifetime(expires_after)
    answer, kept = normalize_session(session)
    principal = request.get(PRINCIPAL_KEY)
    issuer = principal.key if principal is not None else None
    minted = await request.app[SECRETS].mint(kept, seconds, issuer)
    answer.update(id=minted.grant.principal, object="realtime.session", expires_at=minted.expires_at)
    return answer, minted.token, minted.expires_at


# -- what is not served


async def call_unavailable(request: web.Request) -> web.Response:
    """A WebRTC call: no media relay here (``codex.live-media-relay`` is not effective)."""
    return _error(
        503,
        "Realtime WebRTC calls are not available in cliproxy (no media relay); "
        "use the Realtime WebSocket, GET /v1/realtime",
        "api_error",
        "realtime_request_failed",
    )


async def sideband(request: web.Request) -> web.StreamResponse:
    """Joining a call's sideband (CPA ``HandleSideband``): no call is ever made here."""
    ws = web.WebSocketResponse()
    if not ws.can_prepare(request).ok:
        resp = _error(426, "WebSocket upgrade required", "invalid_request_error", "realtime_request_failed")
        resp.headers["Upgrade"] = "websocket"
        return resp
    call_id = request.match_info.get("call_id", "").strip() or request.query.get("call_id", "").strip()
    if not _CALL_ID.fullmatch(call_id):
        return _error(400, "Invalid Codex live call ID", "invalid_request_error", "realtime_request_failed")
    return _error(404, "Codex live session not found", "invalid_request_error", "realtime_request_failed")


async def hangup(request: web.Request) -> web.Response:
    """CPA ``HandleHangup``: only a call made here may be hung up, and none is."""
    if not _CALL_ID.fullmatch(request.match_info.get("call_id", "").strip()):
        return _error(400, "Invalid Realtime call ID", "invalid_request_error", "invalid_call_id")
    return _error(404, "Realtime call not found", "invalid_request_error", "realtime_call_not_found")


async def sip_control(request: web.Request) -> web.Response:
    return _unsupported(f"Realtime SIP {request.match_info.get('action', 'control')}")


def _not_supported(capability: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return _unsupported(capability)

    return handler


def _unsupported(capability: str) -> web.Response:
    return _error(
        501,
        f"{capability} are not supported by the ChatGPT/Codex OAuth upstream",
        "not_supported_error",
        "realtime_capability_not_supported",
    )


# -- answers


def _json(body: dict[str, Any]) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), content_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _error(
    status: int, message: str, kind: str, code: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.Response(
        status=status, body=orjson.dumps(body), content_type="application/json", headers=dict(headers or {})
    )


def _error_of(exc: RealtimeError) -> web.Response:
    return _error(
        exc.status, exc.message, exc.error_type or "api_error", exc.code or "", exc.response_headers
    )
