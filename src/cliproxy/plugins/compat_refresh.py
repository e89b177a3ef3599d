"""A token refresh by a plugin for a credential the OpenAI-compatible provider serves.

CPA wraps its OpenAI-compatible executor for an auth of a type no built-in serves
(``credentials.compat_auth``) when a plugin auth provider of that type is loaded
(``pluginRefreshCompatExecutor``): requests go to the endpoint as for any
OpenAI-compatible key, and a refresh (after a 401) goes to the plugin's ``auth.refresh``.
Here the wrapper is a question asked at the time of the refresh: :func:`refresher_of`
names the plugin that refreshes a credential, or ``None`` (bare: no plugin refresh), so
unloading the plugin removes the wrapper at once. :class:`ScheduledRefresh` has the token
refresher refresh them on schedule the same way (``credentials.delegated``), as CPA's auth
manager does through the wrapper.

The plugin's answer merges into a copy of the credential (empty fields keep their values);
the key sent upstream is the answer's ``api_key`` attribute, else its ``access_token``,
else the one before. What it changed goes into the file (also under ``api_key`` when the
file holds one, so a reload reads the new key) and the pool's credential as they are when
the refresh ends (``plugins.refresh_merge``: a panel edit made meanwhile stays). A caller
whose token another refresh already replaced gets the current credential without a new
call, and concurrent refreshes of one credential share one call.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import UTC, datetime
from typing import Any

from cliproxy import times
from cliproxy.credentials.compat_auth import native_compat
from cliproxy.credentials.delegated import plugin_due
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import RefreshError
from cliproxy.plugins import abi
from cliproxy.plugins.host import PluginHost, Record
from cliproxy.plugins.models import refresh_plugin_auth
from cliproxy.plugins.refresh_merge import settle, snapshot
from cliproxy.providers import registry as builtin

__all__ = ["CompatRefresher", "ScheduledRefresh", "refresher_of"]

log = logging.getLogger(__name__)


async def refresher_of(host: PluginHost | None, cred: Credential, config: Any) -> Record | None:
    """The active plugin whose auth provider refreshes ``cred``: one identified by its type
    (CPA looks up its type, ``provider_key`` and ``compat_name``), for a credential of a
    type no built-in serves that the OpenAI-compatible provider serves; else ``None``."""
    if host is None or not host.snapshot or cred.attributes.get("plugin"):
        return None
    if builtin.get(cred.provider) is not None or not native_compat(cred, config):
        return None
    records = host.active("auth_provider")
    if not records:
        return None
    attrs = cred.attributes
    keys = {cred.provider, attrs.get("provider_key", ""), attrs.get("compat_name", "")}
    keys = {k.strip().lower() for k in keys} - {""}
    for rec in records:
        if (await host.identifier(rec, abi.AUTH_IDENTIFIER)).lower() in keys:
            return rec
    return None


class CompatRefresher:
    """Refreshes the pool's OpenAI-compatible plugin credentials through their plugin."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._inflight: dict[str, asyncio.Future[Credential | None]] = {}

    async def refresh(self, host: PluginHost, cred: Credential, config: Any) -> Credential | None:
        """``cred`` with the plugin's new token, ``None`` when the plugin gave none."""
        current = self.pool.get(cred.id) or cred
        if current is not cred and current.api_key and current.api_key != cred.api_key:
            return current  # another request refreshed it meanwhile
        pending = self._inflight.get(cred.id)
        if pending is None:
            pending = asyncio.ensure_future(self._refresh(host, current, config))
            self._inflight[cred.id] = pending
            cid = cred.id
            pending.add_done_callback(lambda _f: self._inflight.pop(cid, None))
        return await asyncio.shield(pending)

    async def _refresh(self, host: PluginHost, cred: Credential, config: Any) -> Credential | None:
        before = snapshot(cred)
        fresh = dataclasses.replace(
            cred, metadata=dict(cred.metadata), attributes=dict(cred.attributes), headers=dict(cred.headers)
        )
        if not await refresh_plugin_auth(host, fresh, config):
            return None
        fresh.metadata["last_refresh"] = times.format_datetime(
            datetime.now(UTC)
        )  # the schedule counts from it
        token = _changed(fresh.attributes, cred.attributes, "api_key") or _changed(
            fresh.metadata, cred.metadata, "access_token"
        )
        if token:
            fresh.api_key = token
            if "api_key" in fresh.metadata:
                fresh.metadata["api_key"] = token
        if base := fresh.attributes.get("base_url", "").strip():
            fresh.base_url = base
        updated = await settle(self.pool, fresh, before)  # removed meanwhile: not swapped in
        log.info("plugin refreshed the token of %s", fresh.label or fresh.id)
        return updated


def _changed(new: dict[str, Any], old: dict[str, Any], key: str) -> str:
    value = new.get(key)
    if isinstance(value, str) and value.strip() and value != old.get(key):
        return value.strip()
    return ""


class ScheduledRefresh:
    """The token refresher's delegate (``credentials.delegated.Delegate``) for the
    credentials :func:`refresher_of` names a plugin for; ``pipe``: the pipeline, whose
    ``plugins``, ``config`` and ``compat_refresher`` are read at each call."""

    def __init__(self, pipe: Any) -> None:
        self.pipe = pipe

    def live(self) -> object:
        host: PluginHost | None = self.pipe.plugins
        return host.active("auth_provider") if host is not None else ()

    def owner(self, cred: Credential) -> Record | None:
        host: PluginHost | None = self.pipe.plugins
        if host is None or cred.attributes.get("plugin") or builtin.get(cred.provider) is not None:
            return None
        if not native_compat(cred, self.pipe.config):
            return None
        return _cached_refresher(host, cred)

    def due(self, cred: Credential) -> float | None:
        return plugin_due(cred) if self.owner(cred) is not None else None

    async def refresh(self, cred: Credential) -> Credential:
        host, config = self.pipe.plugins, self.pipe.config
        if host is None or await refresher_of(host, cred, config) is None:
            raise RefreshError(
                "no plugin refreshes this credential any more", status=400, credential_id=cred.id
            )
        fresh = await self.pipe.compat_refresher.refresh(host, cred, config)
        if fresh is None:
            raise RefreshError(
                "the plugin's auth.refresh gave no credential", status=502, credential_id=cred.id
            )
        return fresh


def _cached_refresher(host: PluginHost, cred: Credential) -> Record | None:
    """The active auth provider whose identifier (as already asked) names ``cred``'s type,
    ``provider_key`` or ``compat_name``: the refresher's question must not wait on a plugin."""
    attrs = cred.attributes
    keys = {cred.provider, attrs.get("provider_key", ""), attrs.get("compat_name", "")}
    keys = {k.strip().lower() for k in keys} - {""}
    for rec in host.active("auth_provider"):
        if rec.identifiers.get(abi.AUTH_IDENTIFIER, "").lower() in keys:
            return rec
    return None
