"""xAI (Grok) sign-in: OIDC discovery, then an RFC 8628 device code (CPA's ``-xai-login``).

The discovery document names the device and token endpoints. A document that points
anywhere else could send the user's tokens to a stranger, so both must be ``https`` on
``x.ai`` or a subdomain (CPA's ``ValidateOAuthEndpoint``). When the discovery URL itself is
overridden (``CLIPROXY_OAUTH_XAI_DISCOVERY`` or ``_BASE``, a private deployment or a test
server) the endpoints may also sit on that URL's own origin, and nowhere else.

Polling starts at once, then waits the interval (5 s floor); ``slow_down`` adds 5 s. The
file is ``xai-<email>.json`` (else ``xai-<subject>.json``, else ``xai-<unix ms>.json``)
with the token endpoint stored, so refreshes go where the sign-in went.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode, urlsplit

from cliproxy.credentials.oauth_tokens import jwt_claims, rfc3339
from cliproxy.errors import clip

from . import endpoints
from .base import AuthStart, LoginError
from .core import oauth_error, request_json
from .device import (
    DEVICE_GRANT,
    DeviceFlow,
    Pending,
    classify,
    device_answer,
    seconds,
    text,
)

__all__ = ["DEFAULT_BASE_URL", "XAIDeviceFlow", "validate_endpoint", "xai_file_name"]

PROVIDER = "xai"
MAX_WAIT = 30 * 60.0  # CPA's MaxPollDuration
MIN_INTERVAL = 5.0
DEFAULT_BASE_URL = endpoints.URLS[PROVIDER]["api"]  # written into the file as CPA does, never overridden
_FORM = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}


def validate_endpoint(raw: str, field: str, *, trusted_origin: str = "") -> str:
    """``raw`` trimmed when it is an ``https`` URL on ``x.ai`` (or a subdomain), or on
    ``trusted_origin`` (``scheme://host:port``); else :class:`LoginError` ``bad_response``."""
    raw = raw.strip()
    if not raw:
        raise LoginError("bad_response", f"xai discovery {field} is empty", provider=PROVIDER)
    try:
        parts = urlsplit(raw)
        host = (parts.hostname or "").lower()
        origin = f"{parts.scheme}://{parts.netloc}".lower()
    except ValueError as exc:
        raise LoginError("bad_response", f"xai discovery {field} is invalid", provider=PROVIDER) from exc
    if trusted_origin and origin == trusted_origin.lower():
        return raw
    if parts.scheme != "https":
        raise LoginError(
            "bad_response", f"xai discovery {field} must use https: {clip(raw, 120)}", provider=PROVIDER
        )
    if host != "x.ai" and not host.endswith(".x.ai"):
        raise LoginError(
            "bad_response", f"xai discovery {field} host {clip(host, 80)!r} is not on x.ai", provider=PROVIDER
        )
    return raw


def xai_file_name(email: str, subject: str, now: float) -> str:
    """CPA's ``CredentialFileName``: the email, else the subject, else the time in ms."""
    for value in (email, subject):
        if part := _file_part(value):
            return f"xai-{part}.json"
    return f"xai-{int(now * 1000)}.json"


def _file_part(value: str) -> str:
    keep = [ch if (ch.isascii() and ch.isalnum()) or ch in "@._-" else "-" for ch in value.strip()]
    return "".join(keep).strip("-")


class XAIDeviceFlow(DeviceFlow):
    """The xAI device-code sign-in (a :class:`~cliproxy.credentials.login.base.LoginFlow`)."""

    provider = PROVIDER
    max_wait = MAX_WAIT
    min_interval = MIN_INTERVAL
    first_now = True

    async def discover(self) -> tuple[str, str]:
        """``(device authorization endpoint, token endpoint)`` from xAI's discovery document."""
        url = endpoints.url(PROVIDER, "discovery")
        status, data = await request_json(
            self.http,
            "GET",
            url,
            provider=PROVIDER,
            what="discovery",
            timeout=self.polling.request_timeout,
            headers={"Accept": "application/json"},
            proxy=self.proxy,
        )
        if status != 200:
            raise LoginError("bad_response", f"xai discovery failed with status {status}", provider=PROVIDER)
        trusted = ""
        if url != endpoints.URLS[PROVIDER]["discovery"]:
            parts = urlsplit(url)
            trusted = f"{parts.scheme}://{parts.netloc}"
        device = validate_endpoint(
            text(data.get("device_authorization_endpoint")),
            "device_authorization_endpoint",
            trusted_origin=trusted,
        )
        token = validate_endpoint(text(data.get("token_endpoint")), "token_endpoint", trusted_origin=trusted)
        return device, token

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        device_url, token_url = await self.discover()
        form = {
            "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
            "scope": endpoints.CLIENTS[PROVIDER]["scope"],
        }
        status, data = await self._post(device_url, form)
        if status != 200:
            error, _ = oauth_error(data)
            raise LoginError(
                "bad_response",
                f"xai device code request failed with status {status} {error}".strip(),
                provider=PROVIDER,
            )
        device_code, user_code, page = device_answer(data)
        if not device_code or not user_code or not page:
            missing = (
                "device_code" if not device_code else "user_code" if not user_code else "verification URI"
            )
            raise LoginError("bad_response", f"xai device code answer lacks {missing}", provider=PROVIDER)
        interval = max(seconds(data.get("interval")), MIN_INTERVAL)
        return self.started(
            data,
            page=page,
            user_code=user_code,
            interval=interval,
            device_code=device_code,
            token_endpoint=token_url,
        )

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        token_url = started.secrets.get("token_endpoint") or (await self.discover())[1]
        form = {
            "grant_type": DEVICE_GRANT,
            "device_code": started.secrets["device_code"],
            "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
        }

        async def attempt() -> dict[str, Any] | Pending:
            status, data = await self._post(token_url, form)
            error, description = oauth_error(data)
            if error:
                return classify(PROVIDER, error, description)
            if status != 200:
                raise LoginError(
                    "bad_response", f"xai device token request failed with status {status}", provider=PROVIDER
                )
            if not text(data.get("access_token")):
                raise LoginError(
                    "bad_response", "xai device token answer has no access token", provider=PROVIDER
                )
            return data

        tokens = await self.poll(started, attempt)
        return xai_credential(tokens, token_url, time.time())

    async def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return await request_json(
            self.http,
            "POST",
            url,
            provider=PROVIDER,
            what="device sign-in",
            timeout=self.polling.request_timeout,
            headers=_FORM,
            body=urlencode(form).encode(),
            proxy=self.proxy,
        )


def xai_credential(tokens: dict[str, Any], token_url: str, now: float) -> tuple[str, dict[str, Any]]:
    """``(file name, record)`` for an xAI token answer, as CPA writes it (UTC times)."""
    id_token = text(tokens.get("id_token"))
    claims = jwt_claims(id_token) if id_token else {}
    email, subject = text(claims.get("email")), text(claims.get("sub"))
    expires_in = int(seconds(tokens.get("expires_in")))
    record: dict[str, Any] = {
        "type": PROVIDER,
        "access_token": text(tokens.get("access_token")),
        "refresh_token": text(tokens.get("refresh_token")),
        "id_token": id_token,
        "token_type": text(tokens.get("token_type")),
        "expires_in": expires_in,
        "expired": rfc3339(now + expires_in, utc=True) if expires_in else "",
        "last_refresh": rfc3339(now, utc=True),
        "base_url": DEFAULT_BASE_URL,
        "token_endpoint": token_url,
        "auth_kind": "oauth",
    }
    if email:
        record["email"] = email
    if subject:
        record["sub"] = subject
    record["disabled"] = False
    return xai_file_name(email, subject, now), record
