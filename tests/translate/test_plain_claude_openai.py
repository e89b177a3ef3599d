"""Plain Claude Messages requests go straight into an OpenAI-compatible upstream's Chat
Completions body (issue 21, translation added time): ``plain_requests.claude_to_chat`` must
make the body the hub makes (``claude.parse_request``, then ``openai_chat.build_request``,
in ``pipeline_prepare.start_attempt``), so the upstream request (URL, headers, body bytes)
is the same either way, with each kind of ``openai-compatibility`` entry (plain, a prompt
cache key carried, OpenRouter); every other shape goes the hub's way; the IR made later is
the hub's; and the plain Chat answer to such a request is the Claude message the hub
writes, without the IR being made."""

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
from cliproxy.providers.base import UpstreamRequest
from cliproxy.providers.compat_cache import ATTRIBUTE as CACHE_KEY
from cliproxy.providers.openai_compat import OpenAICompatProvider
from cliproxy.translate.openai_chat import ADAPTER as CHAT_ADAPTER
from cliproxy.translate.plain_requests import PLAIN_REQUESTS, claude_to_chat
from cliproxy.translate.registry import Registry, default_registry
from tests.translate.plain_harness import hub_registry, pipe

MODEL = "gpt-4o-mini"
CRED = Credential(
    id="o", provider="openai-compatibility", api_key="sk-o", base_url="http://up/v1", compat_name="up"
)
CACHED = Credential(
    id="oc",
    provider="openai-compatibility",
    api_key="sk-o",
    base_url="http://up/v1",
    compat_name="up",
    attributes={CACHE_KEY: "true"},
)
ROUTER = Credential(
    id="or",
    provider="openai-compatibility",
    api_key="sk-r",
    base_url="http://or/api/v1",
    compat_name="openrouter",
)
CREDS = (CRED, CACHED, ROUTER)
PROVIDER = OpenAICompatProvider()
HEADERS = {"user-agent": "claude-cli/2.1.0 (external, cli)", "x-claude-code-session-id": "s-1"}


FAST, HUB = default_registry(), hub_registry(CHAT_ADAPTER)


def _attempt(
    reg: Registry, body: dict[str, Any], cred: Credential = CRED, model: str = MODEL
) -> tuple[Attempt, UpstreamRequest, Any]:
    stream = body.get("stream") is True
    call = new_call(Format.CLAUDE, copy.deepcopy(body), str(body.get("model")), stream, HEADERS)
    carry = PROVIDER.carrier(cred)
    attempt = start_attempt(pipe(reg), call, cred, PROVIDER, model, False, Format.OPENAI, carry)
    upreq = PROVIDER.build(
        cred, attempt.body, model=model, stream=stream, client_headers=HEADERS, action="generate"
    )
    return attempt, upreq, call


def _same_upstream(body: dict[str, Any], cred: Credential = CRED, model: str = MODEL) -> Attempt:
    """The fast attempt of ``body``, after checking it builds the hub's upstream request."""
    fast, fast_req, fast_call = _attempt(FAST, body, cred, model)
    hub, hub_req, _ = _attempt(HUB, body, cred, model)
    assert hub.ir is not None and not hub.plain
    assert (fast_req.method, fast_req.url, fast_req.headers) == (hub_req.method, hub_req.url, hub_req.headers)
    assert fast_req.body == hub_req.body  # bytes: key order too
    assert fast_req.stream == hub_req.stream
    fast_marks = (fast.cut, fast.unled, fast.kept, fast.replay, fast.untouched)
    assert fast_marks == (hub.cut, hub.unled, hub.kept, hub.replay, hub.untouched)
    assert not fast.untouched  # the thinking step sees a translated body either way
    # the IR made later for the fast attempt is the one the hub's attempt holds
    assert fast.request(FAST, fast_call) == hub.ir
    return fast


# ------------------------------------------------------------------- accepted shapes

SYSTEMS: list[dict[str, Any]] = [
    {},
    {"system": "You are terse."},
    {"system": ""},
    {"system": "  x-anthropic-billing-header: cc_version=2.1"},
    {"system": "   "},
    {"system": []},
    {"system": [{"type": "text", "text": "one block"}]},
    {"system": [{"type": "text", "text": "x-anthropic-billing-header: a"}, {"type": "text", "text": "kept"}]},
    {"system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
    {"system": [{"type": "text", "text": ""}, {"type": "text", "text": "b"}]},
    {"system": [{"type": "text", "text": ""}]},
]
MESSAGES: list[dict[str, Any]] = [
    {"role": "user", "content": "Say hi."},
    {"role": "user", "content": [{"type": "text", "text": "one block"}]},
    {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "![x](y)"}]},
    {"role": "assistant", "content": "Hi!"},
    {"role": "assistant", "content": "![a picture](https://example.com/p.png)"},
    {"role": "assistant", "content": [{"type": "text", "text": "prefill"}]},
    {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
]
HISTORIES = [list(h) for n in (1, 2, 3) for h in itertools.product(MESSAGES, repeat=n)]

