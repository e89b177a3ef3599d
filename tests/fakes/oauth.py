"""A fake OAuth 2 token endpoint: refresh-token and JWT-bearer grants.

Any ``POST`` path is the token endpoint (so ``/token``, ``/oauth/token``, ``/v1/oauth/token``
all work). Requests are recorded with their form or JSON fields; answers carry fresh
tokens (``at-1``, ``at-2``... and, with ``rotate``, ``rt-1``...) and ``expires_in``.

    async with OAuthFake() as fake:
        fake.fail_next(400, "invalid_grant")      # the next request is refused
        fake.delay = 0.05                         # slow answers (concurrency tests)
        fake.public_key = (n, e)                  # verify RS256 assertions (jwt-bearer)
        fake.requests[-1].fields["refresh_token"]
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Self
from urllib.parse import parse_qsl

import orjson
import pytest
from aiohttp import web

__all__ = ["OAuthFake", "TokenRequest", "fake_jwt", "oauth_fake"]

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


class OAuthFake:
    """The token endpoint of an OAuth server, on 127.0.0.1 (random port)."""

    def __init__(
        self, *, expires_in: int = 3600, rotate: bool = True, id_token_claims: dict[str, Any] | None = None
    ) -> None:
        self.expires_in = expires_in
        self.rotate = rotate
        self.id_token_claims = id_token_claims
        self.public_key: tuple[int, int] | None = None
        self.delay = 0.0
        self.requests: list[TokenRequest] = []
        self.failures: list[tuple[int, str]] = []
        self.issued = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

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
            await asyncio.sleep(self.delay)
        if self.failures:
            status, error = self.failures.pop(0)
            return _json({"error": error, "error_description": f"fake {error}"}, status)
        if rec.grant_type == "refresh_token" and not fields.get("refresh_token"):
            return _json({"error": "invalid_request"}, 400)
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

    async def start(self) -> Self:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._token)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        self.port = runner.addresses[0][1]
        self._runner = runner
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _json(obj: Any, status: int) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
async def oauth_fake() -> AsyncIterator[OAuthFake]:
    """A running :class:`OAuthFake`, stopped after the test."""
    async with OAuthFake() as fake:
        yield fake
