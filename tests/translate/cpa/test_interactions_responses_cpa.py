"""An OpenAI Responses client of a Gemini Interactions upstream, and an Interactions client
of an OpenAI Responses upstream, ported from CPA
``internal/translator/openai/interactions/responses/interactions_openai_responses_response_test.go``.

Through the IR hub some facts differ on purpose; each such case says why in its docstring.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.translate.carriers import GEMINI_CARRIER_PREFIX
from tests.translate.cpa._run import RESPONSES, events, get, req, resp, sse, stream

I = Format.INTERACTIONS  # noqa: E741
REQ = {"model": "gpt-test", "input": "hi", "stream": True}
IREQ = {"model": "gpt-test", "input": "hi", "stream": True}


def _ia(*frames: dict[str, Any]) -> bytes:
    """Interactions SSE: each frame named by its ``event_type``, then ``[DONE]``."""
    out = bytearray()
    for f in frames:
        out += f"event: {f['event_type']}\ndata: {orjson.dumps(f).decode()}\n\n".encode()
    return bytes(out + b"event: done\ndata: [DONE]\n\n")


def _to_responses(*frames: dict[str, Any]) -> list[dict[str, Any]]:
    return events(stream(I, RESPONSES, _ia(*frames), REQ, "gpt-test"))


def _first(evs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    return next(e for e in evs if e["type"] == kind)


def _kinds(evs: list[dict[str, Any]], prefix: str = "response.") -> list[str]:
    skip = ("response.created", "response.in_progress")
    return [e["type"] for e in evs if e["type"].startswith(prefix) and e["type"] not in skip]


def _start(index: int, **step: Any) -> dict[str, Any]:
    return {"index": index, "step": step, "event_type": "step.start"}


def _delta(index: int, **delta: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "event_type": "step.delta"}


def _stop(index: int) -> dict[str, Any]:
    return {"index": index, "event_type": "step.stop"}


def _completed(**interaction: Any) -> dict[str, Any]:
    return {
        "interaction": {"id": "interaction_1", "status": "completed", **interaction},
        "event_type": "interaction.completed",
    }


def _gpt_signature() -> str:
    """An OpenAI-shaped encrypted reasoning blob (Fernet-like: version byte 0x80), as CPA's
    testGPTResponsesReasoningSignature builds it."""
    payload = bytearray(1 + 8 + 16 + 16 + 32)
    payload[0], payload[8] = 0x80, 1
    for i in range(9, len(payload)):
        payload[i] = i
    return base64.urlsafe_b64encode(bytes(payload)).decode()


def test_interactions_whole_answer_to_responses():
    """TestConvertInteractionsResponseToOpenAIResponsesNonStream"""
    body = {
        "id": "interaction_1",
        "object": "interaction",
        "status": "completed",
        "steps": [{"type": "model_output", "content": [{"text": "ok"}]}],
        "usage": {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    }
    out = resp(I, RESPONSES, body, {"model": "gpt-test", "input": "hi"}, "gpt-test")
    assert get(out, "output.0.content.0.text") == "ok" and get(out, "usage.total_tokens") == 3


def test_interactions_stream_to_responses_with_unstarted_steps():
    """TestConvertInteractionsResponseToOpenAIResponsesStream: a thought and a text delta
    that no ``step.start`` opened still reach the client (they were dropped before), a
    function call's arguments stream, and the usage carries the thought tokens.
    Differs: ``item_id`` of the arguments events is the function call item's own id (as
    OpenAI sends it), not the Interactions call id, which stays the item's ``call_id``;
    ``output_tokens`` counts the thought tokens in, as OpenAI's Responses usage does."""
    evs = _to_responses(
        {
            "interaction": {"id": "interaction_1", "model": "source-model"},
            "event_type": "interaction.created",
        },
        _delta(0, type="thought_summary", content={"type": "text", "text": "thinking"}),
        _delta(1, type="text", text="I will call a tool."),
        _start(2, id="call_1", type="function_call", name="get_weather", arguments={}),
        _delta(2, type="arguments_delta", arguments='{"location":"北京"}'),
        _stop(2),
        _completed(
            model="gpt-test",
            usage={
                "total_tokens": 399,
                "total_input_tokens": 123,
                "total_cached_tokens": 5,
                "total_output_tokens": 36,
                "total_thought_tokens": 240,
            },
        ),
    )
    assert _first(evs, "response.reasoning_summary_text.delta")["delta"] == "thinking"
    assert _first(evs, "response.output_text.delta")["delta"] == "I will call a tool."
    assert _first(evs, "response.function_call_arguments.delta")["delta"] == '{"location":"北京"}'
    done = _first(evs, "response.function_call_arguments.done")
    assert done["arguments"] == '{"location":"北京"}'
    item = (
        _first(evs, "response.output_item.done")
        and [e["item"] for e in evs if e["type"] == "response.output_item.done"][-1]
    )
    assert item["call_id"] == "call_1" and item["id"] == done["item_id"]
    assert _first(evs, "response.created")["response"]["model"] == "gpt-test"
    usage = _first(evs, "response.completed")["response"]["usage"]
    assert usage["total_tokens"] == 399 and usage["output_tokens_details"]["reasoning_tokens"] == 240
    assert usage["input_tokens_details"]["cached_tokens"] == 5


