"""The prompt-cache key of a Codex compaction (``POST /v1/responses/compact`` to a ChatGPT
sign-in), through a running proxy with the official ``openai`` SDK.

CPA's ``executeCompact`` runs the same ``cacheHelper`` as a generation: a client that
names no session and sends no ``prompt_cache_key`` gets the conversation's derived key
(``ProviderSessionUUID("codex")``) in the body and as ``Session-Id``, so the compaction of
a long conversation reads the prompt cache its turns wrote. A client's own key or session
header wins, as on ``/responses``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openai
import orjson
import pytest

from tests.e2e.clients import KEY

HEAD = f'api-keys: ["{KEY}"]\n'
MODEL = "gpt-5.4"
INPUT: list[Any] = [{"role": "user", "content": "summarise the plan"}]


@pytest.fixture
def codex_file(tmp_path: Path, fake_responses: Any) -> None:
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


def _session(headers: Any) -> list[tuple[str, str]]:
    return [
        (k, v) for k, v in headers.items() if k.lower() in ("session-id", "session_id", "conversation_id")
    ]


@pytest.mark.usefixtures("codex_file")
async def test_compaction_gets_the_conversations_derived_key(start_proxy: Any, fake_responses: Any) -> None:
    proxy = await start_proxy(HEAD)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.create(model=MODEL, instructions="be brief", input=INPUT)
        turn = fake_responses.last
        key = turn.json["prompt_cache_key"]  # the generation's derived key (codex_cache)
        assert key and turn.headers["Session-Id"] == key

        await client.responses.compact(model=MODEL, instructions="be brief", input=INPUT)
        sent = fake_responses.last
        assert sent.path.endswith("/backend-api/codex/responses/compact")
        assert sent.json["prompt_cache_key"] == key  # fails before: no key at all
        assert _session(sent.headers) == [("Session-Id", key)]
        assert KEY not in orjson.dumps(sent.json).decode()

        # another conversation, another key
        await client.responses.compact(
            model=MODEL, instructions="be brief", input=[{"role": "user", "content": "x"}]
        )
        other = fake_responses.last.json["prompt_cache_key"]
        assert other and other != key


@pytest.mark.usefixtures("codex_file")
async def test_compaction_keeps_the_clients_own_key_and_session(
    start_proxy: Any, fake_responses: Any
) -> None:
    proxy = await start_proxy(HEAD)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        # the Codex CLI names its session in a header and sends no body key: nothing derived
        await client.responses.compact(
            model=MODEL, instructions="be brief", input=INPUT, extra_headers={"session-id": "cli-session"}
        )
        sent = fake_responses.last
        assert "prompt_cache_key" not in sent.json
        assert _session(sent.headers) == [("Session-Id", "cli-session")]

        # a body key of the client's own: kept, and named as the session
        await client.responses.compact(
            model=MODEL, instructions="be brief", input=INPUT, extra_body={"prompt_cache_key": "own-key"}
        )
        sent = fake_responses.last
        assert sent.json["prompt_cache_key"] == "own-key"
        assert _session(sent.headers) == [("Session-Id", "own-key")]


@pytest.mark.usefixtures("codex_file")
async def test_compaction_parallel_tool_calls_follow_the_tools(start_proxy: Any, fake_responses: Any) -> None:
    """CPA's executeCompact runs normalizeCodexParallelToolCalls as a generation does:
    the flag without tools goes (the backend takes it only with tools), a tool list keeps
    it, and a Codex Desktop "responses lite" request never runs calls in parallel."""
    proxy = await start_proxy(HEAD)
    tool = {"type": "function", "name": "read", "parameters": {"type": "object", "properties": {}}}
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.responses.compact(model=MODEL, input=INPUT, extra_body={"parallel_tool_calls": True})
        assert "parallel_tool_calls" not in fake_responses.last.json  # fails before

        await client.responses.compact(
            model=MODEL, input=INPUT, extra_body={"parallel_tool_calls": True, "tools": [tool]}
        )
        assert fake_responses.last.json["parallel_tool_calls"] is True

        lite = {"X-OpenAI-Internal-Codex-Responses-Lite": "true"}
        await client.responses.compact(
            model=MODEL, input=INPUT, extra_body={"tools": [tool]}, extra_headers=lite
        )
        assert fake_responses.last.json["parallel_tool_calls"] is False  # fails before
