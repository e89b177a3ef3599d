"""Token endpoints of the OAuth providers: how to ask for a refresh, what to store after.

One :class:`TokenEndpoint` per provider key, with CPA's refresh lead (how long before
expiry a token is renewed), request shape (form or JSON, client id) and the metadata
keys CPA writes into the auth file after a refresh. Token URLs and client identities
come from the sign-in flows' table, :mod:`cliproxy.credentials.login.endpoints` (so its
``CLIPROXY_OAUTH_<PROVIDER>_*`` overrides move refreshes too). The refresh loop itself is
in :mod:`cliproxy.credentials.refresh`.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import logging
import platform
import socket
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import urlencode

import orjson

from cliproxy import __version__
from cliproxy.errors import UpstreamError
from cliproxy.providers.http import read_body
from cliproxy.providers.transport import UpstreamClient
from cliproxy.times import format_local, format_utc

from .login import endpoints
from .record import Credential

__all__ = [
    "AXIOS_ENCODING",
    "TOKEN_ENDPOINTS",
    "TokenEndpoint",
    "go_arch",
    "jwt_claims",
    "kimi_headers",
    "rfc3339",
]

log = logging.getLogger(__name__)

_HOUR = 3600.0
PROFILE_TIMEOUT = 30.0  # the whole profile read after a refresh
_DAY = 24 * _HOUR


def rfc3339(ts: float, *, utc: bool = False) -> str:
    """Go's ``time.Format(time.RFC3339)``: seconds, local offset (or UTC), ``Z`` for UTC."""
    return format_utc(ts, "seconds") if utc else format_local(ts, "seconds", z=True)


def jwt_claims(token: str) -> dict[str, Any]:
    """The (unverified) claims of a JWT, or ``{}``."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        data = orjson.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


_GO_OS = {"darwin": "macOS", "windows": "Windows", "linux": "Linux"}
_GO_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "i386": "386",
    "i686": "386",
}


def go_arch() -> str:
    """This machine's architecture as Go names it (``runtime.GOARCH``: ``amd64``, ``arm64``),
    the spelling CPA's Kimi identity headers use."""
    machine = platform.machine().lower()
    return _GO_ARCH.get(machine, machine)


def kimi_headers(device_id: str) -> dict[str, str]:
    """Kimi's client identification headers for ``device_id``, the same on the device
    sign-in and on every refresh (CPA): platform, version, host name, ``"Linux amd64"``
    style model (Go's OS and architecture names) and the device id."""
    system = platform.system().lower()
    model = f"{_GO_OS.get(system, system)} {go_arch()}"
    return {
        "X-Msh-Platform": "CLIProxyAPI",
        "X-Msh-Version": __version__,
        "X-Msh-Device-Name": socket.gethostname() or "unknown",
        "X-Msh-Device-Model": model,
        "X-Msh-Device-Id": device_id,
    }


class TokenEndpoint:
    """A provider's refresh-token grant. Subclasses set the class attributes;
    ``provider`` is also the key of the endpoint table."""

    provider: ClassVar[str]
    lead: ClassVar[float]  # seconds before expiry
    json_body: ClassVar[bool] = False
    params: ClassVar[Mapping[str, str]] = {}
    headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    write_last_refresh: ClassVar[bool] = True

    @property
    def url(self) -> str:
        """The provider's token URL from the endpoint table (after its env overrides)."""
        return endpoints.url(self.provider, "token")

    def url_for(self, cred: Credential) -> str:
        """The default token URL for this credential (overrides are the caller's)."""
        return self.url

    def request(self, cred: Credential) -> tuple[bytes, dict[str, str]]:
        """Body and headers of the refresh request."""
        fields = {**self.params, "grant_type": "refresh_token", "refresh_token": cred.refresh_token}
        headers = dict(self.headers)
        if self.json_body:  # keys sorted, as Go's json.Marshal writes CPA's map
            headers["Content-Type"] = "application/json"
            return orjson.dumps(fields, option=orjson.OPT_SORT_KEYS), headers
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return urlencode(fields).encode(), headers

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        """The auth-file keys to write after a successful refresh answer ``data``."""
        out: dict[str, Any] = {"access_token": data["access_token"]}
        if isinstance(data.get("refresh_token"), str) and data["refresh_token"]:
            out["refresh_token"] = data["refresh_token"]
        expires_in = _seconds(data.get("expires_in"))
        if expires_in:
            out["expired"] = rfc3339(now + expires_in)
        out["type"] = self.provider
        if self.write_last_refresh:
            out["last_refresh"] = rfc3339(now)
        return out

    async def after_refresh(self, client: UpstreamClient, access_token: str, proxy: str) -> dict[str, Any]:
        """More auth-file keys read with the new ``access_token`` (a failure: ``{}``)."""
        return {}


# what Claude Code's axios asks for (CPA's list), less "br" when it could not be read
AXIOS_ENCODING = (
    "gzip, compress, deflate, br" if importlib.util.find_spec("brotli") is not None else "gzip, deflate"
)


