"""Management facts from CPA's internal/api/handlers/management tests that no test of ours
pinned yet, through a running proxy and ``/v0/management`` over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from cliproxy.usage import recorder_of
from tests.management.conftest import mcall
from tests.management.test_auth_files_api import FAR, HEAD
from tests.usage.helpers import MSG, claude_config, close_recorder, post


@pytest.fixture
async def lproxy(mproxy: Any) -> AsyncIterator[Any]:
    """A management-enabled proxy whose usage recorder is closed after the test."""
    started: list[Any] = []

    async def start(yaml_text: str) -> Any:
        proxy = await mproxy(yaml_text)
        recorder_of(proxy.service)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        close_recorder(proxy)


def _put(tmp_path: Path, name: str, data: dict) -> None:
    path = tmp_path / "auths" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(orjson.dumps(data))


@pytest.mark.parametrize(
    ("field", "want"),
    [
        ({"request_retry": 2}, 2),  # canonical
        ({"request-retry": 2}, 2),  # legacy spelling
        ({"request_retry": -1}, None),  # negative: inherit the global request-retry
        ({"request_retry": "2"}, 2),  # a string integer, for compatibility
    ],
    ids=["canonical", "legacy", "negative inherits", "string integer"],
)
async def test_auth_file_request_retry_forms(mproxy, tmp_path, field, want):
    """CPA: TestAuthFileRequestRetryFromJSON. The listing shows a file's own request retry
    from either spelling and from a numeric string; a negative one is no override."""
    _put(
        tmp_path,
        "claude-a.json",
        {"type": "claude", "access_token": "at", "refresh_token": "rt", "expired": FAR, **field},
    )
    proxy = await mproxy(HEAD)
    status, body = await mcall(proxy, "GET", "/auth-files")
    assert status == 200
    [entry] = body["files"]
    assert entry.get("request_retry") == want


async def test_usage_queue_invalid_count_does_not_pop(lproxy, fake_claude):
    """CPA: TestGetUsageQueueInvalidCountDoesNotPop. ``count=0`` is a 400 and the queued
    record stays for the next reader; CPA: TestGetUsageQueuePopsRequestedRecords, the
    records come oldest first and a count takes only that many."""
    proxy = await lproxy(claude_config(fake_claude, "usage-statistics-enabled: true"))
    for _ in range(3):
        assert (await post(proxy, MSG))[0] == 200
    for bad in ("0", "-1", "x"):
        status, body = await mcall(proxy, "GET", f"/usage-queue?count={bad}")
        assert status == 400 and "count" in body["error"]
    status, first = await mcall(proxy, "GET", "/usage-queue?count=2")
    assert status == 200 and len(first) == 2
    status, rest = await mcall(proxy, "GET", "/usage-queue?count=10")
    assert status == 200 and len(rest) == 1
    assert first[0]["timestamp"] <= first[1]["timestamp"] <= rest[0]["timestamp"]
    assert len(fake_claude.requests) == 3


async def test_logs_with_file_logging_off_is_a_400_before_the_cursor(lproxy, fake_claude):
    """CPA: TestGetLogsLoggingDisabledKeepsBadRequest. With logging to file off, even a
    malformed cursor gets the 'logging to file disabled' 400, not a cursor error."""
    proxy = await lproxy(claude_config(fake_claude))
    status, body = await mcall(proxy, "GET", "/logs?cursor=not-base64&limit=1")
    assert status == 400 and "logging to file disabled" in str(body)
