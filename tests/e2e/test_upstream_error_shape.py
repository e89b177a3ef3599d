"""An upstream's error reaches each client in the client's own error shape.

The same family: the upstream's JSON body verbatim (CPA). Another family: re-rendered with
the upstream's message and, where the client's family has it, its type; CPA forwards the
foreign body as it is, which the client's SDK cannot read (an Anthropic-shaped 400 gave
the google-genai SDK no message, and the fuzz oracle flagged it).
"""

from __future__ import annotations

import aiohttp
import anthropic
import openai
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.fakes.server import Behavior

MESSAGE = "messages.1: refused by the fake for this test"


async def _post(url: str, path: str, body: dict) -> tuple[int, dict]:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        headers = {"Authorization": f"Bearer {KEY}", "x-goog-api-key": KEY}
        async with session.post(url + path, json=body, headers=headers) as resp:
            return resp.status, orjson.loads(await resp.read())


async def test_claude_400_for_a_gemini_client_is_in_the_gemini_shape(start_proxy, fakes) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    fakes.claude.script(Behavior(status=400, message=MESSAGE))
    body = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}
    status, answer = await _post(proxy.url, "/v1beta/models/claude-model:generateContent", body)
    assert status == 400
    assert answer == {"error": {"code": 400, "message": MESSAGE, "status": "INVALID_ARGUMENT"}}


async def test_claude_400_for_an_openai_sdk_keeps_message_and_type(start_proxy, fakes) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    fakes.claude.script(Behavior(status=400, message=MESSAGE))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(
                model="claude-model", messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.body == {
        "message": MESSAGE,
        "type": "invalid_request_error",
        "code": "invalid_request_error",
    }


async def test_openai_error_for_a_claude_client_gets_an_anthropic_type(start_proxy, fakes) -> None:
    """An OpenAI-only type (``server_error``) is not Anthropic's: the status decides it."""
    proxy = await start_proxy(matrix_config(fakes))
    fakes.openai.script(Behavior(status=500, message="upstream broke", times=9))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.InternalServerError) as caught:
            await client.messages.create(
                model="compat-model", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
            )
    assert caught.value.body == {"type": "error", "error": {"type": "api_error", "message": "upstream broke"}}


async def test_same_family_error_is_passed_through_verbatim(start_proxy, fakes) -> None:
    proxy = await start_proxy(matrix_config(fakes))
    fakes.claude.script(Behavior(status=400, message=MESSAGE))
    body = {"model": "claude-model", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    status, answer = await _post(proxy.url, "/v1/messages", body)
    assert status == 400
    assert answer["error"] == {"type": "invalid_request_error", "message": MESSAGE}
    assert answer["request_id"].startswith("req_")  # the fake's own field: nothing re-rendered
