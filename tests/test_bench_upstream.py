"""The benchmark's fake upstream (bench/upstream.py), run as the benchmark runs it: its own
process, spoken to over HTTP by the official SDKs, so a framing mistake there cannot skew
a benchmark unnoticed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

UPSTREAM = Path(__file__).resolve().parent.parent / "bench" / "upstream.py"


@pytest.fixture(scope="module")
def fake() -> Iterator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(UPSTREAM), "--port", "0", "--chunks", "4"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY "), line
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_openai_whole_and_stream(fake: str) -> None:
    client = openai.OpenAI(base_url=fake + "/v1", api_key="k", max_retries=0)
    whole = client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}])
    assert whole.model == "m1" and whole.usage is not None and whole.usage.total_tokens == 32
    chunks = list(
        client.chat.completions.create(model="m1", messages=[{"role": "user", "content": "hi"}], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "tok " * 4  # --chunks 4
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 20


def test_claude_stream_paced_by_header(fake: str) -> None:
    client = anthropic.Anthropic(base_url=fake, api_key="k", max_retries=0)
    started = time.perf_counter()
    with client.messages.stream(
        model="c1",
        max_tokens=10,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-bench-chunks": "3", "x-bench-delay-ms": "40"},
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "tok " * 3
    assert final.stop_reason == "end_turn" and final.usage.output_tokens == 20
    assert time.perf_counter() - started >= 0.08  # two pauses of 40 ms between three chunks


def _post(url: str, body: bytes, **headers: str) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {}, b""


def test_gemini_query_and_errors(fake: str) -> None:
    status, headers, sse = _post(fake + "/v1beta/models/g1:streamGenerateContent?alt=sse&chunks=2", b"{}")
    assert status == 200 and headers["content-type"] == "text/event-stream"
    assert sse.count(b"data: ") == 3  # two content chunks and the closing one
    _, _, whole = _post(fake + "/v1beta/models/g1:generateContent", b"{}")
    assert b'"finishReason":"STOP"' in whole
    assert _post(fake + "/v1/messages", b"not json")[0] == 400
    assert _post(fake + "/elsewhere", b"{}")[0] == 404
    status, headers, _ = _post(fake + "/v1/chat/completions", b'{"model": "m"}', Connection="close")
    assert status == 200 and headers["connection"] == "close"


def test_the_load_client_sends_bodies_larger_than_a_command_line_argument(fake: str) -> None:
    """bench/load.py's async client gets its spec through a pipe: a 400 KB body (a long
    agentic history) goes out whole; an argument could carry 128 KB at most."""
    sys.path.insert(0, str(UPSTREAM.parent))  # (a bench script: it imports its siblings by name)
    try:
        import load
    finally:
        sys.path.remove(str(UPSTREAM.parent))
    body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x" * 400_000}]})
    spec = {
        "url": fake + "/v1/chat/completions",
        "headers": {"Content-Type": "application/json", "Authorization": "Bearer k"},
        "body": body,
        "concurrency": 2,
        "per_worker": 3,
    }
    out = load.run_client(spec)
    assert (out["requests"], out["errors"]) == (6, 0)
