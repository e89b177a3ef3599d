"""The ChatGPT Codex backend refuses a bad request with FastAPI's ``{"detail": "..."}``
(``Unsupported parameter: ...``, ``The 'X' model is not supported when using Codex with a
ChatGPT account.``, ``Instructions are not valid``), none of the three error shapes a client
SDK reads. CPA relays it as it is (``BuildErrorResponseBody``), so the openai SDK showed
nothing but ``Error code: 400`` and the anthropic and google-genai SDKs the raw JSON. Each
client now reads the backend's sentence as its error's message, in its own shape; the
request stays the client's fault (no cooldown, no other account tried), as before.
"""

from __future__ import annotations

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as gerrors
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.test_sub_codex_metadata import HEAD, MODEL, codex_file

SENTENCE = "The 'gpt-5.4' model is not supported when using Codex with a ChatGPT account."


@pytest.fixture
async def proxy(start_proxy, fake_responses, tmp_path):
    codex_file(tmp_path, fake_responses.base_url)
    proxy = await start_proxy(HEAD)
    fake_responses.fail_next(400, body={"detail": SENTENCE})
    return proxy


async def _no_cooldown(proxy, fake_responses) -> None:
    """The refusal was the request's: nothing cooled and only one attempt went out."""
    assert len([r for r in fake_responses.requests if r.path == "/backend-api/codex/responses"]) == 1
    [cred] = proxy.service.pool.credentials()
    assert await proxy.service.pool.cooldowns(cred) == []


@pytest.mark.parametrize("kind", ["chat", "chat-stream", "responses", "responses-stream"])
async def test_openai_clients_read_the_backends_sentence(proxy, fake_responses, kind: str) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            if kind.startswith("chat"):
                answer = await client.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=kind == "chat-stream"
                )
            else:
                answer = await client.responses.create(
                    model=MODEL, input="hi", stream=kind == "responses-stream"
                )
            if kind.endswith("stream"):
                async for _ in answer:  # type: ignore[union-attr]
                    pass
    assert caught.value.message == f"Error code: 400 - {SENTENCE}"
    assert isinstance(caught.value.body, dict) and caught.value.body["type"] == "invalid_request_error"
    await _no_cooldown(proxy, fake_responses)


async def test_an_anthropic_client_reads_it_in_anthropics_shape(proxy, fake_responses) -> None:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": SENTENCE},
    }
    await _no_cooldown(proxy, fake_responses)


async def test_a_gemini_client_reads_it_in_googles_shape(proxy, fake_responses) -> None:
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    with pytest.raises(gerrors.ClientError) as caught:
        await client.aio.models.generate_content(model=MODEL, contents="hi")
    assert caught.value.code == 400
    assert caught.value.message == SENTENCE and caught.value.status == "INVALID_ARGUMENT"
    await _no_cooldown(proxy, fake_responses)
