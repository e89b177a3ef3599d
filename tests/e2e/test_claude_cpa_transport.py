"""How a Claude request asks for its answer (CPA ``claude_executor_test.go`` transport
cases): ``Accept`` and ``Accept-Encoding`` of a caller-owned request to a gateway, stream
or whole, recorded by the fake Anthropic upstream behind the proxy."""

from __future__ import annotations

import anthropic
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_claude_cloak import last
from tests.e2e.test_claude_cpa_executor import MODEL, api_key_config


async def _ask(url: str, stream: bool) -> None:
    async with anthropic.AsyncAnthropic(base_url=url, api_key=KEY, max_retries=0) as c:
        messages: list = [{"role": "user", "content": "hi"}]
        if stream:
            async with c.messages.stream(model=MODEL, max_tokens=16, messages=messages) as s:
                await s.get_final_message()
        else:
            await c.messages.create(model=MODEL, max_tokens=16, messages=messages)


EXTRAS = {
    "plain": [],
    "credential-override": ["headers:", '  Accept-Encoding: "gzip, deflate, br, zstd"'],
    "cloaked": ["cloak: {mode: always}", "headers:", '  accept-encoding: "br"'],
}


@pytest.mark.parametrize("kind", list(EXTRAS))
async def test_a_gateway_stream_asks_for_uncompressed_events(start_proxy, fake_claude, kind: str) -> None:
    """TestClaudeExecutor_ExecuteStream_SetsIdentityAcceptEncoding,
    TestClaudeExecutor_ExecuteStream_AcceptEncodingOverrideCannotBypassIdentity and
    TestApplyClaudeHeaders_StreamTransportNegotiation (its gateway half): a stream from a
    gateway asks for ``text/event-stream`` with ``identity``, even when the credential's
    own ``headers:`` name another Accept-Encoding (an override must not undo the event
    negotiation), cloaked or not. Before, a plain key's request named no Accept-Encoding
    at all (the gateway could pick any coding) and the credential's override went through."""
    extra = EXTRAS[kind]
    proxy = await start_proxy(api_key_config(fake_claude.base_url, *extra))
    await _ask(proxy.url, stream=True)
    rec = last(fake_claude)
    assert rec.headers["Accept"] == "text/event-stream"
    assert rec.headers.getall("Accept-Encoding") == ["identity"]


async def test_a_whole_answer_may_come_compressed(start_proxy, fake_claude) -> None:
    """TestClaudeExecutor_Execute_SetsCompressedAcceptEncoding: a whole answer asks for
    JSON and offers the codings the proxy decodes (CPA offers ``gzip, deflate, br, zstd``;
    we offer br and zstd only when this install decodes them)."""
    from cliproxy.providers.claude import _ACCEPT_ENCODING

    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    await _ask(proxy.url, stream=False)
    rec = last(fake_claude)
    assert rec.headers["Accept"] == "application/json"
    assert rec.headers.getall("Accept-Encoding") == [_ACCEPT_ENCODING]


async def test_a_key_left_empty_sends_no_auth_header(start_proxy, fake_claude) -> None:
    """TestApplyClaudeHeaders_EmptyAPIKey_OmitsAuthHeaders: a gateway entry with no
    ``api-key`` (it authenticates by a header of its own) sends neither Authorization nor
    x-api-key, and keeps its own header. Before, it sent ``Authorization: Bearer `` with
    nothing after it."""
    cfg = (
        f'api-keys: ["{KEY}"]\nclaude-api-key:\n  - api-key: ""\n    base-url: "{fake_claude.base_url}"\n'
        '    headers:\n      Custom-Token: "custom-secret"\n'
    )
    proxy = await start_proxy(cfg)
    await _ask(proxy.url, stream=False)
    rec = last(fake_claude)
    assert "Authorization" not in rec.headers and "x-api-key" not in rec.headers
    assert rec.headers["Custom-Token"] == "custom-secret"


async def test_a_whole_chat_answer_is_asked_for_whole(start_proxy, fake_claude) -> None:
    """A deliberate difference from CPA's TestClaudeExecutor_ExecuteTransportMatchesResponseFormat
    ("OpenAI to OpenAI uses SSE") and the cases built on it,
    TestClaudeExecutor_ExecuteOpenAINonStreamRejectsEmptyClaudeStream,
    TestClaudeExecutor_ExecuteOpenAINonStreamRejectsClaudeErrorEvent,
    TestClaudeExecutor_ExecuteOpenAINonStreamRejectsIncompleteClaudeStream and
    TestClaudeExecutor_ExecuteOpenAINonStreamConvertsValidClaudeStream: CPA streams from
    Claude for a non-stream OpenAI client and gathers the events (a stream that is empty,
    carries an error event or stops early is its 502). We ask Claude for the whole
    message, which needs no gathering; the client still reads the answer and its usage."""
    proxy = await start_proxy(api_key_config(fake_claude.base_url))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as c:
        done = await c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert done.choices[0].message.content and done.usage and done.usage.total_tokens > 0
    rec = last(fake_claude)
    assert rec.json["stream"] is False and rec.headers["Accept"] == "application/json"
