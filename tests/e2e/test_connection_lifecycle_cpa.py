"""CPA's connection-lifecycle cooldown cases (sdk/cliproxy/auth/connection_lifecycle_cooldown_test.go)
through a running proxy.

CPA cools no credential for a failure of the connection's life rather than of the account:
a timeout (context deadline), an EOF or unexpected EOF, a WebSocket closed with 1000, 1001 or
1006. The request still goes on to the next credential. A connection that cannot be made or
that breaks otherwise (refused, no such host, a TLS failure, a reset) has no status either,
and cools the credential for the transient time like a 5xx; so does any answer that carries
an HTTP status, whatever its text says. A network failure starts no further retry round
(CPA's carries no status).

Every model has two credentials, ``k-bad`` (priority 1, tried first) and ``k-good``; the
fake upstream misbehaves for ``k-bad`` (``tests.fakes.faulty``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import aiohttp
import anthropic
import pytest

from cliproxy.formats import Format
from tests.e2e.clients import KEY, ask
from tests.e2e.test_responses_ws import connect, turn, ws_config, ws_messages
from tests.fakes.faulty import FaultyUpstream
from tests.fakes.server import Behavior
from tests.faults.test_upstream_faults import config, socket_closed_port


@pytest.fixture
def faulty() -> Iterator[FaultyUpstream]:
    with FaultyUpstream() as fake:
        yield fake


@pytest.fixture
async def proxy(start_proxy: Any, faulty: FaultyUpstream) -> Any:
    return await start_proxy(config(faulty.base_url))


@pytest.fixture
async def roomy(start_proxy: Any, faulty: FaultyUpstream) -> Any:
    """Generous upstream timeouts, for tests where a timeout is not the thing under test
    (the 0.5 s first-byte limit turns a slow good answer into a 504 on a busy machine)."""
    return await start_proxy(config(faulty.base_url, first_byte="10s", idle="10s"))


async def cooldowns(proxy: Any, key: str) -> list[Any]:
    pool = proxy.service.pool
    out: list[Any] = []
    for cred in pool.credentials():
        if cred.api_key == key:
            out += await pool.cooldowns(cred)
    return out


# fault, streamed: what the upstream does to k-bad's request
ENDED = [
    ("hang", False),  # no headers within upstream-first-byte: a timeout
    ("stall_headers", True),  # headers, then silence past upstream-idle: a timeout
    ("drop", False),  # the connection closed before any answer: an EOF
    ("drop", True),
    ("cut_early", True),  # headers, then the connection closed: an unexpected EOF
]


@pytest.mark.parametrize(
    ("fault", "stream"), ENDED, ids=[f"{f}-{'stream' if s else 'whole'}" for f, s in ENDED]
)
async def test_a_connection_that_timed_out_or_ended_fails_over_and_cools_nothing(
    proxy: Any, faulty: FaultyUpstream, fault: str, stream: bool
) -> None:
    """CPA TestManager_MarkResult_ConnectionLifecycleDoesNotCooldown (timeouts, EOF,
    unexpected EOF), TestManager_MarkResult_ConnectionLifecycleAuthLevelDoesNotCooldown and
    TestResultErrorFromError_ConnectionLifecycleDoesNotBecomeRequestScoped: the next
    credential answers, the failed one cools neither for the model nor as a whole, and the
    next request tries it first again."""
    faulty.faults["k-bad"] = fault
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=stream)
    assert answer.text == "hello from k-good"
    assert await cooldowns(proxy, "k-bad") == []
    del faulty.faults["k-bad"]
    again = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=stream)
    assert again.text == "hello from k-bad"


@pytest.mark.parametrize(("fault", "cools"), [("drop", False), ("cut_early", False), ("reset", True)])
async def test_the_aiohttp_client_tells_the_same_failures_apart(
    start_proxy: Any, faulty: FaultyUpstream, fault: str, cools: bool
) -> None:
    """As above with ``upstream-http: aiohttp`` (the client of proxied requests): an EOF
    before the headers or inside the body cools nothing, a reset cools."""
    proxy = await start_proxy("upstream-http: aiohttp\n" + config(faulty.base_url))
    faulty.faults["k-bad"] = fault
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=fault == "cut_early")
    assert answer.text == "hello from k-good"
    assert bool(await cooldowns(proxy, "k-bad")) is cools


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_one_dropped_connection_does_not_shut_a_one_account_setup(
    roomy: Any, faulty: FaultyUpstream, stream: bool
) -> None:
    """What CPA's lifecycle rule is for: with one account, a connection the upstream closed
    fails that request (502 in the client's format) and the next request is served at once;
    before, the account cooled for 60 s and every request in that minute was refused."""
    proxy = roomy
    faulty.faults["k-solo"] = "drop"
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as client:
        with pytest.raises(anthropic.APIStatusError) as failed:
            await client.messages.create(
                model="claude-solo", max_tokens=16, messages=[{"role": "user", "content": "hi"}]
            )
        assert failed.value.status_code == 502
        del faulty.faults["k-solo"]
        answer = await ask(Format.CLAUDE, proxy.url, "claude-solo", "hi", stream=stream)
    assert answer.text == "hello from k-solo"
    assert await cooldowns(proxy, "k-solo") == []


async def test_a_reset_connection_still_cools(roomy: Any, faulty: FaultyUpstream) -> None:
    """CPA TestManager_MarkResult_NonLifecycleStillCooldowns, for a network failure: a
    connection reset ("connection reset by peer" in Go) is no lifecycle error; the request
    fails over and the credential cools for the transient time."""
    proxy = roomy
    faulty.faults["k-bad"] = "reset"
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=False)
    assert answer.text == "hello from k-good"
    records = await cooldowns(proxy, "k-bad")
    assert records and all(r.reason == "transient upstream error" for r in records), records


@pytest.mark.parametrize("scheme", ["http", "https"], ids=["refused", "tls-failure"])
async def test_a_connection_that_cannot_be_made_still_cools(
    start_proxy: Any, faulty: FaultyUpstream, scheme: str
) -> None:
    """CPA cools for a dial failure (connection refused, a TLS handshake that fails: neither is
    a lifecycle error in isConnectionLifecycleError). The first credential's upstream refuses
    the connection, or speaks plain HTTP to a TLS client; the second answers."""
    with socket_closed_port() as closed:
        port = closed if scheme == "http" else faulty.port
        proxy = await start_proxy(
            f"""
api-keys: ["{KEY}"]
request-retry: 0
claude-api-key:
  - api-key: "k-bad"
    base-url: "{scheme}://127.0.0.1:{port}"
    priority: 1
    models: [{{name: "claude-f", alias: "claude-model"}}]
  - api-key: "k-good"
    base-url: "{faulty.base_url}"
    models: [{{name: "claude-f", alias: "claude-model"}}]
"""
        )
        answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=False)
    assert answer.text == "hello from k-good"
    records = await cooldowns(proxy, "k-bad")
    assert records and all(r.reason == "transient upstream error" for r in records), records


@pytest.mark.parametrize(
    "text", ["unexpected EOF", "websocket: close 1006 (abnormal closure): unexpected EOF"]
)
async def test_an_http_status_with_lifecycle_text_still_cools(
    roomy: Any, faulty: FaultyUpstream, text: str
) -> None:
    """CPA TestManager_MarkResult_HTTPStatusWithLifecycleTextStillCooldowns and
    TestIsConnectionLifecycleError_StatusBearingErrorsStayCoolable: an answer with a status
    (a 500 whose message reads like a lifecycle error) cools as its status says."""
    proxy = roomy
    faulty.fail_key("k-bad", 500, message=text)
    answer = await ask(Format.CLAUDE, proxy.url, "claude-model", "hi", stream=False)
    assert answer.text == "hello from k-good"
    records = await cooldowns(proxy, "k-bad")
    assert records and all(r.reason == "transient upstream error" for r in records), records


async def test_a_network_failure_starts_no_retry_round(start_proxy: Any, faulty: FaultyUpstream) -> None:
    """CPA's retry rounds run for a failure's HTTP status (isCredentialRetryRoundStatus); a
    network failure has none, so request-retry does not send the dropped request again."""
    proxy = await start_proxy(config(faulty.base_url).replace("request-retry: 0", "request-retry: 3"))
    faulty.faults["k-solo"] = "drop"
    status, _ = await _status(proxy, "claude-solo")
    assert status == 502
    assert faulty.keys().count("k-solo") == 1


async def _status(proxy: Any, model: str) -> tuple[int, bytes]:
    body = {"model": model, "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", headers={"x-api-key": KEY}, json=body) as r,
    ):
        return r.status, await r.read()


# ---- the Responses WebSocket upstream (Codex)

TWO_CODEX = """
  - api-key: "sk-codex-2"
    base-url: "{base}/backend-api/codex"
    websockets: true
    models:
      - name: "gpt-5.4"
        alias: "codex-model"
"""


@pytest.mark.parametrize(("code", "cools"), [(1000, False), (1001, False), (1006, False), (1011, True)])
async def test_an_upstream_websocket_closed_before_the_first_event(
    start_proxy: Any, fakes: Any, code: int, cools: bool
) -> None:
    """CPA TestManager_MarkResult_ConnectionLifecycleDoesNotCooldown (websocket 1000, 1001,
    1006) and TestIsConnectionLifecycleError_TypedCloseWins: an upstream socket closed
    normally, going away or without a close frame before the turn's first event fails over
    to the next credential and cools nothing; another close code (1011, the upstream failing)
    cools the credential for the transient time."""
    extra = TWO_CODEX.format(base=fakes.responses.base_url)
    text = ws_config(fakes).replace("openai-compatibility:", extra.lstrip("\n") + "openai-compatibility:", 1)
    proxy = await start_proxy(text)
    fakes.responses.ws_cut_code = code
    fakes.responses.script(Behavior(cut_after=0, path="#ws"))
    async with aiohttp.ClientSession() as s, await connect(s, proxy) as ws:
        events = await turn(ws, {"type": "response.create", "model": "codex-model", "input": "x"})
    assert events[-1]["type"] == "response.completed"
    keys = [r.key for r in ws_messages(fakes.responses)]
    assert len(keys) == 2 and keys[0] != keys[1]
    records = await cooldowns(proxy, keys[0])
    if cools:
        assert records and all(r.reason == "transient upstream error" for r in records), records
    else:
        assert records == []
