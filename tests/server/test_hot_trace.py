"""What the server hands the recorder for a generation request (``usage.hooks.exchange_trace``,
the server's one call per request): the route, the model asked for, the client key let in,
the client's address and the URL with its secrets masked, on both server engines."""

from __future__ import annotations

import openai
import orjson
import pytest

from cliproxy.usage import recorder_of
from tests.usage.helpers import CLIENT_KEY, close_recorder
from tests.usage.test_resp import MKEY, config

pytestmark = [pytest.mark.asyncio, pytest.mark.engine_pinned]


@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_the_record_names_route_model_key_address_and_masked_url(
    start_proxy, fake_openai, monkeypatch, engine
):
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
    proxy = await start_proxy(config(fake_openai), engine=engine)
    try:
        rec = recorder_of(proxy.service)
        seen = []
        real = rec.finished
        monkeypatch.setattr(rec, "finished", lambda t: (seen.append(t), real(t)))
        async with openai.AsyncOpenAI(
            base_url=proxy.url + "/v1",
            api_key=CLIENT_KEY,
            default_query={"key": CLIENT_KEY, "beta": "true"},
            max_retries=0,
        ) as client:
            answer = await client.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}]
            )
        assert answer.choices[0].message.content
        [t] = seen
        assert (t.method, t.endpoint, t.alias, t.model, t.api_key, t.client_ip) == (
            "POST",
            "POST /v1/chat/completions",
            "m",
            "gpt-4o-mini",
            CLIENT_KEY,
            "127.0.0.1",
        )
        assert t.url == "/v1/chat/completions?key=sk...56&beta=true"
        assert orjson.loads(t.body)["messages"] == [{"role": "user", "content": "hi"}]
        [record] = [orjson.loads(r) for r in rec.queue.pop(10)]
        assert (
            record["endpoint"],
            record["api_key"],
            record["alias"],
            record["model"],
            record["client_ip"],
        ) == (
            "POST /v1/chat/completions",
            "sk...56",  # the client key, masked
            "m",
            "gpt-4o-mini",
            "127.0.0.1",
        )
    finally:
        close_recorder(proxy)
