"""CPA's request-log middleware cases (internal/api/middleware/request_logging_test.go)
through a running proxy and a fake Claude upstream: which requests leave a log, and what
the log holds of a large or compressed client body."""

from __future__ import annotations

import io

import aiohttp
import orjson

try:  # Python 3.14+
    from compression import zstd  # type: ignore[import-not-found]
except ImportError:
    from backports import zstd

from tests.usage.helpers import CLIENT_KEY, MSG, UPSTREAM_KEY, claude_config, logs, post, settle


async def test_a_plain_get_leaves_no_request_log(proxy_of, fake_claude):
    """CPA: TestShouldSkipMethodForRequestLogging. With ``request-log: true`` a GET such as
    the model list leaves no log, a POST does. (A Responses WebSocket is logged turn by turn,
    tests/e2e/test_responses_ws.py::test_each_turn_is_a_request_log, where CPA logs the
    upgrade GET with the socket's timeline.)"""
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    async with (
        aiohttp.ClientSession() as s,
        s.get(proxy.url + "/v1/models", headers={"x-api-key": CLIENT_KEY}) as r,
    ):
        assert r.status == 200
    assert logs(await settle(proxy)) == []
    status, _ = await post(proxy, MSG)
    assert status == 200
    assert len(logs(await settle(proxy))) == 1


async def test_an_error_log_keeps_a_large_client_body_whole(proxy_of, fake_claude):
    """CPA: TestRequestLoggingMiddlewareCapturesLargeErrorRequestAndDeferredAPIRequest and
    TestShouldCaptureRequestBody. With ``request-log`` off, a client body over CPA's 1 MiB
    eager-capture limit that ends in an upstream 400 is in the error log whole, with the
    request sent upstream."""
    proxy = await proxy_of(claude_config(fake_claude))
    marker = "large-error-body-" + "x" * (1 << 20)
    fake_claude.fail_key(UPSTREAM_KEY, 400, message="upstream rejected request")
    body = orjson.dumps({**MSG, "messages": [{"role": "user", "content": marker}]})
    headers = {"x-api-key": CLIENT_KEY, "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", data=io.BytesIO(body), headers=headers) as r,
    ):
        assert r.status == 400
    [log] = logs(await settle(proxy))
    text = log.read_text()
    assert log.name.startswith("error-") and text.count(marker) >= 2  # the client's body, the upstream's
    assert text.find("=== API REQUEST 1 ===") > text.find("=== REQUEST BODY ===") >= 0


async def test_a_zstd_client_body_is_logged_decoded(proxy_of, fake_claude):
    """CPA: TestCaptureRequestInfoDecodesZstdRequestBodyForLog. A body sent with
    ``Content-Encoding: zstd`` is logged as the JSON it decodes to. (CPA's bounded decode,
    TestDecodeCapturedRequestBodyForLogWithLimitTruncatesZstdExpansion, has no counterpart:
    a body that expands past ``limits.max-body-mb`` is refused before anything is logged,
    tests/server/test_zstd.py::test_zstd_bomb_is_capped_by_max_body_mb.)"""
    proxy = await proxy_of(claude_config(fake_claude, "request-log: true"))
    payload = orjson.dumps({**MSG, "messages": [{"role": "user", "content": "zstd-marker"}]})
    headers = {"x-api-key": CLIENT_KEY, "Content-Encoding": "zstd", "Content-Type": "application/json"}
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + "/v1/messages", data=zstd.compress(payload), headers=headers) as r,
    ):
        assert r.status == 200
    [log] = logs(await settle(proxy))
    body = log.read_text().split("=== REQUEST BODY ===", 1)[1].split("===", 1)[0]
    assert '"zstd-marker"' in body
