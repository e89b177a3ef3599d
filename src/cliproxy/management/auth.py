"""Who may use ``/v0/management``: CPA's rules.

Management exists only when a secret is configured (``remote-management.secret-key``,
kept bcrypt-hashed in the file, or the ``MANAGEMENT_PASSWORD`` environment variable);
otherwise every management path answers 404. The key comes in ``Authorization: Bearer``
(or a raw Authorization value) or ``X-Management-Key``. Remote clients are refused
unless ``allow-remote`` is on or ``MANAGEMENT_PASSWORD`` is set. Five failures ban an IP
for 30 minutes. Comparisons are constant-time; no key ever reaches a log line.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cliproxy.config import verify_secret

__all__ = ["BAN_SECONDS", "MAX_FAILURES", "Denied", "ManagementGate"]

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
_LOCAL = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    message: str


class ManagementGate:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}

    @staticmethod
    def env_password() -> str:
        return os.environ.get("MANAGEMENT_PASSWORD", "").strip()

    def enabled(self, config: Any) -> bool:
        return bool(self.env_password() or (config.remote_management.secret_key or "").strip())

    def check(self, config: Any, remote: str | None, headers: Mapping[str, str]) -> Denied | None:
        """``None`` when the caller may proceed, else why not."""
        ip = (remote or "").strip()
        now = self._clock()
        until = self._banned_until.get(ip, 0.0)
        if until > now:
            return Denied(403, f"IP banned due to too many failed attempts; try again in {int(until - now) + 1}s")
        env = self.env_password()
        if ip not in _LOCAL and not config.remote_management.allow_remote and not env:
            return Denied(403, "remote management disabled")
        key = _key(headers)
        if not key:  # not an attempt: nothing to count towards a ban
            return Denied(401, "missing management key")
        stored = (config.remote_management.secret_key or "").strip()
        ok = bool(env) and hmac.compare_digest(key.encode(), env.encode())
        if not ok and stored:
            ok = verify_secret(key, stored)
        if not ok:
            return self._fail(ip, now, "invalid management key")
        self._failures.pop(ip, None)
        return None

    def _fail(self, ip: str, now: float, message: str) -> Denied:
        count = self._failures.get(ip, 0) + 1
        self._failures[ip] = count
        if count >= MAX_FAILURES:
            self._banned_until[ip] = now + BAN_SECONDS
            self._failures.pop(ip, None)
        return Denied(401, message)


def _key(headers: Mapping[str, str]) -> str:
    auth = (headers.get("Authorization") or "").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth:
        return auth
    return (headers.get("X-Management-Key") or "").strip()
