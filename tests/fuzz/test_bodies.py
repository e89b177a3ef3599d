"""Hostile JSON bodies on every client generation route, routed to every upstream family.

Each example must get a 4xx in the client's error shape or a valid (streamed) success,
within the per-request timeout, with no error logged and no credential cooled; after
each batch a valid request still succeeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.bodies import body_for
from tests.fuzz.budget import fuzz_settings
from tests.fuzz.env import ROUTES, UPSTREAMS, Env
from tests.fuzz.oracle import Route
from tests.fuzz.rich import rich_body, rich_mutations

pytestmark = pytest.mark.asyncio(loop_scope="module")

EXAMPLES = 30
RICH_EXAMPLES = 15
ODD_URL_MODELS = st.sampled_from(
    [
        "",
        "x" * 3000,
        "models%2F{m}",
        "{m}%00",
        "{m}%ff",
        "%2e%2e%2f{m}",
        "{m}(high)",
        "{m}:",
        "{m}%20",
        "%E2%80%AE{m}",
        "nope-model",
        "{m}" * 40,
    ]
)


@pytest_asyncio.fixture(loop_scope="module")
async def after_batch(fuzz_env: Env, request: pytest.FixtureRequest) -> AsyncIterator[None]:
    yield
    params = request.node.callspec.params
    await fuzz_env.healthy(params["route"], params["upstream"])


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@fuzz_settings(EXAMPLES)
@given(data=st.data())
async def test_hostile_body(
    fuzz_env: Env, after_batch: None, route: Route, upstream: str, data: st.DataObject
) -> None:
    body = data.draw(body_for(route.fmt, route.kind, upstream, codex=route.name == "codex"), label="body")
    query, url_model = "", upstream
    if route.fmt.value == "gemini":
        query = data.draw(st.sampled_from(["", "alt=sse", "alt=json", "alt=weird", "alt="]), label="query")
        url_model = upstream
        if data.draw(st.integers(0, 99)) >= 85:
            odd = data.draw(ODD_URL_MODELS, label="url model")
            url_model = quote(odd.replace("{m}", upstream), safe="%:()")
    await fuzz_env.fuzz(route, upstream, body, query=query, url_model=url_model)


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
async def test_rich_body_succeeds(fuzz_env: Env, route: Route, upstream: str) -> None:
    """The unmutated rich body (images, files, tool calls, thinking) is a valid success, whole and streamed."""
    for stream in (False, True):
        query = "alt=sse" if route.gemini_stream and stream else ""
        answer = await fuzz_env.fuzz(
            route, upstream, rich_body(route.fmt, route.kind, upstream, stream), query=query
        )
        assert answer.status == 200, answer.describe()


@pytest.mark.parametrize("upstream", UPSTREAMS)
@pytest.mark.parametrize("route", ROUTES, ids=[r.name for r in ROUTES])
@fuzz_settings(RICH_EXAMPLES)
@given(data=st.data())
async def test_rich_body_mutation(
    fuzz_env: Env, after_batch: None, route: Route, upstream: str, data: st.DataObject
) -> None:
    stream = data.draw(st.booleans(), label="stream")
    body = data.draw(rich_mutations(route.fmt, route.kind, upstream, stream), label="body")
    query = "alt=sse" if route.gemini_stream and stream else ""
    await fuzz_env.fuzz(route, upstream, body, query=query)
