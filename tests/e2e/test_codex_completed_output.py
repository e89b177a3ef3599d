"""Codex's ``response.completed`` made whole (CPA codex_executor_stream_output_test.go
TestCodexExecutorExecuteStream_EmptyStreamCompletionOutputUsesOutputItemDone,
TestCodexExecutorExecute_NonEmptyCompletionOutputHydratesMissingItemID): the backend may end
a stream with an empty ``output``; the official SDK's final response, read from that event,
must still hold the answer. A ``response.incomplete`` is mended the same way
(TestCodexExecutorExecuteIncompleteResponseIsSuccessful; CPA's stream loop patches both
ends)."""

from __future__ import annotations

from typing import Any

import anthropic
import openai
import orjson
import pytest

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


def test_indexed_and_unindexed_done_items_both_fill_the_output() -> None:
    """CPA: TestForwardResponsesStreamRepairsMixedIndexedAndUnindexedDoneItems: an item
    done at index 1 and one done without an index: the indexed one first, then the other."""
    patch = CompletedOutput()
    patch(_line({"type": "response.output_item.done", "output_index": 1, "item": CALL}))
    patch(_line({"type": "response.output_item.done", "item": MESSAGE}))
    assert _completed(patch, [])["response"]["output"] == [CALL, MESSAGE]


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


class _Kept:
    """What the reasoning replay is handed (``codex_stream.Watch``)."""

    def __init__(self) -> None:
        self.turns: list[list[Any]] = []

    def completed(self, output: list[Any]) -> None:
        self.turns.append(output)

    def refused(self, data: bytes) -> bool:
        return False


def test_an_incomplete_end_is_mended_but_not_kept_for_the_replay() -> None:
    """CPA's Codex stream loop runs patchCodexCompletedOutput on ``response.incomplete`` as on
    ``response.completed`` but caches the reasoning replay from a completed turn only (a cut
    turn carries no state to replay). Before, an incomplete end reached the client with the
    empty output and bare usage Codex sent."""
    kept = _Kept()
    patch = CompletedOutput(kept)
    patch(_line({"type": "response.output_item.done", "output_index": 0, "item": MESSAGE}))
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    cut = {"id": "resp_1", "status": "incomplete", "output": [], "usage": usage}
    done = orjson.loads(patch(_line({"type": "response.incomplete", "response": cut})).split(b"data: ", 1)[1])
    assert done["type"] == "response.incomplete" and done["response"]["output"] == [MESSAGE]
    assert done["response"]["usage"]["output_tokens_details"] == {"reasoning_tokens": 0}
    assert kept.turns == []
    assert _completed(patch, [])["response"]["output"] == [MESSAGE] and kept.turns == [[MESSAGE]]
    socket = CompletedOutput(mend=False)  # the upstream socket: the usage details only (CPA)
    socket(_line({"type": "response.output_item.done", "output_index": 0, "item": MESSAGE}))
    line = socket(_line({"type": "response.incomplete", "response": cut}))
    done = orjson.loads(line.split(b"data: ", 1)[1])
    assert done["response"]["output"] == [] and done["response"]["usage"]["input_tokens_details"] == {
        "cached_tokens": 0
    }


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


CODEX = 'codex-api-key:\n  - api-key: "sk-codex-1"\n    base-url: "{base}"\n    models: [{{name: "gpt-5.4", alias: "codex-model"}}]\n'


async def _codex_proxy(start_proxy: Any, fakes: Any) -> Any:
    base = f"{fakes.responses.base_url}/backend-api/codex"
    return await start_proxy(f'api-keys: ["{KEY}"]\n' + CODEX.format(base=base))


