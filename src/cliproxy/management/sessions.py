"""Web-login sessions started by auth-provider plugins, kept per management application.

A store lives as long as the management sub-application that created it (its
``cleanup_ctx`` clears it), so a login ``state`` issued by one proxy is unknown to
another one in the same process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cliproxy.management.oauth_sessions import COMPLETED_TTL, OAuthSessions

__all__ = ["SESSION_TTL", "LoginSession", "LoginSessions"]

SESSION_TTL = 15 * 60


@dataclass(slots=True)
class LoginSession:
    plugin_id: str
    provider: str
    metadata: dict[str, Any]
    expires: float
    status: str = ""  # the error text once the login failed
    completed: bool = False

    @property
    def pending(self) -> bool:
        return not self.completed and not self.status


class LoginSessions:
    """Logins by ``state``; expired ones are dropped on every look-up. As in CPA, a
    finished login is kept a while so a later poll still reads its outcome: a failed one
    for the session lifetime, a completed one for ``COMPLETED_TTL``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._open: dict[str, LoginSession] = {}
        self.oauth = OAuthSessions(clock)  # the built-in sign-ins (management.oauth_api)

    def __len__(self) -> int:
        return len(self._open)

    def add(self, state: str, plugin_id: str, provider: str, metadata: dict[str, Any]) -> None:
        self._open[state] = LoginSession(plugin_id, provider, metadata, self._clock() + SESSION_TTL)

    def get(self, state: str) -> LoginSession | None:
        now = self._clock()
        for key in [k for k, s in self._open.items() if s.expires < now]:
            del self._open[key]
        return self._open.get(state)

    def pop(self, state: str) -> None:
        self._open.pop(state, None)

    def fail(self, state: str, message: str) -> None:
        """Mark the login failed with ``message`` (CPA's ``Authentication failed`` if blank)."""
        if (session := self._open.get(state)) is not None and not session.completed:
            session.status = message.strip() or "Authentication failed"
            session.expires = self._clock() + SESSION_TTL

    def complete(self, state: str) -> None:
        if (session := self._open.get(state)) is not None and not session.completed:
            session.status, session.metadata, session.completed = "", {}, True
            session.expires = self._clock() + COMPLETED_TTL

    def clear(self) -> None:
        self._open.clear()

    async def close(self) -> None:
        """Forget every login and stop the built-in ones' tasks and forwarders."""
        self.clear()
        await self.oauth.close()
