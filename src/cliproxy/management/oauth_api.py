"""Sign-in from the management panel: ``GET /<provider>-auth-url``, ``GET /get-auth-status``,
``DELETE /oauth-session``, ``GET|POST /oauth-callback``, and the browser's landing on the
main server's ``/<provider>/callback`` (:func:`browser_callback`), with CPA's bodies.

``GET /anthropic-auth-url`` (``codex``, ``antigravity``) starts the provider's callback
flow and answers ``{"status":"ok","url","state"}``; with ``is_webui`` a forwarder on the
provider's registered callback port sends the browser on to this server's
``/<provider>/callback`` (CPA); without it, the callback arrives on that route (a
forwarded port) or as the pasted redirect URL in ``POST /oauth-callback``. ``kimi`` and
``xai`` are device flows: the answer adds ``"flow":"device"``, ``user_code`` and
``expires_in``, and the code is polled in the background. Either way a task owned by the
session store finishes the sign-in, writes the file through the single credential
writer (``credentials.login.core.save``: the account's file is replaced, the user's keys
in it kept) and reloads the pool, so the account serves the next request.
``get-auth-status`` then says ``wait``, ``ok`` or ``error`` with CPA's texts. With the
Redis state backend any process answers it, and a callback landing on another process
than the starter's is finished there (:mod:`cliproxy.management.oauth_sessions`).

An auth-provider plugin whose identifier is the provider wins, as before
(:mod:`cliproxy.management.plugin_login`); a callback for a plugin's login is written as
CPA's ``<auth-dir>/.oauth-<provider>-<state>.oauth`` file, which the plugin reads.
"""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import orjson
from yarl import URL

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.login.antigravity import AntigravityLogin
from cliproxy.credentials.login.base import AuthStart, LoginError, LoginFlow
from cliproxy.credentials.login.callback import PAGE_WAIT, CallbackFlow
from cliproxy.credentials.login.claude import ClaudeLogin
from cliproxy.credentials.login.codex import CodexLogin
from cliproxy.credentials.login.core import CallbackParams, save
from cliproxy.credentials.login.device import Polling
from cliproxy.credentials.login.kimi import KimiDeviceFlow
from cliproxy.credentials.login.xai import MAX_WAIT as XAI_MAX_WAIT
from cliproxy.credentials.login.xai import XAIDeviceFlow
from cliproxy.credentials.storage import write_atomic
from cliproxy.management import plugin_login
from cliproxy.management.oauth_sessions import ForwarderError, OAuthSession, OAuthSessions, valid_state
from cliproxy.management.ports import ManagementService
from cliproxy.management.types import ApiError, Handler, Req, Resp, Route, json_body

__all__ = ["CALLBACK_PROVIDERS", "PANEL_LOGINS", "ROUTES", "browser_callback", "plugin_auth_url"]

log = logging.getLogger(__name__)

FlowFactory = Callable[[ManagementService, Polling | None], LoginFlow]


@dataclass(frozen=True, slots=True)
class Login:
    """One built-in panel sign-in: how to build its flow, and CPA's error texts."""

    provider: str  # the credential provider the flow signs in to
    build: FlowFactory
    start_failed: str = "failed to generate authorization url"
    timeout: str = "Timeout waiting for OAuth callback"
    refused: str = "Bad request"  # the callback carries error=...
    no_code: str = "Bad request"
    exchange: str = "Failed to exchange authorization code for tokens"
    with_cause: bool = False  # exchange / device failures append ": <cause>"
    save_failed: str = "Failed to save authentication tokens"


def _proxy(service: ManagementService) -> str:
    return service.config.proxy_url or ""


def _device_polling(polling: Polling | None) -> dict[str, Any]:
    return {} if polling is None else {"polling": polling}


