"""Plain requests go straight into the upstream's format (issue 21, translation added
time): ``translate.plain_requests`` must make the body the hub makes (the client
adapter's ``parse_request``, then the upstream adapter's ``build_request``, in
``pipeline_prepare.start_attempt``), so the upstream request (URL, headers, body bytes) is
the same either way; every other shape goes the hub's way, and the IR an attempt without
one is asked for later is the one the hub would have made."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest

from cliproxy.calls import Attempt, new_call
from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.pipeline_prepare import start_attempt
from cliproxy.providers import gemini_replay
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.providers.gemini import GeminiProvider
from cliproxy.translate.claude import ADAPTER as CLAUDE_ADAPTER
from cliproxy.translate.gemini import ADAPTER as GEMINI_ADAPTER
from cliproxy.translate.plain_requests import PLAIN_REQUESTS, chat_to_gemini, responses_to_claude
from cliproxy.translate.registry import Registry, default_registry
from tests.translate.plain_harness import hub_registry, pipe

MODEL = "gemini-2.5-flash"
CRED = Credential(id="g", provider="gemini", api_key="k")
PROVIDER = GeminiProvider()
CLAUDE_MODEL = "claude-sonnet-4-6"
CLAUDE_CRED = Credential(id="c", provider="claude", api_key="sk-ant-k")
CLAUDE = ClaudeProvider()
HEADERS = {"user-agent": "OpenAI/Python 1.0", "session_id": "s-1"}


FAST, HUB = default_registry(), hub_registry(GEMINI_ADAPTER, CLAUDE_ADAPTER)


def _attempt(
    reg: Registry, body: dict[str, Any], model: str = MODEL, client: Format = Format.OPENAI
) -> tuple[Attempt, UpstreamRequest, Any]:
    stream = bool(body.get("stream"))
    claude = client is Format.RESPONSES
    provider, cred = (CLAUDE, CLAUDE_CRED) if claude else (PROVIDER, CRED)
    up_fmt = Format.CLAUDE if claude else Format.GEMINI
    call = new_call(client, copy.deepcopy(body), str(body.get("model")), stream, HEADERS)
    carry = provider.carrier(cred)
    attempt = start_attempt(pipe(reg), call, cred, provider, model, False, up_fmt, carry)
    upreq = provider.build(
        cred, attempt.body, model=model, stream=stream, client_headers=HEADERS, action="generate"
    )
    return attempt, upreq, call


def _same_upstream(body: dict[str, Any], model: str = MODEL, client: Format = Format.OPENAI) -> Attempt:
    """The fast attempt of ``body``, after checking it builds the hub's upstream request."""
    fast, fast_req, fast_call = _attempt(FAST, body, model, client)
    hub, hub_req, _ = _attempt(HUB, body, model, client)
    assert hub.ir is not None and not hub.plain
    assert (fast_req.method, fast_req.url, fast_req.headers) == (hub_req.method, hub_req.url, hub_req.headers)
    assert fast_req.body == hub_req.body
    fast_marks = (fast.cut, fast.unled, fast.kept, type(fast.replay), fast.untouched)
    assert fast_marks == (hub.cut, hub.unled, hub.kept, type(hub.replay), hub.untouched)
    assert not fast.untouched  # the thinking step sees a translated body either way
    # the IR made later for the fast attempt is the one the hub's attempt holds
    assert fast.request(FAST, fast_call) == hub.ir
    return fast


# ------------------------------------------------------------------- accepted shapes

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be terse."},
    {"role": "developer", "content": "Answer in French."},
    {"role": "user", "content": "Say hi."},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]},
    {"role": "system", "content": [{"type": "text", "text": "  system part"}]},
    {"role": "system", "content": "x-anthropic-billing-header: cc_version=2.1"},
    {"role": "assistant", "content": [{"type": "text", "text": "prefill"}]},
]
HISTORIES = [list(h) for n in (1, 2, 3) for h in itertools.product(MESSAGES, repeat=n)]

