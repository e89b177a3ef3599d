"""Token endpoints of the OAuth providers: how to ask for a refresh, what to store after.

One :class:`TokenEndpoint` per provider key, with CPA's refresh lead (how long before
expiry a token is renewed), request shape (form or JSON, client id) and the metadata
keys CPA writes into the auth file after a refresh. The refresh loop itself is in
:mod:`cliproxy.credentials.refresh`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

import orjson

from cliproxy import __version__

from .record import Credential

__all__ = ["TOKEN_ENDPOINTS", "TokenEndpoint", "jwt_claims", "rfc3339"]

_HOUR = 3600.0
_DAY = 24 * _HOUR


def rfc3339(ts: float, *, utc: bool = False) -> str:
    """Go's ``time.Format(time.RFC3339)``: seconds, local offset (or UTC), ``Z`` for UTC."""
    when = datetime.fromtimestamp(ts, UTC) if utc else datetime.fromtimestamp(ts).astimezone()
    text = when.isoformat(timespec="seconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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


class TokenEndpoint:
    """A provider's refresh-token grant. Subclasses set the class attributes."""

    provider: ClassVar[str]
    url: ClassVar[str]
    lead: ClassVar[float]  # seconds before expiry
    json_body: ClassVar[bool] = False
    params: ClassVar[Mapping[str, str]] = {}
    headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}
    write_last_refresh: ClassVar[bool] = True

    def url_for(self, cred: Credential) -> str:
        """The default token URL for this credential (overrides are the caller's)."""
        return self.url

    def request(self, cred: Credential) -> tuple[bytes, dict[str, str]]:
        """Body and headers of the refresh request."""
        fields = {**self.params, "grant_type": "refresh_token", "refresh_token": cred.refresh_token}
        headers = dict(self.headers)
        if self.json_body:
            headers["Content-Type"] = "application/json"
            return orjson.dumps(fields), headers
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


class ClaudeTokens(TokenEndpoint):
    provider = "claude"
    url = "https://platform.claude.com/v1/oauth/token"
    lead = 4 * _HOUR
    json_body = True
    params: ClassVar[Mapping[str, str]] = {
        "client_id": "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
        "scope": "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
    }
    headers: ClassVar[Mapping[str, str]] = {
        "Accept": "application/json, text/plain, */*",
        "User-Agent": "axios/1.15.2",
    }


class CodexTokens(TokenEndpoint):
    provider = "codex"
    url = "https://auth.openai.com/oauth/token"
    lead = 5 * _DAY
    params: ClassVar[Mapping[str, str]] = {
        "client_id": "app_EMoamEEZ73f0CkXaXp7hrann",
        "scope": "openid profile email",
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
    url = "https://oauth2.googleapis.com/token"
    lead = 5 * 60.0
    write_last_refresh = False
    params: ClassVar[Mapping[str, str]] = {
        "client_id": "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
        "client_secret": "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",
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
    url = "https://auth.kimi.com/api/oauth/token"
    lead = 5 * 60.0
    params: ClassVar[Mapping[str, str]] = {"client_id": "17e5f671-d194-4dfb-9706-5516cb48c098"}

    def request(self, cred: Credential) -> tuple[bytes, dict[str, str]]:
        body, headers = super().request(cred)
        device = cred.metadata.get("device_id")
        headers.update({"X-Msh-Platform": "CLIProxyAPI", "X-Msh-Version": __version__})
        if isinstance(device, str) and device.strip():
            headers["X-Msh-Device-Id"] = device.strip()
        return body, headers

    def updates(self, data: Mapping[str, Any], cred: Credential, now: float) -> dict[str, Any]:
        out = super().updates(data, cred, now)
        if "expired" in out:  # Kimi stores UTC
            out["expired"] = rfc3339(now + _seconds(data.get("expires_in")), utc=True)
        return out


class XAITokens(TokenEndpoint):
    provider = "xai"
    url = "https://auth.x.ai/oauth2/token"
    lead = 5 * 60.0
    params: ClassVar[Mapping[str, str]] = {"client_id": "b1a00492-073a-47ea-816f-4c329264a828"}

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
            out["base_url"] = "https://api.x.ai/v1"
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
