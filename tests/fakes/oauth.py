"""Fake OAuth servers: :class:`OAuthFake`, a bare token endpoint (refresh-token and
JWT-bearer grants), and :class:`AuthServerFake`, whole sign-in servers for Claude, OpenAI
(Codex) and Google (Antigravity).

For :class:`OAuthFake` any ``POST`` path is the token endpoint (so ``/token``, ``/oauth/token``, ``/v1/oauth/token``
all work). Requests are recorded with their form or JSON fields; answers carry fresh
tokens (``at-1``, ``at-2``... and, with ``rotate``, ``rt-1``...) and ``expires_in``.

    async with OAuthFake() as fake:
        fake.fail_next(400, "invalid_grant")      # the next request is refused
        fake.delay = 0.05                         # slow answers (concurrency tests)
        fake.public_key = (n, e)                  # verify RS256 assertions (jwt-bearer)
        fake.requests[-1].fields["refresh_token"]
        fake.refuse_reused = True                 # a spent refresh token is refused, as OpenAI does
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson
import pytest
from aiohttp import web

from tests.fakes.local import LocalServer

__all__ = [
    "Account",
    "AuthServerFake",
    "OAuthFake",
    "Seen",
    "TokenRequest",
    "auth_server",
    "fake_jwt",
    "oauth_fake",
]

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


@dataclass(slots=True)
class TokenRequest:
    path: str
    headers: dict[str, str]
    content_type: str
    fields: dict[str, Any]
    claims: dict[str, Any] = field(default_factory=dict)  # of a verified JWT assertion

    @property
    def grant_type(self) -> str:
        return str(self.fields.get("grant_type", ""))


def fake_jwt(claims: dict[str, Any]) -> str:
    """An unsigned JWT carrying ``claims`` (what Codex's id_token parser reads)."""

    def part(obj: Any) -> str:
        return base64.urlsafe_b64encode(orjson.dumps(obj)).rstrip(b"=").decode()

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


class OAuthFake(LocalServer):
    """The token endpoint of an OAuth server, on 127.0.0.1 (random port)."""

    def __init__(
        self, *, expires_in: int = 3600, rotate: bool = True, id_token_claims: dict[str, Any] | None = None
    ) -> None:
        self.expires_in = expires_in
        self.rotate = rotate
        self.id_token_claims = id_token_claims
        self.public_key: tuple[int, int] | None = None
        self.delay = 0.0
        self.active = self.peak = 0  # token calls in flight (with a delay), and their maximum
        self.requests: list[TokenRequest] = []
        self.failures: list[tuple[int, str]] = []
        self.issued = 0
        # OpenAI's rule: a rotated refresh token is refused once spent (``refresh_token_reused``)
        self.refuse_reused = False
        self.spent: set[str] = set()

    # -- control

    def fail_next(self, status: int = 400, error: str = "invalid_grant", times: int = 1) -> None:
        self.failures += [(status, error)] * times

    def url(self, path: str = "/token") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    # -- serving

    async def _token(self, request: web.Request) -> web.Response:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        if "json" in ctype:
            fields = orjson.loads(raw) if raw else {}
        else:
            fields = dict(parse_qsl(raw.decode()))
        rec = TokenRequest(request.path, dict(request.headers), ctype, fields)
        self.requests.append(rec)
        if self.delay:
            self.active += 1
            self.peak = max(self.peak, self.active)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.active -= 1
        if self.failures:
            status, error = self.failures.pop(0)
            return _json({"error": error, "error_description": f"fake {error}"}, status)
        if rec.grant_type == "refresh_token" and not fields.get("refresh_token"):
            return _json({"error": "invalid_request"}, 400)
        if rec.grant_type == "refresh_token" and self.refuse_reused:
            token = str(fields["refresh_token"])
            if token in self.spent:
                return _json(_BAD_REFRESH["codex"], 400)
            self.spent.add(token)
        if rec.grant_type == JWT_BEARER:
            claims = self._verify(str(fields.get("assertion", "")))
            if claims is None:
                return _json({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
            rec.claims = claims
        return _json(self._issue(), 200)

    def _issue(self) -> dict[str, Any]:
        self.issued += 1
        out: dict[str, Any] = {
            "access_token": f"at-{self.issued}",
            "token_type": "Bearer",
            "expires_in": self.expires_in,
        }
        if self.rotate:
            out["refresh_token"] = f"rt-{self.issued}"
        if self.id_token_claims is not None:
            out["id_token"] = fake_jwt(self.id_token_claims)
        return out

    def _verify(self, assertion: str) -> dict[str, Any] | None:
        """Check an RS256 JWT with ``public_key`` (pow(s, e, n)); its claims or None."""
        parts = assertion.split(".")
        if len(parts) != 3:
            return None
        claims = orjson.loads(_unb64(parts[1]))
        if self.public_key is None:
            return claims
        n, e = self.public_key
        k = (n.bit_length() + 7) // 8
        signature = int.from_bytes(_unb64(parts[2]), "big")
        digest = hashlib.sha256(f"{parts[0]}.{parts[1]}".encode()).digest()
        t = _SHA256_DIGEST_INFO + digest
        expected = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return claims if pow(signature, e, n).to_bytes(k, "big") == expected else None

    # -- lifecycle

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/{tail:.*}", self._token)


def _json(obj: Any, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
async def oauth_fake() -> AsyncIterator[OAuthFake]:
    """A running :class:`OAuthFake`, stopped after the test."""
    async with OAuthFake() as fake:
        yield fake


# -- a whole authorization server per provider family ------------------------------------

CLAUDE_CLIENT = "9d1c250a-e61b-44d9-88ed-5944d1962f5e"
CODEX_CLIENT = "app_EMoamEEZ73f0CkXaXp7hrann"
GOOGLE_CLIENT = "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com"
GOOGLE_SECRET = "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"
_CLIENTS = {CLAUDE_CLIENT: "claude", CODEX_CLIENT: "codex", GOOGLE_CLIENT: "google"}
_TOKEN_PATHS = {"/v1/oauth/token": "claude", "/oauth/token": "codex", "/token": "google"}

# the error bodies each family's token endpoint sends
_BAD_VERIFIER = {
    "claude": {"error": "invalid_grant", "error_description": "Invalid code verifier"},
    "codex": {
        "error": {
            "message": "Invalid code_verifier.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_grant",
        }
    },
}
_BAD_REFRESH = {
    "claude": {"error": "invalid_grant", "error_description": "Refresh token not found or invalid"},
    "codex": {
        "error": {
            "message": "Your refresh token has already been used to generate a new access token.",
            "type": "invalid_request_error",
            "param": None,
            "code": "refresh_token_reused",
        }
    },
    "google": {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
}


@dataclass(slots=True)
class Account:
    """Who signs in at :class:`AuthServerFake`."""

    email: str = "user@example.com"
    account_uuid: str = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
    org_uuid: str = "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    org_name: str = "Example Org"
    chatgpt_account_id: str = "acct-123"
    plan_type: str = "plus"
    project: str = "cogent-snow-4mnnp"


@dataclass(slots=True)
class Seen:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    fields: dict[str, Any]
    raw: bytes


@dataclass(slots=True)
class _Grant:
    family: str
    client_id: str
    redirect_uri: str
    challenge: str


class AuthServerFake(LocalServer):
    """Claude's, OpenAI's and Google's sign-in servers in one, on 127.0.0.1 (random port).

    The paths are the real ones, so ``CLIPROXY_OAUTH_<PROVIDER>_BASE=<fake.base>`` points a
    flow here: authorize (``/oauth/authorize``, ``/o/oauth2/v2/auth``) redirects to the
    ``redirect_uri`` with ``code`` and ``state`` (or ``error=access_denied`` when
    ``deny``); the token endpoints (``/v1/oauth/token``, ``/oauth/token``, ``/token``)
    check the one-shot code, the redirect URI, the PKCE verifier (S256) or Google's client
    secret, and refresh with rotation (a used refresh token is refused); Claude's profile
    and roles, Google's userinfo, and Cloud Code's loadCodeAssist / onboardUser (``not
    done`` ``onboard_pending`` times, then done) need a Bearer token it issued."""

    def __init__(self) -> None:
        self.account = Account()
        self.deny = False
        self.rotate = True
        self.expires_in = 3600
        self.onboard_pending = 1
        self.project_ready = False
        self.fail_profile = False
        self.profile_email = ""  # Claude's profile names another email than the token answer
        self.hold: asyncio.Event | None = None  # token answers wait for it (set = go on)
        self.holding = asyncio.Event()  # a token request is waiting on ``hold``
        # (status, body, headers) every refresh grant gets instead of new tokens
        self.refresh_answer: tuple[int, dict[str, Any], dict[str, str]] | None = None
        self.requests: list[Seen] = []
        self.issued = 0
        self._codes: dict[str, _Grant] = {}
        self._access: set[str] = set()
        self._refresh: dict[str, str] = {}  # live refresh token -> family
        self._onboard_calls = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    # -- authorize

    async def _authorize(self, request: web.Request) -> web.Response:
        await self._record(request)
        q = request.query
        family = _CLIENTS.get(q.get("client_id", ""))
        redirect = q.get("redirect_uri", "")
        if family is None or not redirect or q.get("response_type") != "code":
            return web.Response(status=400, text="invalid_request: unknown client or bad request")
        if family != "google" and (not q.get("code_challenge") or q.get("code_challenge_method") != "S256"):
            return _redirect(redirect, error="invalid_request", state=q.get("state", ""))
        if self.deny:
            return _redirect(
                redirect,
                error="access_denied",
                error_description="The user denied access",
                state=q.get("state", ""),
            )
        self.issued += 1
        code = f"code-{family}-{self.issued}"
        self._codes[code] = _Grant(family, q["client_id"], redirect, q.get("code_challenge", ""))
        return _redirect(redirect, code=code, state=q.get("state", ""))

    # -- token

    async def _token(self, request: web.Request) -> web.Response:
        seen = await self._record(request)
        if self.hold is not None:
            self.holding.set()
            await asyncio.wait_for(self.hold.wait(), 10)
        family = _TOKEN_PATHS[request.path]
        fields = seen.fields
        grant_type = fields.get("grant_type")
        if grant_type == "authorization_code":
            return self._exchange(family, fields)
        if grant_type == "refresh_token" and self.refresh_answer is not None:
            status, answer, headers = self.refresh_answer
            return web.json_response(answer, status=status, headers=headers)
        if grant_type == "refresh_token":
            token = str(fields.get("refresh_token", ""))
            if self._refresh.get(token) != family:
                return _json(_BAD_REFRESH[family], 400)
            if self.rotate:
                del self._refresh[token]
            return _json(self._tokens(family, refresh=self.rotate), 200)
        return _json({"error": "unsupported_grant_type"}, 400)

    def _exchange(self, family: str, fields: dict[str, Any]) -> web.Response:
        grant = self._codes.pop(str(fields.get("code", "")), None)
        if grant is None or grant.family != family:
            return _json({"error": "invalid_grant", "error_description": "Invalid authorization code"}, 400)
        if fields.get("client_id") != grant.client_id or fields.get("redirect_uri") != grant.redirect_uri:
            return _json(
                {"error": "invalid_grant", "error_description": "redirect_uri or client_id mismatch"}, 400
            )
        if family == "google":
            if fields.get("client_secret") != GOOGLE_SECRET:
                return _json({"error": "invalid_client", "error_description": "Unauthorized"}, 401)
        elif _challenge(str(fields.get("code_verifier", ""))) != grant.challenge:
            return _json(_BAD_VERIFIER[family], 400)
        return _json(self._tokens(family, refresh=True), 200)

    def _tokens(self, family: str, *, refresh: bool) -> dict[str, Any]:
        self.issued += 1
        access = f"at-{family}-{self.issued}"
        self._access.add(access)
        out: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": self.expires_in}
        if refresh:
            out["refresh_token"] = f"rt-{family}-{self.issued}"
            self._refresh[out["refresh_token"]] = family
        a = self.account
        if family == "claude":
            out["organization"] = {"uuid": a.org_uuid, "name": a.org_name}
            out["account"] = {"uuid": a.account_uuid, "email_address": a.email}
        elif family == "codex":
            auth = {"chatgpt_account_id": a.chatgpt_account_id, "chatgpt_plan_type": a.plan_type}
            out["id_token"] = fake_jwt({"email": a.email, "https://api.openai.com/auth": auth})
        return out

    # -- what a Bearer token opens

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self._access

    async def _profile(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return _json(
                {"type": "error", "error": {"type": "authentication_error", "message": "Invalid"}}, 401
            )
        if self.fail_profile:
            return _json({"error": "unavailable"}, 503)
        a = self.account
        return _json(
            {
                "account": {
                    "uuid": a.account_uuid,
                    "email": self.profile_email or a.email,
                    "full_name": "Test",
                },
                "organization": {"uuid": a.org_uuid, "name": a.org_name, "organization_type": "claude_max"},
            },
            200,
        )

    async def _roles(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return _json(
                {"type": "error", "error": {"type": "authentication_error", "message": "Invalid"}}, 401
            )
        return _json({"roles": ["claude_code_user"]}, 200)

    async def _userinfo(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return _json(
                {"error": {"code": 401, "message": "Invalid Credentials", "status": "UNAUTHENTICATED"}}, 401
            )
        return _json(
            {"id": "1234567890", "email": self.account.email, "verified_email": True, "name": "Test"}, 200
        )

    async def _load_code_assist(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return _json(
                {"error": {"code": 401, "message": "Unauthenticated", "status": "UNAUTHENTICATED"}}, 401
            )
        tiers = [{"id": "free-tier", "name": "Gemini Code Assist for individuals", "isDefault": True}]
        if self.project_ready:
            return _json(
                {
                    "currentTier": tiers[0],
                    "allowedTiers": tiers,
                    "cloudaicompanionProject": self.account.project,
                },
                200,
            )
        return _json({"allowedTiers": tiers}, 200)

    async def _onboard_user(self, request: web.Request) -> web.Response:
        await self._record(request)
        if not self._authorized(request):
            return _json(
                {"error": {"code": 401, "message": "Unauthenticated", "status": "UNAUTHENTICATED"}}, 401
            )
        self._onboard_calls += 1
        if self._onboard_calls <= self.onboard_pending:
            return _json({"name": f"operations/onboard-{self._onboard_calls}", "done": False}, 200)
        self.project_ready = True
        project = {"id": self.account.project, "name": self.account.project, "projectNumber": "22597072101"}
        return _json(
            {"name": "operations/onboard", "done": True, "response": {"cloudaicompanionProject": project}},
            200,
        )

    async def _record(self, request: web.Request) -> Seen:
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "")
        fields: dict[str, Any] = {}
        if raw and "json" in ctype:
            fields = orjson.loads(raw)
        elif raw:
            fields = dict(parse_qsl(raw.decode()))
        seen = Seen(request.method, request.path, dict(request.headers), dict(request.query), fields, raw)
        self.requests.append(seen)
        return seen

    # -- lifecycle

    def add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_get("/oauth/authorize", self._authorize)
        router.add_get("/o/oauth2/v2/auth", self._authorize)
        for path in _TOKEN_PATHS:
            router.add_post(path, self._token)
        router.add_get("/api/oauth/profile", self._profile)
        router.add_get("/api/oauth/claude_cli/roles", self._roles)
        router.add_get("/oauth2/v2/userinfo", self._userinfo)
        router.add_post("/v1internal:loadCodeAssist", self._load_code_assist)
        router.add_post("/v1internal:onboardUser", self._onboard_user)


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


def _redirect(target: str, **params: str) -> web.Response:
    sep = "&" if "?" in target else "?"
    return web.Response(status=302, headers={"Location": target + sep + urlencode(params)})


@pytest.fixture
async def auth_server() -> AsyncIterator[AuthServerFake]:
    """A running :class:`AuthServerFake`, stopped after the test."""
    async with AuthServerFake() as fake:
        yield fake
