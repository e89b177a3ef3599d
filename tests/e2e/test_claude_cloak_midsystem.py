"""A mid-conversation ``role: system`` turn addressed to a model that predates it is the
client's 400 on api.anthropic.com (CPA's validateClaudeMidSystemMessageModel); a third-party
gateway decides for itself, and a real Claude Code owns its wire."""

from __future__ import annotations

import anthropic
import pytest

from tests.e2e.clients import KEY

LEGACY = "claude-haiku-4-5-20251001"
TURNS: list = [
    {"role": "user", "content": "a"},
    {"role": "system", "content": "s"},
]


def _config(base_url: str) -> str:
    # a short connect timeout: the request must never leave the proxy
    return f"""
api-keys: ["{KEY}"]
timeouts:
  upstream-connect: 2s
claude-api-key:
  - api-key: "sk-ant-api-1"
    base-url: "{base_url}"
    models:
      - name: "{LEGACY}"
"""


@pytest.mark.parametrize("count", [False, True], ids=["messages", "count_tokens"])
async def test_legacy_model_with_a_mid_system_turn_is_the_clients_400(start_proxy, count: bool) -> None:
    proxy = await start_proxy(_config("https://api.anthropic.com"))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            if count:
                await client.messages.count_tokens(model=LEGACY, messages=TURNS)
            else:
                await client.messages.create(model=LEGACY, max_tokens=16, messages=TURNS)
    assert caught.value.status_code == 400
    message = str(caught.value)
    assert "role 'system' is not supported on this model" in message
    assert LEGACY in message  # the offending model is named
    assert (
        isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "invalid_request_error"
    )


async def test_a_third_party_gateway_gets_the_turn(start_proxy, fake_claude) -> None:
    proxy = await start_proxy(_config(fake_claude.base_url))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model=LEGACY, max_tokens=16, messages=TURNS)
    rec = [r for r in fake_claude.requests if r.path == "/v1/messages"][-1]
    assert [m["role"] for m in rec.json["messages"]] == ["user", "system"]
