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

from cliproxy.management.oauth_sessions import OAuthSessions

__all__ = ["SESSION_TTL", "LoginSession", "LoginSessions"]

SESSION_TTL = 15 * 60


@dataclass(slots=True)
class LoginSession:
    plugin_id: str
    provider: str
    metadata: dict[str, Any]
    expires: float


class LoginSessions:
    """Open logins by ``state``; expired ones are dropped on every look-up."""

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

    def clear(self) -> None:
        self._open.clear()

    async def close(self) -> None:
        """Forget every login and stop the built-in ones' tasks and forwarders."""
        self.clear()
        await self.oauth.close()