PANEL_LOGINS: Mapping[str, Login] = {
    "anthropic": Login("claude", lambda s, _p: ClaudeLogin(s.http, proxy=_proxy(s))),
    "codex": Login(
        "codex", lambda s, _p: CodexLogin(s.http, proxy=_proxy(s)), refused="Bad Request", with_cause=True
    ),
    "antigravity": Login(
        "antigravity",
        # the Antigravity Hub's version, as the proxy's requests report it (CPA's panel sign-in)
        lambda s, _p: AntigravityLogin(s.http, proxy=_proxy(s), version=s.antigravity_version),
        timeout="OAuth flow timed out",
        refused="Authentication failed",
        no_code="Authentication failed: code not found",
        exchange="Failed to exchange token",
        save_failed="Failed to save token to file",
    ),
    "kimi": Login(
        "kimi",
        lambda s, p: KimiDeviceFlow(s.http, proxy=_proxy(s), **_device_polling(p)),
        exchange="Authentication failed",
        with_cause=True,
    ),
    "xai": Login(
        "xai",
        lambda s, p: XAIDeviceFlow(s.http, proxy=_proxy(s), **_device_polling(p)),
        start_failed="failed to start device authorization flow",
        exchange="Authentication failed",
        with_cause=True,
        save_failed="Failed to save token to file",
    ),
}
CALLBACK_PROVIDERS = ("anthropic", "codex", "antigravity")
_ALIASES = {
    "anthropic": "anthropic",
    "claude": "anthropic",
    "codex": "codex",
    "openai": "codex",
    "antigravity": "antigravity",
    "anti-gravity": "antigravity",
    "xai": "xai",
    "x-ai": "xai",
    "x.ai": "xai",
    "grok": "xai",
}


def _store(req: Req) -> OAuthSessions:
    store = req.logins.oauth
    store.attach(req.service.pool.state)
    return store


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "on")


def _server_url(req: Req, path: str) -> str:
    """This server as the panel reached it (its ``Host``), else ``127.0.0.1:<port>``."""
    config = req.service.config
    scheme = "https" if config.tls.enable else "http"
    host = req.headers.get("Host", "").strip() or f"127.0.0.1:{config.port}"
    return f"{scheme}://{host}{path}"


# -- starting a sign-in ------------------------------------------------------------------


def _auth_url(name: str) -> Handler:
    login = PANEL_LOGINS[name]

    async def handler(req: Req) -> Resp:
        owned = await plugin_login.start(
            req.service, req.logins, name, _server_url(req, "/v0/management/oauth-callback")
        )
        if owned is not None:  # an auth-provider plugin owns this login
            return owned
        store = _store(req)
        flow = login.build(req.service, store.polling)
        if flow.flow == "device":
            return await _start_device(req, name, login, flow, store)
        return await _start_callback(req, name, login, flow, store)

    return handler


async def _start_callback(req: Req, name: str, login: Login, flow: LoginFlow, store: OAuthSessions) -> Resp:
    default_port = int(endpoints.CLIENTS[login.provider]["port"])
    redirect = cast(CallbackFlow, flow).redirect_uri_for(default_port)
    try:
        started = await flow.start(redirect_uri=redirect)
    except LoginError as exc:
        log.error("%s sign-in could not start: %s", name, exc.message)
        raise ApiError(500, login.start_failed) from None
    forwarder = None
    if _truthy(req.query.get("is_webui", "")):
        port = store.callback_ports.get(name, default_port)
        target = _server_url(req, f"/{name}/callback")
        try:
            forwarder = await store.hold_forwarder(name, req.service.config.host, port, target)
        except ForwarderError as exc:
            log.error("%s callback forwarder could not start: %s", name, exc.message)
            raise ApiError(500, f"failed to start callback server: {exc.message}") from None
    session = await store.open(started.state, name, callback=True, started=started)
    session.task = asyncio.create_task(
        _finish_callback(req.service, store, started, session, flow, login, forwarder),
        name=f"cliproxy-login-{name}",
    )
    return Resp(200, {"status": "ok", "url": started.url, "state": started.state})


