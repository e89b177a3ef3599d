"""Translation work grows in proportion to what is translated, for every pair of formats:
a conversation of four times the turns, a stream of four times the chunks, an answer of
four times the blocks cost about four times the calls. A coding agent's history grows
every turn and its answers can be long: a sweep over everything so far at each step
(quadratic) made sixteen, and has happened (the Responses input builder, the stream
collector). Calls are counted (``tests.calls``), so the measure does not move with the
machine's load."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from cliproxy.formats import Format
from cliproxy.translate import ir
from cliproxy.translate.registry import default_registry
from tests.calls import calls_made

REG = default_registry()
FORMATS = [Format.OPENAI, Format.RESPONSES, Format.CLAUDE, Format.GEMINI]
PAIRS = [(a, b) for a in FORMATS for b in FORMATS]
# four times the input: linear work gives ~4 (less where a fixed part weighs), quadratic ~16
MOST = 5.0


def _claude_history(turns: int) -> dict[str, Any]:
    """A Claude Messages request: a system prompt, two tools and ``turns`` rounds of a
    user turn, an assistant turn (thinking, text, a tool call) and the call's result."""
    messages: list[dict[str, Any]] = []
    for i in range(turns):
        messages.append({"role": "user", "content": [{"type": "text", "text": f"step {i} " * 5}]})
        messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "thinking it over", "signature": ""},
                    {"type": "text", "text": "running it"},
                    {
                        "type": "tool_use",
                        "id": f"toolu_{i}",
                        "name": "Bash",
                        "input": {"command": f"echo {i}"},
                    },
                ],
            }
        )
        messages.append(
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": f"toolu_{i}", "content": "out\n" * 3}],
            }
        )
    messages.append({"role": "user", "content": "finish"})
    schema = {"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}
    return {
        "model": "claude-x",
        "max_tokens": 1000,
        "system": "You are a coding agent.",
        "messages": messages,
        "tools": [
            {"name": "Bash", "description": "Runs a command", "input_schema": schema},
            {"name": "Read", "description": "Reads a file", "input_schema": schema},
        ],
    }


def _request_in(fmt: Format, turns: int) -> dict[str, Any]:
    body = _claude_history(turns)
    if fmt is Format.CLAUDE:
        return body
    return REG.adapter(fmt).build_request(REG.adapter(Format.CLAUDE).parse_request(body))


@pytest.mark.parametrize(("source", "target"), PAIRS, ids=lambda f: f.value)
def test_a_request_costs_in_proportion_to_its_history(source: Format, target: Format) -> None:
    small, large = _request_in(source, 20), _request_in(source, 80)

    def calls(body: dict[str, Any]) -> int:
        mine = copy.deepcopy(body)  # (made before counting: the copy is not the translation's)
        return calls_made(lambda: REG.translate_request(source, target, mine))

    ratio = calls(large) / calls(small)
    assert 2.0 < ratio < MOST


def _events(chunks: int) -> list[ir.Event]:
    events: list[ir.Event] = [ir.StreamStart("id", "m"), ir.BlockStart(0, "thinking")]
    events += [ir.ThinkingDelta(0, "hm ") for _ in range(chunks // 4)]
    events += [ir.BlockStop(0), ir.BlockStart(1, "text")]
    events += [ir.TextDelta(1, "token ") for _ in range(chunks)]
    events += [ir.BlockStop(1), ir.BlockStart(2, "tool_call", id="c1", name="Bash")]
    events += [ir.ToolArgsDelta(2, '{"a":') for _ in range(chunks // 4)]
    events += [ir.ToolArgsDelta(2, "1}"), ir.BlockStop(2), ir.StreamEnd("tool_use", ir.Usage(10, chunks))]
    return events


def _frames(fmt: Format, chunks: int) -> list[bytes]:
    """The stream as an upstream in ``fmt`` sends it, one frame per read."""
    enc = REG.adapter(fmt).stream_encoder(None, "m")
    data = b"".join(enc.encode(e) for e in _events(chunks)) + enc.flush()
    parts = data.split(b"\n\n")
    return [p + b"\n\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda f: f.value)
def test_a_stream_costs_in_proportion_to_its_chunks(upstream: Format, client: Format) -> None:
    def calls(frames: list[bytes]) -> int:
        def run() -> None:
            tr = REG.stream_translator(upstream, client, None, "m")
            for frame in frames:
                tr.feed(frame)
            tr.finish()

        return calls_made(run)

    ratio = calls(_frames(upstream, 1600)) / calls(_frames(upstream, 400))
    assert 3.0 < ratio < MOST


def _answer(blocks: int) -> ir.Response:
    content: list[ir.Block] = []
    for i in range(blocks):
        content += [ir.Text("word " * 20), ir.ToolCall(f"call_{i}", "Bash", '{"a": 1}')]
    return ir.Response("id", "m", content, stop_reason="tool_use", usage=ir.Usage(1, 2))


@pytest.mark.parametrize(("upstream", "client"), PAIRS, ids=lambda f: f.value)
def test_a_whole_answer_costs_in_proportion_to_its_blocks(upstream: Format, client: Format) -> None:
    def calls(blocks: int) -> int:
        body = REG.adapter(upstream).build_response(_answer(blocks))
        return calls_made(lambda: REG.translate_response(upstream, client, body, None))

    ratio = calls(160) / calls(40)
    assert 3.0 < ratio < MOST
