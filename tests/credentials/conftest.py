"""A fake clock and credential factory for the pool tests."""

from __future__ import annotations

import pytest

from cliproxy.credentials.record import Credential


class Clock:
    """A settable wall clock."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


def cred(cid: str, provider: str = "claude", **kw) -> Credential:
    return Credential(id=cid, provider=provider, **kw)
