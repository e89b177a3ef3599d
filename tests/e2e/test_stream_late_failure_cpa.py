"""An upstream that fails a stream after the client got its first bytes cools the
credential, as CPA's ``wrapStreamResult`` (sdk/cliproxy/auth/conductor_stream.go) marks a
stream's first error chunk: the cooldown table and the request-scoped error rules apply
as before the first byte, but no other credential is tried (the client has the answer's
start, and the error event ends it). Before, a late in-stream error never reached the
cooldown code, so a Codex account out of its plan kept being picked mid-conversation.

A stream that only stops early (a cut connection, a Responses stream closed before its
terminal event) is the connection's fault and cools nothing, as CPA's connection
lifecycle errors and its request-scoped Codex incomplete-stream error.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.fakes.server import Behavior

MESSAGES: Any = [{"role": "user", "content": "hi"}]  # (typed loosely: both SDKs take it)


def codex_keys(base_url: str) -> str:
    entries = "".join(
        f'\n  - api-key: "{key}"\n    base-url: "{base_url}/backend-api/codex"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]'
        for key in ("sk-codex-1", "sk-codex-2")
    )
    return f'api-keys: ["{KEY}"]\ncodex-api-key:{entries}\n'


def claude_key(base_url: str, rules: str = "") -> str:
    return (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: "sk-ant-1"\n'
        f'    base-url: "{base_url}"{rules}\n'
        '    models: [{name: "claude-sonnet-4-6", alias: "claude-model"}]\n'
    )


def gemini_key(base_url: str) -> str:
    return (
        f'api-keys: ["{KEY}"]\ngemini-api-key:\n  - api-key: "g-1"\n    base-url: "{base_url}"\n'
        '    models: [{name: "gemini-2.5-pro", alias: "gem-model"}]\n'
    )


async def cooled(proxy: Any) -> dict[str, list[Any]]:
    """The blocking cooldown records, by API key (credentials with none left out)."""
    pool = proxy.service.pool
    found = {c.api_key: await pool.cooldowns(c) for c in pool.credentials()}
    return {key: records for key, records in found.items() if records}


async def responses_events(proxy: Any) -> list[Any]:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        return [e async for e in await client.responses.create(model="codex-model", input="hi", stream=True)]


async def chat_text(proxy: Any, model: str) -> tuple[str, Exception | None]:
    """A streamed chat completion's text, and the error that ended it (if one did)."""
    text = ""
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            async for chunk in await client.chat.completions.create(
                model=model, messages=MESSAGES, stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    text += chunk.choices[0].delta.content
        except openai.APIError as exc:
            return text, exc
    return text, None


async def test_a_late_codex_usage_limit_cools_the_account(start_proxy, fake_responses) -> None:
    """TestExecuteStream_UnbufferedOverload_StaysCommittedStream with the account's usage
    limit: Codex's ``response.failed`` (``usage_limit_reached``) comes after the answer began.
    The Responses client (openai SDK) reads the stream to its ``response.failed``, no other
    credential is tried for it, and the account cools (CPA's wrapStreamResult), so the next
    request goes to the other key. Deliberate difference: the account cools until the
    reset the upstream named, as the same event before the first byte does; CPA's late
    path passes no retry-after and backs off from one second instead, only learning the
    reset when the account refuses again."""
    proxy = await start_proxy(codex_keys(fake_responses.base_url))
    fake_responses.stream_error_next("usage_limit_reached", after=6, resets_in_seconds=900)
    events = await responses_events(proxy)
    assert events[0].type == "response.created" and events[-1].type == "response.failed"
    assert any(e.type == "response.output_text.delta" for e in events)  # the answer had begun
    [first] = fake_responses.requests
    [(key, [record])] = (await cooled(proxy)).items()
    assert key == first.key and record.model == "codex-model"
    assert 880 <= record.until() - time.time() <= 900
    assert (await responses_events(proxy))[-1].type == "response.completed"
    assert [r.key for r in fake_responses.requests] == [
        key,
        {"sk-codex-1", "sk-codex-2"}.difference([key]).pop(),
    ]


async def test_a_translated_late_failure_cools_too(start_proxy, fake_responses) -> None:
    """The same failure translated for a Claude client (anthropic SDK): Codex's late
    ``response.failed`` with ``server_is_overloaded`` (a 503) becomes the client's ``error``
    event, and the account cools for CPA's transient failure time."""
    proxy = await start_proxy(codex_keys(fake_responses.base_url))
    fake_responses.stream_error_next("overloaded", after=6)
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError):
            async with client.messages.stream(
                model="codex-model", max_tokens=16, messages=MESSAGES
            ) as stream:
                async for _ in stream:
                    pass
    assert len(fake_responses.requests) == 1
    [[record]] = (await cooled(proxy)).values()
    assert record.model and 0 < record.until() - time.time() <= 60


