"""CPA's redisqueue/plugin_test.go: the fields of one usage-queue record, through the proxy
(an Anthropic client, the fake Claude) and ``GET /v0/management/usage-queue``."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from multidict import CIMultiDict

from cliproxy.usage import recorder_of
from tests.management.conftest import mcall
from tests.usage.helpers import CLIENT_KEY, MSG, UPSTREAM_KEY, claude_config, close_recorder


@pytest.fixture
async def proxy(mproxy: Any, fake_claude: Any) -> Any:
    started = await mproxy(claude_config(fake_claude, "usage-statistics-enabled: true"))
    recorder_of(started.service)
    yield started
    close_recorder(started)


async def one_record(proxy: Any, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    headers = CIMultiDict(
        [
            ("x-api-key", CLIENT_KEY),
            ("X-Forwarded-For", "203.0.113.5, 198.51.100.8"),
            ("User-Agent", "test-client/1.0"),
        ]
    )
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", json=body, headers=headers) as r,
    ):
        status = r.status
        request_id = r.headers.get("X-Request-Id", "")
    async with asyncio.timeout(5):
        while True:
            code, records = await mcall(proxy, "GET", "/usage-queue")
            assert code == 200
            if records:
                (record,) = records
                assert not request_id or record["request_id"] == request_id
                return status, record
            await asyncio.sleep(0.02)


async def test_a_success_record_has_cpas_stable_fields(proxy, fake_claude) -> None:
    """CPA: TestUsageQueuePluginPayloadIncludesStableFieldsAndSuccess,
    TestUsageQueuePluginAsyncUsesRecordResponseHeaders,
    TestRecordAPIResponseMetadataStoresHeadersWhenRequestLogDisabled (request-log is off
    here). The upstream's answer headers go
    along as ``response_headers`` (Go's canonical names, every value), which the record
    lacked before; no ``user_api_key`` and no ``request_service_tier``. Differs on purpose:
    ``access_token_sha256`` is there only for an OAuth credential (this one is an API key),
    and ``executor_type`` names the provider (see test_cpa_usage_reporter)."""
    fake_claude.answer_headers[UPSTREAM_KEY] = {
        "x-upstream-request-id": "upstream-req-1",
        "retry-after": "30",
    }
    status, record = await one_record(proxy, MSG)
    assert status == 200
    assert record["provider"] == record["executor_type"] == "claude"
    assert (record["model"], record["alias"]) == ("claude-sonnet-4-6", "claude-model")
    assert record["endpoint"] == "POST /v1/messages"
    assert record["auth_type"] == "apikey"
    assert record["request_id"]
    assert (record["client_ip"], record["x_forwarded_for"], record["user_agent"]) == (
        "127.0.0.1",
        "203.0.113.5, 198.51.100.8",
        "test-client/1.0",
    )
    assert (record["service_tier"], record["failed"], record["generate"]) == ("auto", False, True)
    assert record["fail"] == {"status_code": 200, "body": ""}
    assert record["accounting_version"] >= 1 and record["token_breakdown"]["quality"] == "complete"
    assert record["tokens"]["cache_read_tokens_present"] is True
    assert record["response_headers"]["X-Upstream-Request-Id"] == ["upstream-req-1"]
    assert record["response_headers"]["Retry-After"] == ["30"]
    assert "user_api_key" not in record and "request_service_tier" not in record
    assert "access_token_sha256" not in record


async def test_a_failure_record_names_the_status_and_the_upstreams_error(proxy, fake_claude) -> None:
    """CPA: TestUsageQueuePluginPayloadIncludesStableFieldsAndFailureAndGinRequestID,
    TestUsageQueuePluginAsyncIgnoresRecycledGinContext (the record is the request's own,
    built from its trace when it ended)."""
    fake_claude.fail_key(UPSTREAM_KEY, 500, message="upstream failed")
    status, record = await one_record(proxy, MSG)
    assert status >= 500
    assert record["failed"] is True and record["fail"]["status_code"] == status
    assert "upstream failed" in record["fail"]["body"]
    assert record["endpoint"] == "POST /v1/messages" and record["alias"] == "claude-model"
    assert record["response_headers"]  # the failed answer's headers
    assert "user_api_key" not in record
