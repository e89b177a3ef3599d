"""The usage of a Realtime socket relayed through a Codex sign-in: each response the
upstream generates is one request in the usage records, with the ``usage`` its
``response.done`` reports (tests/fakes/codex_realtime.py's :data:`USAGE`: 132 in, 64 of
them cached, 121 out, 253 in all). The client is the official ``openai`` SDK's realtime
client (aiohttp for the socket the upstream closes); the figures are the management
API's: the request details of ``GET /usage``, the usage queue, the client key's counters
(``/usage/keys``) and the credential's (``/auth-files``).

CPA records no usage for a Realtime session (internal/client/codex/live/websocket.go
relays the frames and records only the upstream request for its request log), so no CPA
case is ported: this is ours, recorded as any other request is (``cliproxy.usage``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cliproxy.usage import recorder_of
from tests.e2e.clients import KEY
from tests.e2e.test_realtime import TIMEOUT, refused, sdk, signed_in, ws_url
from tests.fakes.codex_realtime import RealtimeFake
from tests.usage.helpers import close_recorder, logs, settle

MKEY = "m-realtime-usage-secret"
TOKENS = {
    "input_tokens": 132,
    "output_tokens": 121,
    "reasoning_tokens": 0,
    "cached_tokens": 64,
    "total_tokens": 253,
}
NONE = dict.fromkeys(TOKENS, 0)


@pytest.fixture
async def realtime(monkeypatch: pytest.MonkeyPatch) -> Any:
    async with RealtimeFake() as fake:
        monkeypatch.setenv("CLIPROXY_OAUTH_CODEX_REALTIME", fake.ws_base)
        monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)
        yield fake


async def _mget(proxy: Any, path: str) -> Any:
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        s.get(proxy.url + "/v0/management" + path, headers={"Authorization": f"Bearer {MKEY}"}) as r,
    ):
        assert r.status == 200, await r.text()
        return await r.json(content_type=None)


async def _snapshot(proxy: Any, requests: int) -> dict[str, Any]:
    """``GET /usage`` once the ledger holds ``requests`` rows (a socket's last record is
    written when the proxy has closed both sides, after the client saw its close)."""
    ledger = recorder_of(proxy.service).stats.ledger
    assert ledger is not None
    for _ in range(200):
        ledger.flush()
        snap = (await _mget(proxy, "/usage"))["usage"]
        if snap["total_requests"] >= requests:
            return snap
        await asyncio.sleep(0.02)
    raise AssertionError(f"{requests} requests were never recorded: {snap}")


async def test_each_response_is_a_request_with_its_usage(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """A completed response records its usage as a request through the Codex sign-in
    (alias the client's model, model the Codex one it is served as); a failed one is a
    failed request (502, the upstream's message) that still counts its tokens; a response
    the client closes the socket on is 499 and one the upstream closes it on is 502,
    neither with tokens. Without this, none of the four appeared anywhere."""
    ledger = tmp_path / "usage.sqlite"
    extra = f'usage-statistics-enabled: true\nusage-ledger: {{path: "{ledger}"}}\n'
    proxy = await signed_in(start_proxy, realtime, tmp_path, extra)
    try:
        async with (
            sdk(proxy) as client,
            client.realtime.connect(model="gpt-realtime") as conn,
        ):
            assert (await conn.recv()).type == "session.created"
            await conn.response.create()
            assert [(await conn.recv()).type for _ in range(2)] == ["response.created", "response.done"]
            await conn.response.create(response={"metadata": {"fake": "failed"}})
            done = [await conn.recv() for _ in range(2)][1]
            assert done.type == "response.done" and done.response.status == "failed"
            await conn.response.create(response={"metadata": {"fake": "open"}})
            assert (await conn.recv()).type == "response.created"
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as s,
            s.ws_connect(ws_url(proxy), headers={"Authorization": f"Bearer {KEY}"}) as ws,
        ):
            assert (await ws.receive_json())["type"] == "session.created"
            await ws.send_json({"type": "response.create", "response": {"metadata": {"fake": "open"}}})
            assert (await ws.receive_json())["type"] == "response.created"
            await ws.send_json({"type": "test.close", "code": 1000, "reason": ""})
            assert (await ws.receive()).type == aiohttp.WSMsgType.CLOSE

        snap = await _snapshot(proxy, 4)
        assert (snap["total_requests"], snap["failure_count"], snap["total_tokens"]) == (4, 3, 506)
        (api,) = snap["apis"].values()
        details = api["models"]["gpt-realtime"]["details"]
        assert [(d["tokens"], d["failed"]) for d in details] == [
            (TOKENS, False),
            (TOKENS, True),
            (NONE, True),
            (NONE, True),
        ]
        assert {(d["source"], bool(d["auth_index"])) for d in details} == {("solo@example.com", True)}

        records = await _mget(proxy, "/usage-queue?count=10")
        assert [(r["fail"]["status_code"], r["model"], r["alias"], r["provider"]) for r in records] == [
            (200, "gpt-live-1-codex", "gpt-realtime", "codex"),
            (502, "gpt-live-1-codex", "gpt-realtime", "codex"),
            (499, "gpt-live-1-codex", "gpt-realtime", "codex"),
            (502, "gpt-live-1-codex", "gpt-realtime", "codex"),
        ]
        assert records[1]["fail"]["body"] == "The model failed."
        assert records[0]["endpoint"] == "GET /v1/realtime"
        assert records[0]["token_breakdown"]["input"]["cache_read_tokens"] == 64
        assert len({r["request_id"] for r in records}) == 4

        (keys,) = (await _mget(proxy, "/usage/keys"))["keys"]
        assert (keys["success"], keys["failed"]) == (1, 3)
        assert (keys["input_tokens"], keys["output_tokens"], keys["total_tokens"]) == (264, 242, 506)
        (entry,) = [f for f in (await _mget(proxy, "/auth-files"))["files"] if f.get("provider") == "codex"]
        assert (entry["success"], entry["failed"]) == (1, 3)
    finally:
        close_recorder(proxy)


async def test_a_response_request_log_hides_the_attestation(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """CPA TestHeadersForLoggingRedactsAttestation: with ``request-log`` on, a Realtime
    socket is a request log whose headers are the client's upgrade's, and
    the ``X-Oai-Attestation`` a Codex client sends is masked there like a key (CPA writes
    ``[REDACTED]``), as the client key is; the upstream still gets it whole. Before, it was
    written out whole."""
    attestation = "attest-0123456789-abcdefghij"
    proxy = await signed_in(start_proxy, realtime, tmp_path, "request-log: true\n")
    try:
        headers = {"X-Oai-Attestation": attestation}
        async with (
            sdk(proxy) as client,
            client.realtime.connect(model="gpt-realtime", extra_headers=headers) as conn,
        ):
            assert (await conn.recv()).type == "session.created"
            await conn.response.create()
            assert [(await conn.recv()).type for _ in range(2)] == ["response.created", "response.done"]
        for _ in range(200):
            found = logs(await settle(proxy), "v1-realtime")
            if found:
                break
            await asyncio.sleep(0.02)
        (log,) = found
        await settle(proxy)  # the write that made the file may still run
        text = log.read_text()
        assert "=== WEBSOCKET TIMELINE ===" in text and '"type":"response.done"' in text
        assert "X-Oai-Attestation: at...ij" in text
        assert attestation not in text and KEY not in text
        assert realtime.requests[0].headers["X-Oai-Attestation"] == attestation
    finally:
        close_recorder(proxy)


async def test_a_refused_socket_is_a_failed_request(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """A socket the upstream refuses (429 here) is a failed request in the usage records,
    on the sign-in it was refused to, as a refused HTTP request is. Before, it appeared
    nowhere."""
    proxy = await signed_in(start_proxy, realtime, tmp_path, "usage-statistics-enabled: true\n")
    try:
        realtime.fail_next(429, retry_after=7)
        status, _, _ = await refused(proxy)
        assert status == 429
        (record,) = await _mget(proxy, "/usage-queue?count=5")
        assert (record["failed"], record["fail"]["status_code"], record["provider"]) == (True, 429, "codex")
        assert (record["model"], record["alias"], record["endpoint"]) == (
            "gpt-live-1-codex",
            "gpt-realtime",
            "GET /v1/realtime",
        )
        assert record["source"] == "solo@example.com"
        (entry,) = [f for f in (await _mget(proxy, "/auth-files"))["files"] if f.get("provider") == "codex"]
        assert (entry["success"], entry["failed"]) == (0, 1)
    finally:
        close_recorder(proxy)


async def test_each_input_transcription_with_usage_is_a_request(
    start_proxy: Any, realtime: RealtimeFake, tmp_path: Path
) -> None:
    """An input audio transcription whose ``completed`` event reports a ``usage`` is one
    request under the socket's model and sign-in: billed by tokens (17 in, 9 out) with
    them, billed by duration (``whisper-1``) with none; a transcription that reports no
    usage records nothing. Before, transcriptions appeared nowhere. Not in CPA (see the
    module's docstring)."""
    proxy = await signed_in(start_proxy, realtime, tmp_path, "usage-statistics-enabled: true\n")
    done = "conversation.item.input_audio_transcription.completed"
    try:
        async with (
            sdk(proxy) as client,
            client.realtime.connect(model="gpt-realtime") as conn,
        ):
            assert (await conn.recv()).type == "session.created"
            for model in ("gpt-4o-transcribe", "fake-no-usage", "whisper-1"):
                audio = {"input": {"transcription": {"model": model}}}
                await conn.session.update(session={"type": "realtime", "audio": audio})
                assert (await conn.recv()).type == "session.updated"
                await conn.input_audio_buffer.commit()
                assert [(await conn.recv()).type for _ in range(2)] == ["input_audio_buffer.committed", done]
        for _ in range(200):
            records = await _mget(proxy, "/usage-queue?count=10")
            if len(records) >= 2:
                break
            await asyncio.sleep(0.02)
        assert [(r["fail"]["status_code"], r["model"], r["alias"], r["source"]) for r in records] == [
            (200, "gpt-live-1-codex", "gpt-realtime", "solo@example.com"),
            (200, "gpt-live-1-codex", "gpt-realtime", "solo@example.com"),
        ]
        tokens = [
            (r["tokens"]["input_tokens"], r["tokens"]["output_tokens"], r["tokens"]["total_tokens"])
            for r in records
        ]
        assert tokens == [(17, 9, 26), (0, 0, 0)]
        (keys,) = (await _mget(proxy, "/usage/keys"))["keys"]
        assert (keys["success"], keys["total_tokens"]) == (2, 26)
    finally:
        close_recorder(proxy)
