"""CPA's ``internal/logging/cpa_trace_test.go``: the ``X-CPA-TRACE-ID`` answer header (time,
auth index, request id), as a unit and through the proxy with the openai SDK."""

from __future__ import annotations

import re
import time
from typing import Any

import openai
import pytest

from cliproxy.server.trace_id import format_trace_id
from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_the_value_is_time_index_and_request_id(utc: Any) -> None:
    """CPA: TestFormatCPATraceID: ``YYYYMMDDhhmmss-<auth index>-<request id>``; nothing
    when the time, the index or the request id is missing."""
    at = 1784325529.0  # 2026-07-17 21:58:49 UTC
    assert format_trace_id(at, "auth-index", "request1") == "20260717215849-auth-index-request1"
    assert format_trace_id(0, "auth-index", "request1") == ""
    assert format_trace_id(at, " ", "request1") == ""
    assert format_trace_id(at, "auth-index", "") == ""


@pytest.mark.engine_pinned
@pytest.mark.parametrize("engine", ["fast", "aiohttp"])
async def test_an_answer_names_the_credential_that_served_it(
    start_proxy: Any, fakes: Any, engine: str
) -> None:
    """CPA: TestCPATraceIDMiddlewareRequiresAuthIndexBeforeResponseCommit: a whole and a
    streamed answer carry ``X-CPA-TRACE-ID`` with the serving credential's auth index and
    the request's 8-hex id; an answer no credential served (the model list) has none.
    Before, no answer had it. (TestCPATraceIDConcurrentSelectionAndResponseCommit is Go's
    data race between a selection callback and the header write: nothing of the kind
    here, the header is set by the task that writes the answer.)"""
    proxy = await start_proxy(matrix_config(fakes), engine=engine)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        whole = await client.chat.completions.with_raw_response.create(
            model="compat-model", messages=MESSAGES
        )
        async with client.chat.completions.with_streaming_response.create(
            model="compat-model", messages=MESSAGES, stream=True
        ) as streamed:
            await streamed.read()
        models = await client.models.with_raw_response.list()
    (cred,) = [c for c in proxy.service.pool.credentials() if c.api_key == "sk-compat-1"]
    pattern = re.compile(rf"^(\d{{14}})-{cred.index}-([0-9a-f]{{8}})$")
    ids = [pattern.fullmatch(r.headers.get("X-CPA-TRACE-ID", "")) for r in (whole, streamed)]
    assert all(ids) and ids[0].group(2) != ids[1].group(2)  # type: ignore[union-attr]
    # the time part (made once a second) is the local time of the answer
    now = time.time()
    recent = {time.strftime("%Y%m%d%H%M%S", time.localtime(now - back)) for back in range(0, 6)}
    assert {m.group(1) for m in ids if m} <= recent
    assert "X-CPA-TRACE-ID" not in models.headers


async def test_an_upstream_refusal_names_the_credential_that_got_it(start_proxy: Any, fakes: Any) -> None:
    """CPA: TestCPATraceIDMiddlewareRequiresAuthIndexBeforeResponseCommit (the header is
    stamped at the pick, so an error answer after it has it too): the only key's 400
    reaches the client with the key's auth index in ``X-CPA-TRACE-ID``; a request refused
    before any pick (an unknown model) has none."""
    proxy = await start_proxy(matrix_config(fakes))
    fakes.openai.fail_next(400, message="bad input")
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="compat-model", messages=MESSAGES)
        with pytest.raises(openai.APIStatusError) as unknown:
            await client.chat.completions.create(model="no-such-model", messages=MESSAGES)
    (cred,) = [c for c in proxy.service.pool.credentials() if c.api_key == "sk-compat-1"]
    assert re.fullmatch(
        rf"\d{{14}}-{cred.index}-[0-9a-f]{{8}}", refused.value.response.headers["X-CPA-TRACE-ID"]
    )
    assert "X-CPA-TRACE-ID" not in unknown.value.response.headers
