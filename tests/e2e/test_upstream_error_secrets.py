"""An upstream error that repeats the credential's secret (a gateway's "Incorrect API key
provided: sk-...") never hands it to the client: the credential's key, access and refresh
tokens and any Bearer token in an error answer are replaced by ``[REDACTED]`` before the
client, the request log and the cooldown rules read it."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.secrets import without_secrets
from tests.e2e.clients import KEY

SECRET = "sk-upstream-secret-0123456789"


def _config(fakes: Any) -> str:
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "{fakes.openai.base_url}/v1"
    api-key-entries: [{{api-key: "{SECRET}"}}]
    models: [{{name: "gpt-4o-mini", alias: "m"}}]
"""


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_key_the_upstream_repeats_does_not_reach_an_openai_client(
    start_proxy, fakes, stream: bool
) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.openai.fail_next(
        400, message=f"Incorrect API key provided: {SECRET}. Authorization: Bearer {SECRET}"
    )
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            if stream:
                await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "hi"}], stream=True
                )
            else:
                await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    text = str(caught.value) + str(caught.value.body)
    assert SECRET not in text and "[REDACTED]" in text


async def test_a_translated_error_is_scrubbed_too(start_proxy, fakes) -> None:
    proxy = await start_proxy(_config(fakes))
    fakes.openai.fail_next(400, message=f"bad key {SECRET}")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            await client.messages.create(
                model="m", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
            )
    assert SECRET not in str(caught.value.body) and "[REDACTED]" in str(caught.value.body)


def test_without_secrets() -> None:
    cred = Credential(
        id="c",
        provider="claude",
        api_key="",
        metadata={"access_token": "tok-access-123456", "refresh_token": "r-1"},
    )
    data = b'{"error":"token tok-access-123456 expired; Bearer abcdefgh12345678; r-1"}'
    out = without_secrets(data, cred)
    assert b"tok-access-123456" not in out and b"abcdefgh12345678" not in out
    assert out.count(b"[REDACTED]") == 2 and b"r-1" in out  # too short to be told from text
    assert without_secrets(b"", cred) == b""
