"""The collector that makes a whole answer of a stream (a client that asked for a whole
answer from an upstream that only streams): blocks in their order, text and reasoning as
their deltas said, tool arguments joined, and work in proportion to the stream's length."""

from __future__ import annotations

import time

from cliproxy.translate import ir
from cliproxy.translate.collect import Collector
from tests.calls import calls_made


def _stream(deltas: int) -> list[ir.Event]:
    events: list[ir.Event] = [
        ir.StreamStart("msg_1", "m", ir.Usage(5, 0)),
        ir.BlockStart(0, "thinking"),
        ir.ThinkingDelta(0, "let me "),
        ir.ThinkingDelta(0, "think"),
        ir.SignatureDelta(0, "sig", "claude"),
        ir.BlockStop(0),
        ir.BlockStart(1, "text"),
    ]
    events += [ir.TextDelta(1, f"w{i} ") for i in range(deltas)]
    events += [
        ir.BlockStop(1),
        ir.BlockStart(2, "tool_call", id="call_1", name="Bash"),
        ir.ToolArgsDelta(2, '{"command": '),
        ir.ToolArgsDelta(2, '"ls"}'),
        ir.BlockStop(2),
        ir.TextDelta(3, "a late block with no start"),
        ir.StreamEnd("tool_use", ir.Usage(5, 7)),
    ]
    return events


def test_a_stream_collects_into_its_blocks():
    c = Collector()
    events = _stream(3)
    c.feed(events[:9])  # fed in two parts, as reads arrive
    c.feed(events[9:])
    resp = c.response("alias")
    thinking, text, call, late = resp.content
    assert isinstance(thinking, ir.Thinking)
    assert (thinking.text, thinking.signature, thinking.family) == ("let me think", "sig", "claude")
    assert isinstance(text, ir.Text) and text.text == "w0 w1 w2 "
    assert isinstance(call, ir.ToolCall)
    assert (call.id, call.name, call.arguments) == ("call_1", "Bash", '{"command": "ls"}')
    assert isinstance(late, ir.Text) and late.text == "a late block with no start"
    assert (resp.id, resp.model, resp.stop_reason) == ("msg_1", "alias", "tool_use")
    assert resp.usage is not None and (resp.usage.input_tokens, resp.usage.output_tokens) == (5, 7)
    again = c.response("alias")  # asked twice: the same text, not joined twice
    assert isinstance(again.content[1], ir.Text) and again.content[1].text == "w0 w1 w2 "


def test_collecting_costs_in_proportion_to_the_deltas():
    """Text joined once at the end: eight times the deltas, about eight times the work.
    Copying the text so far at each delta (``block.text += delta``) made it grow with the
    square of the answer's length: 0.7 s of event loop for 32,000 deltas. Calls are
    counted exactly; the copying, which makes no call, shows in CPU time only (the least
    of three runs; the quadratic copy made the ratio about 60)."""

    def calls(deltas: int) -> int:
        events = _stream(deltas)
        c = Collector()
        return calls_made(lambda: (c.feed(events), c.response()))

    def cpu(deltas: int) -> float:
        events = _stream(deltas)
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            c = Collector()
            c.feed(events)
            c.response()
            best = min(best, time.process_time() - started)
        return best

    assert 7 < calls(16000) / calls(2000) < 9
    assert cpu(32000) / cpu(4000) < 24


def test_a_web_search_stream_collects_its_blocks_citations_and_search_count():
    """A search answer streamed (an Antigravity web search through a Gemini stream) made
    whole keeps its server blocks, its text's citations and the search in the usage."""
    use = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}
    cite = {
        "type": "web_search_result_location",
        "cited_text": "It is so.",
        "url": "https://a.example",
        "title": "a",
    }
    c = Collector()
    c.feed(
        [
            ir.StreamStart("msg_1", "m", ir.Usage(5, 0)),
            ir.BlockStart(0, "server_tool", family="claude", raw=use),
            ir.BlockStop(0),
            ir.BlockStart(1, "text", raw={"citations": [cite]}),
            ir.TextDelta(1, "It is so."),
            ir.BlockStop(1),
            ir.StreamEnd("end_turn", ir.Usage(5, 7, web_search_requests=1)),
        ]
    )
    resp = c.response()
    server, text = resp.content
    assert isinstance(server, ir.ServerTool) and server.raw == use
    assert isinstance(text, ir.Text) and (text.text, text.citations) == ("It is so.", [cite])
    assert resp.usage is not None and (resp.usage.input_tokens, resp.usage.web_search_requests) == (5, 1)