SAMPLING: dict[str, Any] = {
    "temperature": 0.7,
    "top_p": 1,
    "max_tokens": 64,
    "seed": 7,
    "presence_penalty": 0.5,
    "frequency_penalty": -0.25,
    "stop": "END",
    "stream": False,
    "stream_options": {"include_usage": True},
}
FIELD_SETS = [
    dict(c) for n in range(len(SAMPLING) + 1) for c in itertools.combinations(SAMPLING.items(), n)
] + [
    {"max_completion_tokens": 32},
    {"stop": ["a", "b"]},
    {"stop": []},
    {"stop": ""},
    {"temperature": 2, "top_p": 0.5},
    {"temperature": 0},
    {"stream": True, "stream_options": {"include_usage": False}},
]


def test_every_history_builds_the_hubs_upstream_request() -> None:
    for history in HISTORIES:
        body = {"model": "bench-gemini", "messages": history, "max_tokens": 64}
        assert chat_to_gemini(body, MODEL) is not None, history
        assert _same_upstream(body).plain, history


def test_every_sampling_field_set_builds_the_hubs_upstream_request() -> None:
    history = [MESSAGES[0], MESSAGES[2]]
    for fields in FIELD_SETS:
        body = {"model": "bench-gemini", "messages": history, **fields}
        assert _same_upstream(body).plain, fields


def test_the_bench_body_and_an_sdk_body() -> None:
    bench = {
        "model": "bench-gemini",
        "max_tokens": 64,
        "stream": False,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}],
    }
    sdk = {"messages": [{"role": "user", "content": "Say hi."}], "model": MODEL, "temperature": 0.2}
    for body in (bench, sdk):  # (sdk: named as the upstream names it, its IR memoised on the call)
        assert _same_upstream(body).plain


# ------------------------------------------------------------------- refused shapes

REFUSED: list[dict[str, Any]] = [
    {"messages": [{"role": "user", "content": "hi"}], "user": "u-1"},
    {"messages": [{"role": "user", "content": "hi"}], "n": 2},
    {"messages": [{"role": "user", "content": "hi"}], "reasoning_effort": "high"},
    {"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}},
    {
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": "f"}}],
    },
    {"messages": [{"role": "user", "content": "hi"}], "temperature": None},
    {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8, "max_completion_tokens": 16},
    {"messages": [{"role": "user", "content": "hi"}], "stream_options": None},
    {"messages": [{"role": "user", "content": "hi", "name": "ann"}]},
    {"messages": [{"role": "user", "content": ""}]},
    {"messages": [{"role": "user", "content": None}]},
    {"messages": [{"role": "user", "content": []}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "cache_control": {}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}]},
    {
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
            },
        ]
    },
    {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "x", "tool_call_id": "c"}]},
    {"messages": [{"role": "assistant", "content": "hi", "reasoning_content": "hmm"}]},
]
INVALID: list[dict[str, Any]] = [  # the client's 400, from the hub
    {"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"},
    {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1.5},
    {"messages": [{"role": "user", "content": "hi"}], "seed": True},
    {"messages": [{"role": "user", "content": "hi"}], "stream": "yes"},
    {"messages": [{"role": "user", "content": "hi"}], "stop": ["a", 1]},
    {"messages": []},
    {"messages": "hi"},
    {"messages": [{"role": "robot", "content": "hi"}]},
    {"messages": [{"role": "user", "content": "hi"}], "model": ""},
]


