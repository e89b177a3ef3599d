"""Upstream faults under every route and format pair: errors before the first byte, streams
cut or failed in the middle, bodies that are not JSON, odd reply texts.

Here a 429/5xx in the client's error shape is a fine answer, and so is a stream that ends
with one in-format error event; a hang, a 500 from our own code, a stream that goes on
after its error, or a reply in the wrong shape is not. The fault is cleared after each
example, and the next valid request must succeed once the cooldowns are reset.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from tests.fakes.server import Behavior, FakeServer
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.env import ROUTES, UPSTREAMS, Env, valid_body
from tests.fuzz.oracle import Route
from tests.fuzz.strategies import encode

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 20
ODD_TEXTS = (
    "",
    "data: [DONE]\n\n",
    "event: error\ndata: {}\n\n",
    "\x00\x01",
    "}{",
    "\u202e\U0001f600",
    "x" * 100_000,
)

faults = st.one_of(
    st.builds(Behavior, status=st.sampled_from([400, 401, 403, 404, 413, 429, 500, 502, 503, 529])),
    st.builds(
        Behavior,
        status=st.sampled_from([500, 502]),
        body=st.sampled_from(["<html>bad gateway</html>", "", "null", "[1,2]", '{"error": 5}']),
    ),
    st.builds(Behavior, cut_after=st.integers(0, 6)),
    st.builds(
        Behavior, stream_error=st.sampled_from(["overloaded", "server_error"]), error_after=st.integers(0, 4)
    ),
    st.builds(Behavior, text=st.sampled_from(ODD_TEXTS)),
)


def _fake(env: Env, upstream: str) -> FakeServer:
    fakes = env.fakes
    return {
        "compat-model": fakes.openai,
        "claude-model": fakes.claude,
        "codex-model": fakes.responses,
        "gemini-model": fakes.gemini,
    }[upstream]


@pytest_asyncio.fixture(loop_scope="module")
async def after_batch(fuzz_env: Env, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    await fuzz_env.reset()
    for upstream in UPSTREAMS:
        await fuzz_env.healthy(request.node.callspec.params["route"], upstream)


@pytest.mark.parametrize("route", [r for r in ROUTES if r.kind == "generate"], ids=lambda r: r.name)
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_upstream_fault(fuzz_env: Env, after_batch: None, route: Route, data: st.DataObject) -> None:
    upstream = data.draw(st.sampled_from(UPSTREAMS), label="upstream")
    stream = data.draw(st.booleans(), label="stream")
    fault: Behavior = data.draw(faults, label="fault")
    body: dict[str, Any] = valid_body(route, upstream, stream)
    query = "alt=sse" if route.gemini_stream and stream else ""
    await fuzz_env.reset()
    _fake(fuzz_env, upstream).script(fault)
    answer = await fuzz_env.send(route, route.target(upstream, query), encode(body))
    await fuzz_env.judge(
        route, answer, streamed=body.get("stream") is True, alt="sse" if query else None, upstream_fault=True
    )
