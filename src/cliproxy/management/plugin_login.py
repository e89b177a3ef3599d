"""Web logins run by auth-provider plugins (``auth.login.start`` / ``auth.login.poll``).

``GET /<provider>-auth-url`` starts one when an active plugin's auth identifier is
``<provider>``: the plugin returns the URL to open and a ``state``; the panel then polls
``GET /get-auth-status?state=``, which asks the plugin and, on success, saves the
credentials it returns into ``auth-dir`` and loads them. As in CPA, a poll answer's
``Auths`` list (one file each, such as one per project) wins over its single ``Auth``; a
credential naming no provider fails the login, and when one cannot be written the files
already written for the login are removed, so a login saves all of its credentials or
none. A finished login keeps answering ``ok`` or its error to later polls.
"""

from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cliproxy.management.sessions import LoginSessions
from cliproxy.management.types import Resp
from cliproxy.plugins import abi
from cliproxy.plugins.abi import PluginCrashed, PluginError, ci_get
from cliproxy.plugins.models import host_config, save_auth_data

if TYPE_CHECKING:
    from cliproxy.management.ports import ManagementService

__all__ = ["poll", "start"]

log = logging.getLogger(__name__)

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
    if session.completed:
        return Resp(200, {"status": "ok"})
    if session.status:
        return Resp(200, {"status": "error", "error": session.status})
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
        return _failed(logins, state, str(exc))
    status = str(ci_get(result, "Status", "") or "pending").lower() if isinstance(result, dict) else "pending"
    if status == "error":
        return _failed(logins, state, str(ci_get(result, "Message", "") or ""))
    if status != "success":  # pending, or a status CPA does not know: keep waiting
        return Resp(200, {"status": "wait"})
    auths = ci_get(result, "Auths") or [ci_get(result, "Auth")]
    if not all(isinstance(a, dict) and str(ci_get(a, "Provider", "") or "").strip() for a in auths):
        return _failed(logins, state, "")
    if not _save_all(auths, service.auth_dir):
        return _failed(logins, state, "Failed to save authentication tokens")
    logins.complete(state)
    await service.reload_auth_files()
    await service.settle_credentials()
    return Resp(200, {"status": "ok"})


def _failed(logins: LoginSessions, state: str, message: str) -> Resp:
    logins.fail(state, message)
    session = logins.get(state)
    return Resp(200, {"status": "error", "error": session.status if session else "Authentication failed"})


def _save_all(auths: list[dict[str, Any]], auth_dir: Path) -> bool:
    """Write every credential of a login, or none: when one cannot be written, the files
    already written for this login are removed again (CPA's rollback)."""
    saved: list[Path] = []
    default = "{provider}-" + str(int(time.time())) + ".json"
    for auth in auths:
        try:
            path = save_auth_data(auth, auth_dir, default)
        except (OSError, ValueError) as exc:
            log.error("plugin login: a credential could not be saved: %s", type(exc).__name__)
            path = None
        if path is None:
            for done in reversed(saved):
                done.unlink(missing_ok=True)
            return False
        saved.append(path)
    return True
