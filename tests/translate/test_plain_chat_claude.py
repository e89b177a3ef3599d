"""Plain Chat Completions requests go straight into a Claude upstream's Messages body (issue
21, translation added time): ``plain_requests.chat_to_claude`` must make the body the hub
makes (``openai_chat.parse_request``, then ``claude.build_request``, in
``pipeline_prepare.start_attempt``), so the upstream request (URL, headers, body bytes) is the
same either way, for each kind of Claude credential (an API key at Anthropic, one at a
gateway, a cloaked one, a subscription account, whose identity and signing the provider's
``build`` writes over the body alike) and each kind of caller; every other shape goes the
hub's way; the IR made later is the hub's; and the plain Claude answer to such a request is
the Chat answer the hub writes, without the IR being made."""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any
from unittest import mock

import orjson
import pytest

from cliproxy.calls import Attempt, new_call
from cliproxy.credentials.record import Credential
from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.pipeline_prepare import start_attempt
from cliproxy.providers import claude_identity
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.claude import ClaudeProvider
from cliproxy.translate.claude import ADAPTER as CLAUDE_ADAPTER
from cliproxy.translate.plain_answers import PLAIN_ANSWERS, claude_to_chat
from cliproxy.translate.plain_requests import (
    PLAIN_REQUESTS,
    chat_to_claude,
    chat_to_gemini,
    responses_to_claude,
)
from cliproxy.translate.plain_requests import (
    claude_to_chat as claude_request_to_chat,
)
from cliproxy.translate.registry import Registry, default_registry
from tests.translate.plain_harness import hub_registry, pipe

MODEL = "claude-sonnet-4-6"
KEY = Credential(id="c", provider="claude", api_key="sk-ant-k")
GATEWAY = Credential(id="g", provider="claude", api_key="sk-gw", base_url="http://gw.example/anthropic")
CLOAKED = Credential(id="k", provider="claude", api_key="sk-ant-cloaked", attributes={"cloak_mode": "always"})
OAUTH = Credential(
    id="f.json",
    provider="claude",
    kind="oauth",
    metadata={
        "access_token": "sk-ant-oat01-token",
        "account_uuid": "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb",
        "claude_device_ids": ["A" * 64],
    },
)
CREDS = (KEY, GATEWAY, CLOAKED, OAUTH)
# one each: a cloaked key's device id is drawn once a provider
PROVIDERS = {cred.id: ClaudeProvider() for cred in CREDS}
SDK = {"user-agent": "OpenAI/Python 1.99.1", "x-stainless-lang": "python"}
AGENT = {"user-agent": "opencode/1.0.0", "session_id": "s-1", "anthropic-beta": "context-1m-2025-08-07"}
CALLERS = (SDK, AGENT)


FAST, HUB = default_registry(), hub_registry(CLAUDE_ADAPTER)


def _attempt(
    reg: Registry, body: dict[str, Any], cred: Credential = KEY, headers: dict[str, str] = SDK
) -> tuple[Attempt, UpstreamRequest, Any]:
    stream = body.get("stream") is True
    sent = copy.deepcopy(body)
    call = new_call(Format.OPENAI, sent, str(body.get("model")), stream, headers)
    provider = PROVIDERS[cred.id]
    attempt = start_attempt(
        pipe(reg), call, cred, provider, MODEL, False, Format.CLAUDE, provider.carrier(cred)
    )
    # what build draws at random (a request id, a caller's session without signals, a cloaked
    # key's fake device and its session of the hour): the same draws for both ways
    ids = (uuid.UUID(int=i) for i in itertools.count(1))
    with (
        mock.patch("uuid.uuid4", side_effect=lambda: next(ids)),
        mock.patch("secrets.token_hex", side_effect=lambda n=32: "d" * 2 * n),
        mock.patch.dict(claude_identity._SESSIONS, clear=True),
        mock.patch.dict(claude_identity._FAKE, clear=True),
    ):
        upreq = provider.build(
            cred, attempt.body, model=MODEL, stream=stream, client_headers=headers, action="generate"
        )
    assert sent == body  # the client's body as it came (a failover translates it again)
    return attempt, upreq, call