async def _start_device(req: Req, name: str, login: Login, flow: LoginFlow, store: OAuthSessions) -> Resp:
    try:
        started = await flow.start()
    except LoginError as exc:
        log.error("%s device sign-in could not start: %s", name, exc.message)
        raise ApiError(500, login.start_failed) from None
    session = await store.open(started.state, name, callback=False)
    session.task = asyncio.create_task(
        _finish_device(req.service, store, started, session, flow, login), name=f"cliproxy-login-{name}"
    )
    body: dict[str, Any] = {"status": "ok", "url": started.url, "state": started.state, "flow": "device"}
    if started.user_code:
        body["user_code"] = started.user_code
    if started.expires_in > 0:
        body["expires_in"] = int(started.expires_in)
    elif name == "xai":
        body["expires_in"] = int(XAI_MAX_WAIT)
    return Resp(200, body)


# -- finishing it in the background ---------------------------------------------------------


async def _finish_callback(
    service: ManagementService,
    store: OAuthSessions,
    started: AuthStart,
    session: OAuthSession,
    flow: LoginFlow,
    login: Login,
    forwarder: Any,
) -> None:
    state = started.state
    try:
        assert session.answer is not None
        try:
            async with asyncio.timeout(store.callback_timeout):
                params = await session.answer
        except TimeoutError:
            await store.end(state, session, login.timeout)
            return
        await _answered(service, store, started, session, flow, login, params)
    except asyncio.CancelledError:
        raise
    except Exception:  # a background task: a bug must still end the sign-in visibly
        log.exception("%s sign-in failed", login.provider)
        await store.end(state, session, "Authentication failed")
    finally:
        if forwarder is not None:
            await store.release_forwarder(session.provider, forwarder)


async def _answered(
    service: ManagementService,
    store: OAuthSessions,
    started: AuthStart,
    session: OAuthSession,
    flow: LoginFlow,
    login: Login,
    params: CallbackParams,
) -> None:
    state = started.state
    if params.error:
        log.warning("%s sign-in refused by the provider: %s", login.provider, params.error[:100])
        await store.end(state, session, login.refused)
        return
    code = params.code.strip()
    if not code.partition("#")[0]:
        await store.end(state, session, login.no_code)
        return
    await _finish(service, store, state, session, login, flow.finish(started, code=code, state=state))


async def _finish_claimed(
    service: ManagementService,
    store: OAuthSessions,
    name: str,
    started: AuthStart,
    session: OAuthSession,
    params: CallbackParams,
) -> None:
    """Finish here a shared sign-in another process started, whose answer we claimed."""
    login = PANEL_LOGINS[name]
    try:
        flow = login.build(service, store.polling)
        await _answered(service, store, started, session, flow, login, params)
    except asyncio.CancelledError:
        raise
    except Exception:  # a background task: a bug must still end the sign-in visibly
        log.exception("%s sign-in failed", login.provider)
        await store.end(started.state, session, "Authentication failed")


async def _deliver(
    service: ManagementService | None, store: OAuthSessions, name: str, params: CallbackParams
) -> OAuthSession | None:
    """Give the callback's answer to its sign-in; the session that finishes it here, if any."""
    taken = await store.take(params.state, params)
    if not isinstance(taken, AuthStart):
        return taken
    session = store.adopt(params.state, name)
    if service is None:  # no service to finish it with (not reached by the routes)
        await store.end(params.state, session, "Authentication failed")
        return session
    session.task = asyncio.create_task(
        _finish_claimed(service, store, name, taken, session, params), name=f"cliproxy-login-{name}"
    )
    return session


async def _finish_device(
    service: ManagementService,
    store: OAuthSessions,
    started: AuthStart,
    session: OAuthSession,
    flow: LoginFlow,
    login: Login,
) -> None:
    try:
        await _finish(service, store, started.state, session, login, flow.finish(started))
    except asyncio.CancelledError:
        raise
    except Exception:  # a background task: a bug must still end the sign-in visibly
        log.exception("%s sign-in failed", login.provider)
        await store.end(started.state, session, "Authentication failed")


