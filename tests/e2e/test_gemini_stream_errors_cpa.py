"""CPA's ``sdk/api/handlers/gemini/gemini_handlers_stream_error_test.go``: a Gemini stream
whose upstream fails before its first payload, through the proxy with the google-genai SDK."""

from __future__ import annotations

import pytest
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

CONFIG = (
    f'api-keys: ["{KEY}"]\nrequest-retry: 0\ngemini-api-key:\n'
    '  - api-key: "g-1"\n    base-url: "{base}"\n    models: [{{name: "gemini-2.5-pro", alias: "gem-model"}}]\n'
)


@pytest.mark.parametrize("fault", ["in-band error", "connection cut"])
async def test_a_failure_before_the_first_payload_is_an_error_status(start_proxy, fake_gemini, fault) -> None:
    """CPA: TestGeminiStreamGenerateContentDoesNotLoseErrorBeforeFirstPayload: the only
    upstream fails before anything was streamed (its in-band error object first, or the
    connection closed at once); the SDK raises an API error with an error status, never a
    200 stream that ends quietly. The in-band error keeps the upstream's code and message."""
    proxy = await start_proxy(CONFIG.format(base=fake_gemini.base_url))
    if fault == "in-band error":
        fake_gemini.stream_error_next("overloaded", after=0)
    else:
        fake_gemini.script(Behavior(cut_after=0))
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    try:
        with pytest.raises(genai.errors.APIError) as caught:
            async for _ in await client.aio.models.generate_content_stream(model="gem-model", contents="hi"):
                pass
    finally:
        await client.aio.aclose()
    assert caught.value.code >= 500
    if fault == "in-band error":
        assert caught.value.code == 503 and caught.value.message
