"""CPA's cases for a Claude gateway that compresses its answers (``claude_executor_test.go``:
``decodeResponseBody`` and the executor tests around it), ported through a running proxy
into the fake Anthropic upstream, whose ``compression`` plays the gateway: gzip or zstd,
named in ``Content-Encoding`` or not, or bytes that do not decode at all.

CPA decodes every Claude answer by its ``Content-Encoding``, and by gzip's or zstd's magic
number when none is named; a body that fails to decode keeps an error answer's status (the
message says the body did not decode) and is an executor error without a status on a
success answer (the credential cools for the transient time, the request goes on).
"""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.fakes.claude import ClaudeFake, Compression

MODEL = "claude-sonnet-4-6"


def config(base_url: str, *keys: str, client: str = "fast") -> str:
    """One Claude API key per ``keys`` (the first tried first), all to ``base_url``, sent
    with the ``client`` upstream HTTP client (``aiohttp``: the one of proxied requests)."""
    creds = "".join(
        f'  - api-key: "{key}"\n    base-url: "{base_url}"\n    priority: {len(keys) - i}\n'
        for i, key in enumerate(keys or ("k-a",))
    )
    return f'api-keys: ["{KEY}"]\nrequest-retry: 0\nupstream-http: {client}\nclaude-api-key:\n{creds}'


async def cooldowns(proxy: Any, key: str) -> list[Any]:
    pool = proxy.service.pool
    out: list[Any] = []
    for cred in pool.credentials():
        if cred.api_key == key:
            out += await pool.cooldowns(cred)
    return out


def client(proxy: Any) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0)


async def answer(proxy: Any, stream: bool) -> str:
    """The text the official SDK reads back, streamed or whole."""
    async with client(proxy) as c:
        messages: Any = [{"role": "user", "content": "hi"}]
        if stream:
            async with c.messages.stream(model=MODEL, max_tokens=64, messages=messages) as s:
                done = await s.get_final_message()
        else:
            done = await c.messages.create(model=MODEL, max_tokens=64, messages=messages)
    assert done.stop_reason == "end_turn"
    return "".join(b.text for b in done.content if b.type == "text")


CASES = [
    ("gzip", False, False, "fast"),  # TestClaudeExecutor_ExecuteStream_GzipNoContentEncodingHeader
    ("gzip", False, False, "aiohttp"),
    ("zstd", False, False, "fast"),  # TestDecodeResponseBody_MagicByteZstdNoHeader
    ("zstd", True, True, "aiohttp"),  # a named coding, decoded by AiohttpResponse
    ("gzip", False, True, "fast"),  # TestDecodeResponseBody_MagicByteGzipNoHeader, on a whole answer
    ("zstd", False, True, "fast"),
    (
        "gzip",
        True,
        False,
        "fast",
    ),  # TestClaudeExecutor_ExecuteStreamDecodesCompressedSSE, _GzipSuccessBodyDecoded
]


@pytest.mark.parametrize(
    ("coding", "labelled", "whole", "http"),
    CASES,
    ids=[f"{c}-{'named' if n else 'unnamed'}-{'whole' if w else 'stream'}-{h}" for c, n, w, h in CASES],
)
async def test_a_compressed_answer_reaches_the_client_decoded(
    start_proxy: Any, fake_claude: ClaudeFake, coding: str, labelled: bool, whole: bool, http: str
) -> None:
    """A gateway's gzip or zstd answer, its Content-Encoding named or not, reaches the
    client as the plain answer (a stream decoded piece by piece as it comes), whichever
    upstream client sent the request (TestDecodeResponseBody_PlainTextNoHeader: the plain
    answer first).

    CPA: TestClaudeExecutor_ExecuteStream_GzipSuccessBodyDecoded,
    TestClaudeExecutor_ExecuteStreamDirectPassthroughEmitsCompleteSSEEvents (the SDK reads
    every event of the plain stream whole)."""
    proxy = await start_proxy(config(fake_claude.base_url, client=http))
    plain = await answer(proxy, stream=not whole)
    fake_claude.compression[None] = Compression(coding, labelled=labelled)
    assert await answer(proxy, stream=not whole) == plain != ""


STACKED = [
    (False, False, "fast"),
    (False, True, "fast"),
    (True, False, "fast"),
    (True, True, "fast"),
    (False, False, "aiohttp"),
    (True, True, "aiohttp"),
]


