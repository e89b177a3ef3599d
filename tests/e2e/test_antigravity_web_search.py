"""Claude Code's WebSearch through an Antigravity account, end to end: the official
``anthropic`` SDK asks with only the typed web-search tool, the proxy sends Cloud Code's own
search request (``requestType: "web_search"``, a ``googleSearch`` tool) to the fake, and the
client gets Anthropic's shape back: ``server_tool_use``, ``web_search_tool_result`` and cited
text, whole and streamed (CPA translator/antigravity/claude/web_search.go)."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_providers_more import antigravity_auth

MODEL = "gemini-3-flash"  # the fake lists it in webSearchModelIds
QUERY = "Perform a web search for the query: weather in Paris"
WEB_SEARCH = {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}


async def start(start_proxy: Any, fakes: Any, tmp_path: Any) -> Any:
    antigravity_auth(tmp_path, fakes.gemini.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\n')


def asked(fakes: Any, suffix: str) -> list[Any]:
    return [r for r in fakes.gemini.requests if r.path.endswith(suffix)]


def searched(fakes: Any) -> dict[str, Any]:
    sent = [r.json for r in fakes.gemini.requests if r.path.endswith("enerateContent")]
    assert sent, fakes.gemini.paths
    return sent[-1]


def check_search_content(content: list[Any]) -> None:
    kinds = [b.type for b in content]
    assert kinds[:2] == ["server_tool_use", "web_search_tool_result"], kinds
    use, result = content[0], content[1]
    assert use.name == "web_search" and use.id.startswith("srvtoolu_") and use.input == {"query": QUERY}
    assert result.tool_use_id == use.id
    assert [(r.url, r.title) for r in result.content] == [
        ("https://example.com/first", "example.com"),
        ("https://example.org/second", "example.org"),
    ]
    texts = [b for b in content[2:] if b.type == "text"]
    assert "".join(t.text for t in texts) == (
        f"{QUERY}: the first source says yes. The second source agrees. Nothing else found."
    )
    cited = [(t.text, c.url, c.cited_text) for t in texts for c in (t.citations or [])]
    assert cited == [
        (
            f"{QUERY}: the first source says yes.",
            "https://example.com/first",
            f"{QUERY}: the first source says yes.",
        ),
        (" The second source agrees.", "https://example.org/second", " The second source agrees."),
    ]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_claude_code_web_search_runs_on_cloud_code(
    start_proxy: Any, fakes: Any, tmp_path: Any, stream: bool
) -> None:
    proxy = await start(start_proxy, fakes, tmp_path)
    args: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": QUERY}],
        "tools": [WEB_SEARCH],
    }
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.messages.stream(**args) as events:
                kinds = [e.type async for e in events]
                message = await events.get_final_message()
            assert kinds.count("citation") == 2  # citations_delta events, as Anthropic streams them
        else:
            message = await client.messages.create(**args)
    check_search_content(message.content)
    assert message.stop_reason == "end_turn"
    assert (
        message.usage.server_tool_use is not None and message.usage.server_tool_use.web_search_requests == 1
    )
    sent = searched(fakes)
    assert sent["requestType"] == "web_search" and sent["model"] == MODEL
    search = sent["request"]["tools"][0]["googleSearch"]
    assert search["enhancedContent"]["imageSearch"]["maxResultCount"] == 3
    assert sent["request"]["contents"] == [{"role": "user", "parts": [{"text": QUERY}]}]
    assert len(asked(fakes, ":fetchAvailableModels")) == 1


async def test_the_list_is_asked_once_and_never_for_chat(start_proxy: Any, fakes: Any, tmp_path: Any) -> None:
    proxy = await start(start_proxy, fakes, tmp_path)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        chat = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "hello"}]
        )
        assert chat.content[0].type == "text"
        assert asked(fakes, ":fetchAvailableModels") == []  # a chat request never waits for it
        for _ in range(2):
            message = await client.messages.create(
                model=MODEL, max_tokens=64, messages=[{"role": "user", "content": QUERY}], tools=[WEB_SEARCH]
            )
            assert message.content[0].type == "server_tool_use"
    assert len(asked(fakes, ":fetchAvailableModels")) == 1


async def test_a_model_that_does_not_search_answers_as_chat(
    start_proxy: Any, fakes: Any, tmp_path: Any
) -> None:
    """CPA: TestAntigravityWebSearchModelForRequiresRequestedModelCapability: a model that
    Cloud Code does not list as searching gets no search request; it answers as chat."""
    fakes.gemini.web_search_models = ["some-other-model"]
    proxy = await start(start_proxy, fakes, tmp_path)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        message = await client.messages.create(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": QUERY}], tools=[WEB_SEARCH]
        )
    assert [b.type for b in message.content] == ["text"]
    sent = searched(fakes)
    assert sent["requestType"] == "agent" and "tools" not in sent["request"]
