"""Web logins run by auth-provider plugins (``auth.login.start`` / ``auth.login.poll``).

``GET /<provider>-auth-url`` starts one when an active plugin's auth identifier is
``<provider>``: the plugin returns the URL to open and a ``state``; the panel then polls
``GET /get-auth-status?state=``, which asks the plugin and, on success, saves the
credentials it returns into ``auth-dir`` and loads them.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from cliproxy.management.sessions import LoginSessions
from cliproxy.management.types import Resp
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.models import host_config, save_auth_data

if TYPE_CHECKING:
    from cliproxy.management.ports import ManagementService

__all__ = ["poll", "start"]

_STATE = re.compile(r"^[A-Za-z0-9._~-]{1,256}$")


async def _provider_plugin(service: ManagementService, provider: str) -> Any:
    host = service.plugins
    for rec in host.active("auth_provider"):
        if (await host.identifier(rec, abi.AUTH_IDENTIFIER)).lower() == provider.lower():
            return rec
    return None


async def start(
    service: ManagementService, logins: LoginSessions, provider: str, base_url: str
) -> Resp | None:
    """The plugin login for ``provider``, or ``None`` when no plugin offers one."""
    rec = await _provider_plugin(service, provider)
    if rec is None:
        return None
    params = {"Provider": provider, "BaseURL": base_url, "Host": host_config(service.config), "Metadata": {}}
    try:
        result = await service.plugins.call(rec, abi.AUTH_LOGIN_START, params)
    except (PluginError, PluginCrashed, TimeoutError) as exc:
        return Resp(502, {"status": "error", "error": f"login start failed: {exc}"})
    state = str(ci_get(result, "State", "") or "") if isinstance(result, dict) else ""
    url = str(ci_get(result, "URL", "") or "") if isinstance(result, dict) else ""
    if not _STATE.match(state) or not url:
        return Resp(502, {"status": "error", "error": "the plugin returned no valid login URL and state"})
    meta = ci_get(result, "Metadata")
    logins.add(state, rec.id, provider, meta if isinstance(meta, dict) else {})
    return Resp(200, {"status": "ok", "url": url, "state": state})


async def poll(service: ManagementService, logins: LoginSessions, state: str) -> Resp | None:
    """Progress of a plugin login, or ``None`` when ``state`` is not one."""
    session = logins.get(state)
    if session is None:
        return None
    rec = service.plugins.get(session.plugin_id)
    if rec is None:
        logins.pop(state)
        return Resp(200, {"status": "error", "error": "the login plugin is no longer active"})
    params = {
        "Provider": session.provider,
        "State": state,
        "Host": host_config(service.config),
        "Metadata": session.metadata,
    }
    try:
        result = await service.plugins.call(rec, abi.AUTH_LOGIN_POLL, params)
    except (PluginError, PluginCrashed, TimeoutError) as exc:
        return Resp(200, {"status": "error", "error": str(exc)})
    status = str(ci_get(result, "Status", "") or "pending").lower() if isinstance(result, dict) else "pending"
    if status == "pending":
        return Resp(200, {"status": "wait"})
    logins.pop(state)
    if status != "success":
        return Resp(200, {"status": "error", "error": str(ci_get(result, "Message", "") or "login failed")})
    auths = [a for a in [ci_get(result, "Auth"), *(ci_get(result, "Auths") or [])] if isinstance(a, dict)]
    for auth in auths:
        save_auth_data(auth, service.auth_dir, "{provider}-" + str(int(time.time())) + ".json")
    service.reload_credentials()
    return Resp(200, {"status": "ok"})
