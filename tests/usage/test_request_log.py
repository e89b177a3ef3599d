"""Request logs and error logs, through a running proxy and a fake Claude upstream."""

from __future__ import annotations

import asyncio
import re
import threading

import aiohttp

from cliproxy.usage import recorder_of
from tests.usage.helpers import CLIENT_KEY, MSG, UPSTREAM_KEY, claude_config, logs, post, settle

SECTIONS = [
    "=== REQUEST INFO ===",
    "=== HEADERS ===",
    "=== REQUEST BODY ===",
    "=== API REQUEST 1 ===",
    "=== API RESPONSE 1 ===",
    "=== RESPONSE ===",
]


def _in_order(text: str, parts: list[str]) -> None:
    pos = -1
    for part in parts:
        found = text.find(part, pos + 1)
        assert found > pos, f"{part!r} missing or out of order"
        pos = found


async def test_request_log_has_every_section_and_masks_secrets(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    status, body = await post(proxy, MSG)
    assert status == 200
    files = logs(await settle(proxy))
    assert len(files) == 1
    assert re.fullmatch(r"v1-messages-\d{4}-\d{2}-\d{2}T\d{6}-[0-9a-f]{8}\.log", files[0].name)
    text = files[0].read_text()
    _in_order(text, SECTIONS)
    assert "URL: /v1/messages" in text and "Method: POST" in text
    assert '"hello there"' in text  # the client body
    assert "Status: 200" in text and body.decode() in text  # the answer as the client got it
    assert "provider=claude" in text and "Upstream URL: " + fake_claude.base_url in text
    assert CLIENT_KEY not in text and UPSTREAM_KEY not in text
    assert "sk...56" in text  # the client's x-api-key, masked: 4 characters at most
    assert "sk...65" in text  # the upstream key, masked in headers and in Auth:
    # no more of a key than its mask shows: not its head, nor a longer tail after a mask
    # (a bare "3456" may be in a timestamp's microseconds or a duration: not a leak)
    assert "sk-c" not in text and "sk-u" not in text
    for tail in ("456", "3456", "765", "8765"):
        assert f"...{tail}" not in text and f"*{tail}" not in text, tail


async def test_stream_is_logged_as_it_flows(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    status, body = await post(proxy, {**MSG, "stream": True})
    assert status == 200 and b"message_stop" in body
    folder = await settle(proxy)
    [log] = logs(folder)
    text = log.read_text()
    _in_order(text, SECTIONS)
    api_part, response_part = text.split("=== RESPONSE ===")
    assert "event: message_start" in api_part.split("=== API RESPONSE 1 ===")[1]
    assert body.decode() in response_part  # every byte the client got
    assert not list(folder.glob("*.tmp"))  # spools are merged and removed


async def test_failed_attempt_then_success_logs_both_attempts(proxy_of, fake_claude):
    second = f"""
  - api-key: "sk-second-key-000000"
    base-url: "{fake_claude.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
request-log: true
"""
    proxy = await proxy_of(claude_config(fake_claude).rstrip() + second)
    fake_claude.fail_next(529)
    status, _ = await post(proxy, MSG)
    assert status == 200
    [log] = logs(await settle(proxy))
    text = log.read_text()
    _in_order(
        text,
        [
            "=== API REQUEST 1 ===",
            "=== API REQUEST 2 ===",
            "=== API RESPONSE 1 ===",
            "Status: 529",
            "=== API RESPONSE 2 ===",
            "Status: 200",
            "=== RESPONSE ===",
        ],
    )


async def test_error_log_when_request_log_is_off(proxy_of, fake_claude):
    """CPA: TestHasActionableError (a success leaves nothing, a 400 an error log)."""
    proxy = await proxy_of(claude_config(fake_claude))
    status, _ = await post(proxy, MSG)
    assert status == 200
    folder = await settle(proxy)
    assert logs(folder) == []  # success: nothing written
    fake_claude.fail_key(UPSTREAM_KEY, 400, message="bad thing upstream")
    status, body = await post(proxy, MSG)
    assert status == 400
    [log] = logs(await settle(proxy))
    assert log.name.startswith("error-v1-messages-")
    text = log.read_text()
    _in_order(
        text,
        [
            "=== REQUEST INFO ===",
            "=== HEADERS ===",
            "=== REQUEST BODY ===",
            "=== API REQUEST 1 ===",
            "=== API ERROR RESPONSE ===",
            "HTTP Status: 400",
            "=== RESPONSE ===",
            "Status: 400",
        ],
    )
    assert "bad thing upstream" in text and body.decode() in text
    assert CLIENT_KEY not in text and UPSTREAM_KEY not in text


async def test_error_logs_beyond_max_files_are_deleted(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "error-logs-max-files: 2"))
    fake_claude.fail_key(UPSTREAM_KEY, 400)
    for _ in range(4):
        status, _ = await post(proxy, MSG)
        assert status == 400
        await settle(proxy)
        await asyncio.sleep(0.01)  # distinct modification times
    assert len(logs(proxy.service.recorder.log_dir, "error-")) == 2


async def test_query_key_is_masked_in_the_url(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    url = f"{proxy.url}/v1/messages?key={CLIENT_KEY}&beta=true"
    async with aiohttp.ClientSession() as s, s.post(url, json=MSG) as r:
        assert r.status == 200
    [log] = logs(await settle(proxy))
    text = log.read_text()
    assert "URL: /v1/messages?key=sk...56&beta=true" in text
    assert CLIENT_KEY not in text


async def test_a_stalled_disk_does_not_stall_requests(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    rec = recorder_of(proxy.service)
    gate = threading.Event()
    rec.writer.submit(lambda: gate.wait(10))  # the writer thread is stuck on "disk I/O"
    try:
        for stream in (False, True):
            status, _ = await asyncio.wait_for(post(proxy, {**MSG, "stream": stream}), 5)
            assert status == 200
        assert logs(rec.log_dir) == []  # nothing written yet: the work waits in the writer's queue
    finally:
        gate.set()
    assert len(logs(await settle(proxy))) == 2


async def test_commercial_mode_records_nothing(proxy_of, fake_claude):
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true\ncommercial-mode: true"))
    fake_claude.fail_key(UPSTREAM_KEY, 400)
    status, _ = await post(proxy, MSG)
    assert status == 400
    assert logs(await settle(proxy)) == []
