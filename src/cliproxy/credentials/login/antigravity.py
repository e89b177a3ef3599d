"""Antigravity sign-in: Google's OAuth code flow with the Antigravity client's id and
secret (no PKCE, as CPA), a local callback on port 51121, then the Cloud Code project.

1. the browser opens ``accounts.google.com/o/oauth2/v2/auth`` with ``access_type=offline``,
   ``prompt=consent``, the scopes and a state; the redirect URI is
   ``http://localhost:<port>/oauth-callback``;
2. the code is exchanged at ``oauth2.googleapis.com/token`` (form, with the secret);
3. the email comes from Google's ``userinfo``;
4. the project: ``POST <api>/v1internal:loadCodeAssist`` ``{"metadata":{"ideType":
   "ANTIGRAVITY"}}``; without a project in the answer, ``POST <api-daily>/v1internal:
   onboardUser`` with the default tier, asked up to 5 times, 2 s apart, until it says
   ``done`` with ``response.cloudaicompanionProject``. A sign-in without a project fails,
   so the first request always has one.

The file is CPA's ``antigravity-<email>.json``: ``type``, ``access_token``,
``refresh_token``, ``expires_in``, ``timestamp`` (ms), ``expired`` (local RFC 3339),
``email``, ``project_id``, ``disabled``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol
from urllib.parse import urlencode

import orjson

from cliproxy.credentials.oauth_tokens import rfc3339
from cliproxy.providers.http import HttpClient, proxy_key

from . import endpoints
from .base import AuthStart, LoginError
from .core import (
    antigravity_file_name,
    check_state,
    describe_oauth_error,
    new_state,
    request_json,
    token_request,
)

__all__ = ["AntigravityLogin", "antigravity_record", "project_of"]

PROVIDER = "antigravity"
API_VERSION = "v1internal"
VERSION = "2.9.1"  # CPA's fallback Antigravity version (Cloud Code wants >= 2.9.0)
USER_AGENT = f"antigravity/hub/{VERSION} darwin/arm64"
ONBOARD_USER_AGENT = f"{USER_AGENT} google-api-nodejs-client/10.3.0"
GOOG_API_CLIENT = "gl-node/22.21.1"
ONBOARD_ATTEMPTS = 5
ONBOARD_INTERVAL = 2.0


class ClientVersion(Protocol):
    """The Antigravity client version a sign-in reports (``providers.antigravity_version.
    HubVersion``: the Antigravity Hub's, kept current while the proxy serves)."""

    def current(self) -> str: ...

    def user_agent(self) -> str: ...

    def onboard_user_agent(self) -> str: ...


class _Fallback:
    """CPA's fallback version: a sign-in with no Hub version to read (the command line's,
    as CPA's, which runs no version updater)."""

    def current(self) -> str:
        return VERSION

    def user_agent(self) -> str:
        return USER_AGENT

    def onboard_user_agent(self) -> str:
        return ONBOARD_USER_AGENT


class AntigravityLogin:
    """The Antigravity sign-in (a :class:`~cliproxy.credentials.login.callback.CallbackFlow`).
    ``onboard_interval`` is the pause between ``onboardUser`` polls; ``version`` gives the
    client version its requests report (userinfo, loadCodeAssist and onboardUser's user
    agents, onboardUser's ``ide_version``), read when each is sent."""

    provider = PROVIDER
    flow: Literal["callback", "device"] = "callback"

    def __init__(
        self,
        http: HttpClient,
        *,
        proxy: str = "",
        clock: Callable[[], float] = time.time,
        onboard_interval: float = ONBOARD_INTERVAL,
        version: ClientVersion | None = None,
    ) -> None:
        self.http = http
        self.version: ClientVersion = version if version is not None else _Fallback()
        self.proxy = proxy_key(None, proxy)
        self.clock = clock
        self.onboard_interval = onboard_interval
        self.default_port = int(endpoints.CLIENTS[PROVIDER]["port"])

    def redirect_uri_for(self, port: int) -> str:
        """``http://localhost:<port>/oauth-callback``: Google accepts any loopback port."""
        return f"http://localhost:{port}/oauth-callback"

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        client = endpoints.CLIENTS[PROVIDER]
        state = new_state()
        redirect = redirect_uri or self.redirect_uri_for(self.default_port)
        query = {
            "access_type": "offline",
            "client_id": client["client_id"],
            "prompt": "consent",
            "redirect_uri": redirect,
            "response_type": "code",
            "scope": client["scope"],
            "state": state,
        }
        url = endpoints.url(PROVIDER, "authorize") + "?" + urlencode(sorted(query.items()))
        return AuthStart(provider=PROVIDER, state=state, flow="callback", url=url, redirect_uri=redirect)

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        check_state(started, state)
        if not code.strip():
            raise LoginError("bad_response", "the callback carries no authorization code", provider=PROVIDER)
        client = endpoints.CLIENTS[PROVIDER]
        form = {
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
            "code": code.strip(),
            "grant_type": "authorization_code",
            "redirect_uri": started.redirect_uri or self.redirect_uri_for(self.default_port),
        }
        tokens = await token_request(
            self.http,
            endpoints.url(PROVIDER, "token"),
            provider=PROVIDER,
            body=urlencode(form).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            proxy=self.proxy,
        )
        access_token = str(tokens["access_token"]).strip()
        email = await self._email(access_token)
        project = await self._project(access_token)
        record = antigravity_record(tokens, email=email, project_id=project, now=self.clock())
        return antigravity_file_name(email), record

    async def _email(self, access_token: str) -> str:
        headers = {"Authorization": f"Bearer {access_token}", "User-Agent": self.version.user_agent()}
        status, data = await self._call("GET", endpoints.url(PROVIDER, "userinfo"), "userinfo", headers)
        if not 200 <= status < 300:
            raise LoginError("bad_response", _failed("userinfo", status, data), provider=PROVIDER)
        email = data.get("email")
        if not isinstance(email, str) or not email.strip():
            raise LoginError("bad_response", "google userinfo names no email", provider=PROVIDER)
        return email.strip()

    async def _project(self, access_token: str) -> str:
        """The Cloud Code project: ``loadCodeAssist``, else ``onboardUser`` polled."""
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": self.version.user_agent(),
        }
        url = f"{endpoints.url(PROVIDER, 'api')}/{API_VERSION}:loadCodeAssist"
        body = orjson.dumps({"metadata": {"ideType": "ANTIGRAVITY"}})
        status, data = await self._call("POST", url, "loadCodeAssist", headers, body)
        if not 200 <= status < 300:
            raise LoginError("bad_response", _failed("loadCodeAssist", status, data), provider=PROVIDER)
        return project_of(data) or await self._onboard(access_token, default_tier(data))

    async def _onboard(self, access_token: str, tier: str) -> str:
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": self.version.onboard_user_agent(),
            "X-Goog-Api-Client": GOOG_API_CLIENT,
        }
        url = f"{endpoints.url(PROVIDER, 'api-daily')}/{API_VERSION}:onboardUser"
        version = self.version.current()
        metadata = {"ide_name": "antigravity", "ide_type": "ANTIGRAVITY", "ide_version": version}
        body = orjson.dumps({"metadata": metadata, "tier_id": tier})
        for attempt in range(1, ONBOARD_ATTEMPTS + 1):
            status, data = await self._call("POST", url, "onboardUser", headers, body)
            if status != 200:
                raise LoginError("bad_response", _failed("onboardUser", status, data), provider=PROVIDER)
            if data.get("done") is True:
                project = project_of(_object(data.get("response")))
                if not project:
                    raise LoginError(
                        "bad_response", "onboardUser finished without a project", provider=PROVIDER
                    )
                return project
            if attempt < ONBOARD_ATTEMPTS:
                await asyncio.sleep(self.onboard_interval)
        raise LoginError(
            "bad_response", f"onboardUser did not finish after {ONBOARD_ATTEMPTS} attempts", provider=PROVIDER
        )

    async def _call(
        self, method: str, url: str, what: str, headers: Mapping[str, str], body: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        return await request_json(
            self.http, method, url, provider=PROVIDER, what=what, headers=headers, body=body, proxy=self.proxy
        )


def project_of(data: Mapping[str, Any]) -> str:
    """CPA's ``extractCloudaicompanionProject``: ``cloudaicompanionProject``, ``projectId``
    or ``project``, each a string or an object with ``id``."""
    for key in ("cloudaicompanionProject", "projectId", "project"):
        value = data.get(key)
        if isinstance(value, Mapping):
            value = value.get("id")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return ""


def default_tier(data: Mapping[str, Any]) -> str:
    """The tier to onboard to: the default of ``allowedTiers``, else ``currentTier``, else
    ``free-tier`` (CPA)."""
    tiers = data.get("allowedTiers")
    for tier in tiers if isinstance(tiers, list) else []:
        if isinstance(tier, Mapping) and tier.get("isDefault") is True:
            tier_id = tier.get("id")
            if isinstance(tier_id, str) and tier_id.strip():
                return tier_id.strip()
    current = _object(data.get("currentTier")).get("id")
    return current.strip() if isinstance(current, str) and current.strip() else "free-tier"


def antigravity_record(
    tokens: Mapping[str, Any], *, email: str, project_id: str, now: float
) -> dict[str, Any]:
    """CPA's Antigravity file for a Google token answer."""
    raw = tokens.get("expires_in")
    expires_in = int(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else 0
    record: dict[str, Any] = {
        "access_token": str(tokens.get("access_token") or ""),
        "disabled": False,
        "email": email,
        "expired": rfc3339(now + expires_in),
        "expires_in": expires_in,
        "project_id": project_id,
        "refresh_token": str(tokens.get("refresh_token") or ""),
        "timestamp": int(now * 1000),
        "type": PROVIDER,
    }
    return record


def _failed(what: str, status: int, data: Mapping[str, Any]) -> str:
    return f"{what} failed with status {status} ({describe_oauth_error(data, status)})"


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
