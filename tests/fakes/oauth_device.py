"""A fake device-code authorization server for Codex (OpenAI), Kimi and xAI.

One aiohttp server on 127.0.0.1 (random port) answers at each provider's real paths, so
the sign-in flows reach it through the ``CLIPROXY_OAUTH_<PROVIDER>_BASE`` overrides
(:meth:`DeviceAuthFake.point_env`):

- Kimi: ``POST /api/oauth/device_authorization``, ``POST /api/oauth/token``;
- Codex: ``POST /api/accounts/deviceauth/usercode``, ``POST /api/accounts/deviceauth/token``,
  ``POST /oauth/token`` (the device code exchange with PKCE verification, and refresh);
- xAI: ``GET /.well-known/openid-configuration``, ``POST /oauth2/device/code``,
  ``POST /oauth2/token``.

Each device poll takes the next scripted answer (``fake.answers``: ``"pending"``,
``"slow_down"``, ``"expired"``, ``"denied"``; approved when none is left), in the shape
the provider sends it: an RFC 8628 ``{"error", "error_description"}`` body (400 from xAI,
200 from Kimi while pending, as CPA notes), and 403 from OpenAI while pending. Refresh
tokens rotate: each refresh answers a new one and retires the old (``invalid_grant`` on
reuse).

    async with DeviceAuthFake() as fake:
        fake.point_env(monkeypatch)
        fake.answers = ["pending", "slow_down"]
        fake.polls("kimi"), fake.requests[-1].headers["X-Msh-Device-Id"]
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = ["DeviceAuthFake", "DeviceRequest", "fake_id_token"]

CODEX_CLIENT = "app_EMoamEEZ73f0CkXaXp7hrann"
KIMI_CLIENT = "17e5f671-d194-4dfb-9706-5516cb48c098"
XAI_CLIENT = "b1a00492-073a-47ea-816f-4c329264a828"
XAI_SCOPE = "openid profile email offline_access grok-cli:access api:access"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"

_DESCRIPTIONS = {
    "authorization_pending": "User has not yet authorized",
    "slow_down": "Polling too frequently",
    "expired_token": "The device code has expired",
    "access_denied": "The user rejected the request",
}
_CODES = {
    "pending": "authorization_pending",
    "slow_down": "slow_down",
    "expired": "expired_token",
    "denied": "access_denied",
}


@dataclass(slots=True)
class DeviceRequest:
    method: str
    path: str
    family: str  # "codex", "kimi" or "xai"
    kind: str  # "device", "poll", "exchange", "refresh", "discovery"
    headers: dict[str, str]
    fields: dict[str, Any]


def fake_id_token(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying ``claims``."""

    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.sig"


