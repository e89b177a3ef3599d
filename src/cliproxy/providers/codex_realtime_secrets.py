"""Realtime client secrets: short-lived ``ek_`` keys the proxy mints itself (CPA
``internal/client/codex/live/client_secret.go``).

``POST /v1/realtime/client_secrets`` (``{"session": {...}, "expires_after": {...}}``) and the
older ``POST /v1/realtime/sessions`` (the session itself as the body) mint one; nothing goes
upstream. A secret stands for its session: only ``"type": "realtime"`` (the default) is
served, its model defaults to ``gpt-realtime`` and is kept as Codex's name
(:func:`~cliproxy.providers.codex_realtime.realtime_model`) for the scope check and the
``session.update`` the relay sends first. It lives :data:`DEFAULT_LIFETIME` (10 minutes;
``expires_after.seconds`` may ask for :data:`MIN_LIFETIME` to :data:`MAX_LIFETIME`).

A later Realtime request authenticates with ``Authorization: Bearer ek_...`` instead of a
client key; it is then on behalf of the key that minted the secret. At most
:data:`MAX_SECRETS` live at once, :data:`MAX_PER_ISSUER` per minting key.

The secrets live in the state backend (:meth:`~cliproxy.state.base.StateBackend.put_secret`):
this process's memory by default, as in CPA, or Redis, where every worker and host sharing
it knows them, so a secret minted through one worker opens a socket on any other; the caps
then count every process's secrets together. The backend knows a secret by a hash of it
and its minting key by a hash (the owner, for its cap); a shared backend holds the grant
sealed with a key derived from the secret (AES-GCM), so what it holds opens nothing and
names no client key. (In one process's memory the grant is kept as it is: nothing leaves
the process, and ``cryptography`` is not loaded.)
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from cliproxy.errors import CliproxyError
from cliproxy.providers.codex_realtime import DEFAULT_MODEL, realtime_model
from cliproxy.state.base import StateBackend
from cliproxy.state.factory import shared

__all__ = [
    "DEFAULT_LIFETIME",
    "MAX_BODY",
    "MAX_LIFETIME",
    "MAX_PER_ISSUER",
    "MAX_SECRETS",
    "MIN_LIFETIME",
    "PREFIX",
    "ClientSecrets",
    "Minted",
    "RealtimeError",
    "SecretGrant",
    "lifetime",
    "normalize_session",
]

PREFIX = "ek_"
DEFAULT_LIFETIME = 600
MIN_LIFETIME = 10
MAX_LIFETIME = 7200
MAX_BODY = 64 << 10  # bytes of a mint request
MAX_SECRETS = 1024
MAX_PER_ISSUER = 64
INVALID = "Realtime client secret is invalid or expired"
_NONCE = bytes(12)


class RealtimeError(CliproxyError):
    """A Realtime answer in OpenAI's error shape with CPA's ``type`` and ``code``;
    ``credential``: the one the upstream refused, when it did."""

    credential: Any = None

    def __init__(self, status: int, message: str, error_type: str, code: str) -> None:
        super().__init__(message, status=status)
        self.error_type = error_type
        self.code = code


@dataclass(frozen=True, slots=True)
class SecretGrant:
    """What a valid secret stands for: its session (Codex's model name in it), the
    session id it answers to, and who minted it (``None`` on an open proxy)."""

    session: bytes
    principal: str
    issuer: str | None


@dataclass(frozen=True, slots=True)
class Minted:
    token: str
    expires_at: int
    grant: SecretGrant


class ClientSecrets:
    """The live secrets, each until its expiry, kept in ``state``. ``sealed``: keep the
    grants sealed (default: when ``state`` is shared with other processes)."""

    def __init__(
        self, state: StateBackend, clock: Callable[[], float] = time.time, *, sealed: bool | None = None
    ) -> None:
        self.state = state
        self.clock = clock
        self._sealer = _Sealer() if (shared(state) is not None if sealed is None else sealed) else None

    async def mint(self, session: bytes, seconds: int, issuer: str | None) -> Minted:
        """A new secret for ``session``; ``RealtimeError`` 429 when the store is full."""
        token = PREFIX + _random(32)
        grant = SecretGrant(session, "sess_" + _random(18), issuer)
        expires = self.clock() + seconds
        owner = _digest(issuer.encode(), b"ek-owner", 16).hex() if issuer is not None else ""
        value = orjson.dumps([grant.principal, issuer]) + b"\n" + session  # orjson writes no raw newline
        if self._sealer is not None:
            value = self._sealer.seal(token, value)
        if not await self.state.put_secret(_name(token), value, seconds, owner, MAX_SECRETS, MAX_PER_ISSUER):
            err = RealtimeError(
                429,
                "Realtime client secret capacity exhausted",
                "rate_limit_error",
                "realtime_client_secret_capacity_exhausted",
            )
            err.response_headers = {"Retry-After": "1"}
            raise err
        return Minted(token, int(expires), grant)

    async def check(self, token: str) -> SecretGrant:
        """The grant of a live ``token``; ``RealtimeError`` 401 otherwise."""
        value = await self.state.get_secret(_name(token)) if token.startswith(PREFIX) else None
        if value is not None and self._sealer is not None:
            value = self._sealer.open(token, value)
        if value is None:
            raise RealtimeError(401, INVALID, "invalid_request_error", "invalid_realtime_client_secret")
        head, _, session = value.partition(b"\n")
        principal, issuer = orjson.loads(head)
        return SecretGrant(session, principal, issuer)


class _Sealer:
    """AES-GCM under a key derived from each secret, for a shared backend."""

    def __init__(self) -> None:
        # imported here: several MB that a proxy on the memory backend never needs
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self._aead = AESGCM
        self._invalid: type[Exception] = InvalidTag

    def seal(self, token: str, value: bytes) -> bytes:
        # every secret seals exactly one value, under its own key: a fixed nonce is safe
        return self._aead(_digest(token.encode(), b"ek-seal")).encrypt(_NONCE, value, None)

    def open(self, token: str, sealed: bytes) -> bytes | None:
        """The value, or None when it was not sealed under this secret's key."""
        try:
            return self._aead(_digest(token.encode(), b"ek-seal")).decrypt(_NONCE, sealed, None)
        except self._invalid:
            return None


def _digest(data: bytes, person: bytes, size: int = 32) -> bytes:
    return hashlib.blake2b(data, digest_size=size, person=person).digest()


def _name(token: str) -> str:
    """What the backend knows a secret by: a hash of it."""
    return _digest(token.encode(), b"ek-name").hex()


def _random(size: int) -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode()


def lifetime(expires_after: Any) -> int:
    """Seconds a secret lives (CPA ``clientSecretLifetime``)."""
    if expires_after is None:
        return DEFAULT_LIFETIME
    if not isinstance(expires_after, dict):
        raise _invalid_request("Invalid Realtime client secret request")
    anchor = expires_after.get("anchor")
    if anchor is not None and not isinstance(anchor, str):
        raise _invalid_request("Invalid Realtime client secret request")
    if anchor not in (None, "", "created_at"):
        raise _bad_lifetime("expires_after.anchor must be created_at")
    seconds = expires_after.get("seconds", 0)
    if seconds is None:
        seconds = 0
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        raise _invalid_request("Invalid Realtime client secret request")
    if not MIN_LIFETIME <= seconds <= MAX_LIFETIME:
        raise _bad_lifetime(f"expires_after.seconds must be between {MIN_LIFETIME} and {MAX_LIFETIME}")
    return seconds


def normalize_session(session: Any) -> tuple[dict[str, Any], bytes]:
    """(the session as the client reads it back, the session kept with the secret: Codex's
    model name) from a mint request's session (CPA ``normalizeClientSecretSession``)."""
    if session is None:
        session = {"type": "realtime", "model": DEFAULT_MODEL}
    if not isinstance(session, dict):
        raise RealtimeError(
            400, "session must be a valid JSON object", "invalid_request_error", "invalid_session"
        )
    kind = session.get("type")
    if not isinstance(kind, str) or not kind.strip():
        kind = session["type"] = "realtime"
    if kind != "realtime":
        raise RealtimeError(
            501,
            f"Realtime session type is not supported by the Codex OAuth upstream: {kind[:100]!r}",
            "not_supported_error",
            "realtime_capability_not_supported",
        )
    model = session.get("model")
    if not isinstance(model, str) or not model.strip():
        model = session["model"] = DEFAULT_MODEL
    kept = orjson.dumps({**session, "model": realtime_model(model)})
    return session, kept


def _invalid_request(message: str) -> RealtimeError:
    return RealtimeError(400, message, "invalid_request_error", "invalid_request")


def _bad_lifetime(message: str) -> RealtimeError:
    return RealtimeError(400, message, "invalid_request_error", "invalid_expires_after")
