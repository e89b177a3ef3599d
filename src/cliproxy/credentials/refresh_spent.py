"""A rotated refresh token's answer, shared by every process on the state backend.

Claude and Codex rotate refresh tokens: one token, one call; the second call with it is
refused (``invalid_grant``, ``refresh_token_reused``). The refresh lease
(:mod:`cliproxy.credentials.refresh`) lets one process call while the others wait, and a
waiter on the same host reads the new tokens from the auth file they share. Hosts with a
token store each run on their own workspace and pull nothing from the store while they run,
so a waiter on another host found its file unchanged and spent the token a second time.

So the process that spent a rotating token keeps the token endpoint's answer in Redis for
``ttl`` seconds (``<prefix>spent|<name>``), before it lets the lease go, and a process about
to call the endpoint with a token looks there first. Redis never holds the old token: the
key's name is a keyed hash of it, and the answer (the new access and refresh tokens) is
sealed with AES-GCM under a key derived from it, so only a holder of the spent token can
open it. On the memory backend (one process) nothing is kept: the refresher's own memory of
spent tokens is enough. While Redis is away nothing is kept or found.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import TYPE_CHECKING, Any

import orjson

from cliproxy.state.base import StateBackend
from cliproxy.state.factory import shared

if TYPE_CHECKING:
    from .record import Credential

__all__ = ["find_spent", "keep_spent"]

log = logging.getLogger(__name__)

_Answer = tuple[dict[str, Any], dict[str, Any]]


def _key(provider: str, token: str, person: bytes) -> bytes:
    return hashlib.blake2b(f"{provider}\0{token}".encode(), digest_size=32, person=person).digest()


def _name(state_prefix: str, provider: str, token: str) -> str:
    return state_prefix + "spent|" + _key(provider, token, b"rt-name").hex()[:32]


async def keep_spent(state: StateBackend, cred: Credential, answer: _Answer, ttl: float) -> None:
    """Keep ``answer`` for the holders of ``cred``'s refresh token in other processes, when it
    rotated that token and the backend is shared."""
    bus, token = shared(state), cred.refresh_token
    rotated = answer[0].get("refresh_token")
    if bus is None or not bus.available or not token or not isinstance(rotated, str) or rotated == token:
        return
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from cliproxy.state.resp import DOWN

    try:
        plain = orjson.dumps(answer)
    except TypeError:
        return
    nonce = os.urandom(12)
    sealed = nonce + AESGCM(_key(cred.provider, token, b"rt-seal")).encrypt(nonce, plain, None)
    try:
        await bus.client.set(_name(bus.prefix, cred.provider, token), sealed, px=max(1, int(ttl * 1000)))
    except DOWN as exc:
        log.debug("refresh: the spent token's answer was not shared (%s)", type(exc).__name__)


async def find_spent(state: StateBackend, cred: Credential) -> _Answer | None:
    """The answer another process got for ``cred``'s refresh token, when it spent it lately."""
    bus, token = shared(state), cred.refresh_token
    if bus is None or not bus.available or not token:
        return None
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from cliproxy.state.resp import DOWN

    try:
        sealed = await bus.client.get(_name(bus.prefix, cred.provider, token))
    except DOWN as exc:
        log.debug("refresh: the spent tokens could not be read (%s)", type(exc).__name__)
        return None
    if not isinstance(sealed, bytes) or len(sealed) <= 12:
        return None
    try:
        data, more = orjson.loads(
            AESGCM(_key(cred.provider, token, b"rt-seal")).decrypt(sealed[:12], sealed[12:], None)
        )
    except (InvalidTag, orjson.JSONDecodeError, TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(more, dict) or not data.get("access_token"):
        return None
    return data, more