class DeviceAuthFake(LocalServer):
    """Device-code endpoints of three providers, scripted per poll."""

    def __init__(
        self,
        *,
        email: str = "user@example.com",
        subject: str = "sub-1",
        account_id: str = "acct-1",
        plan: str = "plus",
        expires_in: int = 3600,
        code_expires_in: int = 600,
        interval: int = 5,
    ) -> None:
        self.email = email
        self.subject = subject
        self.account_id = account_id
        self.plan = plan
        self.expires_in = expires_in
        self.code_expires_in = code_expires_in
        self.interval = interval
        self.answers: list[str] = []
        self.discovery: dict[str, Any] | None = None  # replaces the discovery document
        self.usercode_key = "user_code"  # OpenAI also spells it "usercode"
        self.delay = 0.0  # seconds before each answer (timeouts)
        self.requests: list[DeviceRequest] = []
        self.live_refresh: set[str] = set()
        self.issued = 0
        self._codes = itertools.count(1)
        self._grants: dict[str, tuple[str, str]] = {}  # codex authorization code -> (verifier, challenge)

    # -- control -------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def point_env(self, monkeypatch: Any) -> None:
        """Send the Codex, Kimi and xAI sign-ins (and Codex/Kimi refreshes) here."""
        for provider in ("CODEX", "KIMI", "XAI"):
            monkeypatch.setenv(f"CLIPROXY_OAUTH_{provider}_BASE", self.base_url)
        monkeypatch.setenv("CLIPROXY_TOKEN_URL_CODEX", self.base_url + "/oauth/token")
        monkeypatch.setenv("CLIPROXY_TOKEN_URL_KIMI", self.base_url + "/api/oauth/token")

    def polls(self, family: str) -> list[DeviceRequest]:
        return [r for r in self.requests if r.family == family and r.kind == "poll"]

    def of(self, family: str, kind: str) -> list[DeviceRequest]:
        return [r for r in self.requests if r.family == family and r.kind == kind]

    # -- shared ----------------------------------------------------------------------

    async def _record(self, request: web.Request, family: str, kind: str) -> DeviceRequest:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        fields: dict[str, Any] = {}
        if raw and "json" in ctype:
            fields = orjson.loads(raw)
        elif raw:
            fields = dict(parse_qsl(raw.decode()))
        rec = DeviceRequest(request.method, request.path, family, kind, dict(request.headers), fields)
        self.requests.append(rec)
        if self.delay:
            await asyncio.sleep(self.delay)
        return rec

    def _next_answer(self) -> str:
        return self.answers.pop(0) if self.answers else "approved"

    def _tokens(self, family: str) -> dict[str, Any]:
        self.issued += 1
        refresh = f"{family}-rt-{self.issued}"
        self.live_refresh.add(refresh)
        out: dict[str, Any] = {
            "access_token": f"{family}-at-{self.issued}",
            "refresh_token": refresh,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if family == "kimi":
            out["scope"] = "kimi-code"
        if family == "codex":
            auth = {"chatgpt_account_id": self.account_id, "chatgpt_plan_type": self.plan}
            out["id_token"] = fake_id_token({"email": self.email, "https://api.openai.com/auth": auth})
        if family == "xai":
            claims = {"sub": self.subject, **({"email": self.email} if self.email else {})}
            out["id_token"] = fake_id_token(claims)
        return out

    def _refresh(self, family: str, rec: DeviceRequest, client: str) -> web.Response:
        token = str(rec.fields.get("refresh_token", ""))
        if rec.fields.get("client_id") != client:
            return _json({"error": "invalid_client", "error_description": "unknown client"}, 401)
        if token not in self.live_refresh:
            return _json(
                {"error": "invalid_grant", "error_description": "refresh token is invalid or reused"}, 400
            )
        self.live_refresh.discard(token)  # rotation: the old token is spent
        return _json(self._tokens(family), 200)

    def _device_code(self, family: str, user_code: str) -> dict[str, Any]:
        n = next(self._codes)
        return {
            "device_code": f"{family}-dc-{n}",
            "user_code": user_code,
            "verification_uri": self.base_url + "/device",
            "verification_uri_complete": f"{self.base_url}/device?user_code={user_code}",
            "expires_in": self.code_expires_in,
            "interval": self.interval,
        }

    @staticmethod
    def _rfc_error(answer: str, status: int) -> web.Response:
        code = _CODES[answer]
        return _json({"error": code, "error_description": _DESCRIPTIONS[code]}, status)

    # -- Kimi --------------------------------------------------------------------------

    async def _kimi_device(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "kimi", "device")
        if rec.fields.get("client_id") != KIMI_CLIENT:
            return _json({"error": "invalid_client"}, 401)
        return _json(self._device_code("kimi", "KIMI-1234"), 200)

    async def _kimi_token(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "kimi", "poll")
        rec.kind = "refresh" if rec.fields.get("grant_type") == "refresh_token" else "poll"
        if rec.kind == "refresh":
            return self._refresh("kimi", rec, KIMI_CLIENT)
        if rec.fields.get("grant_type") != DEVICE_GRANT or not str(
            rec.fields.get("device_code", "")
        ).startswith("kimi-dc-"):
            return _json({"error": "invalid_request"}, 400)
        answer = self._next_answer()
        if answer == "approved":
            return _json(self._tokens("kimi"), 200)
        return self._rfc_error(answer, 200 if answer in ("pending", "slow_down") else 400)

    # -- Codex (OpenAI) ------------------------------------------------------------------

    async def _codex_usercode(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "codex", "device")
        if rec.fields.get("client_id") != CODEX_CLIENT:
            return _json({"error": {"message": "Unknown client", "code": "invalid_client"}}, 400)
        n = next(self._codes)
        return _json(
            {
                "device_auth_id": f"deviceauth-{n}",
                self.usercode_key: "CODX-5678",
                "interval": str(self.interval),
            },
            200,
        )

    async def _codex_poll(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "codex", "poll")
        if not str(rec.fields.get("device_auth_id", "")).startswith("deviceauth-") or not rec.fields.get(
            "user_code"
        ):
            return _json(
                {"error": {"message": "Unknown device authorization", "code": "invalid_request"}}, 400
            )
        answer = self._next_answer()
        if answer == "pending":
            return _json(
                {"error": {"message": "Device authorization is pending", "code": "deviceauth_pending"}}, 403
            )
        if answer != "approved":
            return self._rfc_error(answer, 400)
        code = f"codex-ac-{next(self._codes)}"
        verifier = base64.urlsafe_b64encode(hashlib.sha256(code.encode()).digest()).rstrip(b"=").decode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        self._grants[code] = (verifier, challenge)
        return _json(
            {"authorization_code": code, "code_verifier": verifier, "code_challenge": challenge}, 200
        )

    async def _codex_token(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "codex", "exchange")
        rec.kind = "refresh" if rec.fields.get("grant_type") == "refresh_token" else "exchange"
        if rec.kind == "refresh":
            return self._refresh("codex", rec, CODEX_CLIENT)
        f = rec.fields
        pair = self._grants.get(str(f.get("code", "")))
        if f.get("grant_type") != "authorization_code" or f.get("client_id") != CODEX_CLIENT or pair is None:
            return _json({"error": "invalid_grant", "error_description": "Invalid authorization code"}, 400)
        if f.get("code_verifier") != pair[0]:
            return _json({"error": "invalid_grant", "error_description": "Invalid code verifier"}, 400)
        if not str(f.get("redirect_uri", "")).endswith("/deviceauth/callback"):
            return _json({"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400)
        del self._grants[str(f["code"])]  # a code is good once
        return _json(self._tokens("codex"), 200)

    # -- xAI -----------------------------------------------------------------------------

    async def _xai_discovery(self, request: web.Request) -> web.Response:
        await self._record(request, "xai", "discovery")
        doc = self.discovery or {
            "issuer": self.base_url,
            "device_authorization_endpoint": self.base_url + "/oauth2/device/code",
            "token_endpoint": self.base_url + "/oauth2/token",
            "grant_types_supported": [DEVICE_GRANT, "refresh_token"],
        }
        return _json(doc, 200)

    async def _xai_device(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "xai", "device")
        if rec.fields.get("client_id") != XAI_CLIENT or rec.fields.get("scope") != XAI_SCOPE:
            return _json({"error": "invalid_client", "error_description": "unknown client or scope"}, 400)
        return _json(self._device_code("xai", "ABCD-1234"), 200)

    async def _xai_token(self, request: web.Request) -> web.Response:
        rec = await self._record(request, "xai", "poll")
        rec.kind = "refresh" if rec.fields.get("grant_type") == "refresh_token" else "poll"
        if rec.kind == "refresh":
            return self._refresh("xai", rec, XAI_CLIENT)
        f = rec.fields
        if f.get("grant_type") != DEVICE_GRANT or f.get("client_id") != XAI_CLIENT:
            return _json({"error": "invalid_request", "error_description": "bad device grant"}, 400)
        answer = self._next_answer()
        if answer == "approved":
            return _json(self._tokens("xai"), 200)
        return self._rfc_error(answer, 400)

    # -- lifecycle -------------------------------------------------------------------------

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/api/oauth/device_authorization", self._kimi_device)
        router.add_post("/api/oauth/token", self._kimi_token)
        router.add_post("/api/accounts/deviceauth/usercode", self._codex_usercode)
        router.add_post("/api/accounts/deviceauth/token", self._codex_poll)
        router.add_post("/oauth/token", self._codex_token)
        router.add_get("/.well-known/openid-configuration", self._xai_discovery)
        router.add_post("/oauth2/device/code", self._xai_device)
        router.add_post("/oauth2/token", self._xai_token)


def _json(obj: Any, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")