@pytest.mark.parametrize("body", REFUSED, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_other_shapes_go_the_hubs_way(body: dict[str, Any]) -> None:
    body = {"model": "bench-gemini", **body}
    assert chat_to_gemini(body, MODEL) is None
    attempt = _same_upstream(body)
    assert not attempt.plain and attempt.ir is not None


@pytest.mark.parametrize("body", INVALID, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_a_wrong_body_is_the_hubs_400(body: dict[str, Any]) -> None:
    body = {"model": "bench-gemini", **body}
    assert chat_to_gemini(body, MODEL) is None
    for reg in (FAST, HUB):
        with pytest.raises(RequestError) as fast:
            _attempt(reg, body)
        assert fast.value.status == 400


def test_a_claude_model_behind_gemini_goes_the_hubs_way() -> None:
    """(A Claude model's request gets the interleaved-thinking hint only some requests
    need: the hub decides.)"""
    body = {"model": "c", "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "hi"}]}
    assert chat_to_gemini(body, "claude-sonnet-4-6") is None
    assert not _same_upstream(body, "claude-sonnet-4-6").plain


def test_a_registry_with_another_adapter_writes_no_plain_request() -> None:
    assert (Format.OPENAI, Format.GEMINI) in PLAIN_REQUESTS
    assert FAST.plain_request(Format.OPENAI, Format.GEMINI) is chat_to_gemini
    assert HUB.plain_request(Format.OPENAI, Format.GEMINI) is None


def test_the_signature_replays_carrier_has_nothing_to_carry_for_a_plain_request() -> None:
    """``pipeline_plain`` does not call the Gemini API key's carrier for a body a writer
    made: it carries a session only for a request with tools or ending with tool results,
    which no writer takes."""
    keyed = {**HEADERS, "authorization": "Bearer sk-client"}  # (a session to carry)
    for history in HISTORIES:
        body = {"model": "bench-gemini", "messages": history}
        plain = chat_to_gemini(body, MODEL)
        assert plain is not None
        before = copy.deepcopy(plain)
        gemini_replay.carry(plain, Format.OPENAI, body, keyed, MODEL, False)
        assert plain == before, history
    # (what it does carry: a loop's last step, its tool results)
    results = [*REFUSED[-3]["messages"], {"role": "tool", "content": "x", "tool_call_id": "c"}]
    body = {"model": "bench-gemini", "messages": results}
    carried: dict[str, Any] = {}
    gemini_replay.carry(carried, Format.OPENAI, body, keyed, MODEL, False)
    assert carried[gemini_replay.CARRIED][1] == MODEL
    assert chat_to_gemini(body, MODEL) is None


# ------------------------------------------------------------------- the answer, IR unmade


@pytest.mark.parametrize("version", ["gemini-2.5-flash-001", None])
@pytest.mark.parametrize("alias", ["bench-gemini", None])
def test_a_plain_answer_needs_no_ir(version: str | None, alias: str | None) -> None:
    answer: dict[str, Any] = {
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hi"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
        "responseId": "r1",
    }
    if version:
        answer["modelVersion"] = version
    body = {"model": "bench-gemini", "messages": [{"role": "user", "content": "hi"}]}
    fast, _, _ = _attempt(FAST, body)
    hub, _, _ = _attempt(HUB, body)
    direct = FAST.plain_answer(Format.GEMINI, Format.OPENAI, copy.deepcopy(answer), body, fast.model, alias)
    assert direct is not None and fast.plain and fast.ir is None
    out, usage = FAST.translate_response_usage(Format.GEMINI, Format.OPENAI, answer, hub.ir, model=alias)
    direct[0]["created"] = out["created"]
    assert direct == (out, usage)
    # an answer of another shape: the IR is needed
    call_answer = copy.deepcopy(answer)
    call_answer["candidates"][0]["content"]["parts"] = [{"functionCall": {"name": "f", "args": {}}}]
    assert FAST.plain_answer(Format.GEMINI, Format.OPENAI, call_answer, body, fast.model, alias) is None


# ------------------------------------------------------------------- Responses -> Claude

INPUTS: list[Any] = [
    "Say hi.",
    [{"role": "user", "content": "Say hi."}],
    [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_text", "text": "one"}, {"type": "input_text", "text": "two"}],
        }
    ],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}],
    [
        {"role": "developer", "content": [{"type": "input_text", "text": "dev"}]},
        {"role": "user", "content": "a"},
        {"role": "user", "content": "b"},
    ],
    [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "mid"},
        {"role": "user", "content": "b"},
    ],
    [{"role": "system", "content": "only system"}],
]
INSTRUCTIONS: list[dict[str, Any]] = [{}, {"instructions": "You are terse."}, {"instructions": ""}]
RESPONSES_SAMPLING: dict[str, Any] = {
    "max_output_tokens": 64,
    "temperature": 0.5,
    "top_p": 0.9,
    "stream": False,
}
RESPONSES_FIELDS = [
    dict(c)
    for n in range(len(RESPONSES_SAMPLING) + 1)
    for c in itertools.combinations(RESPONSES_SAMPLING.items(), n)
] + [
    {"temperature": 1.5},
    {"temperature": 2},
    {"temperature": 2, "top_p": 1},
    {"stream": True},
    {"temperature": 0},
    {"temperature": None, "top_p": None, "max_output_tokens": None, "instructions": None},
]
RESPONSES_BODIES = [
    {"model": "bench-claude", "input": inp, **ins, **fields}
    for inp in INPUTS
    for ins in INSTRUCTIONS
    for fields in RESPONSES_FIELDS
]
CLAUDE_ANSWER: dict[str, Any] = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": CLAUDE_MODEL,
    "content": [{"type": "text", "text": "Hi"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 9, "output_tokens": 2},
}


