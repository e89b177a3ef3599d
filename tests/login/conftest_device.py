"""Fixtures of the device-code sign-in tests: the fake authorization server (with the
endpoint overrides pointed at it), an HTTP client, and a fake clock whose ``sleep``
moves time forward at once, so a 5 s poll interval costs no wall time.

Import them into a test module with ``from tests.login.conftest_device import *``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cliproxy.credentials.login.device import Polling
from cliproxy.providers.http import HttpClient
from tests.fakes.oauth_device import DeviceAuthFake

__all__ = ["FakeTime", "auth_dir", "device_fake", "fake_time", "http"]


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def polling(self, **kw: float) -> Polling:
        return Polling(sleep=self.sleep, clock=self, **kw)


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def device_fake(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[DeviceAuthFake]:
    """A running :class:`DeviceAuthFake`; the Codex, Kimi and xAI URLs point at it."""
    async with DeviceAuthFake() as fake:
        fake.point_env(monkeypatch)
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient(connect_timeout=5, first_byte_timeout=10, idle_timeout=10)
    yield client
    await client.close()


@pytest.fixture
def auth_dir(tmp_path: Path) -> Path:
    path = tmp_path / "auths"
    path.mkdir()
    return path
