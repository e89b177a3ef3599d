"""Claude (Anthropic) sign-in: authorization code with PKCE and a local callback, as
Claude Code and CPA's ``-claude-login`` do it.

1. the browser opens ``claude.ai/oauth/authorize`` with ``code=true``, the client id, the
   redirect URI ``http://localhost:54545/callback``, the scopes, the S256 challenge and a
   state;
2. the callback brings ``code`` (Anthropic's copy-paste page shows ``code#state``);
3. the code is exchanged at ``platform.claude.com/v1/oauth/token`` with a JSON body whose
   key order is Claude Code's (``grant_type, code, redirect_uri, client_id, code_verifier,
   state``) and its axios headers;
4. the profile and ``claude_cli/roles`` lookups follow, as the native client makes them;
   they are advisory: the profile's identity wins where it has one, a failure is logged
   and the token answer's account is used.

The file is CPA's ``claude-<email>.json``: ``access_token``, ``refresh_token``,
``id_token`` (empty), ``email``, ``account_uuid``, ``organization_uuid``,
``organization_name``, ``claude_device_ids`` (one 64-hex device id), ``type``,
``expired`` and ``last_refresh`` (local RFC 3339), ``disabled``.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal
from urllib.parse import urlencode

import orjson

from cliproxy.credentials.oauth_tokens import AXIOS_ENCODING, rfc3339
from cliproxy.providers import impersonate
from cliproxy.providers.http import HttpClient, proxy_key
from cliproxy.providers.transport import UpstreamClient

from . import endpoints
from .base import AuthStart, LoginError
from .core import check_state, claude_file_name, new_state, pkce_pair, request_json, token_request

__all__ = ["ClaudeLogin", "claude_record", "new_device_id"]

log = logging.getLogger(__name__)

PROVIDER = "claude"


# Claude Code's axios headers on every OAuth control-plane call (CPA copies them)
AXIOS_HEADERS: Mapping[str, str] = {
    "Accept": "application/json, text/plain, */*",
    "Content-Type": "application/json",
    "User-Agent": "axios/1.15.2",
    "Accept-Encoding": AXIOS_ENCODING,
    "Connection": "close",
}


def new_device_id() -> str:
    """A Claude Code device id: 32 random bytes as 64 lower-case hex digits."""
    return secrets.token_hex(32)


class ClaudeLogin:
    """The Claude sign-in (a :class:`~cliproxy.credentials.login.callback.CallbackFlow`)."""

    provider = PROVIDER
    flow: Literal["callback", "device"] = "callback"

    def __init__(self, http: HttpClient, *, proxy: str = "", clock: Callable[[], float] = time.time) -> None:
        self.http = http
        self.proxy = proxy_key(None, proxy)
        self.clock = clock
        self.default_port = int(endpoints.CLIENTS[PROVIDER]["port"])

    def redirect_uri_for(self, port: int) -> str:
        """Always the registered ``http://localhost:54545/callback``: CPA keeps it when the
        callback port is moved (a forwarded port, or a pasted URL, completes the sign-in)."""
        return endpoints.CLIENTS[PROVIDER]["redirect_uri"]

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        client = endpoints.CLIENTS[PROVIDER]
        pkce, state = pkce_pair(), new_state()
        redirect = redirect_uri or client["redirect_uri"]
        query = {
            "code": "true",
            "client_id": client["client_id"],
            "response_type": "code",
            "redirect_uri": redirect,
            "scope": client["scope"],
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "state": state,
        }
        url = endpoints.url(PROVIDER, "authorize") + "?" + urlencode(sorted(query.items()))
        return AuthStart(
            provider=PROVIDER,
            state=state,
            flow="callback",
            url=url,
            redirect_uri=redirect,
            secrets={"code_verifier": pkce.verifier},
        )

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        code, _, fragment_state = code.strip().partition("#")
        state = state or fragment_state
        check_state(started, state)
        if not code:
            raise LoginError("bad_response", "the callback carries no authorization code", provider=PROVIDER)
        body = orjson.dumps(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": started.redirect_uri or endpoints.CLIENTS[PROVIDER]["redirect_uri"],
                "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
                "code_verifier": started.secrets.get("code_verifier", ""),
                "state": fragment_state or state,
            }
        )
        # CPA's ClaudeAuth dials with Claude Code's OAuth hello (uTLS): the exchange, the
        # profile and the roles go through impersonate.token_client, closed after
        tls = impersonate.token_client(self.http)
        client: UpstreamClient = tls if tls is not None else self.http
        try:
            tokens = await token_request(
                client,
                endpoints.url(PROVIDER, "token"),
                provider=PROVIDER,
                body=body,
                headers=AXIOS_HEADERS,
                proxy=self.proxy,
            )
            profile = await self._companion_lookups(client, str(tokens["access_token"]))
        finally:
            if tls is not None:
                await tls.close()
        record = claude_record(tokens, profile, self.clock(), device_id=new_device_id())
        return claude_file_name(record["email"]), record

    async def _companion_lookups(self, client: UpstreamClient, access_token: str) -> Mapping[str, Any]:
        """The profile, then the roles, as Claude Code asks right after the exchange."""
        profile = await self._get(client, "profile", access_token)
        account = profile.get("account")
        if not isinstance(account, Mapping) or not str(account.get("uuid") or "").strip():
            profile = {}
        await self._get(client, "roles", access_token)
        return profile

    async def _get(self, client: UpstreamClient, name: str, access_token: str) -> dict[str, Any]:
        headers = {**AXIOS_HEADERS, "Authorization": f"Bearer {access_token}", "Cache-Control": "no-cache"}
        try:
            status, data = await request_json(
                client,
                "GET",
                endpoints.url(PROVIDER, name),
                provider=PROVIDER,
                what=f"{name} lookup",
                headers=headers,
                proxy=self.proxy,
            )
        except LoginError as exc:
            log.warning("claude %s lookup after sign-in failed: %s", name, exc.message)
            return {}
        if not 200 <= status < 300:
            log.warning("claude %s lookup after sign-in failed with status %d", name, status)
            return {}
        return data


def claude_record(
    tokens: Mapping[str, Any], profile: Mapping[str, Any], now: float, *, device_id: str
) -> dict[str, Any]:
    """CPA's Claude file for a token answer (``account.email_address``,
    ``organization``) and a profile answer (``account.email``), the profile winning."""
    account = _object(tokens.get("account"))
    org = _object(tokens.get("organization"))
    p_account, p_org = _object(profile.get("account")), _object(profile.get("organization"))
    email = _text(p_account.get("email")) or _text(account.get("email_address"))
    if not email:
        raise LoginError(
            "bad_response", "the claude sign-in answer names no account email", provider=PROVIDER
        )
    expires_in = tokens.get("expires_in")
    seconds = (
        int(expires_in) if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) else 0
    )
    record: dict[str, Any] = {
        "access_token": _text(tokens.get("access_token")),
        "claude_device_ids": [device_id],
        "disabled": False,
        "email": email,
        "expired": rfc3339(now + seconds),
        "id_token": "",
        "last_refresh": rfc3339(now),
        "refresh_token": _text(tokens.get("refresh_token")),
        "type": PROVIDER,
    }
    identity = {
        "account_uuid": _text(p_account.get("uuid")) or _text(account.get("uuid")),
        "organization_uuid": _text(p_org.get("uuid")) or _text(org.get("uuid")),
        "organization_name": _text(p_org.get("name")) or _text(org.get("name")),
    }
    record.update({k: v for k, v in identity.items() if v})  # CPA: omitempty
    return dict(sorted(record.items()))


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
