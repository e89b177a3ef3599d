"""The stream wrappers the server puts around a request's record, not inside it: the legacy
``/v1/completions`` client's reframer (``translate.completions``, the route's ``convert``)
and the keep-alive writer (``server.keepalive``) read the request trace's own stream, so a
stream that fails after its first byte stays a failed request in the usage ledger on
either server engine (CPA publishes a failed stream's record as a failure). A guard of
that order: were one of them put between the pipeline's stream and the trace, it would
hide the failure (it does not pass ``failure`` through) and the row would say 200."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codexws_usage_rows import _config, _rows_after
from tests.fakes.server import Behavior

pytestmark = pytest.mark.engine_pinned

KEEPALIVE = "streaming:\n  keepalive-seconds: 1\n"


@pytest.mark.parametrize("keepalive", ["", KEEPALIVE], ids=["plain", "keepalive"])
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_completions_stream_that_fails_late_is_a_failed_request(
    start_proxy, fakes, tmp_path, engine: str, keepalive: str
) -> None:
    """The openai SDK's legacy ``completions.create(stream=True)`` from an OpenAI-compatible
    upstream whose stream sends an error after its first chunks: the client gets the error
    after some text, and the row says failed with the upstream error's status (500)."""
    proxy = await start_proxy(_config(fakes, tmp_path) + keepalive, engine=engine)
    fakes.openai.script(Behavior(stream_error="server_error", error_after=3))
    texts: list[Any] = []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIError, match="server_error"):
            async for c in await client.completions.create(model="compat-model", prompt="x", stream=True):
                texts.append(c.choices[0].text if c.choices else "")
    assert texts  # (it failed late)
    assert await _rows_after(proxy, 1) == [(500, 1)]


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_a_chat_stream_with_keepalives_that_fails_late_is_a_failed_request(
    start_proxy, fakes, tmp_path, engine: str
) -> None:
    """The same for a Chat Completions stream with keep-alives on."""
    proxy = await start_proxy(_config(fakes, tmp_path) + KEEPALIVE, engine=engine)
    fakes.openai.script(Behavior(stream_error="server_error", error_after=3))
    deltas: list[Any] = []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "x"}], stream=True
        )
        with pytest.raises(openai.APIError, match="server_error"):
            async for c in stream:
                deltas.append(c)
    assert deltas
    assert await _rows_after(proxy, 1) == [(500, 1)]