def _same_upstream(body: dict[str, Any], cred: Credential = KEY, headers: dict[str, str] = SDK) -> Attempt:
    """The fast attempt of ``body``, after checking it builds the hub's upstream request."""
    fast, fast_req, fast_call = _attempt(FAST, body, cred, headers)
    hub, hub_req, _ = _attempt(HUB, body, cred, headers)
    assert hub.ir is not None and not hub.plain
    assert (fast_req.method, fast_req.url, fast_req.headers) == (hub_req.method, hub_req.url, hub_req.headers)
    assert fast_req.body == hub_req.body  # bytes: key order too
    assert fast_req.stream == hub_req.stream
    fast_marks = (fast.cut, fast.unled, fast.kept, type(fast.replay), fast.untouched)
    assert fast_marks == (hub.cut, hub.unled, hub.kept, type(hub.replay), hub.untouched)
    assert not fast.untouched  # the thinking step sees a translated body either way
    assert (fast.replay.family, fast.replay.session) == (hub.replay.family, hub.replay.session)
    # the IR made later for the fast attempt is the one the hub's attempt holds
    assert fast.request(FAST, fast_call) == hub.ir
    return fast


# ------------------------------------------------------------------- accepted shapes

MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "Be terse."},
    {"role": "developer", "content": "Answer in French."},
    {"role": "user", "content": "Say hi."},
    {"role": "assistant", "content": "Hi!"},
    {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "![x](y)"}]},
    {"role": "system", "content": [{"type": "text", "text": "  system part"}]},
    {"role": "system", "content": "x-anthropic-billing-header: cc_version=2.1"},
    {"role": "assistant", "content": [{"type": "text", "text": "![a picture](https://example.com/p.png)"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
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
    "user": "user-1",
}
FIELD_SETS = [
    dict(c) for n in range(len(SAMPLING) + 1) for c in itertools.combinations(SAMPLING.items(), n)
] + [
    {"max_completion_tokens": 32},
    {"max_completion_tokens": 32, "temperature": 1.5},
    {"stop": ["a", "b"]},
    {"stop": []},
    {"stop": [""]},
    {"stop": ""},
    {"temperature": 2, "top_p": 0.5},
    {"temperature": 2},
    {"temperature": 0},
    {"top_p": 0},
    {"max_tokens": 0},
    {"user": ""},
    {"user": "  "},
    {"stream": True},
    {"stream": True, "stream_options": {"include_usage": True}, "max_tokens": 8, "stop": ["x"], "user": "u"},
    {"stream_options": {}},
]


def test_every_history_builds_the_hubs_upstream_request() -> None:
    for history in HISTORIES:
        body = {"model": "bench-claude", "max_tokens": 64, "messages": history}
        assert chat_to_claude(body, MODEL) is not None, history
        assert _same_upstream(body).plain, history


def test_every_sampling_field_set_builds_the_hubs_upstream_request() -> None:
    history = [MESSAGES[0], MESSAGES[2]]
    for fields in FIELD_SETS:
        body = {"model": "bench-claude", "messages": history, **fields}
        assert _same_upstream(body).plain, fields


def test_every_credential_and_caller_gets_the_hubs_upstream_request() -> None:
    """A subscription account's and a cloaked key's requests are Claude Code's (identity,
    system blocks, cache marks, signing), written by ``build`` over the body either way."""
    bodies = [
        {"model": "bench-claude", "messages": h, **f}
        for h, f in itertools.product(HISTORIES[: len(MESSAGES) * 4 : 3], FIELD_SETS[::97] + FIELD_SETS[-16:])
    ]
    for body, cred, headers in itertools.product(bodies, CREDS, CALLERS):
        assert _same_upstream(body, cred, headers).plain, (body, cred.id, headers)


def test_the_bench_body_and_sdk_bodies() -> None:
    bench = {
        "model": "bench-claude",
        "max_tokens": 64,
        "stream": False,
        "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hi."}],
    }
    # the openai SDK's chat.completions.create (its key order), named as the upstream names
    # it: the IR is then memoised on the call
    sdk = {"messages": [{"role": "user", "content": "Hello"}], "model": MODEL, "max_completion_tokens": 1024}
    # an agent's turn: a developer prompt, text parts, a history, a stream with usage
    agent = {
        "model": "bench-claude",
        "messages": [
            {"role": "developer", "content": [{"type": "text", "text": "You are a calculator."}]},
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]},
        ],
        "temperature": 1,
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "agent-user",
    }
    only_system = {"model": "bench-claude", "messages": [{"role": "system", "content": "s"}]}
    bodies: list[dict[str, Any]] = [bench, sdk, agent, only_system]
    for body, cred, headers in itertools.product(bodies, CREDS, CALLERS):
        assert _same_upstream(body, cred, headers).plain


# ------------------------------------------------------------------- refused shapes

