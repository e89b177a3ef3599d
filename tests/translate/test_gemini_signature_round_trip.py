"""Every Gemini signature of an answer comes back on the part it came on, through a Claude
client and a Responses client (Codex CLI, opencode), whole and streamed: Gemini's answer ->
the client's format -> the client sends it back -> the next Gemini request's model turn.

The answers are the part sequences of CPA's signature tests
(internal/translator/antigravity/claude/antigravity_claude_response_test.go,
internal/translator/gemini/openai/responses/gemini_openai-responses_response_test.go).
The turn that comes back is compared with the answer by its signed positions: unsigned
thoughts are left out (a Claude client's go back unsigned and are dropped; a Responses
client's go back with the validator-skip sentinel), adjacent unsigned texts are joined, and
a signature-only part is ``alone``. Two sequences come back in CPA's shape rather than the
answer's: a signature-only part after text signs that text (``previous:text``), and the
nearer of two leading ones signs the text after them (``next:any``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.translate.cpa._run import CLAUDE, GEMINI, RESPONSES, claude_blocks, events, req, resp, sse, stream
from tests.translate.cpa.signature_fixtures import gemini3_signature

MODEL = "gemini-3-flash-preview"
S1 = gemini3_signature(bytes([0x01, 0x0C, 0x39, 0xD6, 0xC7, 0x34]))


def _other(sig: str, flip: int) -> str:
    raw = bytearray(base64.b64decode(sig))
    raw[-1] ^= flip
    return base64.b64encode(bytes(raw)).decode()


S2, S3 = _other(S1, 1), _other(S1, 2)
Part = dict[str, Any]


def text(t: str, sig: str | None = None) -> Part:
    return {"text": t, "thoughtSignature": sig} if sig else {"text": t}


def thought(t: str, sig: str | None = None) -> Part:
    return {**text(t, sig), "thought": True}


def call(command: str, sig: str | None = None) -> Part:
    part: Part = {"functionCall": {"name": "run_command", "args": {"command": command}}}
    return {**part, "thoughtSignature": sig} if sig else part


Shape = list[tuple[str, str, str | None]]

# name -> (answer, the turn's shape when it differs from the answer's)
SEQUENCES: dict[str, tuple[list[Part], Shape | None]] = {
    "consecutive-signed-text": ([text("a"), text("b", S1), text("c", S2)], None),
    "signed-then-unsigned-text": ([text("signed", S1), text("unsigned")], None),
    "leading-before-signed-thought": ([text("", S1), thought("reason", S2), text("answer")], None),
    "trailing-after-signed-text": ([text("answer", S1), text("", S2)], None),
    "signed-thought-then-signed-text": ([thought("one", S1), text("answer", S2)], None),
    "text-signature-before-later-thought": ([thought("a", S1), text("answer", S2), thought("c", S3)], None),
    "call-then-trailing": ([call("x", S1), text("", S2)], None),
    "unsigned-thought-then-signed-call": ([thought("hidden"), call("x", S1)], None),
    "text-call-text": ([text("before"), call("x", S1), text("after")], None),
    "signed-text-then-signed-call": ([text("t", S1), call("x", S2)], None),
    "interleaved-unsigned": ([thought("x"), text("y"), thought("z"), text("w")], None),
    "distinct-signed-thoughts": ([thought("p", S1), thought("q", S2)], None),
    "parallel-calls": ([call("x", S1), call("y")], None),
    "signed-thought-then-text": ([thought("t", S1), text("answer")], None),
    "two-leading-empty": (
        [text("", S1), text("", S2), text("visible")],
        [("alone", "", S1), ("text", "visible", S2)],
    ),
    "trailing-between-texts": (
        [text("a"), text("", S1), text("b")],
        [("text", "a", S1), ("text", "b", None)],
    ),
}


def shape(parts: list[Part]) -> Shape:
    out: Shape = []
    for p in parts:
        sig = p.get("thoughtSignature")
        if sig == "skip_thought_signature_validator":
            sig = None
        if "functionCall" in p:
            out.append(("call", p["functionCall"]["args"]["command"], sig))
        elif not p.get("text"):
            if sig:
                out.append(("alone", "", sig))
        elif p.get("thought"):
            if sig:
                out.append(("thought", p["text"], sig))
        elif out and out[-1][0] == "text" and out[-1][2] is None and sig is None:
            out[-1] = ("text", out[-1][1] + p["text"], None)
        else:
            out.append(("text", p["text"], sig))
    return out


def whole_answer(parts: list[Part]) -> dict[str, Any]:
    cand = {"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}
    return {"candidates": [cand], "modelVersion": MODEL, "responseId": "r1"}


def streamed_answer(parts: list[Part]) -> bytes:
    """One chunk per part, as Gemini streams them; the last carries the finish reason."""
    payloads = []
    for i, p in enumerate(parts):
        cand: dict[str, Any] = {"content": {"role": "model", "parts": [p]}}
        if i == len(parts) - 1:
            cand["finishReason"] = "STOP"
        payloads.append({"candidates": [cand], "modelVersion": MODEL, "responseId": "r1"})
    return sse(*payloads, events=False)


SCHEMA = {"type": "object", "properties": {"command": {"type": "string"}}}
CLAUDE_REQUEST = {
    "model": MODEL,
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}],
    "tools": [{"name": "run_command", "input_schema": SCHEMA}],
}
RESPONSES_REQUEST = {
    "model": MODEL,
    "input": "hi",
    "tools": [{"type": "function", "name": "run_command", "parameters": SCHEMA}],
}


def claude_turn(parts: list[Part], streamed: bool) -> list[Part]:
    if streamed:
        content = claude_blocks(events(stream(GEMINI, CLAUDE, streamed_answer(parts), CLAUDE_REQUEST, MODEL)))
    else:
        content = resp(GEMINI, CLAUDE, whole_answer(parts), CLAUDE_REQUEST, MODEL)["content"]
    results = [
        {"type": "tool_result", "tool_use_id": b["id"], "content": "ok"}
        for b in content
        if b["type"] == "tool_use"
    ]
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": content},
        {"role": "user", "content": results or "more"},
    ]
    body = req(CLAUDE, GEMINI, {**CLAUDE_REQUEST, "messages": messages}, MODEL)
    return _model_turn(body)


def responses_turn(parts: list[Part], streamed: bool) -> list[Part]:
    if streamed:
        data = stream(GEMINI, RESPONSES, streamed_answer(parts), RESPONSES_REQUEST, MODEL)
        output = next(e["response"]["output"] for e in events(data) if e.get("type") == "response.completed")
    else:
        output = resp(GEMINI, RESPONSES, whole_answer(parts), RESPONSES_REQUEST, MODEL)["output"]
    items: list[dict[str, Any]] = [{"role": "user", "content": "hi"}, *output]
    outputs = [
        {"type": "function_call_output", "call_id": i["call_id"], "output": "ok"}
        for i in output
        if i["type"] == "function_call"
    ]
    items += outputs or [{"role": "user", "content": "more"}]
    body = req(RESPONSES, GEMINI, {**RESPONSES_REQUEST, "input": items}, MODEL)
    return _model_turn(body)


def _model_turn(body: dict[str, Any]) -> list[Part]:
    assert "cpa-gemini" not in json.dumps(body)  # carriers never reach Gemini
    turns = [c for c in body["contents"] if c["role"] == "model"]
    assert len(turns) == 1, body["contents"]
    parts: list[Part] = turns[0]["parts"]
    return parts


CLIENTS: dict[str, Callable[[list[Part], bool], list[Part]]] = {
    "claude": claude_turn,
    "responses": responses_turn,
}


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("client", list(CLIENTS))
@pytest.mark.parametrize("name", list(SEQUENCES))
def test_signatures_come_back_on_their_parts(name: str, client: str, streamed: bool) -> None:
    answer, cpa_shape = SEQUENCES[name]
    want = cpa_shape if cpa_shape is not None else shape(answer)
    assert shape(CLIENTS[client](answer, streamed)) == want
