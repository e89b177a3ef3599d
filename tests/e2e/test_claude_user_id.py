"""``metadata.user_id`` on requests other formats send to Claude, through a running proxy
into the fake Anthropic upstream, with the official SDKs: a derived value per
conversation where the caller gave none (CPA's translators, ``DeriveClaudeUserID``), the
caller's own where given, and the Claude Code identity's over both."""

from __future__ import annotations

import hashlib

import openai
import orjson
from google import genai
from google.genai import types as gtypes

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import ACCOUNT, MODEL, last, write_oauth

PROMPT = "Say hello to the proxy"


def config(fake_claude) -> str:
    return f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-ant-api-1"\n    base-url: "{fake_claude.base_url}"\n'


def sha(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def sent_user_id(fake_claude) -> str:
    user_id: str = last(fake_claude).json["metadata"]["user_id"]
    return user_id


async def test_chat_client_gets_a_user_id_per_conversation(start_proxy, fake_claude) -> None:
    """CPA: TestConvertOpenAIRequestToClaude_DeterministicWithoutSessionKey,
    TestConvertOpenAIRequestToClaude_DifferentSessionsProduceDifferentUserIDs,
    TestConvertOpenAIRequestToClaude_PreservesOpenAIUserField: an OpenAI Chat client to a
    plain Claude API key; the first user text, then prompt_cache_key, then ``user``."""
    proxy = await start_proxy(config(fake_claude))
    first = [{"role": "user", "content": PROMPT}]
    grown = [*first, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "again"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model=MODEL, messages=first)  # type: ignore[arg-type]
        assert sent_user_id(fake_claude) == sha("content:" + PROMPT)
        await client.chat.completions.create(model=MODEL, messages=grown)  # type: ignore[arg-type]
        assert sent_user_id(fake_claude) == sha("content:" + PROMPT)  # the next turn keeps it
        await client.chat.completions.create(model=MODEL, messages=first, prompt_cache_key="conv-7")  # type: ignore[arg-type]
        assert sent_user_id(fake_claude) == sha("prompt_cache_key:conv-7")
        await client.chat.completions.create(model=MODEL, messages=first, user="alice")  # type: ignore[arg-type]
        assert sent_user_id(fake_claude) == "alice"


async def test_responses_client_gets_a_user_id_from_its_cache_key(start_proxy, fake_claude) -> None:
    """CPA: TestConvertOpenAIResponsesRequestToClaude_DifferentSessionsProduceDifferentUserIDs,
    TestConvertOpenAIResponsesRequestToClaude_PreservesCallerSuppliedMetadataUserID."""
    proxy = await start_proxy(config(fake_claude))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(model=MODEL, input=PROMPT, prompt_cache_key="resp-a")
        assert sent_user_id(fake_claude) == sha("prompt_cache_key:resp-a")
        await client.responses.create(model=MODEL, input=PROMPT, metadata={"user_id": "caller-1"})
        assert sent_user_id(fake_claude) == "caller-1"


async def test_gemini_client_gets_a_user_id_from_its_first_turn(start_proxy, fake_claude) -> None:
    """CPA: TestConvertGeminiRequestToClaude_DefaultRoleDifferentContentProducesDifferentUserIDs,
    TestDeriveClaudeUserID_GeminiTurnGrowthWithoutSessionKeyKeepsSameUserID."""
    proxy = await start_proxy(config(fake_claude))
    client = genai.Client(
        api_key=KEY,
        http_options=gtypes.HttpOptions(
            base_url=proxy.url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
        ),
    )
    await client.aio.models.generate_content(model=MODEL, contents=PROMPT)
    assert sent_user_id(fake_claude) == sha("content:" + PROMPT)
    grown = [
        gtypes.Content(role="user", parts=[gtypes.Part(text=PROMPT)]),
        gtypes.Content(role="model", parts=[gtypes.Part(text="hi")]),
        gtypes.Content(role="user", parts=[gtypes.Part(text="again")]),
    ]
    await client.aio.models.generate_content(model=MODEL, contents=grown)
    assert sent_user_id(fake_claude) == sha("content:" + PROMPT)


async def test_claude_code_identity_wins_over_the_derived_value(start_proxy, fake_claude, tmp_path) -> None:
    """CPA: the executor writes the OAuth credential's Claude Code identity
    (ApplyClaudeCredentialMetadata) after its translator derived a value, so a Chat client
    with a cache key still sends the identity's JSON user id."""
    write_oauth(tmp_path, "one", fake_claude.base_url)
    proxy = await start_proxy(f'api-keys: ["{KEY}"]\n')
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        messages = [{"role": "user", "content": PROMPT}]
        await client.chat.completions.create(model=MODEL, messages=messages, prompt_cache_key="conv-7")  # type: ignore[arg-type]
    uid = orjson.loads(sent_user_id(fake_claude))
    assert list(uid) == ["device_id", "account_uuid", "session_id"] and uid["account_uuid"] == ACCOUNT
