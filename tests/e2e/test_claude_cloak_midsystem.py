"""A mid-conversation ``role: system`` turn addressed to a model that predates it is the
client's 400 on api.anthropic.com (CPA's validateClaudeMidSystemMessageModel); a third-party
gateway decides for itself, and a real Claude Code owns its wire."""

from __future__ import annotations

import anthropic
import openai
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
      - name: "claude-sonnet-4-6"
"""


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("messages", LEGACY),
        ("stream", LEGACY),
        ("count_tokens", LEGACY),
        ("messages", "claude-sonnet-4-6"),
    ],
    ids=["messages", "stream", "count_tokens", "legacy sonnet"],
)
async def test_legacy_model_with_a_mid_system_turn_is_the_clients_400(
    start_proxy, path: str, model: str
) -> None:
    """CPA: TestClaudeExecutor_LegacyMidSystemMessageRejectedOnEveryUpstreamPath: answered
    by the proxy (the upstream, unreachable here, is never asked) on every path."""
    proxy = await start_proxy(_config("https://api.anthropic.com"))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.BadRequestError) as caught:
            if path == "count_tokens":
                await client.messages.count_tokens(model=model, messages=TURNS)
            elif path == "stream":
                async with client.messages.stream(model=model, max_tokens=16, messages=TURNS) as s:
                    await s.get_final_message()
            else:
                await client.messages.create(model=model, max_tokens=16, messages=TURNS)
    assert caught.value.status_code == 400
    message = str(caught.value)
    assert "role 'system' is not supported on this model" in message
    assert model in message  # the offending model is named
    assert (
        isinstance(caught.value.body, dict) and caught.value.body["error"]["type"] == "invalid_request_error"
    )


async def test_a_third_party_gateway_gets_the_turn(start_proxy, fake_claude) -> None:
    """CPA: TestClaudeExecutor_LegacyMidSystemMessageForwardedToThirdPartyGateway."""
    proxy = await start_proxy(_config(fake_claude.base_url))
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        await client.messages.create(model=LEGACY, max_tokens=16, messages=TURNS)
    rec = [r for r in fake_claude.requests if r.path == "/v1/messages"][-1]
    assert [m["role"] for m in rec.json["messages"]] == ["user", "system"]


async def test_a_translated_request_never_carries_a_system_turn(start_proxy, fake_claude) -> None:
    """CPA: TestTranslatedRequestNeverPairsLegacyModelWithMidSystemMessage: a client of
    another format reaches Claude through a translation that puts every system text in the
    top-level ``system``, so no translated body pairs a legacy model with a system turn."""
    proxy = await start_proxy(_config(fake_claude.base_url))
    chats: list[list[dict[str, str]]] = [
        [
            {"role": "system", "content": "Top rule"},
            {"role": "user", "content": "hi"},
            {"role": "system", "content": "Mid rule"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "go"},
        ],
        [{"role": "user", "content": "hi"}, {"role": "system", "content": "Mid rule"}],
    ]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        for messages in chats:
            await client.chat.completions.create(model=LEGACY, messages=messages)  # type: ignore[arg-type]
        await client.responses.create(model=LEGACY, instructions="Top rule", input="hi")
    sent = [r.json for r in fake_claude.requests if r.path == "/v1/messages"]
    assert len(sent) == 3
    for body in sent:
        assert all(m["role"] in ("user", "assistant") for m in body["messages"]), body
    systems = [[block["text"] for block in body["system"]] for body in sent]
    assert systems == [["Top rule", "Mid rule"], ["Mid rule"], ["Top rule"]]