HI: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
REFUSED: list[dict[str, Any]] = [
    {"messages": HI, "tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]},
    {"messages": HI, "tool_choice": "auto"},
    {"messages": HI, "parallel_tool_calls": False},
    {"messages": HI, "response_format": {"type": "json_object"}},
    {"messages": HI, "reasoning_effort": "high"},
    {"messages": HI, "n": 1},
    {"messages": HI, "logprobs": True},
    {"messages": HI, "metadata": {"user_id": "u"}},
    {"messages": HI, "service_tier": "auto"},
    {"messages": HI, "max_tokens": 8, "max_completion_tokens": 16},
    {"messages": HI, "temperature": None},
    {"messages": HI, "max_tokens": None},
    {"messages": HI, "stop": None},
    {"messages": HI, "user": None},
    {"messages": HI, "stream_options": None},
    {"messages": HI, "stream_options": "on"},
    {"messages": [{"role": "user", "content": "hi", "name": "ann"}]},
    {"messages": [{"role": "user", "content": ""}]},
    {"messages": [{"role": "user", "content": None}]},
    {"messages": [{"role": "user", "content": []}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
    {"messages": [{"role": "user", "content": [{"type": "input_text", "text": "a"}]}]},
    {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}],
            }
        ]
    },
    {
        "messages": [
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/i.png"}}]}
        ]
    },
    {"messages": [{"role": "assistant", "content": "x", "refusal": None}]},
    {"messages": [{"role": "assistant", "content": "x", "reasoning_content": "thought"}]},
    {"messages": [{"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}]}]},
    {
        "messages": [
            *HI,
            {"role": "assistant", "content": None, "tool_calls": [CALL]},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok"},
        ]
    },
    {
        "messages": [
            *HI,
            {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": "{}"}},
        ]
    },
]
INVALID: list[dict[str, Any]] = [  # the client's 400, from the hub
    {"messages": HI, "temperature": "hot"},
    {"messages": HI, "temperature": True},
    {"messages": HI, "top_p": [1]},
    {"messages": HI, "max_tokens": 1.5},
    {"messages": HI, "max_completion_tokens": "8"},
    {"messages": HI, "seed": 1.5},
    {"messages": HI, "presence_penalty": "x"},
    {"messages": HI, "stop": ["a", 1]},
    {"messages": HI, "stop": 5},
    {"messages": HI, "user": 5},
    {"messages": HI, "stream": "yes"},
    {"messages": HI, "model": 5},
    {"messages": HI, "model": ""},
    {"messages": "hi"},
    {"messages": []},
    {"messages": [{"role": "robot", "content": "hi"}]},
    {"messages": [{"role": ["user"], "content": "hi"}]},
    {"messages": [{"role": "user", "content": 5}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
    {"messages": ["hi"]},
    {"messages": [{"role": "function", "name": "f", "content": "ok"}]},
]


@pytest.mark.parametrize("body", REFUSED, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_other_shapes_go_the_hubs_way(body: dict[str, Any]) -> None:
    body = {"model": "bench-claude", **body}
    assert chat_to_claude(body, MODEL) is None
    attempt = _same_upstream(body)
    assert not attempt.plain and attempt.ir is not None


@pytest.mark.parametrize("body", INVALID, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_a_wrong_body_is_the_hubs_400(body: dict[str, Any]) -> None:
    body = {"model": "bench-claude", **body}
    assert chat_to_claude(body, MODEL) is None
    for reg in (FAST, HUB):
        with pytest.raises(RequestError) as err:
            _attempt(reg, body)
        assert err.value.status == 400


def test_an_unhashable_role_is_no_writers_500() -> None:
    """Each writer reads the role as a string first: a list there raised TypeError out of
    the writer. (Defensive only: the pipeline's ``formats.validate`` refuses such a role
    with the client's 400 before any attempt; a client never saw the TypeError.)"""
    listed = [{"role": ["user"], "content": "hi"}]
    assert chat_to_gemini({"model": "m", "messages": listed}, "gemini-2.5-flash") is None
    assert claude_request_to_chat({"model": "m", "messages": listed}, "gpt-4o") is None
    assert responses_to_claude({"model": "m", "input": listed}, MODEL) is None


def test_a_registry_with_another_adapter_writes_no_plain_request() -> None:
    assert PLAIN_REQUESTS[(Format.OPENAI, Format.CLAUDE)] is chat_to_claude
    assert FAST.plain_request(Format.OPENAI, Format.CLAUDE) is chat_to_claude
    assert HUB.plain_request(Format.OPENAI, Format.CLAUDE) is None


# ------------------------------------------------------------------- the answer, IR unmade

CLAUDE_ANSWER: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Hi!"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 12, "output_tokens": 3},
}
ANSWERS: list[dict[str, Any]] = [
    CLAUDE_ANSWER,
    {**CLAUDE_ANSWER, "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {**CLAUDE_ANSWER, "content": []},
    {**CLAUDE_ANSWER, "content": [{"type": "text", "text": ""}]},
    {**CLAUDE_ANSWER, "stop_reason": "max_tokens"},
    {**CLAUDE_ANSWER, "stop_reason": "stop_sequence", "stop_sequence": "END"},
    {**CLAUDE_ANSWER, "id": "chatcmpl-7"},
    {**CLAUDE_ANSWER, "model": None},
    {**CLAUDE_ANSWER, "container": None, "stop_details": {"type": "x"}},
    {
        **CLAUDE_ANSWER,
        "usage": {
            "input_tokens": 2,
            "cache_creation_input_tokens": 10,
            "cache_read_input_tokens": 30,
            "output_tokens": 5,
            "service_tier": "standard",
        },
    },
    {k: v for k, v in CLAUDE_ANSWER.items() if k != "usage"},
]
NOT_PLAIN: list[dict[str, Any]] = [
    {**CLAUDE_ANSWER, "stop_reason": "tool_use"},
    {**CLAUDE_ANSWER, "stop_reason": "refusal"},
    {**CLAUDE_ANSWER, "stop_reason": "pause_turn"},
    {**CLAUDE_ANSWER, "stop_reason": None},
    {**CLAUDE_ANSWER, "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]},
    {**CLAUDE_ANSWER, "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
    {**CLAUDE_ANSWER, "content": [{"type": "text", "text": "a", "citations": []}]},
    {**CLAUDE_ANSWER, "content": "Hi"},
    {**CLAUDE_ANSWER, "id": 5},
]
REQUEST = {"model": "bench-claude", "max_tokens": 64, "messages": [MESSAGES[0], MESSAGES[2]]}


def _hub_answer(answer: dict[str, Any], request: Any, alias: str | None) -> tuple[dict[str, Any], Any]:
    """The Chat answer the adapters write (``parse_response`` then ``build_response``), not
    the plain translator under test."""
    resp = HUB.adapter(Format.CLAUDE).parse_response(answer, request)
    if alias:
        resp.model = alias
    return HUB.adapter(Format.OPENAI).build_response(resp, request), resp.usage


def _comparable(out: dict[str, Any], answer: dict[str, Any]) -> bytes:
    """``out`` as bytes, its clock second and (for an upstream answer without an id) its
    random id set aside."""
    out = dict(out)
    assert type(out.pop("created")) is int
    if not answer.get("id"):
        assert out["id"].startswith("chatcmpl-") and len(out["id"]) > len("chatcmpl-")
        out["id"] = "chatcmpl-?"
    return orjson.dumps(out)


@pytest.mark.parametrize("alias", ["bench-claude", None])
@pytest.mark.parametrize("answer", [*ANSWERS, {**CLAUDE_ANSWER, "id": ""}], ids=range(len(ANSWERS) + 1))
def test_a_plain_answer_needs_no_ir(answer: dict[str, Any], alias: str | None) -> None:
    fast, _, _ = _attempt(FAST, REQUEST)
    hub, _, _ = _attempt(HUB, REQUEST)
    direct = FAST.plain_answer(
        Format.CLAUDE, Format.OPENAI, copy.deepcopy(answer), REQUEST, fast.model, alias
    )
    assert direct is not None and fast.plain and fast.ir is None
    out, usage = _hub_answer(copy.deepcopy(answer), hub.ir, alias)
    assert _comparable(direct[0], answer) == _comparable(out, answer)
    assert direct[1] == usage
    # and through the registry for a request the hub translated (its IR not read)
    again = FAST.translate_response_usage(Format.CLAUDE, Format.OPENAI, copy.deepcopy(answer), hub.ir, alias)
    assert _comparable(again[0], answer) == _comparable(out, answer)


@pytest.mark.parametrize("answer", NOT_PLAIN, ids=range(len(NOT_PLAIN)))
def test_an_answer_of_another_shape_needs_the_ir(answer: dict[str, Any]) -> None:
    assert PLAIN_ANSWERS[(Format.CLAUDE, Format.OPENAI)] is claude_to_chat
    assert claude_to_chat(copy.deepcopy(answer), None, None) is None
    fast, _, _ = _attempt(FAST, REQUEST)
    assert FAST.plain_answer(Format.CLAUDE, Format.OPENAI, answer, REQUEST, fast.model, None) is None
