from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.usage.helpers import close_recorder


@pytest.fixture
async def proxy_of(start_proxy: Any) -> AsyncIterator[Any]:
    """Like ``start_proxy``, and the recorder (writer thread, log file handler) closes after the test."""
    started: list[Any] = []

    async def start(yaml_text: str, **kw: Any) -> Any:
        proxy = await start_proxy(yaml_text, **kw)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        close_recorder(proxy)
