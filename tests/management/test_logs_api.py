"""/v0/management logs, request logs, error logs and the usage queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from cliproxy.usage import recorder_of
from tests.management.conftest import MHEADERS, mcall
from tests.usage.helpers import CLIENT_KEY, MSG, UPSTREAM_KEY, claude_config, close_recorder, post, settle


@pytest.fixture
async def lproxy(mproxy: Any) -> AsyncIterator[Any]:
    """A management-enabled proxy whose recorder is closed after the test.

    ``recorder_of`` is called where ``Service.start`` / ``Service.apply`` are to call it
    (see the report), so the log file exists from startup, not from the first request."""
    started: list[Any] = []

    async def start(yaml_text: str) -> Any:
        proxy = await mproxy(yaml_text)
        recorder_of(proxy.service)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        close_recorder(proxy)


@pytest.fixture
def info_level() -> Any:
    logger = logging.getLogger("cliproxy")
    old = logger.level
    logger.setLevel(logging.INFO)
    yield logger
    logger.setLevel(old)


async def _raw(proxy: Any, path: str) -> tuple[int, bytes, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v0/management" + path, headers=MHEADERS) as r,
    ):
        return r.status, await r.read(), dict(r.headers)


# --------------------------------------------------------------------------- GET/DELETE /logs


async def test_logs_need_logging_to_file(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude))
    assert await mcall(proxy, "GET", "/logs") == (400, {"error": "logging to file disabled"})
    assert await mcall(proxy, "DELETE", "/logs") == (400, {"error": "logging to file disabled"})


async def test_logs_lines_tail_and_cursor(lproxy, fake_claude, info_level):
    proxy = await lproxy(claude_config(fake_claude, "logging-to-file: true"))
    for i in range(3):
        info_level.info("line number %d", i)
    status, body = await mcall(proxy, "GET", "/logs")
    assert status == 200
    assert set(body) == {"lines", "line-count", "latest-timestamp", "next-cursor"}
    mine = [ln for ln in body["lines"] if "line number" in ln]
    assert [ln.rsplit(" ", 1)[1] for ln in mine] == ["0", "1", "2"]
    assert body["latest-timestamp"] > 0 and body["next-cursor"]

    status, tail = await mcall(proxy, "GET", "/logs?limit=1")
    assert tail["lines"] == [mine[-1]] and tail["line-count"] == 1

    info_level.info("after the cursor")
    status, more = await mcall(proxy, "GET", "/logs?cursor=" + body["next-cursor"])
    assert status == 200 and len(more["lines"]) == 1 and more["lines"][0].endswith("after the cursor")
    status, none = await mcall(proxy, "GET", "/logs?cursor=" + more["next-cursor"])
    assert none["lines"] == [] and "cursor-reset" not in none

    status, reset = await mcall(proxy, "GET", "/logs?cursor=garbage&limit=2")
    assert status == 200 and reset["cursor-reset"] is True and len(reset["lines"]) == 2

    assert (await mcall(proxy, "GET", "/logs?limit=0"))[0] == 400


async def test_logs_after_timestamp_and_access_lines(lproxy, fake_claude, info_level):
    proxy = await lproxy(claude_config(fake_claude, "logging-to-file: true"))
    status, _ = await post(proxy, MSG)
    assert status == 200
    status, body = await mcall(proxy, "GET", "/logs")
    access = [ln for ln in body["lines"] if '"/v1/messages"' in ln]
    assert len(access) == 1 and " 200 | " in access[0] and "[--------]" not in access[0]
    status, later = await mcall(proxy, "GET", f"/logs?after={body['latest-timestamp']}")
    assert later["lines"] == [] and later["line-count"] == len(body["lines"])


async def test_delete_logs_truncates_main_and_removes_rotated(lproxy, fake_claude, info_level):
    proxy = await lproxy(claude_config(fake_claude, "logging-to-file: true"))
    info_level.info("something")
    folder = proxy.service.recorder.log_dir
    (folder / "main-2024-01-01T00-00-00.000.log").write_text("[2024-01-01 00:00:00] old\n")
    status, body = await mcall(proxy, "DELETE", "/logs")
    assert (status, body) == (200, {"success": True, "message": "Logs cleared successfully", "removed": 1})
    assert (folder / "main.log").read_text() == ""
    assert not (folder / "main-2024-01-01T00-00-00.000.log").exists()


async def test_logging_to_file_follows_config_writes(lproxy, fake_claude, info_level):
    proxy = await lproxy(claude_config(fake_claude))
    assert (await mcall(proxy, "GET", "/logs"))[0] == 400
    await proxy.service.edit_config(lambda doc: doc.set("logging-to-file", True))
    recorder_of(proxy.service)  # what Service.apply is to do on every reload
    info_level.info("now on file")
    status, body = await mcall(proxy, "GET", "/logs")
    assert status == 200 and any(ln.endswith("now on file") for ln in body["lines"])


# --------------------------------------------------------------------------- error and request logs


async def test_error_logs_list_and_download(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude))
    assert await mcall(proxy, "GET", "/request-error-logs") == (200, {"files": []})
    fake_claude.fail_key(UPSTREAM_KEY, 400, message="nope")
    assert (await post(proxy, MSG))[0] == 400
    await settle(proxy)
    status, body = await mcall(proxy, "GET", "/request-error-logs")
    [entry] = body["files"]
    assert set(entry) == {"name", "size", "modified"} and entry["name"].startswith("error-v1-messages-")
    status, raw, headers = await _raw(proxy, "/request-error-logs/" + entry["name"])
    assert status == 200 and len(raw) == entry["size"]
    assert b"=== API ERROR RESPONSE ===" in raw and CLIENT_KEY.encode() not in raw
    assert headers["Content-Disposition"] == f'attachment; filename="{entry["name"]}"'
    assert await mcall(proxy, "GET", "/request-error-logs/main.log") == (404, {"error": "log file not found"})
    assert await mcall(proxy, "GET", "/request-error-logs/error-none.log") == (
        404,
        {"error": "log file not found"},
    )
    assert (await mcall(proxy, "GET", "/request-error-logs/..%5Cerror-x.log"))[0] == 400


async def test_error_logs_list_is_empty_with_request_log_on(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude, "request-log: true"))
    fake_claude.fail_key(UPSTREAM_KEY, 400)
    await post(proxy, MSG)
    await settle(proxy)
    assert await mcall(proxy, "GET", "/request-error-logs") == (200, {"files": []})


async def test_request_log_by_id(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude, "request-log: true\nusage-statistics-enabled: true"))
    assert (await post(proxy, MSG))[0] == 200
    await settle(proxy)
    status, [record] = await mcall(proxy, "GET", "/usage-queue")
    status, raw, _ = await _raw(proxy, "/request-log-by-id/" + record["request_id"])
    assert status == 200 and raw.startswith(b"=== REQUEST INFO ===")
    assert await mcall(proxy, "GET", "/request-log-by-id/ffffffff") == (
        404,
        {"error": "log file not found for the given request ID"},
    )


# --------------------------------------------------------------------------- usage queue


async def test_usage_queue_records_for_whole_and_stream(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude, "usage-statistics-enabled: true"))
    assert (await post(proxy, MSG))[0] == 200
    status, body = await post(proxy, {**MSG, "stream": True})
    assert status == 200 and b"message_stop" in body
    fake_claude.fail_key(UPSTREAM_KEY, 400)
    assert (await post(proxy, MSG))[0] == 400
    await asyncio.sleep(0)

    status, records = await mcall(proxy, "GET", "/usage-queue?count=10")
    assert status == 200 and len(records) == 3
    whole, stream, failed = records
    for r in (whole, stream):
        assert r["failed"] is False and r["fail"] == {"status_code": 200, "body": ""}
        assert r["model"] == "claude-sonnet-4-6" and r["alias"] == "claude-model"
        assert r["provider"] == "claude" and r["endpoint"] == "POST /v1/messages"
        # the proxy places Claude Code's cache breakpoints on this markerless request (CPA's
        # ensureCacheControl): the fake reports part of the prompt as read and written cache
        assert r["tokens"]["input_tokens"] == 25 and r["tokens"]["output_tokens"] == 13
        assert r["tokens"]["cache_read_tokens"] == 12 and r["tokens"]["cache_creation_tokens"] == 6
        assert r["tokens"]["total_tokens"] == 38 and r["token_breakdown"]["quality"] == "complete"
        assert r["auth_index"] and r["api_key"] == "sk...56" and len(r["request_id"]) == 8
        assert r["latency_ms"] >= r["ttft_ms"] >= 0 and r["timestamp"].endswith("Z")
    assert whole["request_id"] != stream["request_id"]
    assert failed["failed"] is True and failed["fail"]["status_code"] == 400
    assert await mcall(proxy, "GET", "/usage-queue") == (200, [])
    assert await mcall(proxy, "GET", "/usage-queue?count=0") == (
        400,
        {"error": "count must be a positive integer"},
    )


async def test_usage_queue_pops_count_in_order(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude, "usage-statistics-enabled: true"))
    for _ in range(3):
        await post(proxy, MSG)
    status, first = await mcall(proxy, "GET", "/usage-queue?count=2")
    assert status == 200
    status, rest = await mcall(proxy, "GET", "/usage-queue?count=5")
    assert status == 200 and len(first) == 2 and len(rest) == 1
    assert first[0]["timestamp"] <= first[1]["timestamp"] <= rest[0]["timestamp"]


async def test_usage_queue_off_without_the_switch(lproxy, fake_claude):
    proxy = await lproxy(claude_config(fake_claude))
    await post(proxy, MSG)
    assert await mcall(proxy, "GET", "/usage-queue?count=5") == (200, [])
    await proxy.service.edit_config(lambda doc: doc.set("usage-statistics-enabled", True))
    await post(proxy, MSG)
    status, records = await mcall(proxy, "GET", "/usage-queue?count=5")
    assert status == 200 and len(records) == 1


async def test_usage_queue_retention(lproxy, fake_claude):
    proxy = await lproxy(
        claude_config(fake_claude, "usage-statistics-enabled: true\nredis-usage-queue-retention-seconds: 1")
    )
    await post(proxy, MSG)
    await asyncio.sleep(1.1)
    assert await mcall(proxy, "GET", "/usage-queue?count=5") == (200, [])
