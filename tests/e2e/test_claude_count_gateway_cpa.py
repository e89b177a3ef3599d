"""CPA's ClaudeExecutor.CountTokens on a base URL that is not Anthropic's
(``claude_executor_tokens.go``, ``shouldUseClaudeUpstreamTokenCount``): only
``https://api.anthropic.com`` has the count_tokens contract, so a Claude credential on
any other base URL (an Anthropic-compatible gateway such as GLM, Kimi or MiniMax, which
mostly answer 404 there) is counted locally with the o200k encoding, API key or OAuth
alike, and nothing is sent to the gateway. The local count checks the request as CPA's
validateClaudeTokenCountRequest does.

A credential with no base URL, or the one the endpoint table names for Anthropic's API
(``CLIPROXY_OAUTH_CLAUDE_API``: the ``anthropic_api`` fixture points it at the fake),
counts upstream.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import anthropic
import pytest

from cliproxy.credentials.record import Credential
from cliproxy.providers.claude import ClaudeProvider
from tests.e2e.clients import KEY

_COUNT = "/v1/messages/count_tokens"


def _config(base_url: str, key: str = "sk-gw-1", extra: str = "") -> str:
    base = f'    base-url: "{base_url}"\n' if base_url else ""
    return (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "{key}"\n{base}{extra}'
        '    models: [{name: "claude-sonnet-4-5", alias: "gw-model"}]\n'
    )


async def _count(proxy: Any, **body: Any) -> int:
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        got = await client.messages.count_tokens(model="gw-model", **body)
    return got.input_tokens


def _counts(fake: Any) -> list[Any]:
    return [r for r in fake.requests if r.path.endswith("count_tokens")]


@pytest.mark.parametrize("key", ["key-123", "sk-ant-oat-custom"])
async def test_a_gateway_count_is_local_and_never_sent(start_proxy: Any, fake_claude: Any, key: str) -> None:
    """TestClaudeExecutor_CountTokensCountsLocallyWithoutUpstreamRequest: the custom API
    key and custom OAuth rows, the same payload and CPA's number (7). Before, the count
    went to the gateway first (and was counted locally only after its 404)."""
    proxy = await start_proxy(_config(fake_claude.base_url, key))
    got = await _count(
        proxy,
        system="client system instructions",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello"}]}],
    )
    assert got == 7
    assert _counts(fake_claude) == []


@pytest.mark.parametrize(
    ("base", "upstream"),
    [
        ("https://api.anthropic.com", True),  # official
        ("https://api.anthropic.com:443", True),
        ("https://gateway.example", False),  # custom
        ("https://api.anthropic.com.example", False),  # lookalike host
        ("http://api.anthropic.com", False),  # insecure official host
        ("", True),  # the provider's own API
    ],
)
def test_only_anthropics_origin_counts_upstream(base: str, upstream: bool) -> None:
    """TestShouldUseClaudeUpstreamTokenCount's table, on the provider's rule (the official
    rows cannot be reached from a test)."""
    provider = ClaudeProvider()
    for key in ("sk-ant-oat-official", "key-official"):
        cred = Credential(id="c", provider="claude", base_url=base, api_key=key)
        assert provider.estimates_count(cred) is not upstream
    assert provider.estimates_count(
        Credential(id="c", provider="claude", base_url=base)
    )  # missing credential


async def test_anthropics_api_counts_upstream(start_proxy: Any, anthropic_api: Any) -> None:
    """A credential without a base URL (and one with the endpoint table's) asks
    Anthropic's count_tokens, whose number the client gets."""
    for base in ("", anthropic_api.base_url):
        proxy = await start_proxy(_config(base))
        got = await _count(proxy, messages=[{"role": "user", "content": "hello"}])
        [sent] = _counts(anthropic_api)
        anthropic_api.requests.clear()
        assert got > 0 and sent.json["messages"][0]["content"] == "hello"


@pytest.mark.parametrize(
    "payload",
    [
        b"not-json",
        b"[]",
        b"{}",
        b'{"messages":[]}',
        b'{"messages":"invalid"}',
        b'{"messages":[{"role":"system","content":"hello"}]}',
        b'{"messages":[{"role":"user","content":42}]}',
        b'{"messages":[{"role":"user","content":[42]}]}',
        b'{"messages":[{"role":"user","content":[{"text":"hello"}]}]}',
    ],
)
async def test_a_bad_local_count_is_the_clients_400(
    start_proxy: Any, fake_claude: Any, payload: bytes
) -> None:
    """TestClaudeExecutor_CountTokensRejectsInvalidRequests: each row is Anthropic's 400
    (``invalid_request_error``), never a count of what could not be read."""
    proxy = await start_proxy(_config(fake_claude.base_url))
    body = payload.replace(b"{", b'{"model":"gw-model",', 1) if payload.startswith(b"{") else payload
    headers = {"x-api-key": KEY, "content-type": "application/json", "anthropic-version": "2023-06-01"}
    async with aiohttp.ClientSession() as session:
        async with session.post(proxy.url + _COUNT, data=body, headers=headers) as resp:
            status, answer = resp.status, await resp.json(content_type=None)
    assert status == 400, answer
    assert answer["type"] == "error" and answer["error"]["type"] == "invalid_request_error"
    assert _counts(fake_claude) == []


async def test_mid_system_turns_are_rebuilt_before_the_check(start_proxy: Any, fake_claude: Any) -> None:
    """TestClaudeExecutor_CountTokensRebuildsMidSystemMessagesBeforeValidation: with
    ``rebuild-mid-system-message`` a ``role: system`` turn joins the system and is
    counted; without it the turn is the client's 400."""
    messages: Any = [
        {"role": "user", "content": "hello"},
        {"role": "system", "content": "Mid rule"},
        {"role": "assistant", "content": "answer"},
    ]
    plain = await start_proxy(_config(fake_claude.base_url))
    with pytest.raises(anthropic.BadRequestError):
        await _count(plain, system="Top rule", messages=messages)
    proxy = await start_proxy(_config(fake_claude.base_url, extra="    rebuild-mid-system-message: true\n"))
    with_rule = await _count(proxy, system="Top rule", messages=messages)
    without = await _count(proxy, system="Top rule", messages=[messages[0], messages[2]])
    assert with_rule > without > 0


async def test_foreign_thinking_is_not_counted(start_proxy: Any, fake_claude: Any) -> None:
    """TestClaudeExecutor_CountTokensExcludesInvalidOpenAIThinking: a thinking block
    signed by OpenAI (encrypted content) is dropped as before a Claude upstream, so the
    count equals the one without it."""
    proxy = await start_proxy(_config(fake_claude.base_url))
    thinking = {
        "type": "thinking",
        "thinking": "codex reasoning",
        "signature": "gAAAAABopenai-encrypted-content",
    }
    answer = {"type": "text", "text": "Answer"}
    follow = {"role": "user", "content": [{"type": "text", "text": "next"}]}
    first: Any = {"role": "assistant", "content": [thinking, answer]}
    with_thinking = await _count(proxy, messages=[{"role": "user", "content": "q"}, first, follow])
    without = await _count(
        proxy, messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": [answer]}, follow]
    )
    assert with_thinking == without