SAMPLING: dict[str, Any] = {
    "max_tokens": 64,
    "temperature": 0.7,
    "top_p": 1,
    "top_k": 40,
    "stop_sequences": ["END", "STOP"],
    "stream": False,
    "metadata": {"user_id": "user_abc_account__session_0b7c"},
}
FIELD_SETS = [
    dict(c) for n in range(len(SAMPLING) + 1) for c in itertools.combinations(SAMPLING.items(), n)
] + [
    {"stream": True},
    {"stream": True, "max_tokens": 8, "stop_sequences": ["a"], "metadata": {"user_id": "u"}},
    {"stop_sequences": []},
    {"stop_sequences": [""]},
    {"temperature": 2, "top_p": 0.5},
    {"temperature": 0},
    {"temperature": 1},
    {"max_tokens": 0},
    {"metadata": {}},
    {"metadata": {"user_id": ""}},
]


def test_every_history_and_system_builds_the_hubs_upstream_request() -> None:
    for history in HISTORIES:
        body = {"model": "bench-openai", "max_tokens": 64, "system": "Be terse.", "messages": history}
        assert claude_to_chat(body, MODEL) is not None, history
        assert _same_upstream(body).plain, history
    for system, history in itertools.product(SYSTEMS, HISTORIES[: len(MESSAGES) + 8]):
        body = {"model": "bench-openai", **system, "messages": history}
        assert _same_upstream(body).plain, (system, history)


def test_every_sampling_field_set_builds_the_hubs_upstream_request() -> None:
    history = [MESSAGES[0]]
    for fields, cred in itertools.product(FIELD_SETS, CREDS):
        body = {"model": "bench-openai", "system": "s", "messages": history, **fields}
        assert _same_upstream(body, cred).plain, (fields, cred.id)


def test_the_bench_body_and_sdk_bodies() -> None:
    bench = {
        "model": "bench-openai",
        "max_tokens": 64,
        "system": "You are terse.",
        "stream": False,
        "messages": [{"role": "user", "content": "Say hi."}],
    }
    # the anthropic SDK's messages.create (its key order), named as the upstream names it:
    # the IR is then memoised on the call
    sdk = {"max_tokens": 1024, "messages": [{"role": "user", "content": "Hello"}], "model": MODEL}
    # a simple agent's turn: text blocks, a session id, a stream
    agent = {
        "model": "bench-openai",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "What is 2+2?"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "4"}]},
            {"role": "user", "content": [{"type": "text", "text": "And 3+3?"}]},
        ],
        "system": [{"type": "text", "text": "You are a calculator."}],
        "max_tokens": 32000,
        "temperature": 1,
        "metadata": {"user_id": "user_1_account__session_2"},
        "stream": True,
    }
    for body, cred in itertools.product((bench, sdk, agent), CREDS):
        assert _same_upstream(body, cred).plain


# ------------------------------------------------------------------- refused shapes

