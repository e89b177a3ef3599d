"""A Claude client on a Grok model carries Grok's reasoning back in a thinking block's
signature, and it reaches xAI as a reasoning item (CPA ``codexClaudeTargetAcceptsGrokSignature``
in ``ConvertClaudeRequestToCodex``); the same signature never reaches Codex or Claude,
which refuse another backend's reasoning.

The client is the official ``anthropic`` SDK, whole and streamed; the upstreams are the
fake OpenAI server (in its xAI and Codex roles: ``grok-*`` models get xAI-shaped
``encrypted_content``) and the fake Claude server, which refuses a thinking block whose
signature it did not issue.
"""

from __future__ import annotations

from typing import Any

import anthropic
import orjson
import pytest

from tests.e2e.clients import KEY
from tests.fakes.openai_responses import grok_encrypted

OTHER_KEY = "sk-proxy-other-caller"
GROK = "grok-4.3"
THINKING: Any = {"type": "enabled", "budget_tokens": 2048}


@pytest.fixture
async def proxy(start_proxy: Any, fake_openai: Any, fake_responses: Any, fake_claude: Any) -> Any:
    p = await start_proxy(
        f'api-keys: ["{KEY}", "{OTHER_KEY}"]\n'
        f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
        f'codex-api-key:\n  - api-key: "codex-1"\n    base-url: "{fake_responses.base_url}/backend-api/codex"\n'
        f'claude-api-key:\n  - api-key: "claude-1"\n    base-url: "{fake_claude.base_url}"\n'
    )
    p.fake = fake_openai
    p.codex = fake_responses
    p.claude = fake_claude
    return p


def client(proxy: Any, key: str = KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key=key, max_retries=0)


async def ask(
    c: anthropic.AsyncAnthropic, model: str, messages: list[Any], stream: bool, session: str | None = None
) -> Any:
    kwargs: dict[str, Any] = {"model": model, "max_tokens": 4096, "messages": messages, "thinking": THINKING}
    if session is not None:  # Claude Code names its session in metadata.user_id
        user = {"device_id": "d" * 64, "account_uuid": "", "session_id": session}
        kwargs["metadata"] = {"user_id": orjson.dumps(user).decode()}
    if not stream:
        return await c.messages.create(**kwargs)
    async with c.messages.stream(**kwargs) as s:
        return await s.get_final_message()


def history(first: Any) -> list[Any]:
    """What Claude Code sends back: the answer's blocks as it got them, then a new turn."""
    blocks = [b.model_dump(exclude_none=True) for b in first.content]
    return [
        {"role": "user", "content": "hello"},
        {"role": "assistant", "content": blocks},
        {"role": "user", "content": "and then?"},
    ]


def reasoning_sent(fake: Any) -> list[dict[str, Any]]:
    return [i for i in fake.last.json["input"] if i.get("type") == "reasoning"]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_grok_signature_goes_back_to_xai(proxy: Any, stream: bool) -> None:
    """CPA TestConvertClaudeRequestToCodex_AssistantGrokSignatureToReasoningItem, through
    the proxy: the thinking block's signature is the Grok blob xAI gave, and the next turn
    sends it as a reasoning item with an empty summary (the text the client saw is not
    sent back). The next turn comes from a caller with another proxy key, whose requests
    get nothing from the reasoning replay: what reaches xAI is the client's own."""
    async with client(proxy) as c:
        first = await ask(c, GROK, [{"role": "user", "content": "hello"}], stream)
    issued = proxy.fake.grok_reasoning
    thinking = [b for b in first.content if b.type == "thinking"]
    assert [b.signature for b in thinking] == [issued]
    async with client(proxy, OTHER_KEY) as c:
        second = await ask(c, GROK, history(first), stream)
    assert second.content[-1].type == "text"
    assert reasoning_sent(proxy.fake) == [{"type": "reasoning", "summary": [], "encrypted_content": issued}]
    kinds = [i.get("type") for i in proxy.fake.last.json["input"]]
    assert kinds == ["message", "reasoning", "message", "message"]


async def test_older_signature_and_the_cached_latest_both_reach_xai(proxy: Any) -> None:
    """CPA TestXAIExecutorClaudeInjectsLatestCachedReasoningWhenHistoryHasOnlyOlderSignature:
    the client keeps an older Grok signature and the latest answer's text, not the latest
    reasoning; xAI gets both, the older one from the client and the latest from the
    replay, and the answer once."""
    older = grok_encrypted("an-older-turn")
    async with client(proxy) as c:
        first = await ask(c, GROK, [{"role": "user", "content": "hello"}], False, "claude-older")
        latest = proxy.fake.grok_reasoning
        text = next(b.text for b in first.content if b.type == "text")
        messages = [
            {"role": "user", "content": "hello"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "older summary", "signature": older},
                    {"type": "text", "text": text},
                ],
            },
            {"role": "user", "content": "next"},
        ]
        await ask(c, GROK, messages, False, "claude-older")
    sent = [i["encrypted_content"] for i in reasoning_sent(proxy.fake)]
    assert sorted(sent) == sorted([older, latest])
    assistants = [i for i in proxy.fake.last.json["input"] if i.get("role") == "assistant"]
    assert len(assistants) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_grok_signature_never_reaches_codex(proxy: Any, stream: bool) -> None:
    """CPA TestConvertClaudeRequestToCodex_IgnoresGrokSignatureForNonGrokTargets (gpt-5.4):
    Claude Code switched from Grok to a Codex model sends the Grok reasoning to no one."""
    async with client(proxy) as c:
        first = await ask(c, GROK, [{"role": "user", "content": "hello"}], stream)
        second = await ask(c, "gpt-5.4", history(first), stream)
    assert second.content[-1].type == "text"
    body = proxy.codex.last.json
    assert body["model"] == "gpt-5.4"
    assert reasoning_sent(proxy.codex) == []
    assert proxy.fake.grok_reasoning not in orjson.dumps(body).decode()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_grok_signature_never_reaches_claude(proxy: Any, stream: bool) -> None:
    """CPA TestConvertClaudeRequestToCodex_IgnoresGrokSignatureForNonGrokTargets
    (claude-sonnet-4-6): switched to a Claude model, the thinking block holding Grok's
    reasoning is left out, so Anthropic does not refuse the history."""
    async with client(proxy) as c:
        first = await ask(c, GROK, [{"role": "user", "content": "hello"}], stream)
        second = await ask(c, "claude-sonnet-4-6", history(first), stream)
    assert second.content[-1].type == "text"
    sent = orjson.dumps(proxy.claude.last.json).decode()
    assert proxy.fake.grok_reasoning not in sent