def test_interactions_function_call_arguments_in_step_start():
    """TestConvertInteractionsResponseToOpenAIResponsesStreamFunctionCallStartArguments,
    TestConvertInteractionsResponseToOpenAIResponsesStreamFunctionCallEventsAreIdempotent:
    arguments given whole in ``step.start`` stream as one delta, and a repeated start or
    stop adds nothing."""
    call = {"id": "call_1", "type": "function_call", "name": "lookup", "arguments": {"q": "x"}}
    evs = _to_responses(_start(0, **call), _start(0, **call), _stop(0), _stop(0))
    assert _kinds(evs)[:4] == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
    ]
    assert _kinds(evs).count("response.output_item.added") == 1
    assert _first(evs, "response.function_call_arguments.delta")["delta"] == '{"q":"x"}'
    assert _first(evs, "response.function_call_arguments.done")["arguments"] == '{"q":"x"}'
    assert _first(evs, "response.output_item.done")["item"]["arguments"] == '{"q":"x"}'


def test_interactions_function_call_empty_arguments():
    """TestConvertInteractionsResponseToOpenAIResponsesStreamFunctionCallEmptyArguments.
    Differs: the ``{}`` also comes as one ``arguments.delta`` before the done event (the hub
    streams a call's arguments as deltas only); a client that joins deltas gets the same."""
    evs = _to_responses(
        _start(0, id="call_1", type="function_call", name="lookup", arguments={}),
        _stop(0),
        _completed(model="gpt-test"),
    )
    assert _kinds(evs) == [
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert _first(evs, "response.function_call_arguments.done")["arguments"] == "{}"
    assert _first(evs, "response.output_item.done")["item"]["arguments"] == "{}"
    assert get(_first(evs, "response.completed"), "response.output.0.arguments") == "{}"


def test_interactions_model_output_done_holds_the_text():
    """TestConvertInteractionsResponseToOpenAIResponsesStreamModelOutputDoneIncludesText"""
    evs = _to_responses(
        _start(0, id="msg_1", type="model_output"),
        _delta(0, type="text", text="hello"),
        _delta(0, type="text", text=" world"),
        _stop(0),
    )
    assert _first(evs, "response.output_text.done")["text"] == "hello world"
    assert _first(evs, "response.content_part.done")["part"]["text"] == "hello world"
    assert get(_first(evs, "response.output_item.done"), "item.content.0.text") == "hello world"


def _thought_stream(signature: str) -> list[dict[str, Any]]:
    return _to_responses(
        _start(0, type="thought"),
        _delta(0, type="thought_summary", content={"type": "text", "text": "thinking"}),
        _delta(0, type="thought_signature", signature=""),
        _delta(0, type="thought_signature", signature=signature),
        _stop(0),
        _completed(model="gpt-test"),
    )


def test_interactions_thought_signature_stream():
    """TestConvertInteractionsResponseToOpenAIResponsesStreamPreservesThoughtSignature,
    TestConvertInteractionsResponseToOpenAIResponsesStreamDropsForeignThoughtSignature:
    an OpenAI-shaped signature becomes the reasoning item's ``encrypted_content`` as it is.
    Differs: a Gemini signature is not dropped but carried in CPA's Gemini carrier (as our
    Gemini -> Responses path does), so the next turn can hand it back to the upstream."""
    sig = _gpt_signature()
    evs = _thought_stream(sig)
    assert "response.output_text.delta" not in _kinds(evs)
    done = _first(evs, "response.output_item.done")["item"]
    assert done.get("encrypted_content") == sig and get(done, "summary.0.text") == "thinking"
    assert get(_first(evs, "response.completed"), "response.output.0.encrypted_content") == sig
    evs = _thought_stream("foreign-gemini-signature")
    done = _first(evs, "response.output_item.done")["item"]
    assert done["encrypted_content"] == _carried("foreign-gemini-signature")
    assert get(done, "summary.0.text") == "thinking"


def _carried(sig: str) -> str:
    return GEMINI_CARRIER_PREFIX + "standalone:text:" + base64.b64encode(sig.encode()).decode().rstrip("=")


def test_interactions_thought_signature_whole():
    """TestConvertInteractionsResponseToOpenAIResponsesNonStreamThoughtSignature (differs as
    the streamed case: a Gemini signature is carried, not dropped)."""
    sig, foreign = _gpt_signature(), "foreign-gemini-signature"
    for key, value, want in (("signature", sig, sig), ("thought_signature", foreign, _carried(foreign))):
        body = {
            "id": "interaction_1",
            "object": "interaction",
            "status": "completed",
            "steps": [{"type": "thought", key: value, "content": [{"type": "text", "text": "thinking"}]}],
            "usage": {"total_tokens": 1},
        }
        out = resp(I, RESPONSES, body, {"model": "gpt-test", "input": "hi"}, "gpt-test")
        assert (
            get(out, "output.0.encrypted_content") == want
            and get(out, "output.0.summary.0.text") == "thinking"
        )


def test_interactions_finish_metadata_usage():
    """TestConvertInteractionsResponseToOpenAIResponsesStreamFinishMetadataUsage"""
    frame = {
        "event_type": "finish",
        "metadata": {
            "total_usage": {
                "total_input_tokens": 2,
                "total_output_tokens": 6,
                "total_thought_tokens": 3,
                "total_cached_tokens": 1,
                "total_tokens": 11,
            }
        },
    }
    data = f"data: {orjson.dumps(frame).decode()}\n\n".encode()
    evs = events(stream(I, RESPONSES, data, REQ, "gpt-test"))
    usage = _first(evs, "response.completed")["response"]["usage"]
    assert usage["input_tokens"] == 2 and usage["total_tokens"] == 11
    assert usage["output_tokens_details"]["reasoning_tokens"] == 3
    assert usage["input_tokens_details"]["cached_tokens"] == 1


# --- an Interactions client of an OpenAI Responses upstream ---------------------------------


def _to_interactions(*payloads: dict[str, Any] | str) -> tuple[list[dict[str, Any]], bytes]:
    raw = stream(RESPONSES, I, sse(*payloads), IREQ, "gpt-test")
    return events(raw), raw


def _names(evs: list[dict[str, Any]]) -> list[str]:
    return [e["_event"] for e in evs]


def _step_deltas(evs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["delta"] for e in evs if e["_event"] == "step.delta"]


USAGE = {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}
FC_DONE = {
    "type": "response.output_item.done",
    "output_index": 0,
    "item": {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_1",
        "name": "lookup",
        "arguments": '{"q":"x"}',
    },
}


def test_responses_whole_function_call_to_interactions():
    """TestConvertOpenAIResponsesResponseToInteractionsNonStreamFunctionCall,
    TestConvertOpenAIResponsesResponseToInteractionsNonStreamFunctionCallStringArgs: object
    arguments from an upstream are taken (they failed the answer before), string ones parsed."""
    for args in ({"q": "x"}, '{"q":"x"}'):
        body = {
            "id": "resp_1",
            "output": [{"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": args}],
            "usage": USAGE,
        }
        step = resp(RESPONSES, I, body, IREQ)["steps"][0]
        assert step["type"] == "function_call" and step["name"] == "lookup" and step["call_id"] == "call_1"
        assert step["arguments"] == {"q": "x"}


def test_responses_whole_usage_details_to_interactions():
    """TestConvertOpenAIResponsesResponseToInteractionsNonStreamUsageDetails.
    Differs: ``output_tokens`` leaves the reasoning tokens out (13 - 7), as the Interactions
    API counts thought tokens apart from output tokens; CPA copies OpenAI's 13."""
    body = {
        "id": "resp_1",
        "output": [{"type": "message", "content": [{"type": "output_text", "text": "ok"}]}],
        "usage": {
            "input_tokens": 11,
            "output_tokens": 13,
            "total_tokens": 24,
            "input_tokens_details": {"cached_tokens": 5},
            "output_tokens_details": {"reasoning_tokens": 7},
        },
    }
    out = resp(RESPONSES, I, body, IREQ)
    assert out["id"] == "resp_1"
    assert get(out, "usage.input_tokens") == 11 and get(out, "usage.output_tokens") == 6
    assert get(out, "usage.reasoning_tokens") == 7 and get(out, "usage.cached_tokens") == 5


def test_responses_stream_function_call_done_only():
    """TestConvertOpenAIResponsesResponseToInteractionsStreamFunctionCallCallID: a call known
    only from ``output_item.done`` starts its step with the call id and streams its arguments."""
    evs, _ = _to_interactions(
        FC_DONE, {"type": "response.completed", "response": {"output": [], "usage": USAGE}}
    )
    start = next(e for e in evs if e["_event"] == "step.start")
    assert start["step"]["id"] == "call_1" and start["step"]["call_id"] == "call_1"
    assert _step_deltas(evs) == [{"type": "arguments_delta", "arguments": '{"q":"x"}'}]


def test_responses_stream_done_items_do_not_repeat_deltas():
    """TestConvertOpenAIResponsesResponseToInteractionsStreamSkipsDoneArgumentsAfterDelta,
    TestConvertOpenAIResponsesResponseToInteractionsStreamSkipsDoneTextAfterDelta,
    TestConvertOpenAIResponsesResponseToInteractionsStreamSkipsDoneTextAfterUnkeyedDelta,
    TestConvertOpenAIResponsesResponseToInteractionsStreamSkipsCompletedTextAfterUnkeyedDelta:
    what streamed as deltas is not sent again by the done item or the completed response."""
    added = {
        "type": "response.output_item.added",
        "output_index": 0,
        "item": {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "lookup",
            "arguments": "",
        },
    }
    args = {
        "type": "response.function_call_arguments.delta",
        "output_index": 0,
        "item_id": "fc_1",
        "delta": '{"q":"x"}',
    }
    done = {"type": "response.completed", "response": {"output": [], "usage": USAGE}}
    evs, _ = _to_interactions(added, args, FC_DONE, done)
    assert _step_deltas(evs) == [{"type": "arguments_delta", "arguments": '{"q":"x"}'}]
    assert _names(evs).count("step.stop") == 1
    msg = {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "hi"}]}
    for keyed in ({"content_index": 0}, {}):
        text = {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 0,
            "delta": "hi",
            **keyed,
        }
        item_done = {"type": "response.output_item.done", "output_index": 0, "item": msg}
        completed = {"type": "response.completed", "response": {"output": [msg], "usage": USAGE}}
        for tail in ((item_done, completed), (completed,)):
            evs, _ = _to_interactions(text, *tail)
            assert _step_deltas(evs) == [{"type": "text", "text": "hi"}]
            assert _names(evs).count("interaction.completed") == 1


