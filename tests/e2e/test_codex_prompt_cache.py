"""The prompt-cache key a Codex (ChatGPT subscription) upstream sees, through a running
proxy, for clients that send none: Claude Code sessions over the official ``anthropic``
SDK and Chat Completions clients over the ``openai`` SDK (CPA ``cacheHelper``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest

from cliproxy.credentials.derived_session import caller_scope, derive_id
from cliproxy.formats import Format
from cliproxy.providers import codex_cache
from tests.e2e.clients import KEY

HEAD = f'api-keys: ["{KEY}"]\n'
MODEL = "gpt-5.4"


@pytest.fixture
def codex_file(tmp_path: Path, fake_responses) -> None:
    """A ChatGPT sign-in whose requests go to the fake Codex backend."""
    auth_dir = tmp_path / "auths"
    auth_dir.mkdir(exist_ok=True)
    (auth_dir / "codex.json").write_bytes(
        orjson.dumps(
            {
                "type": "codex",
                "access_token": "codex-token",
                "refresh_token": "codex-refresh",
                "account_id": "acct-1",
                "email": "acct-1@example.com",
                "expired": "2099-01-01T00:00:00Z",
                "base_url": fake_responses.base_url + "/backend-api/codex",
            }
        )
    )


def claude_code_user(session: str) -> str:
    """Claude Code's ``metadata.user_id``: a JSON string naming its session."""
    return orjson.dumps({"device_id": "d" * 64, "account_uuid": "", "session_id": session}).decode()


def claude_key(session: str, agent: str = "main") -> str:
    name = f"cli-proxy-api:codex:claude-code\x00{MODEL}\x00claude:{session}:agent:{agent}"
    return str(uuid.uuid5(uuid.NAMESPACE_OID, name))


async def claude_turn(url: str, messages: list[dict[str, Any]], **kwargs: Any) -> str:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as client:
        done = await client.messages.create(model=MODEL, max_tokens=256, messages=messages, **kwargs)
    return "".join(b.text for b in done.content if b.type == "text")


def sent_key(fake_responses) -> str:
    """The upstream's last request: its body's key, which its ``Session-Id`` names too."""
    rec = fake_responses.last
    key = rec.json.get("prompt_cache_key", "")
    assert rec.headers.get("Session-Id", "") == key
    assert KEY not in orjson.dumps(rec.json).decode()
    assert all(KEY not in value for value in rec.headers.values())
    return key


@pytest.mark.usefixtures("codex_file")
async def test_claude_code_session_keeps_one_key_across_turns(start_proxy, fake_responses):
    """CPA: TestExtractClaudeCodeSessionIDFromPayloadJSON, TestClaudeCodePromptCacheStableAcrossRequests."""
    proxy = await start_proxy(HEAD)
    first = [{"role": "user", "content": "Say hello"}]
    meta = {"user_id": claude_code_user("session-a")}
    reply = await claude_turn(proxy.url, first, metadata=meta)
    key = sent_key(fake_responses)
    assert key == claude_key("session-a")
    second = [*first, {"role": "assistant", "content": reply}, {"role": "user", "content": "Again"}]
    await claude_turn(proxy.url, second, metadata=meta)
    assert sent_key(fake_responses) == key
    await claude_turn(proxy.url, first, metadata={"user_id": claude_code_user("session-b")})
    other = sent_key(fake_responses)
    assert other and other != key


@pytest.mark.usefixtures("codex_file")
async def test_claude_code_session_header_and_sub_agents(start_proxy, fake_responses):
    """CPA: TestExtractClaudeCodeSessionIDFromHeader,
    TestExtractClaudeCodeSessionIDPrefersHeaderOverPayload, TestClaudeCodeExecutionScopeIsolatesAgents,
    TestClaudeCodePromptCacheDeterministicAndAgentScoped (the model half: the test below).
    TestClaudeCodeExecutionScopeAcceptsLowercaseHeaderMapKeys holds by HTTP: names are
    compared in any case (Go's map of non-canonical keys has no counterpart)."""
    proxy = await start_proxy(HEAD)
    messages = [{"role": "user", "content": "Say hello"}]
    session = {"X-Claude-Code-Session-Id": "session-h"}
    other = {"user_id": claude_code_user("payload-session")}  # the header wins over it
    await claude_turn(proxy.url, messages, extra_headers=session, metadata=other)
    assert sent_key(fake_responses) == claude_key("session-h")
    await claude_turn(proxy.url, messages, extra_headers={**session, "X-Claude-Code-Agent-Id": "agent-1"})
    assert sent_key(fake_responses) == claude_key("session-h", "agent-1")


def test_the_key_is_per_upstream_model() -> None:
    """CPA: TestClaudeCodePromptCacheDeterministicAndAgentScoped: one session, agent and
    model give one key; another upstream model another."""
    headers = {"x-claude-code-session-id": "session-cache-agents"}
    root = codex_cache.claude_code_key({}, headers, "gpt-5.4")
    assert root == codex_cache.claude_code_key({}, headers, "gpt-5.4") == claude_key("session-cache-agents")
    assert codex_cache.claude_code_key({}, headers, "gpt-5.5") not in ("", root)


@pytest.mark.usefixtures("codex_file")
async def test_anthropic_client_without_a_session_gets_no_key(start_proxy, fake_responses):
    proxy = await start_proxy(HEAD)
    await claude_turn(proxy.url, [{"role": "user", "content": "Say hello"}], metadata={"user_id": "someone"})
    assert sent_key(fake_responses) == ""


@pytest.mark.usefixtures("codex_file")
async def test_chat_client_key_per_conversation_or_its_own(start_proxy, fake_responses):
    """A Chat client's conversation gets the key of its derived identity (CPA's
    ProviderSessionUUID("codex")); its own key wins."""
    proxy = await start_proxy(HEAD)
    messages: Any = [{"role": "user", "content": "Say hello"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model=MODEL, messages=messages)
        derived = derive_id(Format.OPENAI, {"messages": messages}, caller_scope(KEY))
        want = str(uuid.uuid5(uuid.NAMESPACE_OID, "cli-proxy-api\x00codex\x00derived-session\x00" + derived))
        assert sent_key(fake_responses) == want
        await client.chat.completions.create(model=MODEL, messages=messages, prompt_cache_key="chat-7")
        assert sent_key(fake_responses) == "chat-7"
