"""Upstream faults through a running proxy: timeouts, garbage, broken streams, leaks.

The fake upstream (``tests.fakes.faulty``) misbehaves per API key. Every model has two
credentials: ``k-bad`` (priority 1, tried first) and ``k-good``; a fault on ``k-bad``
must fail over to ``k-good`` before the first byte, and count against ``k-bad`` as a
transient failure, unless it timed out or the upstream ended the connection (CPA cools
nothing then: tests/e2e/test_connection_lifecycle_cpa.py). A model with one credential shows what a client gets when nothing
can serve it, in its own error shape. Timeouts are 0.5 s so the tests stay fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import openai
import orjson
import pytest
from google.genai import errors as gerrors

from cliproxy.config import load_or_default
from cliproxy.credentials.refresh import Refresher, RefreshError
from cliproxy.formats import Format
from cliproxy.providers.http import HttpClient
from tests.e2e.clients import KEY, ask
from tests.fakes.faulty import HTML_502, HUGE_TEXT_BYTES, INTERNAL, FaultyUpstream

LIMIT = 0.5  # upstream-first-byte and upstream-idle in the test config


@pytest.fixture
def faulty() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as fake:
        yield fake


def config(base: str, first_byte: str = "500ms", extra: str = "", idle: str = "500ms") -> str:
    def pair(name: str, alias: str) -> str:
        return "".join(
            f"""
  - api-key: "{key}"
    base-url: "{base}"
    priority: {prio}
    models: [{{name: "{name}", alias: "{alias}"}}]"""
            for key, prio in (("k-bad", 1), ("k-good", 0))
        )

    return f"""
api-keys: ["{KEY}"]
request-retry: 0
timeouts:
  upstream-connect: 500ms
  upstream-first-byte: {first_byte}
  upstream-idle: {idle}
claude-api-key:{pair("claude-f", "claude-model")}
  - api-key: "k-solo"
    base-url: "{base}"
    models: [{{name: "claude-f", alias: "claude-solo"}}]
gemini-api-key:{pair("gemini-f", "gemini-model")}
  - api-key: "k-solo"
    base-url: "{base}"
    models: [{{name: "gemini-f", alias: "gemini-solo"}}]
