"""Models served only on the Images API, named on another endpoint (CPA's
handlers_request_details_test.go)."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

pytestmark = pytest.mark.asyncio

IMAGE_ONLY = (
    "gpt-image-1.5",
    "gpt-image-2",
    "codex/gpt-image-2",
    "grok-imagine-image",
    "xai/grok-imagine-image",
    "XAI/Grok-Imagine-Image-Quality",
    "grok-imagine-image-2.0",
    "xai/grok-imagine-image-2.0",
    "gpt-image-2(high)",
)
HELLO = [{"role": "user", "content": "hi"}]


async def test_an_image_only_model_on_chat_messages_and_responses_is_a_503(start_proxy, fakes):
    """CPA TestGetRequestDetails_ImageModelReturns503 and TestIsOpenAIImageOnlyModel: each
    image-only model (a provider prefix, any case, a thinking suffix) named on Chat
    Completions, Responses or Messages gets a 503 naming /v1/images/generations and
    /v1/images/edits, and nothing reaches an upstream; models that only look alike
    (grok-imagine-video) are routed as before (here: unknown, a 4xx that is not this one)."""
    proxy = await start_proxy(matrix_config(fakes))
    async with (
        openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client,
        anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude,
    ):
        for model in IMAGE_ONLY:
            calls = (
                client.chat.completions.create(model=model, messages=HELLO),
                client.chat.completions.create(model=model, messages=HELLO, stream=True),
                client.responses.create(model=model, input="hi"),
                claude.messages.create(model=model, max_tokens=8, messages=HELLO),
            )
            for pending in calls:
                with pytest.raises((openai.APIStatusError, anthropic.APIStatusError)) as err:
                    await pending
                assert err.value.status_code == 503, model
                message = str(err.value)
                assert "/v1/images/generations" in message and "/v1/images/edits" in message, message
        with pytest.raises(openai.APIStatusError) as err:
            await client.chat.completions.create(model="grok-imagine-video", messages=HELLO)
        assert err.value.status_code != 503
    assert not (fakes.openai.requests or fakes.responses.requests or fakes.claude.requests)
