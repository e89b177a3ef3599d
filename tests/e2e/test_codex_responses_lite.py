"""CPA internal/runtime/executor/codex_executor_imagegen_test.go, the executor cases: a
Codex CLI request marked Responses-Lite (``X-OpenAI-Internal-Codex-Responses-Lite: true``)
reaches a ChatGPT sign-in without the image tool the proxy adds to other requests, and
with ``parallel_tool_calls: false``, whole or streamed. The ``openai`` SDK is the client;
tests/fakes/openai_responses.py the Codex backend.
"""

from __future__ import annotations

from typing import Any

import openai
import pytest

from tests.e2e.clients import KEY
from tests.e2e.test_codex_prompt_cache import HEAD, MODEL, codex_file  # noqa: F401 (fixture)

LITE = {"X-OpenAI-Internal-Codex-Responses-Lite": "true"}


async def _send(proxy: Any, stream: bool, headers: dict[str, str]) -> None:
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        if stream:
            async with client.responses.stream(model=MODEL, input="hello", extra_headers=headers) as events:
                await events.get_final_response()
        else:
            await client.responses.create(model=MODEL, input="hello", extra_headers=headers)


@pytest.mark.usefixtures("codex_file")
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_responses_lite_gets_no_image_tool_and_no_parallel_calls(
    start_proxy: Any, fake_responses: Any, stream: bool
) -> None:
    """CPA: TestCodexExecutorExecuteResponsesLiteHeaderDoesNotInjectImageGenerationTool,
    TestCodexExecutorExecuteStreamResponsesLiteHeaderForcesParallelToolCallsFalse. Without
    the header the same request gets the image tool (the control)."""
    proxy = await start_proxy(HEAD)
    await _send(proxy, stream, LITE)
    sent = fake_responses.last.json
    assert "tools" not in sent
    assert sent["parallel_tool_calls"] is False
    await _send(proxy, stream, {})
    assert [t["type"] for t in fake_responses.last.json["tools"]] == ["image_generation"]
