"""Codex's ``response.completed`` made whole (CPA codex_executor_stream_output_test.go
TestCodexExecutorExecuteStream_EmptyStreamCompletionOutputUsesOutputItemDone,
TestCodexExecutorExecute_NonEmptyCompletionOutputHydratesMissingItemID): the backend may end
a stream with an empty ``output``; the official SDK's final response, read from that event,
must still hold the answer."""

from __future__ import annotations

from typing import Any

import openai
import orjson

from cliproxy.providers.codex_stream import CompletedOutput
from tests.e2e.clients import KEY


def _line(event: dict[str, Any]) -> bytes:
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "hi"}],
}
CALL = {"id": "fc_1", "type": "function_call", "call_id": "call_1", "name": "run", "arguments": "{}"}


def _completed(patch: CompletedOutput, output: list[Any]) -> dict[str, Any]:
    data = patch(_line({"type": "response.completed", "response": {"id": "resp_1", "output": output}}))
    return orjson.loads(data.split(b"data: ", 1)[1])  # type: ignore[no-any-return]


def test_empty_output_is_filled_from_the_done_items_in_order() -> None:
    patch = CompletedOutput()
    patch(_line({"type": "response.output_item.done", "output_index": 1, "item": CALL}))
    patch(_line({"type": "response.output_item.done", "output_index": 0, "item": MESSAGE}))
    assert _completed(patch, [])["response"]["output"] == [MESSAGE, CALL]


def test_missing_ids_are_hydrated_and_a_whole_output_is_left_alone() -> None:
    patch = CompletedOutput()
    patch(_line({"type": "response.output_item.done", "output_index": 0, "item": MESSAGE}))
    no_id = {k: v for k, v in MESSAGE.items() if k != "id"}
    assert _completed(patch, [no_id])["response"]["output"] == [MESSAGE]
    whole = _line({"type": "response.completed", "response": {"id": "resp_1", "output": [MESSAGE]}})
    assert patch(whole) == whole


def test_on_the_upstream_socket_only_the_usage_details_are_filled() -> None:
    """CPA's socket executor gives a WebSocket client the completion untouched but for
    EnsureResponsesUsageDetails (the client socket's session fills the output): an empty
    output stays empty, an item without an id keeps none."""
    patch = CompletedOutput(mend=False)
    patch(_line({"type": "response.output_item.done", "output_index": 0, "item": MESSAGE}))
    assert _completed(patch, [])["response"] == {"id": "resp_1", "output": []}
    no_id = {k: v for k, v in MESSAGE.items() if k != "id"}
    assert _completed(patch, [no_id])["response"]["output"] == [no_id]
    usage = {"input_tokens": 1, "output_tokens": 1, "total_tokens": 2}
    line = _line({"type": "response.completed", "response": {"id": "r", "output": [], "usage": usage}})
    done = orjson.loads(patch(line).split(b"data: ", 1)[1])
    assert done["response"]["output"] == []
    assert done["response"]["usage"]["input_tokens_details"] == {"cached_tokens": 0}


def test_other_chunks_pass_untouched() -> None:
    chunk = _line({"type": "response.output_text.delta", "delta": "h"})
    assert CompletedOutput()(chunk) is chunk


async def test_the_sdk_final_response_holds_the_answer(start_proxy: Any, fakes: Any) -> None:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    proxy = await start_proxy(
        f'api-keys: ["{KEY}"]\ncodex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n'
        '    models: [{name: "gpt-5.4", alias: "codex-model"}]\n'
    )
    fakes.responses.completed_without_output = 2
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        async with client.responses.stream(model="codex-model", input="hi") as stream:
            final = await stream.get_final_response()
        whole = await client.responses.create(model="codex-model", input="hi")
    assert final.output and final.output_text
    assert whole.output_text == final.output_text