def test_responses_stream_completed_output_fallback():
    """TestConvertOpenAIResponsesResponseToInteractionsStreamCompletedOutputFallback,
    TestConvertOpenAIResponsesResponseToInteractionsStreamEmitsDone: text seen only in the
    completed response still streams, and the stream ends with one ``done`` frame."""
    msg = {"type": "message", "id": "msg_1", "content": [{"type": "output_text", "text": "final"}]}
    evs, raw = _to_interactions(
        {"type": "response.completed", "response": {"output": [msg], "usage": USAGE}}, "[DONE]"
    )
    assert _step_deltas(evs) == [{"type": "text", "text": "final"}]
    assert _names(evs).count("interaction.completed") == 1
    assert raw.endswith(b"event: done\ndata: [DONE]\n\n") and raw.count(b"[DONE]") == 1


def test_responses_stream_event_order():
    """TestConvertOpenAIResponsesResponseToInteractionsStreamCreatedThenDelta,
    TestConvertOpenAIResponsesResponseToInteractionsStreamCompletesAfterSteps"""
    created = {"type": "response.created", "response": {"id": "resp_1", "model": "gpt-test"}}
    text = {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "我将调用工具。",
    }
    call = {**FC_DONE, "output_index": 1}
    evs, _ = _to_interactions(
        created, text, call, {"type": "response.completed", "response": {"output": [], "usage": USAGE}}
    )
    assert _names(evs) == [
        "interaction.created",
        "interaction.status_update",
        "step.start",
        "step.delta",
        "step.stop",
        "step.start",
        "step.delta",
        "step.stop",
        "interaction.completed",
    ]
    assert evs[1]["interaction_id"] == "resp_1"
    assert get(evs[-1], "interaction.usage.total_tokens") == 3


