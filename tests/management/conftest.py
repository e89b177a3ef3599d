"""Shared fixtures for /v0/management tests: a proxy with a management secret, and a caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest

MANAGEMENT_KEY = "m-test-secret"
MHEADERS = {"Authorization": f"Bearer {MANAGEMENT_KEY}"}

MProxy = Callable[..., Awaitable[Any]]


@pytest.fixture
def mproxy(start_proxy: Any, monkeypatch: pytest.MonkeyPatch) -> MProxy:
    """Start a proxy from YAML text with management enabled (``MANAGEMENT_PASSWORD``)."""
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MANAGEMENT_KEY)

    async def start(yaml_text: str = "", **kw: Any) -> Any:
        return await start_proxy(yaml_text, **kw)

    return start


async def mcall(
    proxy: Any,
    method: str,
    path: str,
    json: Any = None,
    *,
    data: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    """Call ``/v0/management<path>``: ``(status, body)``; the body is JSON when it parses, else text."""
    url = proxy.url + "/v0/management" + path
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=json, data=data, headers={**MHEADERS, **(headers or {})}) as resp,
    ):
        text = await resp.text()
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = text
        return resp.status, body