async def _finish(
    service: ManagementService,
    store: OAuthSessions,
    state: str,
    session: OAuthSession,
    login: Login,
    finishing: Any,
) -> None:
    """Await the flow's ``finish``, then save and load the credential, unless the
    session was cancelled meanwhile."""
    try:
        name, record = await finishing
    except LoginError as exc:
        log.warning("%s sign-in failed: %s", login.provider, exc.message)
        if store.is_pending(state, session):
            message = f"{login.exchange}: {exc.message}" if login.with_cause else login.exchange
            await store.end(state, session, message)
        return
    if not await store.still_pending(state, session):  # cancelled (or expired) while we waited
        return
    try:
        saved = await asyncio.to_thread(_save, service.auth_dir, name, record)
    except (OSError, LoginError) as exc:
        log.error("%s sign-in could not be saved: %s", login.provider, exc)
        await store.end(state, session, login.save_failed)
        return
    await service.reload_auth_files()
    await store.end(state, session)
    log.info("%s sign-in from the management panel saved to %s", login.provider, saved.name)


def _save(auth_dir: Path, name: str, record: dict[str, Any]) -> Path:
    auth_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return save(auth_dir, name, record).path


# -- session status and cancel ----------------------------------------------------------------


async def get_auth_status(req: Req) -> Resp:
    state = req.query.get("state", "").strip()
    if not state:
        return Resp(200, {"status": "ok"})
    session = await _store(req).view(state)
    if session is not None:
        if session.completed:
            return Resp(200, {"status": "ok"})
        if session.status:
            return Resp(200, {"status": "error", "error": session.status})
        return Resp(200, {"status": "wait"})
    polled = await plugin_login.poll(req.service, req.logins, state)
    if polled is not None:
        return polled
    if not valid_state(state):
        return Resp(400, {"status": "error", "error": "invalid state"})
    return Resp(200, {"status": "error", "error": "unknown or expired state"})


async def cancel_oauth_session(req: Req) -> Resp:
    state = req.query.get("state", "").strip()
    if not state:
        return Resp(400, {"status": "error", "error": "missing state"})
    if not valid_state(state):
        return Resp(400, {"status": "error", "error": "invalid state"})
    cancelled = await _store(req).cancel_any(state)
    if not cancelled and (plugin := req.logins.get(state)) is not None and plugin.pending:
        req.logins.pop(state)
        cancelled = True
    return Resp(200, {"status": "ok", "cancelled": cancelled})


# -- callbacks ------------------------------------------------------------------------------


async def get_oauth_callback(req: Req) -> Resp:
    q = req.query
    error = q.get("error", "").strip() or q.get("error_description", "").strip()
    return await _callback(req, q.get("provider", ""), q.get("state", ""), q.get("code", ""), error)


