"""``X-CPA-TRACE-ID`` once per answer, whichever way it is written: the fast engine writes
it as a ready line of the head (``FastExchange.head_line``), or in the answer's headers
when a request log shows them (``request-log``); aiohttp always in the headers."""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.conftest import matrix_config
from tests.usage.helpers import logs, settle

MESSAGES: Any = [{"role": "user", "content": "hi"}]


@pytest.mark.engine_pinned
@pytest.mark.parametrize(("engine", "request_log"), [("fast", False), ("fast", True), ("aiohttp", True)])
async def test_whole_streamed_and_error_answers_carry_the_header_once(
    start_proxy: Any, fakes: Any, engine: str, request_log: bool
) -> None:
    """CPA: TestCPATraceIDMiddlewareRequiresAuthIndexBeforeResponseCommit (one header per
    answer): a whole, a streamed and an upstream-refused answer each carry one
    ``X-CPA-TRACE-ID`` line, never two; with ``request-log`` on, the logged answer's
    headers have the value the client got."""
    extra = "request-log: true" if request_log else ""
    proxy = await start_proxy(matrix_config(fakes, extra), engine=engine)
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        whole = await client.chat.completions.with_raw_response.create(
            model="compat-model", messages=MESSAGES
        )
        async with client.chat.completions.with_streaming_response.create(
            model="compat-model", messages=MESSAGES, stream=True
        ) as streamed:
            await streamed.read()
        fakes.openai.fail_next(400, message="bad input")
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="compat-model", messages=MESSAGES)
    values = []
    for headers in (whole.headers, streamed.headers, refused.value.response.headers):
        (value,) = headers.get_list("X-CPA-TRACE-ID")
        values.append(value)
    if request_log:
        texts = [p.read_text() for p in logs(await settle(proxy))]
        for value in values[:2]:  # a served answer's logged headers show the client's value
            assert any(f"X-CPA-TRACE-ID: {value}\n" in t.split("=== RESPONSE ===")[-1] for t in texts)