# --- requests: interactions_openai_responses_request_test.go ---------------------------------


def _input(out: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(i for i in out["input"] if i.get("type") == kind)


def test_responses_request_to_interactions():
    """TestConvertOpenAIResponsesRequestToInteractions,
    TestConvertOpenAIResponsesRequestToInteractionsPreservesRequestStream.
    Differs: a ``function_call_output`` whose ``output`` is an object is refused with a 400
    naming the field, as OpenAI's API refuses it (a string or a list of parts), where CPA
    forwards it; a string output holding JSON goes on as that object."""
    body = {
        "model": "gpt-test",
        "instructions": "be brief",
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "hi"},
                    {"type": "input_image", "image_url": "data:image/png;base64,aGVsbG8="},
                ],
            },
            {"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": '{"q":"x"}'},
            {"type": "function_call_output", "call_id": "call_1", "output": '{"ok":true}'},
        ],
        "tools": [{"type": "function", "name": "lookup", "parameters": {"type": "object"}}],
        "tool_choice": "auto",
        "reasoning": {"effort": "high", "summary": "auto"},
        "stream": True,
    }
    out = req(RESPONSES, I, body, "gpt-test")
    user, call, result = out["input"]
    assert user["type"] == "user_input" and user["content"][0] == {"type": "text", "text": "hi"}
    assert user["content"][1]["mime_type"] == "image/png"
    assert call["call_id"] == "call_1" and call["arguments"] == {"q": "x"}
    assert (
        result["type"] == "function_result"
        and result["name"] == "lookup"
        and result["result"] == {"ok": True}
    )
    assert out["system_instruction"] == "be brief"
    assert get(out, "generation_config.thinking_level") == "high"
    assert get(out, "generation_config.tool_choice") == "auto" and get(out, "tools.0.name") == "lookup"
    assert out["stream"] is True
    assert "stream" not in req(
        RESPONSES, I, {"model": "gpt-test", "input": "hi", "stream": False}, "gpt-test"
    )
    bad = {**body, "input": [*body["input"][:2], {**body["input"][2], "output": {"ok": True}}]}
    with pytest.raises(RequestError, match=r"input\[2\]\.output"):
        req(RESPONSES, I, bad, "gpt-test")


