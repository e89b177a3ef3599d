"""Shared fixtures: a real proxy on 127.0.0.1 and the fake upstreams."""

from __future__ import annotations

import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from cliproxy.config import load_or_default
from cliproxy.server.app import create_app
from cliproxy.service import Service
from tests.fakes.fixtures import *  # noqa: F403


class Proxy:
    """A running proxy: ``url`` is its base URL, ``service`` its live state."""

    def __init__(self, server: TestServer, service: Service, config_path: Path) -> None:
        self.server = server
        self.service = service
        self.config_path = config_path

    @property
    def url(self) -> str:
        return str(self.server.make_url("")).rstrip("/")


StartProxy = Callable[..., Awaitable[Proxy]]


@pytest.fixture
async def start_proxy(tmp_path: Path) -> AsyncIterator[StartProxy]:
    """Start a proxy from YAML text; stopped when the test ends."""
    servers: list[TestServer] = []

    async def start(yaml_text: str = "", *, watch: bool = False, poll_interval: float = 0.05) -> Proxy:
        auth_dir = tmp_path / "auths"
        auth_dir.mkdir(exist_ok=True)
        text = textwrap.dedent(yaml_text)
        if "auth-dir" not in text:
            text = f"auth-dir: {auth_dir}\n" + text
        path = tmp_path / "config.yaml"
        path.write_text(text)
        config, _ = load_or_default(path)
        service = Service(config, path, watch=watch, poll_interval=poll_interval)
        server = TestServer(create_app(service), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return Proxy(server, service, path)

    yield start
    for server in servers:
        await server.close()