HI: list[dict[str, Any]] = [{"role": "user", "content": "hi"}]
REFUSED: list[dict[str, Any]] = [
    {"messages": HI, "tools": [{"name": "f", "input_schema": {"type": "object"}}]},
    {"messages": HI, "tool_choice": {"type": "auto"}},
    {"messages": HI, "thinking": {"type": "enabled", "budget_tokens": 2048}},
    {"messages": HI, "output_config": {"effort": "high"}},
    {"messages": HI, "output_format": {"type": "json_schema", "schema": {"type": "object"}}},
    {"messages": HI, "service_tier": "auto"},
    {"messages": HI, "metadata": {"user_id": "u", "other": 1}},
    {"messages": HI, "metadata": {"user_id": 7}},
    {"messages": HI, "max_tokens": None},
    {"messages": HI, "temperature": None},
    {"messages": HI, "top_k": None},
    {"messages": HI, "stop_sequences": None},
    {"messages": HI, "stream": "yes"},
    {"messages": HI, "system": None},
    {"messages": HI, "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}]},
    {"messages": []},
    {"messages": [{"role": "user", "content": ""}]},
    {"messages": [{"role": "user", "content": []}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": ""}]}]},
    {"messages": [{"role": "user", "content": "hi", "id": "m1"}]},
    {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}],
            }
        ]
    },
    {"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "citations": None}]}]},
    {
        "messages": [
            {
                "role": "user",
                "content": [{"type": "image", "source": {"type": "url", "url": "http://x/i.png"}}],
            }
        ]
    },
    {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}}
                ],
            }
        ]
    },
    {"messages": [{"role": "system", "content": "mid"}, {"role": "user", "content": "hi"}]},
    {"messages": [{"role": "assistant", "content": [{"type": "text", "text": "![a](https://x/a.png)"}]}]},
    {
        "messages": [
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]}
        ]
    },
    {
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}]},
        ]
    },
]
INVALID: list[dict[str, Any]] = [  # the client's 400, from the hub
    {"messages": HI, "temperature": "hot"},
    {"messages": HI, "temperature": True},
    {"messages": HI, "max_tokens": 1.5},
    {"messages": HI, "top_k": 1.5},
    {"messages": HI, "stop_sequences": ["a", 1]},
    {"messages": HI, "system": 5},
    {"messages": HI, "model": 5},
    {"messages": "hi"},
    {"messages": [{"role": "robot", "content": "hi"}]},
    {"messages": [{"role": "user", "content": None}]},
    {"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]},
]


@pytest.mark.parametrize("body", REFUSED, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_other_shapes_go_the_hubs_way(body: dict[str, Any]) -> None:
    body = {"model": "bench-openai", **body}
    assert claude_to_chat(body, MODEL) is None
    attempt = _same_upstream(body)
    assert not attempt.plain and attempt.ir is not None


@pytest.mark.parametrize("body", INVALID, ids=lambda b: orjson.dumps(b).decode()[:60])
def test_a_wrong_body_is_the_hubs_400(body: dict[str, Any]) -> None:
    body = {"model": "bench-openai", **body}
    assert claude_to_chat(body, MODEL) is None
    for reg in (FAST, HUB):
        with pytest.raises(RequestError) as err:
            _attempt(reg, body)
        assert err.value.status == 400


def test_a_registry_with_another_adapter_writes_no_plain_request() -> None:
    assert PLAIN_REQUESTS[(Format.CLAUDE, Format.OPENAI)] is claude_to_chat
    assert FAST.plain_request(Format.CLAUDE, Format.OPENAI) is claude_to_chat
    assert HUB.plain_request(Format.CLAUDE, Format.OPENAI) is None


# ------------------------------------------------------------------- the answer, IR unmade

CHAT_ANSWER: dict[str, Any] = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-4o-mini-2024-07-18",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hi", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 9, "completion_tokens": 1, "total_tokens": 10},
}
ANSWER_BODIES = [
    {"model": "bench-openai", "max_tokens": 64, "system": "s", "messages": HI},
    {"model": "bench-openai", "messages": HISTORIES[-1], **dict(SAMPLING, stream=False)},
    {
        "model": MODEL,
        "system": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        "messages": HI,
    },
]


def _hub_answer(answer: dict[str, Any], request: Any, alias: str | None) -> tuple[dict[str, Any], Any]:
    """The Claude message the adapters write (``parse_response`` then ``build_response``),
    not the plain translator under test."""
    resp = HUB.adapter(Format.OPENAI).parse_response(answer, request)
    if alias:
        resp.model = alias
    return HUB.adapter(Format.CLAUDE).build_response(resp, request), resp.usage


@pytest.mark.parametrize("alias", ["bench-openai", None])
@pytest.mark.parametrize("body", ANSWER_BODIES, ids=range(len(ANSWER_BODIES)))
def test_a_plain_answer_needs_no_ir(body: dict[str, Any], alias: str | None) -> None:
    fast, _, _ = _attempt(FAST, body)
    hub, _, _ = _attempt(HUB, body)
    answer = copy.deepcopy(CHAT_ANSWER)
    direct = FAST.plain_answer(Format.OPENAI, Format.CLAUDE, answer, body, fast.model, alias)
    assert direct is not None and fast.plain and fast.ir is None
    out, usage = _hub_answer(copy.deepcopy(CHAT_ANSWER), hub.ir, alias)
    assert orjson.dumps(direct[0]) == orjson.dumps(out)
    assert direct[1] == usage
    # an answer of another shape: the IR is needed
    cut = copy.deepcopy(CHAT_ANSWER)
    cut["choices"][0]["finish_reason"] = "length"
    assert FAST.plain_answer(Format.OPENAI, Format.CLAUDE, cut, body, fast.model, alias) is None
