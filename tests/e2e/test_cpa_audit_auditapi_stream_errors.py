"""CPA's ``sdk/api/handlers/openai/openai_handlers_stream_error_test.go``: a Chat or legacy
Completions stream whose only upstream fails before its first payload, through the proxy
with the official openai SDK.

CPA: TestChatCompletionsHandlerDoesNotLoseErrorBeforeFirstPayload and
TestCompletionsHandlerDoesNotLoseErrorBeforeFirstPayload. CPA's executor yields an error
as the first stream chunk; here the fake upstream sends its in-band error object first, or
closes the connection before any frame. Either way the client gets an error status and the
upstream's message, never a 200 stream that ends quietly.
"""

from __future__ import annotations

import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

CONFIG = f"""
api-keys: ["{KEY}"]
request-retry: 0
openai-compatibility:
  - name: fakeopenai
    base-url: "{{base}}/v1"
    api-key-entries:
      - api-key: "sk-compat-1"
    models:
      - name: "gpt-4o-mini"
        alias: "compat-model"
"""

MESSAGE = "upstream failed before first payload"


async def _stream(client: openai.AsyncOpenAI, endpoint: str) -> None:
    if endpoint == "chat":
        stream = await client.chat.completions.create(
            model="compat-model", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    else:
        stream = await client.completions.create(model="compat-model", prompt="hi", stream=True)
    async for _ in stream:
        pass


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
@pytest.mark.parametrize("fault", ["in-band error", "connection cut"])
async def test_a_failure_before_the_first_payload_is_an_error_status(
    start_proxy, fake_openai, endpoint, fault
):
    proxy = await start_proxy(CONFIG.format(base=fake_openai.base_url))
    if fault == "in-band error":
        fake_openai.stream_error_next("server_error", after=0, message=MESSAGE)
    else:
        fake_openai.script(Behavior(cut_after=0))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIStatusError) as caught:
            await _stream(client, endpoint)
    assert caught.value.status_code >= 400
    assert isinstance(caught.value.body, dict)  # the OpenAI error shape, parsed by the SDK
    if fault == "in-band error":
        assert MESSAGE in caught.value.message
    assert len(fake_openai.requests) == 1
