"""CPA's response_writer_test.go, which requests leave an error log when ``request-log`` is
off (CPA's hasActionableError): any answer of 400 or more, never a success, never a client
that left (499: tests/e2e/test_client_gone.py). Through the proxy and the fake Claude."""

from __future__ import annotations

import pytest

from tests.usage.helpers import MSG, UPSTREAM_KEY, claude_config, logs, post, settle


@pytest.mark.parametrize("upstream", [429, 500])
async def test_a_rate_limit_or_server_error_leaves_an_error_log(proxy_of, fake_claude, upstream):
    """CPA: TestHasActionableError (its 429 and 500 cases; 400: test_request_log),
    TestFinalizeIncludes500InForceLog."""
    proxy = await proxy_of(claude_config(fake_claude))
    fake_claude.fail_key(UPSTREAM_KEY, upstream, message="upstream trouble")
    status, _ = await post(proxy, MSG)
    assert status >= 400
    [log] = logs(await settle(proxy))
    assert log.name.startswith("error-v1-messages-")
    text = log.read_text()
    assert f"HTTP Status: {upstream}" in text and f"Status: {status}" in text