class ClaudeTokens(TokenEndpoint):
    provider = "claude"
    lead = 4 * _HOUR
    json_body = True
    params: ClassVar[Mapping[str, str]] = {
        "client_id": endpoints.CLIENTS["claude"]["client_id"],
        "scope": endpoints.CLIENTS["claude"]["scope"],
    }
    headers: ClassVar[Mapping[str, str]] = {  # Claude Code's axios (CPA applyClaudeOAuthAxiosHeaders)
        "Accept": "application/json, text/plain, */*",
        "User-Agent": "axios/1.15.2",
        "Accept-Encoding": AXIOS_ENCODING,
        "Connection": "close",
    }

    async def after_refresh(self, client: UpstreamClient, access_token: str, proxy: str) -> dict[str, Any]:
        """CPA reads the OAuth profile after a refresh: the account and organization it
        names replace the file's; a key it leaves out (or a failed lookup) keeps the file's."""
        headers = {
            **self.headers,
            "Content-Type": "application/json",
            "Authorization": f"Bearer {access_token}",
            "Cache-Control": "no-cache",
        }
        url = endpoints.url(self.provider, "profile")
        try:
            async with asyncio.timeout(PROFILE_TIMEOUT):
                resp = await client.request("GET", url, headers=headers, body=None, proxy=proxy)
                raw = await read_body(resp)
            profile = orjson.loads(raw) if resp.status == 200 else None
        except (UpstreamError, TimeoutError, orjson.JSONDecodeError) as exc:
            log.warning("claude profile lookup after a token refresh failed: %s", exc)
            return {}
        if not isinstance(profile, dict):
            return {}
        account, org = _object(profile.get("account")), _object(profile.get("organization"))
        found = {
            "email": account.get("email"),
            "account_uuid": account.get("uuid"),
            "organization_uuid": org.get("uuid"),
            "organization_name": org.get("name"),
        }
        return {k: v.strip() for k, v in found.items() if isinstance(v, str) and v.strip()}


def _object(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


class CodexTokens(TokenEndpoint):
    provider = "codex"
    lead = 5 * _DAY
    params: ClassVar[Mapping[str, str]] = {
        "client_id": endpoints.CLIENTS["codex"]["client_id"],
        "scope": "openid profile email",  # narrower than the sign-in's, as CPA refreshes
    }

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        id_token = data.get("id_token") if isinstance(data.get("id_token"), str) else ""
        claims = jwt_claims(id_token) if id_token else {}
        auth = claims.get("https://api.openai.com/auth")
        out: dict[str, Any] = {"id_token": id_token}
        out.update(super().updates(data, cred, now))
        account = auth.get("chatgpt_account_id") if isinstance(auth, dict) else None
        if isinstance(account, str) and account:
            out["account_id"] = account
        if isinstance(claims.get("email"), str) and claims["email"]:
            out["email"] = claims["email"]
        return out


class AntigravityTokens(TokenEndpoint):
    provider = "antigravity"
    lead = 5 * 60.0
    write_last_refresh = False
    params: ClassVar[Mapping[str, str]] = {
        "client_id": endpoints.CLIENTS["antigravity"]["client_id"],
        "client_secret": endpoints.CLIENTS["antigravity"]["client_secret"],
    }
    headers: ClassVar[Mapping[str, str]] = {"User-Agent": "Go-http-client/2.0"}

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        out = super().updates(data, cred, now)
        out["expires_in"] = int(_seconds(data.get("expires_in")))
        out["timestamp"] = int(now * 1000)
        out["expired"] = rfc3339(now + out["expires_in"])
        return out


class KimiTokens(TokenEndpoint):
    provider = "kimi"
    lead = 5 * 60.0
    params: ClassVar[Mapping[str, str]] = {"client_id": endpoints.CLIENTS["kimi"]["client_id"]}

    def request(self, cred: Credential) -> tuple[bytes, dict[str, str]]:
        body, headers = super().request(cred)
        device = cred.metadata.get("device_id")
        client = kimi_headers(device.strip() if isinstance(device, str) else "")
        if not client["X-Msh-Device-Id"]:  # a file from elsewhere without one
            del client["X-Msh-Device-Id"]
        headers.update(client)
        return body, headers

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        out = super().updates(data, cred, now)
        if "expired" in out:  # Kimi stores UTC
            out["expired"] = rfc3339(now + _seconds(data.get("expires_in")), utc=True)
        return out


class XAITokens(TokenEndpoint):
    provider = "xai"
    lead = 5 * 60.0
    params: ClassVar[Mapping[str, str]] = {"client_id": endpoints.CLIENTS["xai"]["client_id"]}

    def url_for(self, cred: Credential) -> str:
        stored = cred.metadata.get("token_endpoint")
        return stored.strip() if isinstance(stored, str) and stored.strip() else self.url

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "xai", "auth_kind": "oauth"}
        base = super().updates(data, cred, now)
        base.pop("last_refresh", None)
        out.update(base)
        for key in ("id_token", "token_type"):
            if isinstance(data.get(key), str) and data[key]:
                out[key] = data[key]
        if expires_in := int(_seconds(data.get("expires_in"))):
            out["expires_in"] = expires_in
        claims = jwt_claims(out.get("id_token", ""))
        for key in ("email", "sub"):
            if isinstance(claims.get(key), str) and claims[key]:
                out[key] = claims[key]
        if not cred.metadata.get("base_url"):
            out["base_url"] = endpoints.URLS["xai"]["api"]  # CPA writes the public one
        out["last_refresh"] = rfc3339(now, utc=True)
        return out


TOKEN_ENDPOINTS: dict[str, TokenEndpoint] = {
    e.provider: e for e in (ClaudeTokens(), CodexTokens(), AntigravityTokens(), KimiTokens(), XAITokens())
}


def _seconds(value: Any) -> float:
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float) and value > 0:
        return float(value)
    if isinstance(value, str):
        try:
            return max(0.0, float(value.strip()))
        except ValueError:
            return 0.0
    return 0.0
