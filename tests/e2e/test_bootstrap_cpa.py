"""CPA's stream bootstrap cases (sdk/api/handlers/handlers_stream_bootstrap_test.go) that
tests/e2e/test_bootstrap.py does not hold: which attempt's headers a client sees, a
handshake cut short and retried, and a client that leaves before the first byte."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_bootstrap import _codex, _keys, _raw_stream
from tests.fakes.server import Behavior


@pytest.mark.parametrize("passthrough", [True, False], ids=["passthrough", "default"])
async def test_the_client_gets_the_headers_of_the_attempt_that_served(
    start_proxy, fakes, passthrough
) -> None:
    """CPA: TestExecuteStreamWithAuthManager_ResolvesBootstrapRetryHeadersBeforeReturn,
    TestExecuteStreamWithAuthManager_HeaderPassthroughDisabledByDefault: the first
    credential fails the stream (503), the second serves it; with ``passthrough-headers: true``
    the client gets the second answer's upstream header (never the failed one's), and
    without it no upstream header at all."""
    text = _codex(fakes, buffering=True, retries=1)
    if passthrough:
        text += "passthrough-headers: true\n"
    proxy = await start_proxy(text)
    fakes.responses.answer_headers["sk-codex-1"] = {"X-Upstream-Attempt": "1"}
    fakes.responses.answer_headers["sk-codex-2"] = {"X-Upstream-Attempt": "2"}
    fakes.responses.fail_next(503)  # the first attempt, whichever credential it picks
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = await client.responses.with_raw_response.create(model="codex-model", input="hi", stream=True)
        events = [event.type async for event in raw.parse()]
    assert events[-1] == "response.completed"
    first, served = _keys(fakes)
    assert first != served and served is not None
    assert raw.headers.get("X-Upstream-Attempt") == (served[-1] if passthrough else None)


async def test_a_handshake_cut_short_is_retried_from_scratch(start_proxy, fakes) -> None:
    """CPA: TestExecuteStreamWithAuthManager_ResetsResponsesValidatorOnBootstrapRetry: the
    first attempt sends part of its stream (held back, nothing reached the client) and
    breaks; ``bootstrap-retries: 1`` runs it again and the client gets one whole, valid
    stream with no trace of the first attempt."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=1, keys=1))
    fakes.responses.script(Behavior(cut_after=1))
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200
    assert raw.count(b"event: response.created") == 1 and raw.count(b"event: response.completed") == 1
    assert _keys(fakes) == ["sk-codex-1", "sk-codex-1"]


async def test_a_client_that_leaves_before_the_first_byte_ends_the_upstream_call(start_proxy, fakes) -> None:
    """CPA: TestExecuteStreamWithAuthManager_CancelDuringSynchronousBootstrap: the upstream
    has not answered a stream yet when the client gives up; the proxy closes the upstream
    request soon after instead of waiting on it."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=1, keys=1))
    fakes.responses.script(Behavior(delay=10))
    body = {"model": "codex-model", "input": "hi", "stream": True}
    with pytest.raises(asyncio.TimeoutError):
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=0.5)) as session,
            session.post(
                proxy.url + "/v1/responses", json=body, headers={"Authorization": f"Bearer {KEY}"}
            ) as r,
        ):
            await r.read()
    for _ in range(100):
        if fakes.responses.last.dropped:
            break
        await asyncio.sleep(0.05)
    assert fakes.responses.last.dropped
    assert len(_keys(fakes)) == 1  # a client that left is not retried


async def test_a_lone_credential_refused_by_the_upstream_is_not_retried(start_proxy, fakes) -> None:
    """CPA: TestExecuteStreamWithAuthManager_EnrichesBootstrapRetryAuthUnavailableError:
    the only credential is refused (401) before the first byte; it is tried once. Deliberate
    difference: the client gets the upstream's own 401, which names the cause, where CPA's
    bootstrap retry finds no credential left and answers 503 ``auth_unavailable`` naming
    the provider and model."""
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=1, keys=1))
    fakes.responses.script(
        Behavior(status=401, body={"error": {"type": "authentication_error", "message": "bad key"}})
    )
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 401 and b"bad key" in raw
    assert _keys(fakes) == ["sk-codex-1"]


WATCH = """
from cliproxy.plugins.api import *
SEEN = []
class Watch(Plugin, StreamChunkInterceptor):
    name = "watch"; version = "1"; author = "t"; github_repository = "https://example.com/w"
    async def intercept_chunk(self, req):
        SEEN.append(bytes(req.body))
        return None
plugin = Watch()
"""


async def test_a_retried_stream_passes_the_chunk_interceptors_once(start_proxy, fakes, tmp_path) -> None:
    """CPA: TestExecuteStreamWithAuthManager_RetriesAfterDroppedBootstrapPayload: the first
    attempt fails before its first byte and is retried; a stream-chunk interceptor sees
    each chunk of the stream the client gets once (the handshake once, nothing of the
    failed attempt) and the client's stream is whole. Difference: the failed attempt's
    chunks, held back by the bootstrap buffer, never reach the interceptors (CPA shows
    them its first chunk, which its interceptor drops)."""
    import sys

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "watch.py").write_text(WATCH)
    extra = f'plugins:\n  enabled: true\n  dir: "{plugins}"\n  configs:\n    watch:\n      enabled: true\n'
    proxy = await start_proxy(_codex(fakes, buffering=True, retries=1, keys=1) + extra)
    fakes.responses.overloaded = 1
    status, raw, _ = await _raw_stream(proxy.url)
    assert status == 200 and raw.count(b"event: response.completed") == 1
    assert raw.count(b"event: response.created") == 1 and b"server_is_overloaded" not in raw
    assert _keys(fakes) == ["sk-codex-1", "sk-codex-1"]
    seen = next(m for n, m in sys.modules.items() if n.endswith("watch") and hasattr(m, "SEEN")).SEEN
    bodies = [b for b in seen if b]
    assert len(bodies) == len(set(bodies)) and not any(b.find(b"server_is_overloaded") >= 0 for b in bodies)
    assert sum(b.count(b"event: response.created") for b in bodies) == 1
