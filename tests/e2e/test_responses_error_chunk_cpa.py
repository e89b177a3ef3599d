"""CPA's ``sdk/api/handlers/openai_responses_stream_error_test.go`` case of the error event
built from an upstream's HTTP error body, after a keep-alive committed the 200."""

from __future__ import annotations

import aiohttp
import orjson

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior

KEEPALIVE = b": keep-alive\n\n"
UPSTREAM_ERROR = {"error": {"message": "oops", "type": "invalid_request_error", "code": "bad_input_code"}}


async def test_the_error_event_takes_code_and_message_from_the_upstreams_body(start_proxy, fakes) -> None:
    """CPA: TestBuildOpenAIResponsesStreamErrorChunkExtractsHTTPErrorBody: the upstream's
    refusal arrives after the 200 went out; the client's ``error`` event has ``type``
    ``error`` and the ``code`` and ``message`` of the upstream's JSON error body."""
    proxy = await start_proxy(matrix_config(fakes, "streaming:\n  keepalive-seconds: 1\n"))
    fakes.responses.script(Behavior(status=400, body=UPSTREAM_ERROR, delay=1.3))
    body = {"model": "codex-model", "input": "hi", "stream": True}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as session,
        session.post(
            proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
        ) as resp,
    ):
        status, raw = resp.status, await resp.read()
    assert status == 200 and raw.startswith(KEEPALIVE)
    event = raw[len(KEEPALIVE) :]
    assert event.startswith(b"event: error\ndata: ")
    data = orjson.loads(event.split(b"data: ", 1)[1])
    assert (data["type"], data["code"], data["message"]) == ("error", "bad_input_code", "oops")
