"""xAI's session id for a client that names no session: a UUID of its conversation's
derived identity (CPA TestXAIExecutionSessionIDUsesDerivedStableUUID, and what CPA's
session.Enrich gives xaiExecutionSessionID in a real request), through a running proxy
with the official ``openai`` SDK."""

from __future__ import annotations

import uuid
from typing import Any

import openai
import pytest

from cliproxy.credentials.derived_session import caller_scope, derive_id, provider_session_uuid
from cliproxy.formats import Format
from cliproxy.providers import xai_session
from tests.e2e.clients import KEY

OTHER = "sk-proxy-other"
HELLO = {"input": "hello"}


def test_derived_session_is_a_stable_uuid() -> None:
    first = xai_session.session_id(HELLO, {}, "grok-4.3", Format.RESPONSES)
    assert str(uuid.UUID(first)) == first
    assert xai_session.session_id(HELLO, {}, "grok-4.3", Format.RESPONSES) == first
    assert first == provider_session_uuid("xai", "", derive_id(Format.RESPONSES, HELLO, ""))
    # an explicit key wins; a blank one is no session: the derived id again
    explicit = {"prompt_cache_key": "client-session", **HELLO}
    assert xai_session.session_id(explicit, {}, "grok-4.3", Format.RESPONSES) == "client-session"
    blank = {"prompt_cache_key": "   ", **HELLO}
    assert xai_session.session_id(blank, {}, "grok-4.3", Format.RESPONSES) == first


def test_a_composer_conversation_keeps_its_derived_session() -> None:
    """A composer model without a Claude Code session: CPA's fresh UUID per request is
    only for a request with no conversation at all (no user input)."""
    model = "grok-composer-2.5-fast"
    first = xai_session.session_id(HELLO, {}, model, Format.RESPONSES)
    assert first == xai_session.session_id(HELLO, {}, model, Format.RESPONSES)
    empty = {"input": []}
    assert xai_session.session_id(empty, {}, model, Format.RESPONSES) != xai_session.session_id(
        empty, {}, model, Format.RESPONSES
    )


@pytest.fixture
async def xai_two_callers(start_proxy: Any, fake_openai: Any) -> Any:
    proxy = await start_proxy(
        f'api-keys: ["{KEY}", "{OTHER}"]\n'
        f'xai-api-key:\n  - api-key: "xai-1"\n    base-url: "{fake_openai.base_url}/v1"\n'
    )
    proxy.fake = fake_openai
    return proxy


async def test_chat_client_conversation_through_the_proxy(xai_two_callers: Any) -> None:
    proxy = xai_two_callers
    first = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello"}]
    want = provider_session_uuid("xai", "", derive_id(Format.OPENAI, {"messages": first}, caller_scope(KEY)))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        await client.chat.completions.create(model="grok-4.3", messages=first)  # type: ignore[arg-type]
        sent = proxy.fake.last
        assert sent.json["prompt_cache_key"] == want and sent.headers["x-grok-conv-id"] == want
        grown = [*first, {"role": "assistant", "content": "hi"}, {"role": "user", "content": "more"}]
        stream = await client.chat.completions.create(model="grok-4.3", messages=grown, stream=True)  # type: ignore[arg-type]
        async for _ in stream:
            pass
        assert proxy.fake.last.json["prompt_cache_key"] == want
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=OTHER, max_retries=0) as other:
        await other.chat.completions.create(model="grok-4.3", messages=first)  # type: ignore[arg-type]
        assert proxy.fake.last.json["prompt_cache_key"] not in (want, None)