openai-compatibility:
  - name: faulty-a
    base-url: "{base}/v1"
    priority: 1
    api-key-entries: [{{api-key: "k-bad"}}]
    models: [{{name: "gpt-f", alias: "gpt-model"}}]
  - name: faulty-b
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-good"}}]
    models: [{{name: "gpt-f", alias: "gpt-model"}}]
  - name: faulty-solo
    base-url: "{base}/v1"
    api-key-entries: [{{api-key: "k-solo"}}]
    models: [{{name: "gpt-f", alias: "gpt-solo"}}]
{extra}
"""


@pytest.fixture
async def proxy(start_proxy, faulty):
    return await start_proxy(config(faulty.base_url))


@pytest.fixture
async def roomy(start_proxy, faulty):
    """Generous upstream timeouts, for tests where a timeout is not the thing under test."""
    return await start_proxy(config(faulty.base_url, first_byte="10s", idle="10s"))


async def cooled(proxy, key: str) -> list[Any]:
    pool = proxy.service.pool
    creds = [c for c in pool.credentials() if c.api_key == key]
    out = []
    for c in creds:
        out += await pool.cooldowns(c)
    return out


async def assert_cooled_transient(proxy, key: str = "k-bad") -> None:
    records = await cooled(proxy, key)
    assert records, f"{key} was not cooled down"
    assert all(r.reason == "transient upstream error" for r in records), records


# ---- raw HTTP clients, one per wire format


BODIES = {
    Format.OPENAI: lambda m, s: {"model": m, "stream": s, "messages": [{"role": "user", "content": "hi"}]},
    Format.RESPONSES: lambda m, s: {"model": m, "stream": s, "input": "hi"},
    Format.CLAUDE: lambda m, s: {
        "model": m,
        "stream": s,
        "max_tokens": 50,
        "messages": [{"role": "user", "content": "hi"}],
    },
    Format.GEMINI: lambda m, s: {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]},
}
PATHS = {
    Format.OPENAI: "/v1/chat/completions",
    Format.RESPONSES: "/v1/responses",
    Format.CLAUDE: "/v1/messages",
}


async def raw(proxy, fmt: Format, model: str, stream: bool, alt: str | None = "sse") -> tuple[int, bytes]:
    if fmt is Format.GEMINI:
        action = "streamGenerateContent" if stream else "generateContent"
        path = f"/v1beta/models/{model}:{action}" + (f"?alt={alt}" if stream and alt else "")
    else:
        path = PATHS[fmt]
    headers = {"Authorization": f"Bearer {KEY}", "x-api-key": KEY, "x-goog-api-key": KEY}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=BODIES[fmt](model, stream), headers=headers) as r,
    ):
        return r.status, await r.read()


def sse_events(data: bytes) -> list[tuple[str | None, Any]]:
    """(event name, parsed data) per SSE event; non-JSON data kept as bytes."""
    out: list[tuple[str | None, Any]] = []
    for block in data.replace(b"\r\n", b"\n").split(b"\n\n"):
        event, payload = None, []
        for line in block.split(b"\n"):
            if line.startswith(b"event:"):
                event = line[6:].strip().decode()
            elif line.startswith(b"data:"):
                payload.append(line[5:].strip())
        if event is None and not payload:
            continue
        joined = b"\n".join(payload)
        try:
            out.append((event, orjson.loads(joined)))
        except orjson.JSONDecodeError:
            out.append((event, joined))
    return out


def stream_error(fmt: Format, data: bytes, alt: str | None = "sse") -> dict[str, Any]:
    """The in-format error a stream ended with (AssertionError when it has none)."""
    if fmt is Format.GEMINI and alt != "sse":
        chunks = orjson.loads(data)  # the whole JSON array must still parse
        assert isinstance(chunks, list) and "error" in chunks[-1], chunks
        return chunks[-1]["error"]
    events = sse_events(data)
    assert events, data
    name, last = events[-1]
    if fmt is Format.CLAUDE:
        assert name == "error" and last["type"] == "error", events[-3:]
        return last["error"]
    if fmt is Format.RESPONSES:
        assert name == "response.failed", events[-3:]
        return last["response"]["error"]
    assert isinstance(last, dict) and "error" in last, events[-3:]
    if fmt is Format.OPENAI:
        assert all(d != b"[DONE]" for _, d in events)
    return last["error"]


def text_of(fmt: Format, data: bytes, alt: str | None = "sse") -> str:
    """All the text a stream carried before it ended."""
    if fmt is Format.GEMINI and alt != "sse":
        chunks = orjson.loads(data)
    else:
        chunks = [d for _, d in sse_events(data) if isinstance(d, dict)]
    out = []
    for d in chunks:
        if fmt is Format.OPENAI:
            out += [c["delta"].get("content") or "" for c in d.get("choices") or []]
        elif fmt is Format.CLAUDE and d.get("type") == "content_block_delta":
            out.append(d["delta"].get("text") or "")
        elif fmt is Format.RESPONSES and d.get("type") == "response.output_text.delta":
            out.append(d["delta"])
        elif fmt is Format.GEMINI:
            for c in d.get("candidates") or []:
                out += [p.get("text") or "" for p in (c.get("content") or {}).get("parts") or []]
    return "".join(out)


# client format, model: passthrough and translated pairs over the three upstream shapes
PAIRS = [
    (Format.CLAUDE, "claude-model"),  # passthrough
    (Format.OPENAI, "gpt-model"),  # passthrough
    (Format.GEMINI, "gemini-model"),  # passthrough
    (Format.CLAUDE, "gpt-model"),  # translated
    (Format.OPENAI, "claude-model"),  # translated
    (Format.RESPONSES, "claude-model"),  # translated
    (Format.GEMINI, "claude-model"),  # translated
]
IDS = [f"{f.value}->{m}" for f, m in PAIRS]


# ---- 4: timeouts


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(("fmt", "model"), PAIRS, ids=IDS)
async def test_hung_upstream_fails_over_before_first_byte(proxy, faulty, fmt, model, stream):
    faulty.faults["k-bad"] = "hang"
    started = time.monotonic()
    answer = await ask(fmt, proxy.url, model, "hi", stream=stream)
    assert "hello from k-good" in answer.text
    assert time.monotonic() - started < LIMIT + 3
    assert faulty.keys()[:2] == ["k-bad", "k-good"]
    assert await cooled(proxy, "k-bad") == []  # a timeout cools nothing (CPA's lifecycle rule)


@pytest.mark.parametrize(("fault", "stream"), [("stall_headers", True), ("cut_early", True), ("slow", False)])
async def test_stalled_or_cut_before_content_fails_over(proxy, faulty, fault, stream):
    faulty.faults["k-bad"] = fault
    faulty.slow_delay = LIMIT / 5
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=stream)
    if fault == "slow":  # slower than nothing, faster than the limit: served by k-bad itself
        assert answer.text == "hello from k-bad"
        return
    assert answer.text == "hello from k-good"
    assert await cooled(proxy, "k-bad") == []  # a timeout or an EOF cools nothing (CPA)


async def test_hung_upstream_alone_is_504_in_each_client_format(proxy, faulty):
    """CPA: TestExecutionErrorMessageMapsContextStatuses and TestStatusFromErrorMapsContextStatuses
    (a deadline is a 504; a client that left is the 499 of tests/e2e/test_client_gone.py).
    CPA: TestHTTPStatusFromError (clienterror: deadline 504, cancel 499)."""
    faulty.faults["k-solo"] = "hang"
    with pytest.raises(openai.APIStatusError) as oe:
        await ask(Format.OPENAI, proxy.url, "gpt-solo", "hi", stream=True)
    assert oe.value.status_code == 504
    with pytest.raises(anthropic.APIStatusError) as ae:
        await ask(Format.CLAUDE, proxy.url, "claude-solo", "hi", stream=False)
    assert ae.value.status_code == 504 and ae.value.body["type"] == "error"
    with pytest.raises(gerrors.APIError) as ge:
        await ask(Format.GEMINI, proxy.url, "gemini-solo", "hi", stream=True)
    assert ge.value.code == 504 and ge.value.status == "DEADLINE_EXCEEDED"
    for err in (oe.value.message, ae.value.message, ge.value.message):
        assert "127.0.0.1" not in (err or "") and str(faulty.port) not in (err or "")


STREAM_PAIRS = [*PAIRS, (Format.RESPONSES, "gpt-model")]
STREAM_IDS = [f"{f.value}->{m}" for f, m in STREAM_PAIRS]


@pytest.mark.parametrize(("fmt", "model"), STREAM_PAIRS, ids=STREAM_IDS)
async def test_stall_mid_stream_ends_with_in_format_error(proxy, faulty, fmt, model):
    faulty.faults["k-bad"] = "stall_mid"
    started = time.monotonic()
    status, data = await raw(proxy, fmt, model, True)
    assert status == 200
    assert time.monotonic() - started < LIMIT + 3
    assert text_of(fmt, data) == "hello "  # the first content, from k-bad, and no more
    err = stream_error(fmt, data)
    assert "went silent" in err["message"]


async def test_stall_mid_stream_gemini_json_array(proxy, faulty):
    faulty.faults["k-bad"] = "stall_mid"
    for model in ("gemini-model", "claude-model"):
        status, data = await raw(proxy, Format.GEMINI, model, True, alt=None)
        assert status == 200
        err = stream_error(Format.GEMINI, data, alt=None)
        assert err["code"] == 504 and err["status"] == "DEADLINE_EXCEEDED"


async def test_gemini_json_array_stream_is_one_json_array(roomy, faulty):
    status, data = await raw(roomy, Format.GEMINI, "gemini-model", True, alt=None)
    assert status == 200
    assert text_of(Format.GEMINI, data, alt=None) == "hello from k-bad"  # orjson.loads of the whole array


async def test_stall_mid_stream_through_the_sdks(proxy, faulty):
    faulty.faults["k-bad"] = "stall_mid"
    with pytest.raises(anthropic.APIStatusError):
        await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=True)
    with pytest.raises(openai.APIError):
        await ask(Format.OPENAI, proxy.url, "gpt-model", "hi", stream=True)


async def test_other_requests_are_not_held_up_by_a_hung_one(roomy, faulty):
    proxy = roomy  # upstream-idle 10 s: the stalled stream stays open for the whole test
    faulty.faults["k-solo"] = "stall_mid"
    hung = asyncio.ensure_future(raw(proxy, Format.CLAUDE, "claude-solo", True))
    async with asyncio.timeout(5):
        while "k-solo" not in [r.key for r in faulty.requests]:  # the stalled request is in flight
            await asyncio.sleep(0.01)
    started = time.monotonic()
    answers = await asyncio.gather(
        *(ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=s) for s in (True, False, True, False))
    )
    assert time.monotonic() - started < 5  # held up, they would wait out the 10 s idle limit
    assert not hung.done()
    assert [a.text for a in answers] == ["hello from k-bad"] * 4
    hung.cancel()  # how a stall ends is tested above (test_stall_mid_stream_ends_with_in_format_error)
    with contextlib.suppress(asyncio.CancelledError):
        await hung


async def test_reload_applies_new_upstream_timeouts(faulty, start_proxy):
    proxy = await start_proxy(config(faulty.base_url, first_byte="30s"))
    assert proxy.service.http.first_byte_timeout == 30
    new, _ = load_or_default(_write(proxy, config(faulty.base_url, first_byte="500ms")))
    proxy.service.apply(new)
    faulty.faults["k-solo"] = "hang"
    started = time.monotonic()
    status, _ = await raw(proxy, Format.CLAUDE, "claude-solo", False)
    assert status == 504 and time.monotonic() - started < LIMIT + 3


def _write(proxy, text: str):
    path = proxy.config_path.with_name("reloaded.yaml")
    path.write_text(f"auth-dir: {proxy.service.config.auth_dir}\n" + text)
    return path


async def test_token_refresh_uses_the_client_timeouts(faulty):
    from cliproxy.credentials.pool import Pool
    from cliproxy.credentials.record import Credential

    faulty.faults["refresh"] = "hang"
    http = HttpClient(first_byte_timeout=0.5)
    cred = Credential(
        id="c1",
        provider="claude",
        kind="oauth",
        metadata={"type": "claude", "refresh_token": "rt", "access_token": "at"},
    )
    refresher = Refresher(Pool(), http, token_urls={"claude": faulty.url("/v1/messages?key=refresh")})
    started = time.monotonic()
    try:
        with pytest.raises(RefreshError) as err:
            await refresher.refresh_now(cred)
    finally:
        await http.close()
    assert err.value.status == 504 and time.monotonic() - started < 3


# ---- 8: bad replies reported as success


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", ["garbage", "empty_200"])
@pytest.mark.parametrize(("fmt", "model"), PAIRS, ids=IDS)
async def test_garbage_or_empty_reply_fails_over(roomy, faulty, fmt, model, fault, stream):
    faulty.faults["k-bad"] = fault
    answer = await ask(fmt, roomy.url, model, "hi", stream=stream)
    assert "hello from k-good" in answer.text
    assert faulty.keys()[:2] == ["k-bad", "k-good"]
    await assert_cooled_transient(roomy)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize(
    ("fmt", "model"),
    [
        (Format.CLAUDE, "gpt-solo"),
        (Format.CLAUDE, "claude-solo"),
        (Format.OPENAI, "gpt-solo"),
        (Format.GEMINI, "gemini-solo"),
    ],
    ids=["claude->gpt", "claude->claude", "openai->gpt", "gemini->gemini"],
)
async def test_garbage_alone_is_502_never_200(roomy, faulty, fmt, model, stream):
    faulty.faults["k-solo"] = "garbage"
    status, data = await raw(roomy, fmt, model, stream)
    assert status == 502, (fmt, model, data)
    body = orjson.loads(data)
    assert "maintenance" not in data.decode()
    if fmt is Format.CLAUDE:
        assert body["type"] == "error" and body["error"]["type"] == "api_error"
    elif fmt is Format.GEMINI:
        assert body["error"]["code"] == 502
    else:
        assert body["error"]["type"] == "server_error"


@pytest.mark.parametrize(("fmt", "model"), STREAM_PAIRS, ids=STREAM_IDS)
async def test_garbage_mid_stream_ends_with_in_format_error(roomy, faulty, fmt, model):
    faulty.faults["k-bad"] = "garbage_mid"
    status, data = await raw(roomy, fmt, model, True)
    assert status == 200
    assert b"this is not json" not in data
    assert text_of(fmt, data) == "hello "
    err = stream_error(fmt, data)
    assert "not JSON" in err["message"]


async def test_cut_mid_stream_ends_with_in_format_error(roomy, faulty):
    faulty.faults["k-bad"] = "cut_mid"
    for fmt, model in STREAM_PAIRS:
        status, data = await raw(roomy, fmt, model, True)
        assert status == 200
        stream_error(fmt, data)


async def test_keepalives_done_and_pings_are_not_garbage(roomy, faulty):
    faulty.faults["k-bad"] = "keepalive"
    for fmt, model in STREAM_PAIRS:
        status, data = await raw(roomy, fmt, model, True)
        assert status == 200 and text_of(fmt, data) == "hello from k-bad", (fmt, model, data[-300:])
    assert await cooled(roomy, "k-bad") == []


@pytest.mark.parametrize(
    ("fmt", "model"),
    [(Format.CLAUDE, "claude-model"), (Format.CLAUDE, "gpt-model"), (Format.GEMINI, "gemini-model")],
    ids=["pass", "translated", "gemini"],
)
async def test_10mb_single_sse_line_streams_through(roomy, faulty, fmt, model):
    proxy = roomy  # 10 MB in one line takes a while on a loaded machine: no timeout may cut it
    faulty.faults["k-bad"] = "huge"
    started = time.monotonic()
    status, data = await raw(proxy, fmt, model, True)
    assert status == 200
    assert len(text_of(fmt, data)) == HUGE_TEXT_BYTES
    assert time.monotonic() - started < 15


async def test_count_tokens_for_codex_is_local_never_a_generation(start_proxy, faulty):
    proxy = await start_proxy(
        config(
            faulty.base_url,
            extra=f"""
