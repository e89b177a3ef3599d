"""Who may use ``/v0/management``: CPA's rules.

Management exists only when a secret is configured (``remote-management.secret-key``,
kept bcrypt-hashed in the file, or the ``MANAGEMENT_PASSWORD`` environment variable);
otherwise every management path answers 404. The key comes in ``Authorization: Bearer``
(or a raw Authorization value) or ``X-Management-Key``. Remote clients are refused
unless ``allow-remote`` is on or ``MANAGEMENT_PASSWORD`` is set. Five failures ban an IP
for 30 minutes (an IPv6 address's whole /64: :func:`ban_subject`); behind a reverse proxy
on this machine, the IP the proxy saw (:func:`cliproxy.access.forwarded_clients`). Comparisons are constant-time; no key ever reaches a log line.

Keys from one IP that are not already known good are checked one after the other, the ban
looked at again before each: a burst of concurrent guesses gets five tries, not one try
per request in flight. As in CPA, an IP's failure count is forgotten once it has been idle
for :data:`IDLE_SECONDS` (and any ban ran out); stale entries are dropped at most once per
:data:`PURGE_SECONDS`, so guesses from many addresses do not pile up in memory.

A bcrypt check costs about 60 ms of CPU, so it runs in a worker thread, never on the
event loop, and a success is remembered for :data:`CACHE_SECONDS` (at most
:data:`CACHE_SIZE` entries) under an HMAC, with a per-process random salt, of the
presented key and the stored hash: a new secret matches no remembered entry, and the
cache holds nothing a key could be recovered from. Concurrent checks of one key share
one bcrypt run. Failures are never remembered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import os
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from cliproxy.access import forwarded_clients, is_loopback_ip
from cliproxy.config import verify_secret

__all__ = [
    "BAN_SECONDS",
    "CACHE_SECONDS",
    "CACHE_SIZE",
    "IDLE_SECONDS",
    "MAX_FAILURES",
    "PURGE_SECONDS",
    "Denied",
    "ManagementGate",
    "Verifier",
    "ban_subject",
]

MAX_FAILURES = 5
BAN_SECONDS = 30 * 60
CACHE_SECONDS = 60.0
CACHE_SIZE = 64
IDLE_SECONDS = 2 * 3600  # CPA's attemptMaxIdleTime
PURGE_SECONDS = 3600  # CPA's attemptCleanupInterval
_LOCAL = frozenset({"127.0.0.1", "::1", "localhost"})

Verifier = Callable[[str, str], bool]
"""``verify(presented_key, stored_secret) -> bool``; blocking (it runs in a thread)."""


@dataclass(frozen=True, slots=True)
class Denied:
    status: int
    message: str


class ManagementGate:
    """The management access check. ``clock`` (monotonic seconds) times bans and the
    cache; ``verify`` compares a key with the stored secret (bcrypt by default)."""

    def __init__(
        self,
        clock: Any = time.monotonic,
        *,
        verify: Verifier = verify_secret,
        cache_seconds: float = CACHE_SECONDS,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self._clock = clock
        self._verify = verify
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._salt = os.urandom(32)
        self._verified: OrderedDict[bytes, float] = OrderedDict()  # token -> valid until
        self._running: dict[bytes, asyncio.Future[bool]] = {}
        self._failures: dict[str, tuple[int, float]] = {}  # ip -> (count, last failure)
        self._banned_until: dict[str, float] = {}
        self._serial: dict[str, tuple[asyncio.Lock, int]] = {}  # ip -> (lock, users)
        self._purged = clock()
        self.on_ban: Callable[[str, float], None] | None = None  # (ip, seconds) when one is banned

    @staticmethod
    def env_password() -> str:
        return os.environ.get("MANAGEMENT_PASSWORD", "").strip()

    def enabled(self, config: Any) -> bool:
        return bool(self.env_password() or (config.remote_management.secret_key or "").strip())

    async def check(self, config: Any, remote: str | None, headers: Mapping[str, str]) -> Denied | None:
        """``None`` when the caller may proceed, else why not."""
        peer = (remote or "").strip()
        # a reverse proxy on this machine: the client it saw (one per header it may have
        # set); headers from any other peer are never trusted
        forwarded = forwarded_clients(headers) if is_loopback_ip(peer) else ()
        # failures and bans count against each (an IPv6 client's whole /64)
        subjects = tuple(dict.fromkeys(ban_subject(ip) for ip in forwarded or (peer,)))
        if (banned := self._banned(subjects)) is not None:
            return banned
        env = self.env_password()
        if (peer not in _LOCAL or forwarded) and not config.remote_management.allow_remote and not env:
            # (a loopback peer that forwards another client's request: a reverse proxy here)
            return Denied(403, "remote management disabled")
        key = _key(headers)
        if not key:  # not an attempt: nothing to count towards a ban
            return Denied(401, "missing management key")
        stored = (config.remote_management.secret_key or "").strip()
        ok = bool(env) and hmac.compare_digest(key.encode(), env.encode())
        if not ok and stored:
            token = hmac.new(
                self._salt, hashlib.sha256(key.encode()).digest() + stored.encode(), hashlib.sha256
            ).digest()
            if not self._known_good(token):
                async with AsyncExitStack() as held:
                    for ip in sorted(subjects):  # one order everywhere: no deadlock
                        await held.enter_async_context(self._one_at_a_time(ip))
                    if (banned := self._banned(subjects)) is not None:
                        return banned
                    if not await self._verified_key(token, key, stored):
                        return self._fail(subjects, "invalid management key")
            ok = True
        if not ok:
            return self._fail(subjects, "invalid management key")
        for ip in subjects:
            self._failures.pop(ip, None)
        return None

    def _banned(self, subjects: tuple[str, ...]) -> Denied | None:
        now = self._clock()
        until = max(self._banned_until.get(ip, 0.0) for ip in subjects)
        if until <= now:
            return None
        wait = _go_duration(round(until - now))
        return Denied(403, f"IP banned due to too many failed attempts. Try again in {wait}")

    @asynccontextmanager
    async def _one_at_a_time(self, ip: str) -> AsyncIterator[None]:
        """Hold ``ip``'s lock: its unknown keys are verified (and failures counted) in turn."""
        lock, users = self._serial.get(ip) or (asyncio.Lock(), 0)
        self._serial[ip] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._serial[ip]
            if users > 1:
                self._serial[ip] = (lock, users - 1)
            else:
                del self._serial[ip]

    def _known_good(self, token: bytes) -> bool:
        until = self._verified.get(token)
        if until is not None and until > self._clock():
            self._verified.move_to_end(token)
            return True
        return False

    async def _verified_key(self, token: bytes, key: str, stored: str) -> bool:
        """``verify(key, stored)``, off the loop, remembered for a while when true."""
        if self._known_good(token):
            return True
        self._verified.pop(token, None)
        task = self._running.get(token)
        if task is None:  # one run per key and secret, in its own task: a caller that
            # goes away (client disconnect) does not cancel it for the others
            task = asyncio.ensure_future(asyncio.to_thread(self._verify, key, stored))
            self._running[token] = task
            task.add_done_callback(lambda done: self._settled(token, done))
        return await asyncio.shield(task)

    def _settled(self, token: bytes, task: asyncio.Future[bool]) -> None:
        self._running.pop(token, None)
        if not task.cancelled() and task.exception() is None and task.result():
            self._remember(token)

    def _remember(self, token: bytes) -> None:
        self._verified[token] = self._clock() + self._cache_seconds
        self._verified.move_to_end(token)
        while len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)

    def _fail(self, subjects: tuple[str, ...], message: str) -> Denied:
        now = self._clock()
        self._purge(now)
        for ip in subjects:
            count, last = self._failures.get(ip, (0, now))
            count = 1 if now - last > IDLE_SECONDS else count + 1
            self._failures[ip] = (count, now)
            if count >= MAX_FAILURES:
                self._banned_until[ip] = now + BAN_SECONDS
                self._failures.pop(ip, None)
                if self.on_ban is not None:  # other processes sharing the state ban it too
                    self.on_ban(ip, BAN_SECONDS)
        return Denied(401, message)

    def _purge(self, now: float) -> None:
        """Drop bans that ran out and failure counts idle past :data:`IDLE_SECONDS`."""
        if now - self._purged < PURGE_SECONDS:
            return
        self._purged = now
        self._banned_until = {ip: until for ip, until in self._banned_until.items() if until > now}
        self._failures = {ip: f for ip, f in self._failures.items() if now - f[1] <= IDLE_SECONDS}

    def ban(self, ip: str, seconds: float) -> None:
        """Ban ``ip`` for ``seconds`` from now (a ban another process announced)."""
        self._banned_until[ip] = max(self._banned_until.get(ip, 0.0), self._clock() + seconds)


def ban_subject(ip: str) -> str:
    """What failures count against and a ban covers: the address, but for an IPv6 one its
    /64 (one subscriber's network: whoever has one address has 2**64 to rotate through,
    five guesses each) and for an IPv4-mapped one the IPv4 address."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address) and not address.is_loopback:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return ip


def _key(headers: Mapping[str, str]) -> str:
    auth = (headers.get("Authorization") or "").strip()
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if auth:
        return auth
    return (headers.get("X-Management-Key") or "").strip()


def _go_duration(seconds: int) -> str:
    """Whole seconds the way CPA prints a Go ``time.Duration`` ("30m0s", "1h0m5s", "59s"),
    since scripts written for CPA read the ban message."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
