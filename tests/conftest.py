"""Shared fixtures: a real proxy on 127.0.0.1 and the fake upstreams."""

from __future__ import annotations

import asyncio
import os
import textwrap
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from cliproxy.config import load_or_default
from cliproxy.server.app import Listener, listen
from cliproxy.service import Service
from cliproxy.state.redis import RedisState
from tests.fakes.fixtures import *  # noqa: F403
from tests.state.redis_server import RedisServer, redis_binary

# a ``cliproxy serve`` a test starts never fetches the remote model catalog from the internet
# (cliproxy.models.remote): a closed local port fails at once and the packaged catalog stays
os.environ.setdefault("CLIPROXY_MODELS_URLS", "http://127.0.0.1:9/models.json")
# nor the Antigravity Hub's update manifest (cliproxy.providers.antigravity_version)
os.environ.setdefault("CLIPROXY_ANTIGRAVITY_HUB_MANIFEST_URL", "http://127.0.0.1:9/latest-arm64-mac.yml")

# the client-facing server engine of every proxy a fixture starts (``server-engine``):
# unset, the config's; ``fast`` / ``aiohttp`` run a suite on one engine (.ci/run)
ENGINE = os.environ.get("CLIPROXY_SERVER_ENGINE") or None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fuzz", "tests/fuzz: hostile-input suite")
    group.addoption(
        "--fuzz-long",
        action="store_true",
        default=False,
        help="run the fuzz suite with ~50x more examples (manual runs)",
    )
    group.addoption(
        "--fuzz-seed",
        type=int,
        default=None,
        help="seed the fuzz suite's hypothesis runs (default: derandomized, fixed)",
    )


# the fixtures that start a proxy on ENGINE (tests/test_engine_pass.py keeps this list whole)
ENGINE_FIXTURES = frozenset({"start_proxy", "start_edge", "fuzz_env"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "engine_pinned: every proxy the test starts names its own server engine, so "
        "CLIPROXY_SERVER_ENGINE changes nothing in it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With CLIPROXY_SERVER_ENGINE set (.ci/run's second pass) only the tests it reaches run:
    one that starts no proxy through an ENGINE_FIXTURES fixture (a unit test; a ``cliproxy
    serve`` child process, which reads no such variable) or that is ``engine_pinned`` would
    run exactly as it did in the first pass."""
    if ENGINE is None:
        return
    keep, drop = [], []
    for item in items:
        reached = not ENGINE_FIXTURES.isdisjoint(getattr(item, "fixturenames", ()))
        (keep if reached and not item.get_closest_marker("engine_pinned") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


class Clock:
    """A wall clock a test moves by hand: pass it as ``start_proxy(..., clock=clock)`` so
    cooldowns and session-affinity TTLs expire without waiting for real time to pass."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A real ``redis-server`` on a random 127.0.0.1 port (skipped where not installed,
    failed instead when CLIPROXY_REQUIRE_REDIS is set); ``kill()`` / ``start()`` make an outage."""
    server = RedisServer(redis_binary())
    server.start()
    yield server
    server.close()


@pytest.fixture
async def redis_states(redis_server: RedisServer) -> AsyncIterator[Callable[..., Any]]:
    """``await redis_states(prefix, **kw)``: a started ``RedisState`` on ``redis_server``;
    every one opened is closed (bounded) when the test ends."""
    opened: list[Any] = []

    async def open_one(prefix: str, **kw: Any) -> Any:
        state = RedisState(redis_server.url, prefix, **kw)
        await state.start()
        opened.append(state)
        return state

    yield open_one
    for state in opened:
        await asyncio.wait_for(state.close(), 5)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class Proxy:
    """A running proxy on the production listener (client-side timeouts, connection caps
    and the malformed-request answers of ``cliproxy.server.guard`` included): ``url`` is
    its base URL, ``service`` its live state, ``app`` the aiohttp application."""

    def __init__(self, listener: Listener, service: Service, config_path: Path) -> None:
        self.listener = listener
        self.service = service
        self.config_path = config_path
        self._closed = False

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def app(self) -> web.Application:
        app = self.listener.runner.app
        assert app is not None
        return app

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            await self.listener.stop()


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(tmp_path: Path) -> AsyncIterator[StartProxy]:
    """Start a proxy from YAML text; stopped when the test ends."""
    proxies: list[Proxy] = []

    async def start(
        yaml_text: str = "",
        *,
        watch: bool = False,
        poll_interval: float = 0.05,
        clock: Callable[[], float] = time.time,
        engine: str | None = None,
        model_updates: bool = False,
    ) -> Proxy:
        auth_dir = tmp_path / "auths"
        auth_dir.mkdir(exist_ok=True)
        text = textwrap.dedent(yaml_text)
        if "auth-dir" not in text:
            text = f"auth-dir: {auth_dir}\n" + text
        path = tmp_path / "config.yaml"
        path.write_text(text)
        config, _ = load_or_default(path)
        service = Service(
            config, path, watch=watch, poll_interval=poll_interval, clock=clock, model_updates=model_updates
        )
        proxy = Proxy(await listen(service, "127.0.0.1", 0, engine=engine or ENGINE), service, path)
        proxies.append(proxy)
        return proxy

    yield start
    for proxy in proxies:
        await proxy.close()
