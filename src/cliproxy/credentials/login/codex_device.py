"""ChatGPT / Codex sign-in with a device code (CPA's ``-codex-device-login``).

OpenAI's variant of the device flow, as the Codex CLI and CPA speak it:

1. ``POST device-usercode`` ``{"client_id"}`` answers ``device_auth_id``, ``user_code``
   (or ``usercode``) and ``interval`` (a number or a numeric string, default 5 s);
2. the user opens ``device-verify`` and types the code;
3. ``POST device-token`` ``{"device_auth_id", "user_code"}`` answers 403 or 404 while the
   user has not approved, then ``authorization_code``, ``code_verifier`` and
   ``code_challenge``;
4. that code is exchanged at the ordinary token endpoint (form, ``grant_type=
   authorization_code``) with ``redirect_uri`` set to ``device-redirect``.

The file is the one the callback sign-in writes: ``codex-[<hash8>-]<email>[-<plan>].json``
where ``hash8`` is the first 8 hex digits of SHA-256 of the ChatGPT account id and
``plan`` the normalised plan type, both from the ``id_token``.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import orjson

from cliproxy.credentials.oauth_tokens import jwt_claims, rfc3339

from . import endpoints
from .base import AuthStart, LoginError
from .core import oauth_error, request_json
from .device import (
    PENDING,
    DeviceFlow,
    Pending,
    classify,
    seconds,
    text,
)

__all__ = ["CodexDeviceFlow", "codex_credential", "codex_file_name"]

PROVIDER = "codex"
MAX_WAIT = 15 * 60.0  # CPA's codexDeviceTimeout
DEFAULT_INTERVAL = 5.0
_JSON = {"Content-Type": "application/json", "Accept": "application/json"}
_AUTH_CLAIM = "https://api.openai.com/auth"


class CodexDeviceFlow(DeviceFlow):
    """The Codex device-code sign-in (a :class:`~cliproxy.credentials.login.base.LoginFlow`)."""

    provider = PROVIDER
    max_wait = MAX_WAIT
    default_interval = DEFAULT_INTERVAL
    first_now = True

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        body = orjson.dumps({"client_id": endpoints.CLIENTS[PROVIDER]["client_id"]})
        status, data = await self._call(endpoints.url(PROVIDER, "device-usercode"), body)
        if status == 404:
            raise LoginError(
                "bad_response", "the codex device sign-in endpoint is unavailable (404)", provider=PROVIDER
            )
        if not 200 <= status < 300:
            raise LoginError(
                "bad_response", _failure("codex device code request", status, data), provider=PROVIDER
            )
        user_code = text(data.get("user_code")) or text(data.get("usercode"))
        device_auth_id = text(data.get("device_auth_id"))
        if not user_code or not device_auth_id:
            raise LoginError(
                "bad_response",
                "codex device code answer lacks user_code or device_auth_id",
                provider=PROVIDER,
            )
        return self.started(
            data,
            page=endpoints.url(PROVIDER, "device-verify"),
            user_code=user_code,
            interval=seconds(data.get("interval"), DEFAULT_INTERVAL),
            device_auth_id=device_auth_id,
        )

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        poll_body = orjson.dumps(
            {"device_auth_id": started.secrets["device_auth_id"], "user_code": started.user_code}
        )
        url = endpoints.url(PROVIDER, "device-token")

        async def attempt() -> dict[str, Any] | Pending:
            status, data = await self._call(url, poll_body)
            if 200 <= status < 300:
                return data
            if status in (403, 404):  # not approved yet (how OpenAI says "pending")
                return PENDING
            error, description = oauth_error(data)
            if error:
                return classify(PROVIDER, error, description)
            raise LoginError("bad_response", _failure("codex device poll", status, data), provider=PROVIDER)

        grant = await self.poll(started, attempt)
        auth_code, verifier = text(grant.get("authorization_code")), text(grant.get("code_verifier"))
        if not auth_code or not verifier or not text(grant.get("code_challenge")):
            raise LoginError(
                "bad_response", "codex device approval lacks the authorization code", provider=PROVIDER
            )
        tokens = await self._exchange(auth_code, verifier)
        return codex_credential(tokens, time.time())

    async def _exchange(self, auth_code: str, verifier: str) -> dict[str, Any]:
        form = {
            "grant_type": "authorization_code",
            "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
            "code": auth_code,
            "redirect_uri": endpoints.url(PROVIDER, "device-redirect"),
            "code_verifier": verifier,
        }
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        status, data = await request_json(
            self.http,
            "POST",
            endpoints.url(PROVIDER, "token"),
            provider=PROVIDER,
            what="code exchange",
            timeout=self.polling.request_timeout,
            headers=headers,
            body=urlencode(form).encode(),
            proxy=self.proxy,
        )
        if status != 200:
            raise LoginError(
                "exchange_failed", _failure("codex token exchange", status, data), provider=PROVIDER
            )
        if not text(data.get("access_token")):
            raise LoginError("bad_response", "codex token answer has no access token", provider=PROVIDER)
        return data

    async def _call(self, url: str, body: bytes) -> tuple[int, dict[str, Any]]:
        return await request_json(
            self.http,
            "POST",
            url,
            provider=PROVIDER,
            what="device sign-in",
            timeout=self.polling.request_timeout,
            headers=_JSON,
            body=body,
            proxy=self.proxy,
        )


def codex_credential(tokens: Mapping[str, Any], now: float) -> tuple[str, dict[str, Any]]:
    """``(file name, record)`` for a Codex token answer, as CPA writes it (local-time
    ``expired`` and ``last_refresh``). :class:`LoginError` when the ``id_token`` names no
    email (CPA refuses such an account too)."""
    id_token = text(tokens.get("id_token"))
    claims = jwt_claims(id_token) if id_token else {}
    auth = claims.get(_AUTH_CLAIM)
    auth = auth if isinstance(auth, dict) else {}
    email = text(claims.get("email"))
    if not email:
        raise LoginError("bad_response", "codex sign-in answer names no account email", provider=PROVIDER)
    account_id = text(auth.get("chatgpt_account_id"))
    plan = text(auth.get("chatgpt_plan_type"))
    digest = hashlib.sha256(account_id.encode()).hexdigest()[:8] if account_id else ""
    expires_in = seconds(tokens.get("expires_in"))
    record: dict[str, Any] = {
        "id_token": id_token,
        "access_token": text(tokens.get("access_token")),
        "refresh_token": text(tokens.get("refresh_token")),
        "account_id": account_id,
        "last_refresh": rfc3339(now),
        "email": email,
        "type": PROVIDER,
        "expired": rfc3339(now + int(expires_in)),
        "disabled": False,
    }
    return codex_file_name(email, plan, digest), record


def codex_file_name(email: str, plan_type: str, account_hash: str) -> str:
    """CPA's ``CredentialFileName(email, plan, hash, true)``."""
    email, account_hash = email.strip(), account_hash.strip()
    plan = _plan_part(plan_type)
    parts = ["codex", *([account_hash] if account_hash else []), email, *([plan] if plan else [])]
    return "-".join(parts) + ".json"


def _plan_part(plan_type: str) -> str:
    """The plan as lower-case words joined by ``-`` (every non letter or digit splits)."""
    words, word = [], []
    for ch in plan_type.strip():
        if ch.isalpha() or ch.isdecimal():
            word.append(ch.lower())
        elif word:
            words.append("".join(word))
            word = []
    if word:
        words.append("".join(word))
    return "-".join(words)


def _failure(what: str, status: int, data: Mapping[str, Any]) -> str:
    error, description = oauth_error(data)
    if error:
        return f"{what} failed ({status}): {error}" + (f": {description[:160]}" if description else "")
    return f"{what} failed with status {status}"
