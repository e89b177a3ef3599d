"""Operations: reset-quota, api-call, and the OAuth login endpoints the panel calls.

cliproxy has no web login flows yet: ``GET /<provider>-auth-url`` answers 501 saying so.
No OAuth session can therefore exist, and the session endpoints answer as CPA does for
an unknown state (``get-auth-status``, ``oauth-session``, ``oauth-callback``).
"""

from __future__ import annotations

import re

from yarl import URL

from cliproxy.management import plugin_login
from cliproxy.management.api import ApiError, Handler, Req, Resp, Route, json_body
from cliproxy.management.ops_apicall import api_call

__all__ = ["ROUTES"]

_STATE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_LOGINS = {
    "anthropic": "Claude",
    "codex": "Codex",
    "antigravity": "Antigravity",
    "kimi": "Kimi",
    "xai": "xAI",
}


async def reset_quota(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError as exc:
        raise ApiError(400, "invalid request body") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid request body")
    index = body.get("auth_index")
    index = index.strip() if isinstance(index, str) else ""
    if not index:
        raise ApiError(400, "auth_index is required")
    pool = req.service.pool
    cred = next((c for c in pool.credentials() if c.index == index), None)
    if cred is None:
        raise ApiError(404, "auth not found")
    models = sorted({r.model for r in await pool.state.credential_cooldowns(cred.id) if r.model})
    await pool.reset_quota(cred.id)
    return Resp(200, {"status": "ok", "auth_index": cred.index, "models": models})


async def post_api_call(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError as exc:
        raise ApiError(400, "invalid body") from exc
    return Resp(200, await api_call(req.service, body))


def _login(provider: str) -> Handler:
    name = _LOGINS[provider]

    async def handler(req: Req) -> Resp:
        resp = await plugin_login.start(req.service, provider, _callback_base(req))
        if resp is not None:  # an auth-provider plugin owns this login
            return resp
        raise ApiError(501, f"{name} login is not implemented in cliproxy yet")

    return handler


def _state_error(state: str) -> Resp | None:
    if not _STATE.match(state) or ".." in state:
        return Resp(400, {"status": "error", "error": "invalid state"})
    return None


def _callback_base(req: Req) -> str:
    host = req.headers.get("Host", "127.0.0.1")
    return f"http://{host}/v0/management/oauth-callback"


async def plugin_auth_url(req: Req) -> Resp:
    """``/<provider>-auth-url`` for providers only a plugin knows."""
    provider = req.params["provider"]
    resp = await plugin_login.start(req.service, provider, _callback_base(req))
    if resp is None:
        raise ApiError(404, f"no login for provider {provider!r}")
    return resp


async def get_auth_status(req: Req) -> Resp:
    state = req.query.get("state", "").strip()
    if not state:
        return Resp(200, {"status": "ok"})
    polled = await plugin_login.poll(req.service, state)
    if polled is not None:
        return polled
    return _state_error(state) or Resp(200, {"status": "error", "error": "unknown or expired state"})


async def cancel_oauth_session(req: Req) -> Resp:
    state = req.query.get("state", "").strip()
    if not state:
        return Resp(400, {"status": "error", "error": "missing state"})
    return _state_error(state) or Resp(200, {"status": "ok", "cancelled": False})


async def get_oauth_callback(req: Req) -> Resp:
    error = req.query.get("error", "").strip() or req.query.get("error_description", "").strip()
    return _callback(req.query.get("state", ""), req.query.get("code", ""), error)


async def post_oauth_callback(req: Req) -> Resp:
    try:
        body = json_body(req)
    except ApiError:
        body = None
    if not isinstance(body, dict):
        return Resp(400, {"status": "error", "error": "invalid body"})
    state, code, error = (str(body.get(k) or "") for k in ("state", "code", "error"))
    redirect = str(body.get("redirect_url") or "").strip()
    if redirect:
        try:
            query = URL(redirect).query
        except ValueError:
            return Resp(400, {"status": "error", "error": "invalid redirect_url"})
        state = state.strip() or query.get("state", "")
        code = code.strip() or query.get("code", "")
        error = error.strip() or query.get("error", "") or query.get("error_description", "")
    return _callback(state, code, error)


def _callback(state: str, code: str, error: str) -> Resp:
    state = state.strip()
    if not state:
        return Resp(400, {"status": "error", "error": "state is required"})
    if (bad := _state_error(state)) is not None:
        return bad
    if not code.strip() and not error.strip():
        return Resp(400, {"status": "error", "error": "code or error is required"})
    return Resp(404, {"status": "error", "error": "unknown or expired state"})


ROUTES: list[Route] = [
    Route("POST", "/reset-quota", reset_quota),
    Route("POST", "/api-call", post_api_call),
    *(Route("GET", f"/{provider}-auth-url", _login(provider)) for provider in _LOGINS),
    Route("GET", "/get-auth-status", get_auth_status),
    Route("DELETE", "/oauth-session", cancel_oauth_session),
    Route("GET", "/oauth-callback", get_oauth_callback),
    Route("POST", "/oauth-callback", post_oauth_callback),
]
