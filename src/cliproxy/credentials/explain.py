"""Why a request went where it went: the routing notes of one request.

Selection code (the pool, the concurrency gate, quota steering, the pipeline's failover)
calls :func:`note_skip` / :func:`note_attempt` as it decides. Unless an :class:`Explain`
is bound to the request (``routing.explain``, a per-request header, or the dry-run route
of the management API), ``NOTES`` holds ``None`` and each call is one context-variable
read: routing explain costs nothing when it is off.

Reasons are short fixed words, so a client can match on them:

- ``cooling``: a cooldown until ``until`` (epoch seconds) for this model or credential;
- ``excluded``: the credential does not serve the model (excluded-models, prefix, kind);
- ``tried``: already tried in this round;
- ``failed``: its attempt failed (``detail``: the status) and the request moved on;
- ``over-concurrency``: at its ``max-concurrency`` (the request queued or went elsewhere);
- ``quota-steering``: its rate-limit headers say it is nearly used up (``detail``: percent);
- ``lower-priority``: a higher priority tier had an available credential;
- ``disabled``: switched off in its file or by the management API.

:meth:`Explain.headers` renders the notes as the ``X-Cliproxy-Route-*`` answer headers;
:func:`classify` says, for every credential of a route, which of these words applies
(the pool's notes and the management dry run share it). Credentials are only ever named
by :func:`mask` (their ``auth_index``), never by an id that may hold an e-mail or a key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cliproxy.times import format_utc

from .record import Credential

__all__ = [
    "HEADERS",
    "NOTES",
    "SKIPPED_LIMIT",
    "Candidate",
    "Explain",
    "Skip",
    "classify",
    "mask",
    "note_attempt",
    "note_skip",
]

H_PROVIDER = "X-Cliproxy-Route-Provider"
H_CREDENTIAL = "X-Cliproxy-Route-Credential"
H_ATTEMPTS = "X-Cliproxy-Route-Attempts"
H_MODEL = "X-Cliproxy-Route-Model"
H_SKIPPED = "X-Cliproxy-Route-Skipped"
HEADERS = (H_PROVIDER, H_CREDENTIAL, H_ATTEMPTS, H_MODEL, H_SKIPPED)
SKIPPED_LIMIT = 1024  # characters of X-Cliproxy-Route-Skipped; the rest is counted, not listed
NONE = "-"  # a header value that means "nothing" (no attempt, nothing passed over)
# notes kept for a credential that was attempted: the others ("tried", "lower-priority" at an
# earlier pick) only repeat what its attempt already says
_AFTER_ATTEMPT = frozenset({"failed", "cooling"})


@dataclass(slots=True)
class Skip:
    """One candidate passed over, and why."""

    credential: str  # the credential id (callers mask it when they show it)
    reason: str
    detail: str = ""
    until: float | None = None


@dataclass(slots=True)
class Explain:
    """The routing notes of one request."""

    skips: list[Skip] = field(default_factory=list)
    attempts: list[str] = field(default_factory=list)  # credential ids, in the order tried
    provider: str = ""  # the provider of the last attempt
    model: str = ""  # the upstream model name of the last attempt

    def skip(self, credential: str, reason: str, detail: str = "", until: float | None = None) -> None:
        for s in self.skips:  # one line per credential and reason, the latest detail
            if s.credential == credential and s.reason == reason:
                s.detail, s.until = detail, until
                return
        self.skips.append(Skip(credential, reason, detail, until))

    def attempt(self, credential: str, provider: str, model: str) -> None:
        self.attempts.append(credential)
        self.provider = provider
        self.model = model

    def headers(self, lookup: Callable[[str], Credential | None]) -> dict[str, str]:
        """The ``X-Cliproxy-Route-*`` headers; ``lookup`` finds a credential by id (to mask it)."""
        last = self.attempts[-1] if self.attempts else ""
        return {
            H_PROVIDER: _token(self.provider) or NONE,
            H_CREDENTIAL: mask(lookup(last), last) if last else NONE,
            H_ATTEMPTS: str(len(self.attempts)),
            H_MODEL: _token(self.model) or NONE,
            H_SKIPPED: self.skipped(lookup) or NONE,
        }

    def skipped(self, lookup: Callable[[str], Credential | None], limit: int = SKIPPED_LIMIT) -> str:
        """``<masked>=<reason>[:<detail or until>]``, comma separated, at most ``limit`` characters."""
        tried = set(self.attempts)
        parts: list[str] = []
        size = 0
        left = 0
        for s in self.skips:
            if s.credential in tried and s.reason not in _AFTER_ATTEMPT:
                continue
            if left:
                left += 1
                continue
            extra = _token(s.detail) or (format_utc(s.until, "seconds") if s.until else "")
            part = f"{mask(lookup(s.credential), s.credential)}={s.reason}" + (f":{extra}" if extra else "")
            if size + len(part) + 2 > limit - 12:  # room for ", +NNNN more"
                left = 1
                continue
            parts.append(part)
            size += len(part) + 2
        if left:
            parts.append(f"+{left} more")
        return ", ".join(parts)


NOTES: ContextVar[Explain | None] = ContextVar("cliproxy_route_explain", default=None)


def note_skip(credential: str, reason: str, detail: str = "", until: float | None = None) -> None:
    """Record that ``credential`` was passed over (nothing when explain is off)."""
    notes = NOTES.get()
    if notes is not None:
        notes.skip(credential, reason, detail, until)


def note_attempt(credential: str, provider: str, model: str) -> None:
    """Record an attempt on ``credential`` (nothing when explain is off)."""
    notes = NOTES.get()
    if notes is not None:
        notes.attempt(credential, provider, model)


def mask(cred: Credential | None, cid: str = "") -> str:
    """How explain names a credential: its ``auth_index`` (16 hex, as the management API
    lists it), else a hash of its id; never the id itself (a file name may hold an e-mail)."""
    if cred is not None and cred.index:
        return cred.index
    return hashlib.sha256((cred.id if cred is not None else cid).encode()).hexdigest()[:16]


def _token(value: str) -> str:
    """``value`` safe inside a header list: printable ASCII, no list separators, bounded."""
    return "".join(c if " " <= c < "\x7f" and c not in ",;=" else "_" for c in value[:128]).strip()


# ---------------------------------------------------------------------- candidate states


@dataclass(slots=True)
class Candidate:
    """One credential of a route and its state: ``available`` or a reason word above."""

    cred: Credential
    state: str
    detail: str = ""
    until: float | None = None


def classify(
    creds: Iterable[Credential],
    providers: Sequence[str] | None,
    model: str,
    supports: Callable[[Credential, str], bool] | None,
    *,
    positive_only: bool,
    tried: Collection[str],
    cooldowns: Sequence[Mapping[str, Any]],
    now: float,
    gates: Mapping[str, tuple[str, str]] | None = None,
) -> list[Candidate]:
    """The state of each credential of ``providers`` for ``model`` (as registered), in the
    pool's own order of filters: disabled, excluded, cooling (``cooldowns``: the
    credential-wide and the model's records by id), tried, a ``gates`` reason (id -> (reason,
    detail): concurrency, steering), else available; available ones below the highest
    priority among them are ``lower-priority``."""
    wanted = {p.strip().lower() for p in providers} if providers is not None else None
    out: list[Candidate] = []
    for cred in creds:
        if wanted is not None and cred.provider not in wanted:
            continue
        out.append(_state(cred, model, supports, positive_only, tried, cooldowns, now, gates))
    free = [c.cred.priority for c in out if c.state == "available"]
    if free:
        best = max(free)
        for c in out:
            if c.state == "available" and c.cred.priority < best:
                c.state, c.detail = "lower-priority", f"priority {c.cred.priority}"
    return out


def _state(
    cred: Credential,
    model: str,
    supports: Callable[[Credential, str], bool] | None,
    positive_only: bool,
    tried: Collection[str],
    cooldowns: Sequence[Mapping[str, Any]],
    now: float,
    gates: Mapping[str, tuple[str, str]] | None,
) -> Candidate:
    if cred.disabled:
        return Candidate(cred, "disabled")
    if supports is not None and not supports(cred, model):
        return Candidate(cred, "excluded")
    if positive_only and cred.weight <= 0:
        return Candidate(cred, "excluded", "weight 0")
    until = 0.0
    for table in cooldowns:
        record = table.get(cred.id) if table else None
        if record is not None and (value := record.until()) > now and value > until:
            until = value
    if until:
        return Candidate(cred, "cooling", until=until)
    if cred.id in tried:
        return Candidate(cred, "tried")
    gate = gates.get(cred.id) if gates else None
    if gate is not None:
        return Candidate(cred, gate[0], gate[1])
    return Candidate(cred, "available")