def test_responses_request_previous_response_id_not_forwarded():
    """TestConvertOpenAIResponsesRequestToInteractionsPreservesPreviousResponseID,
    TestConvertOpenAIResponsesRequestToInteractions_PreservesEnvironmentID.
    Differs: ``previous_response_id`` is not sent on as ``previous_interaction_id``: the
    proxy answers a Responses client with its own response ids (``resp_...``), which the
    Interactions API does not know, and replays a stored conversation itself;
    ``environment_id`` (Antigravity agent environments, not supported here) is not carried."""
    out = req(
        RESPONSES,
        I,
        {
            "model": "gpt-test",
            "input": "hi",
            "previous_response_id": "resp_123",
            "environment_id": "env_abc456",
        },
        "gpt-test",
    )
    assert "previous_interaction_id" not in out and "environment_id" not in out


def test_interactions_request_to_responses_tool_messages():
    """TestConvertInteractionsRequestToOpenAIResponsesWithToolMessages,
    TestConvertInteractionsRequestToOpenAIResponsesWithUserObjectContent"""
    body = {
        "model": "gpt-test",
        "input": [
            {"type": "user_input", "content": [{"type": "text", "text": "hi"}]},
            {"type": "function_call", "name": "lookup", "call_id": "call_1", "arguments": {"q": "x"}},
            {"type": "function_result", "name": "lookup", "call_id": "call_1", "result": {"ok": True}},
        ],
    }
    out = req(I, RESPONSES, body, "gpt-test")
    assert get(out, "input.0.content.0") == {"type": "input_text", "text": "hi"}
    assert _input(out, "function_call")["name"] == "lookup"
    assert _input(out, "function_call_output")["call_id"] == "call_1"