codex-api-key:
  - api-key: "k-codex"
    base-url: "{faulty.base_url}"
    models: [{{name: "gpt-5.4", alias: "codex-model"}}]
""",
        )
    )
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            proxy.url + "/v1/messages/count_tokens",
            headers={"x-api-key": KEY},
            json={"model": "codex-model", "messages": [{"role": "user", "content": "hi " * 100}]},
        ) as r,
    ):
        assert r.status == 200
        assert (await r.json())["input_tokens"] > 50
    assert faulty.requests == []


# ---- 11: upstream details never reach the client


async def test_html_error_page_is_summarised_and_logged(roomy, faulty, caplog):
    faulty.faults["k-solo"] = "html_502"
    caplog.set_level(logging.INFO, logger="cliproxy")
    for fmt, model in (
        (Format.CLAUDE, "claude-solo"),
        (Format.OPENAI, "gpt-solo"),
        (Format.GEMINI, "gemini-solo"),
    ):
        status, data = await raw(roomy, fmt, model, False)
        assert status == 502
        assert b"<html" not in data and INTERNAL.encode() not in data
        assert b"upstream returned a non-JSON error page (HTTP 502)" in data
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(INTERNAL in w and "claude-apikey" in w for w in warnings), warnings
    assert not any("k-solo" in r.getMessage() for r in caplog.records)


async def test_html_error_page_fails_over(roomy, faulty):
    faulty.faults["k-bad"] = "html_502"
    answer = await ask(Format.OPENAI, roomy.url, "claude-model", "hi", stream=False)
    assert answer.text == "hello from k-good"
    assert HTML_502 not in repr(answer.raw).encode()
    await assert_cooled_transient(roomy)


async def test_unreachable_upstream_names_no_host(start_proxy, caplog):
    with socket_closed_port() as port:
        proxy = await start_proxy(f"""
api-keys: ["{KEY}"]
request-retry: 0
claude-api-key:
  - api-key: "k-x"
    base-url: "http://127.0.0.1:{port}"
    models: [{{name: "claude-f", alias: "claude-x"}}]
""")
        caplog.set_level(logging.INFO, logger="cliproxy")
        status, data = await raw(proxy, Format.CLAUDE, "claude-x", False)
    assert status == 502
    body = orjson.loads(data)
    assert body["error"]["message"] == "upstream unreachable"
    assert str(port) not in data.decode()
    assert any(f"127.0.0.1:{port}" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)
    assert not any("k-x" in r.getMessage() for r in caplog.records)


class socket_closed_port:
    """A port on 127.0.0.1 nobody listens on (bound, never listening, for the test's length)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc: object) -> None:
        self.sock.close()
