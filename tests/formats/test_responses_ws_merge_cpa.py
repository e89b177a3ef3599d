"""CPA sdk/api/handlers/openai/openai_responses_websocket_requests_memory_test.go: how a
Responses WebSocket follow-up merges the last request's input, the last response's output
and the new items (``cliproxy.formats.responses_ws.expand``), and what that merge costs.

CPA merges raw JSON bytes and keeps a reference implementation to compare against; here
the history is already parsed (one ``orjson.loads`` per client message), so the merge is a
list of the same item objects: the rows about byte-level JSON quirks of Go's
``encoding/json`` (duplicate keys, case-insensitive field names, a malformed stored
output) have no counterpart and are left out."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from cliproxy.formats.responses_ws import History, MessageError, expand


def _merge(last_request: str, last_output: str, append: str) -> list[Any]:
    history = History(request=orjson.loads(last_request), output=orjson.loads(last_output))
    message = {"type": "response.create", "input": orjson.loads(append)}
    return expand(message, history)["input"]


SCENARIOS = [
    (
        "messages and paired tool call",
        '{"model":"gpt-5.4","input":[{"type":"message","id":"msg-1","role":"user","content":"hello"}]}',
        '[{"type":"function_call","id":"fc-1","call_id":"call-1","name":"lookup","arguments":"{}"}]',
        '[{"type":"function_call_output","id":"fco-1","call_id":"call-1","output":"done"}]',
        '[{"type":"message","id":"msg-1","role":"user","content":"hello"},'
        '{"type":"function_call","id":"fc-1","call_id":"call-1","name":"lookup","arguments":"{}"},'
        '{"type":"function_call_output","id":"fco-1","call_id":"call-1","output":"done"}]',
    ),
    (
        "duplicate function call keeps first",
        '{"input":[{"type":"function_call","id":"fc-first","call_id":"call-1","name":"first","arguments":"{}"}]}',
        '[{"type":"function_call","id":"fc-second","call_id":"call-1","name":"second","arguments":"{}"}]',
        '[{"type":"function_call_output","id":"fco-1","call_id":"call-1","output":"done"}]',
        '[{"type":"function_call","id":"fc-first","call_id":"call-1","name":"first","arguments":"{}"},'
        '{"type":"function_call_output","id":"fco-1","call_id":"call-1","output":"done"}]',
    ),
    (
        "duplicate id keeps item referenced by output",
        '{"input":[{"type":"function_call","id":"fc-1","call_id":"call-kept","name":"first","arguments":"{}"}]}',
        '[{"type":"function_call","id":"fc-1","call_id":"call-other","name":"second","arguments":"{}"}]',
        '[{"type":"function_call_output","id":"fco-1","call_id":"call-kept","output":"done"}]',
        '[{"type":"function_call","id":"fc-1","call_id":"call-kept","name":"first","arguments":"{}"},'
        '{"type":"function_call_output","id":"fco-1","call_id":"call-kept","output":"done"}]',
    ),
    (
        "raw JSON values and escaping",
        '{"input":[ {"type":"message","id":"msg-1","content":"<tag> & \\u263a"}, true ]}',
        '[null, 42, "line\\nvalue"]',
        '[{"id":"last","nested":{"value":[1,2,3]}}]',
        '[{"type":"message","id":"msg-1","content":"<tag> & \\u263a"},true,null,42,"line\\nvalue",'
        '{"id":"last","nested":{"value":[1,2,3]}}]',
    ),
    (
        "large integers stay exact",
        '{"input":[9007199254740993,{"id":"n","value":9223372036854775807}]}',
        "[18446744073709551615]",
        "[]",
        '[9007199254740993,{"id":"n","value":9223372036854775807},18446744073709551615]',
    ),
    (
        "missing previous input",
        '{"model":"gpt-5.4"}',
        '[{"id":"response"}]',
        "[]",
        '[{"id":"response"}]',
    ),
]


@pytest.mark.parametrize(
    ("last_request", "last_output", "append", "want"),
    [s[1:] for s in SCENARIOS],
    ids=[s[0] for s in SCENARIOS],
)
def test_merge_scenarios(last_request: str, last_output: str, append: str, want: str) -> None:
    """CPA TestMergeResponsesWebsocketInputMatchesCompatibilityScenarios (the rows a parsed
    history can meet): order kept, a repeated call kept once (the first), an id repeated
    kept on the copy a tool output answers, non-object items and escapes as they came,
    integers beyond 2^53 exact, and no previous input: the output and the new items."""
    merged = _merge(last_request, last_output, append)
    assert merged == orjson.loads(want)
    assert orjson.dumps(merged) == orjson.dumps(orjson.loads(want))


def test_a_follow_up_whose_input_is_no_list_is_refused() -> None:
    """CPA TestMergeResponsesWebsocketInputReturnsCompatibleErrors ("non-array appended
    input"; the other rows concern bytes CPA stored itself): a clear 400 naming ``input``."""
    history = History(request={"model": "m", "input": []}, output=[])
    for value in ({"id": "item"}, None, "text"):
        with pytest.raises(MessageError) as err:
            expand({"type": "response.create", "input": value}, history)
        assert err.value.status == 400 and err.value.param == "input"


def test_the_merged_request_is_detached_from_history_and_message() -> None:
    """CPA TestNormalizeResponseSubsequentRequestDetachesSourceBuffers: the request built
    for the next turn is a new object: changing its fields or its input list leaves the
    stored history and the client's message as they were (the items themselves are shared,
    read-only: providers copy an item before changing it)."""
    last = {"model": "gpt-5.4", "instructions": "keep me", "input": [{"type": "message", "id": "msg-1"}]}
    history = History(request=last, output=[{"type": "message", "id": "msg-2", "role": "assistant"}])
    message = {"type": "response.create", "input": [{"type": "message", "id": "msg-3"}]}
    out = expand(message, history)
    assert out["instructions"] == "keep me" and [i["id"] for i in out["input"]] == ["msg-1", "msg-2", "msg-3"]
    out["input"].append({"id": "x"})
    out["instructions"] = "changed"
    assert last == {
        "model": "gpt-5.4",
        "instructions": "keep me",
        "input": [{"type": "message", "id": "msg-1"}],
    }
    assert message == {"type": "response.create", "input": [{"type": "message", "id": "msg-3"}]}
    assert len(history.output) == 1


def test_a_large_transcript_merges_without_copying_its_items() -> None:
    """CPA TestMergeResponsesWebsocketInputBoundsLargeTranscriptAllocations: merging a 1 MiB
    transcript (one large item, and many messages with tool pairs) allocates at most about
    the input again. Here the bound is stricter: the merged list holds the very item
    objects of the history and the message, none copied."""
    big = {"type": "message", "id": "msg-big", "role": "user", "content": "x" * (1 << 20)}
    many = []
    for n in range(2000):
        many.append({"type": "message", "id": f"m{n}", "role": "user", "content": "y" * 256})
        many.append(
            {"type": "function_call", "id": f"fc{n}", "call_id": f"c{n}", "name": "f", "arguments": "{}"}
        )
        many.append({"type": "function_call_output", "id": f"o{n}", "call_id": f"c{n}", "output": "ok"})
    for previous in ([big], many):
        output = [{"type": "message", "id": "answer", "role": "assistant", "content": []}]
        new = [{"type": "message", "id": "next", "role": "user", "content": "more"}]
        history = History(request={"model": "gpt-5.4", "input": previous}, output=output)
        merged = expand({"type": "response.create", "input": new}, history)["input"]
        expected = [*previous, *output, *new]
        assert len(merged) == len(expected)
        assert all(a is b for a, b in zip(merged, expected, strict=True))