@pytest.mark.parametrize(
    ("repeated", "whole", "http"),
    STACKED,
    ids=[f"{'repeated' if r else 'listed'}-{'whole' if w else 'stream'}-{h}" for r, w, h in STACKED],
)
async def test_a_stacked_coding_is_undone_in_reverse(
    start_proxy: Any, fake_claude: ClaudeFake, repeated: bool, whole: bool, http: str
) -> None:
    """A gateway that zstd-compresses an answer already deflated, and says so in one
    ``Content-Encoding: deflate, zstd`` or in the header repeated: the client reads the
    plain answer (zstd undone first, then deflate), whichever upstream client sent the
    request. Before, only the last coding named was undone and the client got deflated
    bytes (or, listed, the raw body); the aiohttp client (proxied requests) answered 502.

    CPA: TestDecodeResponseBodyStackedRepeatedHeaders (gzip under br there: no brotli
    package is installed here, so zstd stands in for br, and deflate for gzip, whose magic
    number alone would have the body decoded anyway; the fact is the order)."""
    proxy = await start_proxy(config(fake_claude.base_url, client=http))
    plain = await answer(proxy, stream=not whole)
    fake_claude.compression[None] = Compression("deflate, zstd", labelled=True, repeated=repeated)
    assert await answer(proxy, stream=not whole) == plain != ""


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unnamed_gzip_answer_translates_for_another_client(
    start_proxy: Any, fake_claude: ClaudeFake, stream: bool
) -> None:
    """The same through a translation: an OpenAI client of a Claude gateway that gzips
    without saying so reads the answer (CPA decodes before its translators run)."""
    fake_claude.compression[None] = Compression("gzip")
    proxy = await start_proxy(config(fake_claude.base_url))
    got = await ask(Format.OPENAI, proxy.url, MODEL, "hi", stream=stream)
    assert got.text and got.output_tokens > 0


async def test_an_unnamed_gzip_count_is_read(start_proxy: Any, fake_claude: ClaudeFake) -> None:
    """count_tokens too (CPA ``claude_executor_tokens.go`` decodes its answer the same way)."""
    fake_claude.compression[None] = Compression("gzip")
    proxy = await start_proxy(config(fake_claude.base_url))
    async with client(proxy) as c:
        counted = await c.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert counted.input_tokens > 0


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_an_unnamed_gzip_error_keeps_its_status_and_message(
    start_proxy: Any, fake_claude: ClaudeFake, stream: bool
) -> None:
    """TestClaudeExecutor_Execute_GzipErrorBodyNoContentEncodingHeader and
    _ExecuteStream_GzipErrorBodyNoContentEncodingHeader: a gateway that gzips its 400
    without saying so; the client reads the gateway's own message, with its status.

    CPA: TestClaudeExecutor_ExecuteStream_GzipErrorBodyNoContentEncodingHeader."""
    fake_claude.compression[None] = Compression("gzip")
    fake_claude.fail_next(400, message="stream test error" if stream else "test error")
    proxy = await start_proxy(config(fake_claude.base_url))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await answer(proxy, stream)
    assert caught.value.status_code == 400
    assert ("stream test error" if stream else "test error") in caught.value.message


BOTH = [(False, "fast"), (True, "fast"), (True, "aiohttp")]
BOTH_IDS = ["whole", "stream", "stream-aiohttp"]


@pytest.mark.parametrize(("stream", "http"), BOTH, ids=BOTH_IDS)
async def test_an_error_body_that_does_not_decode_keeps_the_status(
    start_proxy: Any, fake_claude: ClaudeFake, stream: bool, http: str
) -> None:
    """TestClaudeExecutor_Execute_InvalidGzipErrorBodyReturnsDecodeMessage and
    _ExecuteStream_InvalidGzipErrorBodyReturnsDecodeMessage: a 400 that says gzip and is
    not. The client gets the gateway's 400 in its own format, saying the error body did
    not decode; before, it was our 502 and the credential cooled as after a broken
    connection.

    CPA: TestClaudeExecutor_ExecuteStream_InvalidGzipErrorBodyReturnsDecodeMessage."""
    fake_claude.compression[None] = Compression("gzip", labelled=True, broken=True)
    fake_claude.fail_next(400)
    proxy = await start_proxy(config(fake_claude.base_url, client=http))
    with pytest.raises(anthropic.BadRequestError) as caught:
        await answer(proxy, stream)
    assert caught.value.status_code == 400
    assert "failed to decode error response body" in caught.value.message
    assert await cooldowns(proxy, "k-a") == []  # a 400 is the request's, not the account's


@pytest.mark.parametrize(("stream", "http"), BOTH, ids=BOTH_IDS)
async def test_a_success_body_that_does_not_decode_fails_over_and_cools(
    start_proxy: Any, fake_claude: ClaudeFake, stream: bool, http: str
) -> None:
    """A 200 that says gzip and is not: CPA's executor returns its decode error, which
    carries no status, so the request goes on to the next credential and the one it failed
    on cools for the transient time (not a lifecycle failure: no EOF, no timeout). The
    aiohttp client (proxied requests) reads it the same way; it used to call it an EOF
    and cool nothing."""
    fake_claude.compression["k-bad"] = Compression("gzip", labelled=True, broken=True)
    proxy = await start_proxy(config(fake_claude.base_url, "k-bad", "k-good", client=http))
    assert await answer(proxy, stream)
    assert [r.key for r in fake_claude.requests] == ["k-bad", "k-good"]
    assert await cooldowns(proxy, "k-bad")
    assert await cooldowns(proxy, "k-good") == []


async def test_a_success_body_that_does_not_decode_is_a_502_alone(
    start_proxy: Any, fake_claude: ClaudeFake
) -> None:
    """With no other credential the client gets our 502 in its format (CPA answers its
    500 for an executor error without a status: we say the upstream's answer was bad)."""
    fake_claude.compression[None] = Compression("gzip", labelled=True, broken=True)
    proxy = await start_proxy(config(fake_claude.base_url))
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as c:
        with pytest.raises(openai.APIStatusError) as caught:
            await c.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.status_code == 502
