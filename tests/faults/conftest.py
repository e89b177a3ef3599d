"""Fault tests: the real listener (the one ``cliproxy serve`` runs) on 127.0.0.1."""

from __future__ import annotations

import socket
import textwrap
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from cliproxy.config import load_or_default
from cliproxy.server.app import Listener, listen
from cliproxy.service import Service
from tests.conftest import ENGINE


@dataclass(slots=True)
class Edge:
    """A proxy served by ``cliproxy.server.app.listen``: ``port`` and ``url`` to reach it."""

    listener: Listener
    service: Service
    host: str

    @property
    def port(self) -> int:
        return self.listener.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


StartEdge = Callable[..., Awaitable[Edge]]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


@pytest.fixture
async def start_edge(tmp_path: Path) -> AsyncIterator[StartEdge]:
    """Start the real listener from YAML text (``host`` defaults to 127.0.0.1); stopped at the end."""
    running: list[Edge] = []

    async def start(yaml_text: str = "", *, host: str = "127.0.0.1") -> Edge:
        text = textwrap.dedent(yaml_text)
        if "auth-dir" not in text:
            text = f"auth-dir: {tmp_path / 'auths'}\n" + text
        path = tmp_path / "config.yaml"
        path.write_text(text)
        config, _ = load_or_default(path)
        service = Service(config, path, watch=False)
        # every interface binds IPv4 and IPv6 apart, each on its own random port: pick one port for both
        edge = Edge(await listen(service, host, 0 if host else _free_port(), engine=ENGINE), service, host)
        running.append(edge)
        return edge

    yield start
    for edge in running:
        await edge.listener.stop()
