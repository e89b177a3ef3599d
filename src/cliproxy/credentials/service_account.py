"""Google service accounts: a signed JWT exchanged for an OAuth2 access token.

A Vertex auth file holds the service-account JSON under ``service_account``. The token
flow is Google's two-legged OAuth (RFC 7523): an RS256 JWT assertion with ``iss`` =
``client_email``, ``aud`` = ``token_uri`` and the requested ``scope`` is posted as
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer``; the answer carries
``access_token`` and ``expires_in``. :class:`TokenCache` keeps each token until shortly
before it expires and runs at most one exchange per account at a time.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson

from cliproxy.errors import UpstreamError
from cliproxy.providers.http import HttpClient, read_body

if TYPE_CHECKING:  # cryptography (~9 MB) loads only when a service account signs
    from .rs256 import RSAKey

__all__ = [
    "CLOUD_PLATFORM_SCOPE",
    "DEFAULT_TOKEN_URI",
    "JWT_BEARER",
    "ServiceAccount",
    "TokenCache",
    "jwt_assertion",
]

DEFAULT_TOKEN_URI = "https://oauth2.googleapis.com/token"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LIFETIME = 3600


@dataclass(frozen=True, slots=True)
class ServiceAccount:
    """The fields of a service-account JSON that the token flow needs."""

    client_email: str
    private_key: str
    private_key_id: str = ""
    token_uri: str = DEFAULT_TOKEN_URI

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ServiceAccount:
        """Read a service-account mapping; ``ValueError`` when a required field is missing."""
        email = _text(data.get("client_email"))
        key = _text(data.get("private_key"))
        if not email:
            raise ValueError("service account missing client_email")
        if not key:
            raise ValueError("service account missing private_key")
        return cls(
            email, key, _text(data.get("private_key_id")), _text(data.get("token_uri")) or DEFAULT_TOKEN_URI
        )

    @property
    def cache_key(self) -> str:
        return f"{self.client_email}\x00{self.private_key_id}\x00{self.token_uri}"


def jwt_assertion(
    account: ServiceAccount, key: RSAKey, *, scope: str, now: float, audience: str | None = None
) -> str:
    """The signed JWT that asks ``audience`` (the token URI) for a token of ``scope``."""
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    iat = int(now)
    claims = {
        "iss": account.client_email,
        "scope": scope,
        "aud": audience or account.token_uri,
        "iat": iat,
        "exp": iat + _LIFETIME,
    }
    signing_input = _b64(orjson.dumps(header)) + "." + _b64(orjson.dumps(claims))
    from .rs256 import sign_rs256

    return signing_input + "." + _b64(sign_rs256(key, signing_input.encode()))


@dataclass(slots=True)
class _Token:
    value: str
    expires_at: float


class TokenCache:
    """Access tokens per service account, shared by concurrent requests.

    ``skew`` seconds before expiry a token counts as stale. ``token_url`` (when given)
    replaces every account's ``token_uri`` as the place to post the assertion, while the
    JWT audience stays the account's own ``token_uri``.
    """

    def __init__(
        self, *, scope: str = CLOUD_PLATFORM_SCOPE, skew: float = 60.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.scope = scope
        self.skew = skew
        self.clock = clock
        self.exchanges = 0
        self._tokens: dict[str, _Token] = {}
        self._inflight: dict[str, asyncio.Future[_Token]] = {}

    async def token(
        self, account: ServiceAccount, http: HttpClient, *, proxy: str = "", token_url: str | None = None
    ) -> str:
        """A valid access token for ``account``; exchanges a new one when needed."""
        key = account.cache_key
        cached = self._tokens.get(key)
        if cached is not None and cached.expires_at - self.skew > self.clock():
            return cached.value
        pending = self._inflight.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._exchange(account, http, proxy, token_url))
            self._inflight[key] = pending
            pending.add_done_callback(lambda _f: self._inflight.pop(key, None))
        token = await asyncio.shield(pending)
        return token.value

    def forget(self, account: ServiceAccount) -> None:
        """Drop the cached token (e.g. after the upstream rejected it with 401)."""
        self._tokens.pop(account.cache_key, None)

    async def _exchange(
        self, account: ServiceAccount, http: HttpClient, proxy: str, token_url: str | None
    ) -> _Token:
        self.exchanges += 1
        from .rs256 import load_pem_private_key

        try:
            key = load_pem_private_key(account.private_key)
        except ValueError as exc:
            raise UpstreamError(f"vertex service account: {exc}", status=401) from exc
        now = self.clock()
        form = urlencode(
            {"grant_type": JWT_BEARER, "assertion": jwt_assertion(account, key, scope=self.scope, now=now)}
        )
        resp = await http.request(
            "POST",
            token_url or account.token_uri,
            body=form.encode(),
            proxy=proxy,
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        body = await read_body(resp)
        data = _json(body)
        if resp.status != 200 or not _text(data.get("access_token")):
            status = 401 if resp.status in (400, 401, 403) else 502
            detail = (
                _text(data.get("error_description")) or _text(data.get("error")) or f"status {resp.status}"
            )
            raise UpstreamError(f"service account token exchange failed: {detail}", status=status, body=body)
        expires_in = data.get("expires_in")
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else _LIFETIME
        token = _Token(data["access_token"].strip(), now + lifetime)
        self._tokens[account.cache_key] = token
        return token


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}
