"""Antigravity's answers in gzip, through a running proxy with the official SDKs as clients,
against the fake Cloud Code server, which gzips every answer to a request that offers it
(as Google's front end does; a stream flushed frame by frame).

The proxy offers ``Accept-Encoding: gzip`` on Antigravity requests (Go's transport, as CPA
and the native client: test_antigravity_wire_headers.py), so every answer comes compressed
and is decoded on the way: a whole JSON body, an SSE stream piece by piece as it arrives
(never held until its end), an error body (a 429's retry hint still read), on the fast
client and on aiohttp alike. A compressed body that stops before its end (no gzip trailer)
is a broken answer, as Go's gzip reader fails it (``io.ErrUnexpectedEOF``): the client gets
an error in its own format, never a 500 nor a short answer passed as whole.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as gtypes

from cliproxy.formats import Format
from cliproxy.providers.http import HttpClient
from cliproxy.providers.transport import read_body
from tests.e2e.clients import KEY, ask
from tests.fakes.gemini import GeminiFake
from tests.fakes.server import Behavior
from tests.providers.test_antigravity_limits_proxy import account, cooldown_left, generations

MODEL = "gemini-3-flash"
PATHS = pytest.mark.parametrize("upstream_http", ["fast", "aiohttp"])


async def _proxy(start_proxy: Any, tmp_path: Path, fake: GeminiFake, upstream_http: str, *names: str) -> Any:
    for name in names:
        account(tmp_path, name, fake.base_url)
    return await start_proxy(f'api-keys: ["{KEY}"]\nupstream-http: {upstream_http}\n')


def _client(url: str) -> genai.Client:
    options = gtypes.HttpOptions(
        base_url=url, api_version="v1beta", retry_options=gtypes.HttpRetryOptions(attempts=1)
    )
    return genai.Client(api_key=KEY, http_options=options)


@PATHS
@pytest.mark.parametrize("fmt", [Format.GEMINI, Format.OPENAI, Format.CLAUDE])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_gzipped_answers_reach_every_client_decoded(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, upstream_http: str, fmt: Format, stream: bool
) -> None:
    proxy = await _proxy(start_proxy, tmp_path, fake_gemini, upstream_http, "a")
    answer = await ask(fmt, proxy.url, MODEL, "Say hello", stream=stream)
    assert answer.text.startswith("Hello from fake-gemini (model gemini-3-flash)"), answer.raw
    assert answer.input_tokens > 0 and answer.output_tokens > 0
    assert fake_gemini.last.headers["Accept-Encoding"] == "gzip"  # so the fake answered in gzip


@PATHS
async def test_a_gzipped_stream_is_decoded_as_it_comes(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, upstream_http: str
) -> None:
    """Each frame is flushed by the upstream's compressor as it is written, 0.4 s apart:
    the client has the first text 0.4 s before the stream ends (a proxy that held the
    compressed stream until its end would hand over everything at once)."""
    proxy = await _proxy(start_proxy, tmp_path, fake_gemini, upstream_http, "a")
    fake_gemini.script(Behavior(stream_delay=0.4, delay_from=1))
    client = _client(proxy.url)
    first: float | None = None
    texts: list[str] = []
    try:
        async for chunk in await client.aio.models.generate_content_stream(model=MODEL, contents="Say hello"):
            if chunk.text and first is None:
                first = time.monotonic()
            texts.append(chunk.text or "")
    finally:
        await client.aio.aclose()
    ended = time.monotonic()
    assert first is not None and ended - first >= 0.35
    assert "".join(texts).startswith("Hello from fake-gemini")


@PATHS
async def test_a_gzipped_429_still_gives_its_retry_hint(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, upstream_http: str
) -> None:
    """Cloud Code's 429 in gzip: its RetryInfo is read (the account cools for its 60 s and
    the other one serves); an exhausted quota reaches a Gemini client as its own 429."""
    proxy = await _proxy(start_proxy, tmp_path, fake_gemini, upstream_http, "a", "b")
    fake_gemini.exhaust_next("RATE_LIMIT_EXCEEDED", retry_delay="60s")
    answer = await ask(Format.OPENAI, proxy.url, MODEL, "hello", stream=True)
    first, second = generations(fake_gemini)
    assert answer.text and first != second
    (left,) = await cooldown_left(proxy, first)
    assert 55 < left <= 60
    fake_gemini.exhaust_next("QUOTA_EXHAUSTED", retry_delay="3600s", times=None)
    with pytest.raises(genai_errors.ClientError) as caught:
        await ask(Format.GEMINI, proxy.url, MODEL, "hello", stream=False)
    assert caught.value.code == 429 and caught.value.status == "RESOURCE_EXHAUSTED"
    assert "Individual quota reached" in str(caught.value.message)


@PATHS
async def test_a_truncated_gzip_answer_is_an_error_in_the_clients_format(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, upstream_http: str
) -> None:
    """Half a compressed body (its Content-Length right): 502 in the client's format, not
    the half decoded as if whole (the account cools as after any broken read: CPA's
    executor error without a status)."""
    proxy = await _proxy(start_proxy, tmp_path, fake_gemini, upstream_http, "a")
    fake_gemini.gzip_cut = True
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(Format.OPENAI, proxy.url, MODEL, "hello", stream=False)
    assert caught.value.status_code == 502


BROKE = "upstream connection broke in the middle of the stream"


@PATHS
async def test_a_truncated_gzip_stream_fails_instead_of_ending(
    start_proxy: Any, tmp_path: Path, fake_gemini: GeminiFake, upstream_http: str
) -> None:
    """A stream whose compressor never wrote its last block and trailer: the text that came
    reaches the client, then the stream fails (an error event in each client's format)
    instead of ending as if whole."""
    proxy = await _proxy(start_proxy, tmp_path, fake_gemini, upstream_http, "a", "b")
    fake_gemini.gzip_cut = True
    texts: list[str] = []
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.APIError, match=BROKE):
            stream = await client.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "hello"}], stream=True
            )
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    texts.append(chunk.choices[0].delta.content)
    assert "".join(texts).startswith("Hello from fake-gemini")
    with pytest.raises(anthropic.APIStatusError, match=BROKE):
        await ask(Format.CLAUDE, proxy.url, MODEL, "hello", stream=True)
    with pytest.raises(genai_errors.ServerError) as caught:
        await ask(Format.GEMINI, proxy.url, MODEL, "hello", stream=True)
    assert caught.value.code == 502 and caught.value.message == BROKE


@PATHS
async def test_a_gunzipped_answer_loses_its_coding_headers_as_in_go(
    fake_gemini: GeminiFake, upstream_http: str
) -> None:
    """Go's transport, once it gunzips, drops ``Content-Encoding`` and the compressed
    ``Content-Length`` from the answer's headers (what a CPA plugin or request log then
    reads); a Go-wire client does the same, another client keeps what the upstream sent."""
    body = orjson.dumps(
        {
            "model": MODEL,
            "project": "p",
            "request": {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
        }
    )
    url = fake_gemini.url("/v1internal:generateContent")
    base = HttpClient(upstream_http=upstream_http)
    try:
        go = base.spawn(go_wire=True)
        resp = await go.request(
            "POST", url, headers={"Authorization": "Bearer t", "Content-Type": "application/json"}, body=body
        )
        answer = orjson.loads(await read_body(resp))
        assert answer["response"]["candidates"][0]["content"]["parts"][0]["text"].startswith(
            "Hello from fake"
        )
        assert "Content-Encoding" not in resp.headers and "Content-Length" not in resp.headers
        assert resp.headers["Content-Type"] == "application/json"
        headers = {"Authorization": "Bearer t", "Content-Type": "application/json", "Accept-Encoding": "gzip"}
        plain = await base.request("POST", url, headers=headers, body=body)
        assert plain.headers["Content-Encoding"] == "gzip" and "Content-Length" in plain.headers
        assert orjson.loads(await read_body(plain))["response"]["candidates"]
    finally:
        await base.close()