def test_interactions_request_to_responses_system_and_thinking():
    """TestConvertInteractionsRequestToOpenAIResponsesPreservesStringSystemAndThinkingConfig,
    TestConvertInteractionsRequestToOpenAIResponsesPreservesInteractionStream.
    Differs: the system text goes as the first ``developer`` message, not ``instructions``
    (the hub's one place for a system prompt to a Responses upstream; the model reads both
    alike)."""
    body = {
        "model": "gpt-test",
        "system_instruction": "You are a helpful assistant.",
        "input": [{"type": "user_input", "content": [{"type": "text", "text": "hi"}]}],
        "tools": [{"name": "lookup", "type": "function", "parameters": {"type": "object"}}],
        "generation_config": {"tool_choice": "auto", "thinking_level": "high", "thinking_summaries": "auto"},
        "stream": True,
    }
    out = req(I, RESPONSES, body, "gpt-test")
    assert get(out, "input.0.role") == "developer"
    assert get(out, "input.0.content.0.text") == "You are a helpful assistant."
    assert out["tool_choice"] == "auto" and out["reasoning"] == {"effort": "high", "summary": "auto"}
    assert out["stream"] is True


def test_interactions_request_to_responses_tools():
    """TestConvertInteractionsRequestToOpenAIResponsesConvertsSimpleTools,
    TestConvertInteractionsRequestToOpenAIResponsesConvertsFunctionDeclarationsTools"""
    decl = {
        "name": "lookup",
        "description": "Find data",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    for tools in ([decl], [{"function_declarations": [decl]}]):
        tool = req(I, RESPONSES, {"model": "gpt-test", "tools": tools, "input": "hi"}, "gpt-test")["tools"][0]
        assert tool["type"] == "function" and tool["name"] == "lookup"
        assert "function" not in tool and "function_declarations" not in tool
        assert get(tool, "parameters.properties.q.type") == "string"


def test_interactions_request_to_responses_content():
    """TestConvertInteractionsRequestToOpenAIResponsesWithImageContent,
    TestConvertInteractionsRequestToOpenAIResponsesWithAssistantTextContent,
    TestConvertInteractionsRequestToOpenAIResponsesPreservesNonImageMediaContent.
    Differs: media in a ``model_output`` step is left out, not sent as ``output_file`` parts
    as CPA does: a Responses assistant message holds only ``output_text`` and ``refusal``,
    so OpenAI would refuse the request."""
    image = [
        {"type": "text", "text": "describe"},
        {"type": "image", "mime_type": "image/png", "data": "aGVsbG8="},
    ]
    out = req(
        I, RESPONSES, {"model": "gpt-test", "input": [{"type": "user_input", "content": image}]}, "gpt-test"
    )
    assert get(out, "input.0.content.1.type") == "input_image"
    assert get(out, "input.0.content.1.image_url") == "data:image/png;base64,aGVsbG8="
    said = [{"type": "model_output", "content": [{"type": "text", "text": "hello"}]}]
    out = req(I, RESPONSES, {"model": "gpt-test", "input": said}, "gpt-test")
    assert (
        get(out, "input.0.content.0.type") == "output_text" and get(out, "input.0.content.0.text") == "hello"
    )
    media = [
        {"type": "audio", "mime_type": "audio/wav", "data": "UklGRg=="},
        {"type": "document", "mime_type": "application/pdf", "data": "JVBERi0="},
    ]
    said = [{"type": "model_output", "content": [{"type": "text", "text": "here"}, *media]}]
    out = req(I, RESPONSES, {"model": "gpt-test", "input": said}, "gpt-test")
    assert [p["type"] for p in get(out, "input.0.content")] == ["output_text"]


def test_interactions_request_to_responses_expressible_fields():
    """TestConvertInteractionsRequestToOpenAIResponsesPreservesExpressibleFields.
    Differs: ``response_modalities`` is not sent as ``modalities`` (no Responses field;
    OpenAI refuses unknown parameters)."""
    body = {
        "model": "gpt-test",
        "tools": [{"name": "lookup", "type": "function", "parameters": {"type": "object"}}],
        "tool_choice": {"type": "function", "function": {"name": "lookup"}},
        "response_modalities": ["text", "image"],
        "service_tier": "priority",
        "store": True,
        "background": True,
        "webhook_config": {"url": "https://example.com"},
        "input": "hi",
    }
    out = req(I, RESPONSES, body, "gpt-test")
    assert out["tool_choice"] == {"type": "function", "name": "lookup"}
    assert out["service_tier"] == "priority"
    assert not {"store", "background", "webhook_config", "modalities"} & out.keys()