async def post_oauth_callback(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError:
        body = None
    if not isinstance(body, dict):
        return Resp(400, {"status": "error", "error": "invalid body"})
    provider, state, code, error = (_field(body, k) for k in ("provider", "state", "code", "error"))
    redirect = _field(body, "redirect_url")
    if redirect:
        try:
            query = URL(redirect).query
        except ValueError:
            return Resp(400, {"status": "error", "error": "invalid redirect_url"})
        state = state or query.get("state", "").strip()
        code = code or query.get("code", "").strip()
        error = error or query.get("error", "").strip() or query.get("error_description", "").strip()
    return await _callback(req, provider, state, code, error)


def _field(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    return value.strip() if isinstance(value, str) else ""


def _error(status: int, message: str) -> Resp:
    return Resp(status, {"status": "error", "error": message})


async def _callback(req: Req, provider: str, state: str, code: str, error: str) -> Resp:
    state, code, error, provider = state.strip(), code.strip(), error.strip(), provider.strip().lower()
    if not state:
        return _error(400, "state is required")
    if not valid_state(state):
        return _error(400, "invalid state")
    if not code and not error:
        return _error(400, "code or error is required")
    store = _store(req)
    session = await store.view(state)
    if session is not None:
        if session.completed:
            return _error(409, "oauth flow is already completed")
        canonical = _ALIASES.get(provider or session.provider)
        if canonical is None:
            return _error(400, "unsupported provider")
        if session.status:
            return _error(409, session.status)
        if canonical != session.provider:
            return _error(400, "provider does not match state")
        await _deliver(req.service, store, canonical, CallbackParams(code=code, state=state, error=error))
        return Resp(200, {"status": "ok"})
    plugin = req.logins.get(state)
    if plugin is None:
        return _error(404, "unknown or expired state")
    if plugin.completed:
        return _error(409, "oauth flow is already completed")
    name = (provider or plugin.provider).lower()
    if not name or any(not (c.isascii() and (c.isalnum() or c == "-")) for c in name):
        return _error(400, "unsupported provider")
    if plugin.status:
        return _error(409, plugin.status)
    if name != plugin.provider.lower():
        return _error(400, "provider does not match state")
    try:
        await asyncio.to_thread(_write_callback_file, req.service.auth_dir, name, state, code, error)
    except OSError as exc:
        log.error("could not persist the oauth callback: %s", exc)
        return _error(500, "failed to persist oauth callback")
    return Resp(200, {"status": "ok"})


def _write_callback_file(auth_dir: Path, provider: str, state: str, code: str, error: str) -> None:
    """CPA's hand-off to a plugin's login: ``.oauth-<provider>-<state>.oauth`` (0600)."""
    payload = orjson.dumps({"code": code, "state": state, "error": error})
    auth_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(auth_dir / f".oauth-{provider}-{state}.oauth", payload)


async def plugin_auth_url(req: Req) -> Resp:
    """``/<provider>-auth-url`` for providers only a plugin knows."""
    provider = req.params["provider"]
    base = _server_url(req, "/v0/management/oauth-callback")
    resp = await plugin_login.start(req.service, req.logins, provider, base)
    if resp is None:
        raise ApiError(404, f"no login for provider {provider!r}")
    return resp


# -- the browser landing on /<provider>/callback ---------------------------------------------

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem}}</style>
</head><body><h1>{title}</h1><p>{message}</p></body></html>
"""


def _page(status: int, title: str, message: str) -> tuple[int, str]:
    return status, _PAGE.format(title=html.escape(title), message=html.escape(message))


async def browser_callback(
    store: OAuthSessions, name: str, query: Mapping[str, str], service: ManagementService | None = None
) -> tuple[int, str]:
    """Deliver ``/<name>/callback?code&state`` (or ``error``) to the sign-in waiting for it
    and wait (at most :data:`PAGE_WAIT` seconds) for its outcome: ``(status, HTML page)``.
    With ``service`` (its state backend shared) a sign-in another process started is
    finished here."""
    if service is not None:
        store.attach(service.pool.state)
    params = CallbackParams.from_query(query)
    error = params.error or params.error_description
    view = await store.view(params.state) if params.state and valid_state(params.state) else None
    if view is None or view.provider != name or not view.pending:
        return _page(400, "Sign-in not found", "This sign-in is unknown, expired or already finished.")
    if not params.code and not error:
        return _page(400, "Sign-in failed", "The callback carries no authorization code.")
    answer = CallbackParams(code=params.code, state=params.state, error=error)
    session = await _deliver(service, store, name, answer) or store.get(params.state)
    if session is None:  # another process took the answer first
        return _page(200, "Authorization received", "Return to the management panel to see the outcome.")
    try:
        async with asyncio.timeout(PAGE_WAIT):  # not wait_for: it may swallow a cancel (3.11)
            await session.done.wait()
    except TimeoutError:
        return _page(200, "Authorization received", "Return to the management panel to see the outcome.")
    if session.completed:
        return _page(200, "Authentication successful", "You can close this window.")
    return _page(400, "Sign-in failed", session.status or "The sign-in did not complete.")


ROUTES: list[Route] = [
    *(Route("GET", f"/{name}-auth-url", _auth_url(name)) for name in PANEL_LOGINS),
    Route("GET", "/get-auth-status", get_auth_status),
    Route("DELETE", "/oauth-session", cancel_oauth_session),
    Route("GET", "/oauth-callback", get_oauth_callback),
    Route("POST", "/oauth-callback", post_oauth_callback),
]
