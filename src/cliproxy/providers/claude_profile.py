"""A Claude subscription credential's own identity, looked up on first use (CPA's
``ClaudeExecutor.PrepareRequestAuth``, ``claude_executor_auth.go``).

Claude Code names its account in every request (``metadata.user_id``: device id and
``account_uuid``). A file this proxy signed in has both; one imported from elsewhere (an
older CPA, a setup token, another tool) may lack the account, or hold the five-device
pool older CPA versions wrote. Before such a credential's first request:

* the device pool becomes one device (the first valid one, else the stable one its
  requests carried so far);
* a missing ``account_uuid`` comes from Anthropic's OAuth profile
  (``/api/oauth/profile``, over Claude Code's OAuth TLS hello), with the email and the
  organization; a setup token (scopes without ``user:profile`` / ``user:office``, or a
  ``skip_account_profile`` / ``is_setup_token`` flag), a 403 (the token's scopes do not
  reach the profile) or a profile without an account give the stable identity derived
  from the credential instead, as CPA does;

and the result goes into the credential and its auth file, so the lookup happens once.
A lookup that cannot be made (the network, a 401, a 5xx) never blocks the request: it
goes with the stable derived identity, nothing is saved, and the lookup runs again ten
minutes later. CPA fails the request there; a credential on a gateway would then fail
for want of a call to Anthropic it does not need. Concurrent first requests of one
credential share one lookup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.claude import AXIOS_HEADERS
from cliproxy.credentials.login.core import request_json
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import write_auth_file
from cliproxy.providers import claude_identity as ident
from cliproxy.providers import impersonate
from cliproxy.providers.first_use import FirstUse
from cliproxy.providers.http import HttpClient

__all__ = ["ProfileLookup", "needs_identity"]

log = logging.getLogger(__name__)

_SETUP_FLAGS = ("skip_account_profile", "is_setup_token", "setup_token")
RETRY_AFTER = 600.0  # seconds before a failed profile lookup runs again


def _devices(cred: Credential) -> list[str]:
    pool = (cred.metadata or {}).get("claude_device_ids")
    if not isinstance(pool, list):
        return []
    return [
        d.strip().lower() for d in pool if isinstance(d, str) and ident.valid_device_id(d.strip().lower())
    ]


def _account(cred: Credential) -> str:
    meta = cred.metadata or {}
    for name in ("account_uuid", "accountUuid"):
        value = meta.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def needs_identity(cred: Credential) -> bool:
    """A subscription token from an auth file whose account or single device is not
    settled yet. A config key (``claude-api-key: sk-ant-oat...``) has no file to keep what
    a lookup found: its identity stays the stable derived one (CPA looks it up on every
    start)."""
    if cred.path is None or not ident.is_oauth(cred):
        return False
    return not _one_device(cred) or not _account(cred)


def _one_device(cred: Credential) -> bool:
    """Whether the stored pool is one valid device, as written (lower case, no spaces)."""
    pool = (cred.metadata or {}).get("claude_device_ids")
    return isinstance(pool, list) and len(pool) == 1 and _devices(cred) == pool


def _setup_token(cred: Credential) -> bool:
    meta = cred.metadata or {}
    if any(meta.get(flag) is True for flag in _SETUP_FLAGS):
        return True
    scopes = meta.get("scopes") or meta.get("scope")
    if not isinstance(scopes, str) or not scopes.strip():
        return False
    scopes = scopes.lower()
    return "user:profile" not in scopes and "user:office" not in scopes


class ProfileLookup:
    """First-use identity lookups, one in flight per credential."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._lookups = FirstUse()
        self._retry_at: dict[str, float] = {}  # credential id -> when a failed lookup may run again

    def due(self, cred: Credential) -> bool:
        """Whether ``cred`` needs a lookup now (none failed in the last :data:`RETRY_AFTER`)."""
        return needs_identity(cred) and self._retry_at.get(cred.id, 0.0) <= self.clock()

    async def ensure(self, cred: Credential, http: HttpClient, *, proxy: str) -> Mapping[str, str]:
        """Settle ``cred``'s identity (no extra headers: ``metadata.user_id`` carries it)."""
        await self._lookups.run(cred.id, lambda: self._settle(cred, http, proxy))
        return {}

    async def _settle(self, cred: Credential, http: HttpClient, proxy: str) -> None:
        if not needs_identity(cred):  # another lookup settled it meanwhile
            return
        updates: dict[str, Any] = {}
        if not _one_device(cred):
            # the first of an old pool (canonical), else the one its requests used so far:
            # the same device either way
            devices = _devices(cred)
            updates["claude_device_ids"] = [devices[0] if devices else ident.derived_device(cred)]
        if not _account(cred):
            updates.update(await self._identity(cred, http, proxy))
        cred.metadata.update(updates)
        if cred.path is not None:
            try:
                await asyncio.to_thread(write_auth_file, cred.path, updates)
            except OSError as exc:
                log.warning(
                    "could not save the identity of %s to %s: %s", cred.label or cred.id, cred.path.name, exc
                )

    async def _identity(self, cred: Credential, http: HttpClient, proxy: str) -> dict[str, Any]:
        """The account fields to store: the profile's, or the stable derived account."""
        who = cred.label or cred.id
        if _setup_token(cred):
            return {"account_uuid": ident.derived_account(cred)}
        try:
            status, profile = await self._fetch(cred, http, proxy)
        except LoginError as exc:
            return self._later(cred, exc.message)
        if status == 403:  # the token's scopes do not reach the profile (CPA: a stable identity)
            log.info(
                "claude credential %s: the profile is out of the token's scopes; a stable identity used", who
            )
            return {"account_uuid": ident.derived_account(cred)}
        if not 200 <= status < 300:
            return self._later(cred, f"it answered {status}")
        account, org = _object(profile.get("account")), _object(profile.get("organization"))
        uuid = _text(account.get("uuid"))
        if not uuid:
            return {"account_uuid": ident.derived_account(cred)}
        found = {
            "account_uuid": uuid,
            "email": _text(account.get("email")),
            "organization_uuid": _text(org.get("uuid")),
            "organization_name": _text(org.get("name")),
        }
        log.info("claude credential %s: account identity read from its profile on first use", who)
        return {k: v for k, v in found.items() if v}

    def _later(self, cred: Credential, why: str) -> dict[str, Any]:
        """A lookup that could not be made: this request goes with the stable derived
        identity (nothing saved), and the lookup runs again after :data:`RETRY_AFTER`."""
        self._retry_at[cred.id] = self.clock() + RETRY_AFTER
        log.warning(
            "claude credential %s: the profile lookup failed (%s); its stable identity is used for now",
            cred.label or cred.id,
            why,
        )
        return {}

    @staticmethod
    async def _fetch(cred: Credential, http: HttpClient, proxy: str) -> tuple[int, dict[str, Any]]:
        token = cred.access_token or cred.api_key
        headers = {**AXIOS_HEADERS, "Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
        tls = impersonate.token_client(http)  # Claude Code's OAuth hello, as the sign-in uses
        try:
            return await request_json(
                tls if tls is not None else http,
                "GET",
                endpoints.url("claude", "profile"),
                provider="claude",
                what="profile lookup",
                headers=headers,
                proxy=proxy,
            )
        finally:
            if tls is not None:
                await tls.close()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
