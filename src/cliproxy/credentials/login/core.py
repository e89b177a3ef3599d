"""What every sign-in shares: PKCE and state, reading a callback or pasted redirect URL,
the token-endpoint call with its errors mapped to
:class:`~cliproxy.credentials.login.base.LoginError`, CPA's file names, and the save into
``auth-dir``. The interactive part (the local callback server, the browser, the pasted-URL
prompt) is :mod:`cliproxy.credentials.login.callback`.

Token-endpoint calls go through the shared
:class:`~cliproxy.providers.http.HttpClient`, so its connect / first-byte / idle limits and
the proxy setting apply. No token is ever put in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson

from cliproxy.errors import UpstreamError, clip
from cliproxy.providers.http import read_body
from cliproxy.providers.transport import UpstreamClient

from ..files import normalize_metadata
from ..storage import write_json
from .base import AuthStart, LoginError, LoginFailure, Saved

__all__ = [
    "REQUEST_TIMEOUT",
    "TOKEN_PAYLOAD_KEYS",
    "CallbackParams",
    "Pkce",
    "antigravity_file_name",
    "callback_error",
    "check_file_name",
    "check_state",
    "claude_file_name",
    "describe_oauth_error",
    "new_state",
    "oauth_error",
    "parse_callback_url",
    "pkce_challenge",
    "pkce_pair",
    "request_json",
    "save",
    "token_request",
]

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = 30.0  # one call to a sign-in server (CPA's auth clients use 30 s)

# Keys a new sign-in always sets; everything else an existing file holds (prefix, note,
# proxy_url, weight, headers...) is the user's and survives a second sign-in (CPA's
# ``IsAuthTokenPayloadKey`` / ``MergeExistingAuthMetadata``).
# fmt: off
TOKEN_PAYLOAD_KEYS = frozenset({
    "access_token", "refresh_token", "id_token", "session_id", "expired", "last_refresh",
    "expires_in", "timestamp", "token_type", "user_code", "verification_uri", "verification_uri_complete",
})
# fmt: on


# -- PKCE and state ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pkce:
    """An RFC 7636 pair: ``verifier`` stays with us, ``challenge`` (S256) goes out."""

    verifier: str
    challenge: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_challenge(verifier: str) -> str:
    """The S256 challenge of ``verifier``: base64url(sha256(verifier)), unpadded."""
    return _b64url(hashlib.sha256(verifier.encode()).digest())


def pkce_pair() -> Pkce:
    """A fresh pair; the verifier is 96 random bytes as 128 base64url characters (CPA)."""
    verifier = _b64url(secrets.token_bytes(96))
    return Pkce(verifier, pkce_challenge(verifier))


def new_state() -> str:
    """A fresh ``state``: 16 random bytes in hex (CPA's ``GenerateRandomState``)."""
    return secrets.token_hex(16)


def check_state(started: AuthStart, state: str) -> None:
    """Refuse a callback whose ``state`` is not the one ``started`` issued."""
    if not state or not secrets.compare_digest(state.encode(), started.state.encode()):
        raise LoginError(
            "state_mismatch",
            "the sign-in answer does not belong to this sign-in (state mismatch); start again",
            provider=started.provider,
        )


# -- callback parameters ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallbackParams:
    """What the provider sent the browser back with."""

    code: str = ""
    state: str = ""
    error: str = ""
    error_description: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> CallbackParams:
        return cls(
            code=query.get("code", "").strip(),
            state=query.get("state", "").strip(),
            error=query.get("error", "").strip(),
            error_description=query.get("error_description", "").strip(),
        )


def parse_callback_url(text: str) -> CallbackParams | None:
    """The parameters of a pasted redirect URL, read as CPA's ``ParseOAuthCallback`` does:
    a full URL, a URL without scheme, a bare query (``?code=...`` or ``code=...``);
    parameters in the fragment count when the query lacks them; ``code#state`` is split.
    ``None`` for empty text; :class:`LoginError` (``bad_response``) when it is no
    callback URL."""
    text = text.strip()
    if not text:
        return None
    candidate = text
    if "://" not in candidate:
        if candidate.startswith("?"):
            candidate = "http://localhost" + candidate
        elif any(c in candidate for c in "/?#:"):
            candidate = "http://" + candidate
        elif "=" in candidate:
            candidate = "http://localhost/?" + candidate
        else:
            raise LoginError("bad_response", "that is not a callback URL")
    parts = urlsplit(candidate)
    query = _first_values(parts.query)
    fragment = _first_values(parts.fragment)
    merged = {k: query.get(k) or fragment.get(k, "") for k in ("code", "state", "error", "error_description")}
    params = CallbackParams.from_query(merged)
    code, state, error, description = params.code, params.state, params.error, params.error_description
    if code and not state and "#" in code:
        code, state = code.split("#", 1)
    if not error and description:
        error, description = description, ""
    if not code and not error:
        raise LoginError("bad_response", "the callback URL has no code")
    return CallbackParams(code, state, error, description)


def _first_values(query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items() if v}


def callback_error(params: CallbackParams, provider: str) -> LoginError:
    """The :class:`LoginError` for a callback that carries ``error`` instead of a code."""
    detail = clip(params.error_description or params.error, 200)
    if params.error == "access_denied":
        return LoginError("denied", f"the sign-in was cancelled or denied ({detail})", provider=provider)
    return LoginError("bad_response", f"the provider refused the sign-in: {detail}", provider=provider)


# -- talking to the provider -------------------------------------------------------------


async def request_json(
    http: UpstreamClient,
    method: str,
    url: str,
    *,
    provider: str,
    what: str,
    headers: Mapping[str, str],
    body: bytes | None = None,
    proxy: str = "",
    timeout: float | None = None,
) -> tuple[int, dict[str, Any]]:
    """One call to a provider's sign-in server (token endpoint, device endpoint, profile
    lookups; every flow uses this one): ``(status, JSON object or {})``. The whole call
    is bounded by ``timeout`` seconds (default :data:`REQUEST_TIMEOUT`) on top of the
    client's own limits; a network failure or no answer in time is :class:`LoginError`
    ``unreachable`` naming ``what`` was attempted (never the URL's query, never a token)."""
    limit = REQUEST_TIMEOUT if timeout is None else timeout
    try:
        async with asyncio.timeout(limit):
            resp = await http.request(method, url, headers=headers, body=body, proxy=proxy)
            raw = await read_body(resp)
    except TimeoutError:
        raise LoginError(
            "unreachable",
            f"{what}: the {provider} sign-in server did not answer within {limit:g}s",
            provider=provider,
        ) from None
    except UpstreamError as exc:
        raise LoginError(
            "unreachable",
            f"{what}: the {provider} sign-in server is unreachable ({exc.message})",
            provider=provider,
        ) from None
    try:
        data = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        data = {}
    return resp.status, data if isinstance(data, dict) else {}


def oauth_error(data: Mapping[str, Any]) -> tuple[str, str]:
    """``(error code, description)`` of an OAuth error body: RFC 6749's ``{"error": "x",
    "error_description": "..."}``, or OpenAI's / Anthropic's ``{"error": {"code"|"type":
    ..., "message": ...}}``; ``("", "")`` when the body carries none."""
    error = data.get("error")
    if isinstance(error, Mapping):
        code = error.get("code") or error.get("type") or ""
        return str(code).strip(), str(error.get("message") or "").strip()
    if isinstance(error, str):
        desc = data.get("error_description") or data.get("message") or ""
        return error.strip(), str(desc).strip()
    message = data.get("error_description") or data.get("message") or ""
    return "", str(message).strip()


def describe_oauth_error(data: Mapping[str, Any], status: int) -> str:
    """A short sentence from an OAuth error body (:func:`oauth_error`); the status when
    the body says nothing."""
    code, message = oauth_error(data)
    text = f"{code}: {message}" if code and message else code or message or f"status {status}"
    return clip(text, 200)


async def token_request(
    http: UpstreamClient,
    url: str,
    *,
    provider: str,
    body: bytes,
    headers: Mapping[str, str],
    proxy: str = "",
    what: str = "code exchange",
) -> dict[str, Any]:
    """POST to a token endpoint; the token answer, or :class:`LoginError`:
    ``exchange_failed`` when the endpoint refuses (4xx: wrong verifier, used code...),
    ``bad_response`` for a 5xx or an answer without ``access_token``."""
    status, data = await request_json(
        http, "POST", url, provider=provider, what=what, headers=headers, body=body, proxy=proxy
    )
    token = data.get("access_token")
    if status == 200 and isinstance(token, str) and token.strip():
        return data
    reason: LoginFailure = "exchange_failed" if 400 <= status < 500 else "bad_response"
    if status == 200:
        raise LoginError("bad_response", f"{what}: the answer has no access token", provider=provider)
    raise LoginError(
        reason, f"{what} refused by {provider} ({describe_oauth_error(data, status)})", provider=provider
    )


# -- file names and saving -------------------------------------------------------------


def claude_file_name(email: str) -> str:
    """CPA: ``claude-<email>.json``."""
    return f"claude-{email.strip()}.json"


def antigravity_file_name(email: str) -> str:
    """CPA: ``antigravity-<email>.json`` (``antigravity.json`` without an email)."""
    email = email.strip()
    return f"antigravity-{email}.json" if email else "antigravity.json"


def check_file_name(name: str) -> None:
    """Refuse a name that is not one plain ``*.json`` file (the email in it comes from
    the provider: it must never reach outside ``auth-dir``)."""
    bad = not name.endswith(".json") or name.startswith(".") or any(c in name for c in "/\\\0")
    if bad or name in (".json",) or any(ord(c) < 32 for c in name):
        raise LoginError("bad_response", "the account name cannot be used as a file name")


def save(auth_dir: str | Path, name: str, record: Mapping[str, Any]) -> Saved:
    """Write ``record`` as ``auth_dir/name`` through the single credential writer
    (atomic, 0600). The name is the account key: a second sign-in to the same account
    replaces the file, keeping what the user set in it (prefix, note, proxy_url, weight...)
    and taking every token field from the new sign-in. Keys are written sorted, as CPA's
    Go maps are."""
    check_file_name(name)
    path = Path(auth_dir) / name
    merged = dict(record)
    for key, value in _read_object(path).items():
        if key.strip().lower() not in TOKEN_PAYLOAD_KEYS and key not in merged:
            merged[key] = value
    normalize_metadata(merged)  # legacy kebab-case settings under their snake_case names (CPA)
    write_json(path, dict(sorted(merged.items())))
    email = merged.get("email")
    account = email.strip() if isinstance(email, str) and email.strip() else name.removesuffix(".json")
    return Saved(provider=str(merged.get("type", "")), path=path, account=account, record=merged)


def _read_object(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


# -- the local callback server -------------------------------------------------------------