async def test_a_cut_answer_reaches_every_client_with_its_output(start_proxy: Any, fakes: Any) -> None:
    """TestCodexExecutorExecuteIncompleteResponseIsSuccessful with an answer before the cut:
    Codex streams the answer and ends with ``response.incomplete`` (max_output_tokens) whose
    output is empty. A Responses client's ``response.incomplete`` event now holds the partial
    answer (it held none: the openai SDK only fills an output that is missing); a whole
    Responses answer, Chat and Claude clients get the text with a ``length`` /
    ``max_tokens`` finish, streamed or not."""
    proxy = await _codex_proxy(start_proxy, fakes)
    fake = fakes.responses
    text = "Hello from fake-responses (model gpt-5.4)"
    messages: Any = [{"role": "user", "content": "hi"}]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        fake.incomplete = fake.completed_without_output = 1
        events = [
            e async for e in await client.responses.create(model="codex-model", input="hi", stream=True)
        ]
        assert events[-1].type == "response.incomplete"
        cut = events[-1].response
        assert cut.status == "incomplete" and cut.output_text == text
        assert cut.incomplete_details is not None and cut.incomplete_details.reason == "max_output_tokens"
        fake.incomplete = fake.completed_without_output = 1
        whole = await client.responses.create(model="codex-model", input="hi")
        assert (whole.status, whole.output_text) == ("incomplete", text)
        for stream in (False, True):
            fake.incomplete = fake.completed_without_output = 1
            if stream:  # the SDK's stream helper refuses a cut answer, handing it over
                with pytest.raises(openai.LengthFinishReasonError) as info:
                    async with client.chat.completions.stream(model="codex-model", messages=messages) as s:
                        await s.get_final_completion()
                chat = info.value.completion
            else:
                chat = await client.chat.completions.create(model="codex-model", messages=messages)
            assert (chat.choices[0].message.content, chat.choices[0].finish_reason) == (text, "length")
    async with anthropic.AsyncAnthropic(base_url=proxy.url, api_key=KEY, max_retries=0) as claude:
        for stream in (False, True):
            fake.incomplete = fake.completed_without_output = 1
            kwargs: Any = {"model": "codex-model", "max_tokens": 64, "messages": messages}
            if stream:
                async with claude.messages.stream(**kwargs) as cs:
                    message = await cs.get_final_message()
            else:
                message = await claude.messages.create(**kwargs)
            assert message.stop_reason == "max_tokens"
            assert "".join(b.text for b in message.content if b.type == "text") == text
    assert fake.incomplete == 0


async def test_an_incomplete_end_gets_usage_details(start_proxy: Any, fakes: Any) -> None:
    """TestCodexExecutorExecuteIncompleteResponseIsSuccessful's own stream (only a
    ``response.incomplete``, its usage without details) to a Responses client, streamed and
    whole: the usage details are there as zeros (CPA EnsureResponsesUsageDetails on every
    Responses chunk). Before, the streamed event reached the SDK with
    ``input_tokens_details`` and ``output_tokens_details`` None."""
    proxy = await _codex_proxy(start_proxy, fakes)
    response = {
        "id": "resp_1",
        "model": "gpt-5.5",
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [],
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }
    raw = b"data: " + orjson.dumps({"type": "response.incomplete", "response": response}) + b"\n\n"
    fakes.responses.raw_streams = [raw, raw]
    async with openai.AsyncOpenAI(base_url=proxy.url + "/v1", api_key=KEY, max_retries=0) as client:
        events = [
            e async for e in await client.responses.create(model="codex-model", input="hi", stream=True)
        ]
        whole = await client.responses.create(model="codex-model", input="hi")
    assert [e.type for e in events] == ["response.incomplete"]
    for got in (events[0].response, whole):
        assert got.status == "incomplete" and got.usage is not None
        assert (got.usage.input_tokens, got.usage.output_tokens, got.usage.total_tokens) == (10, 5, 15)
        assert (
            got.usage.input_tokens_details is not None and got.usage.input_tokens_details.cached_tokens == 0
        )
        assert got.usage.output_tokens_details is not None
        assert got.usage.output_tokens_details.reasoning_tokens == 0