def test_every_responses_shape_builds_the_hubs_upstream_request_and_answer() -> None:
    for body in RESPONSES_BODIES:
        assert responses_to_claude(body, CLAUDE_MODEL) is not None, body
        fast = _same_upstream(body, CLAUDE_MODEL, Format.RESPONSES)
        assert fast.plain and fast.replay is not None, body
        for alias in ("bench-claude", None):
            direct = FAST.plain_answer(
                Format.CLAUDE, Format.RESPONSES, copy.deepcopy(CLAUDE_ANSWER), body, CLAUDE_MODEL, alias
            )
            assert direct is not None
            out, usage = FAST.translate_response_usage(
                Format.CLAUDE, Format.RESPONSES, copy.deepcopy(CLAUDE_ANSWER), fast.ir, model=alias
            )
            direct[0]["created_at"] = out["created_at"]
            assert orjson.dumps(direct[0]) == orjson.dumps(out), body
            assert direct[1] == usage


RESPONSES_REFUSED: list[dict[str, Any]] = [
    {"input": "hi", "tools": [{"type": "function", "name": "f", "parameters": {}}]},
    {"input": "hi", "reasoning": {"effort": "high"}},
    {"input": "hi", "text": {"format": {"type": "text"}}},
    {"input": "hi", "metadata": {"a": "b"}},
    {"input": "hi", "user": "u"},
    {"input": "hi", "store": False},
    {"input": "hi", "parallel_tool_calls": False},
    {"input": "hi", "truncation": "auto"},
    {"input": "hi", "service_tier": "priority"},
    {"input": "hi", "previous_response_id": "resp_1"},
    {"input": ""},
    {"input": []},
    {"input": [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "hi"}]},
    {"input": [{"role": "user", "content": ""}]},
    {"input": [{"role": "user", "content": "hi", "id": "m1"}]},
    {"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "data:,"}]}]},
    {"input": [{"role": "user", "content": [{"type": "input_text", "text": "a", "x": 1}]}]},
    {
        "input": [
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ]
    },
]
RESPONSES_INVALID: list[dict[str, Any]] = [
    {"input": "hi", "instructions": 3},
    {"input": "hi", "max_output_tokens": "many"},
    {"input": "hi", "temperature": "hot"},
    {"input": 5},
    {"input": [{"role": "robot", "content": "hi"}]},
    {"input": [{"type": "function_call_output", "call_id": "c", "output": "ok"}]},
]


@pytest.mark.parametrize("body", RESPONSES_REFUSED, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_other_responses_shapes_go_the_hubs_way(body: dict[str, Any]) -> None:
    body = {"model": "bench-claude", **body}
    assert responses_to_claude(body, CLAUDE_MODEL) is None
    attempt = _same_upstream(body, CLAUDE_MODEL, Format.RESPONSES)
    assert not attempt.plain and attempt.ir is not None


@pytest.mark.parametrize("body", RESPONSES_INVALID, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_a_wrong_responses_body_is_the_hubs_400(body: dict[str, Any]) -> None:
    body = {"model": "bench-claude", **body}
    assert responses_to_claude(body, CLAUDE_MODEL) is None
    for reg in (FAST, HUB):
        with pytest.raises(RequestError) as err:
            _attempt(reg, body, CLAUDE_MODEL, Format.RESPONSES)
        assert err.value.status == 400


def test_an_answer_of_another_shape_needs_the_ir() -> None:
    body = {"model": "bench-claude", "input": "hi"}
    answer = copy.deepcopy(CLAUDE_ANSWER)
    answer["stop_reason"] = "max_tokens"
    assert FAST.plain_answer(Format.CLAUDE, Format.RESPONSES, answer, body, CLAUDE_MODEL, None) is None
