"""The shapes every sign-in flow shares: how a flow starts, what a finished sign-in is, and
how it fails.

A flow is two steps so the same code serves the command line and the management panel:
``start`` returns what the user must open (an authorize URL with ``state``, or a device
code with its verification page); ``finish`` turns the answer (the callback's ``code``, or
nothing for a device code, which it polls for) into the credential record CPA writes for
that provider. Writing the file and making it live is the caller's part.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from cliproxy.errors import CliproxyError

__all__ = ["AuthStart", "LoginError", "LoginFailure", "LoginFlow", "Saved"]

LoginFailure = Literal[
    "state_mismatch",  # the callback's state is not the one we issued
    "denied",  # the user refused (error=access_denied on the callback or device poll)
    "expired",  # the device code or the session ran out
    "timeout",  # nobody answered in time
    "exchange_failed",  # the token endpoint refused the code (wrong verifier, reused code)
    "bad_response",  # the provider answered something we cannot use
    "unreachable",  # network error talking to the provider
    "port_in_use",  # the local callback port is taken (CPA exits with code 13)
]


class LoginError(CliproxyError):
    """A sign-in that did not complete; ``reason`` is one of :data:`LoginFailure` and
    ``message`` a sentence for the user (never a token)."""

    def __init__(self, reason: LoginFailure, message: str, *, provider: str = "") -> None:
        super().__init__(message)
        self.reason: LoginFailure = reason
        self.message = message
        self.provider = provider


@dataclass(frozen=True, slots=True)
class AuthStart:
    """What the user must do to sign in, plus what ``finish`` needs to complete it."""

    provider: str
    state: str
    flow: Literal["callback", "device"]
    url: str  # authorize URL (callback flow) or verification page (device flow)
    redirect_uri: str = ""  # callback flows: where the provider sends the browser back
    user_code: str = ""  # device flows: the code the user types
    expires_in: float = 0.0  # device flows: seconds until the device code expires (0 = unknown)
    interval: float = 0.0  # device flows: seconds between polls
    # flow-private values ``finish`` needs (PKCE verifier, device_code, ...); never shown
    secrets: dict[str, str] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Saved:
    """A finished sign-in, written to ``path``: ``account`` names it for the user (an
    email, or an id when the provider gives no email)."""

    provider: str
    path: Path
    account: str
    record: dict[str, Any] = field(repr=False)


class LoginFlow(Protocol):
    """One provider's sign-in. ``start`` never blocks on the user; ``finish`` completes it
    (for a callback flow with the ``code`` and ``state`` the callback received, for a
    device flow by polling until the user approves, denies, or the code expires) and
    returns ``(file name, record)`` in CPA's layout for that provider."""

    provider: str
    flow: Literal["callback", "device"]

    async def start(self, *, redirect_uri: str = "") -> AuthStart: ...

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]: ...