@pytest.mark.parametrize("upstream", ["claude", "gemini"])
async def test_each_upstreams_late_overload_cools(start_proxy, fakes, upstream: str) -> None:
    """Claude's ``event: error`` (``overloaded_error``) and Gemini's error chunk (503) after
    the answer began, translated for a Chat Completions client (openai SDK): the client has
    the start of the answer and then the error, and the key cools. CPA's Claude and Gemini
    executors pass such an event on as content, so CPA cools neither; here they cool, as
    the same event before the first byte already does (it fails over)."""
    fake = getattr(fakes, upstream)
    if upstream == "claude":
        proxy, model, after = await start_proxy(claude_key(fake.base_url)), "claude-model", 4
    else:
        proxy, model, after = await start_proxy(gemini_key(fake.base_url)), "gem-model", 1
    fake.stream_error_next("overloaded", after=after)
    text, err = await chat_text(proxy, model)
    assert text and err is not None
    [[record]] = (await cooled(proxy)).values()
    assert record.model


async def test_a_late_error_matched_by_a_stop_and_cooldown_rule(start_proxy, fake_claude) -> None:
    """TestRequestScopedErrors_StreamSubsequentChunkError: a Claude key with the rule
    ``{status: 400, match: [mid_stream_context_length], action: stop-and-cooldown}``; its
    stream sends its first events, then a 400 ``invalid_request_error`` whose message
    matches. The client (openai SDK, translated) gets the start of the answer and then the
    error; the key cools, as the rule says."""
    rule = (
        "\n    request-scoped-errors: [{status: 400, match: [mid_stream_context_length],"
        " action: stop-and-cooldown}]"
    )
    proxy = await start_proxy(claude_key(fake_claude.base_url, rule))
    fake_claude.stream_error_next("invalid_request_error", after=4, message="mid_stream_context_length")
    text, err = await chat_text(proxy, "claude-model")
    assert text and err is not None
    [[record]] = (await cooled(proxy)).values()
    assert record.credential_id


async def test_a_late_request_fault_cools_nothing(start_proxy, fake_claude) -> None:
    """The same 400 without the rule is the request's own fault (CPA's
    isRequestInvalidError): it ends the stream and cools nothing."""
    proxy = await start_proxy(claude_key(fake_claude.base_url))
    fake_claude.stream_error_next("invalid_request_error", after=4, message="mid_stream_context_length")
    text, err = await chat_text(proxy, "claude-model")
    assert text and err is not None
    assert await cooled(proxy) == {}


@pytest.mark.parametrize("fault", ["cut_after", "end_after"])
async def test_a_stream_that_only_stops_cools_nothing(start_proxy, fake_responses, fault: str) -> None:
    """A Codex stream whose connection breaks after the answer began (``cut_after``), or
    that ends cleanly without its terminal event (``end_after``): the Responses client gets
    a failure and nothing cools (CPA: a connection lifecycle error, and Codex's
    request-scoped ``stream closed before response.completed``)."""
    proxy = await start_proxy(codex_keys(fake_responses.base_url))
    fake_responses.script(Behavior(**{fault: 6}))
    events = await responses_events(proxy)
    assert events[-1].type in ("error", "response.failed"), [e.type for e in events]
    assert await cooled(proxy) == {}
