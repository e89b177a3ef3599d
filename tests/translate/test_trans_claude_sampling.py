"""Claude Messages requests: ``_sampling`` reads ``max_tokens`` alone when no other
sampling key is there, and a request whose turns are all strings makes no ``BlockParser``.
Each body is parsed as sent and with ``"temperature": null`` added (the general branch,
which leaves the IR's ``None``): the IRs and the upstream bodies built from them for each
format are equal byte for byte, and a bad value is refused with the same message either way.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.errors import RequestError
from cliproxy.formats import Format
from cliproxy.translate.registry import default_registry

REG = default_registry()

CLAUDE_BODIES: list[dict[str, Any]] = [
    {
        "model": "m",
        "max_tokens": 64,
        "system": "You are terse.",
        "messages": [{"role": "user", "content": "Hi"}],
    },
    {"model": "m", "max_tokens": 64, "stream": False, "messages": [{"role": "user", "content": "Hi"}]},
    {"model": "m", "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
    {"model": "m", "max_tokens": None, "stream": None, "messages": [{"role": "user", "content": "Hi"}]},
    {
        "model": "m",
        "max_tokens": 9,
        "system": [{"type": "text", "text": "sys one"}, {"type": "text", "text": "sys two"}],
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "a"}]},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ],
        "stop_sequences": ["END"],
        "temperature": 1,
        "top_p": 0.5,
        "top_k": 4,
    },
    {
        "model": "m",
        "max_tokens": 100,
        "stop_sequences": None,
        "metadata": {"user_id": "u"},
        "messages": [
            {"role": "user", "content": "weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "checking"},
                    {"type": "tool_use", "id": "t1", "name": "w", "input": {"city": "x"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny"}]},
        ],
        "tools": [{"name": "w", "input_schema": {"type": "object", "properties": {}}}],
    },
]


@pytest.mark.parametrize("upstream", [Format.OPENAI, Format.GEMINI, Format.RESPONSES])
@pytest.mark.parametrize("body", CLAUDE_BODIES)
def test_claude_max_tokens_branch_parses_what_the_general_one_parses(
    body: dict[str, Any], upstream: Format
) -> None:
    claude = REG.adapter(Format.CLAUDE)
    short = claude.parse_request(copy.deepcopy(body))
    general = claude.parse_request({**copy.deepcopy(body), "temperature": body.get("temperature")})
    assert short == general
    build = REG.adapter(upstream).build_request
    assert orjson.dumps(build(short)) == orjson.dumps(build(general))


@pytest.mark.parametrize("value", [1.5, "64", True, [64], {"n": 1}])
@pytest.mark.parametrize("others", [{}, {"temperature": 0.5}, {"top_k": 3}])
def test_claude_bad_max_tokens_is_refused_alike(value: Any, others: dict[str, Any]) -> None:
    body = {"model": "m", "max_tokens": value, "messages": [{"role": "user", "content": "Hi"}], **others}
    with pytest.raises(RequestError, match=r"^max_tokens: must be a number$"):
        REG.adapter(Format.CLAUDE).parse_request(body)


@pytest.mark.parametrize("key", ["temperature", "top_p", "top_k"])
def test_claude_bad_sampling_value_is_named(key: str) -> None:
    body = {"model": "m", "max_tokens": 5, key: "hot", "messages": [{"role": "user", "content": "Hi"}]}
    with pytest.raises(RequestError, match=rf"^{key}: must be a number$"):
        REG.adapter(Format.CLAUDE).parse_request(body)


def test_claude_stop_sequences_are_checked_when_present() -> None:
    body = {
        "model": "m",
        "max_tokens": 5,
        "stop_sequences": "END",
        "messages": [{"role": "user", "content": "Hi"}],
    }
    with pytest.raises(RequestError, match=r"^stop_sequences: must be a list of strings$"):
        REG.adapter(Format.CLAUDE).parse_request(body)
    body["stop_sequences"] = ["END"]
    assert REG.adapter(Format.CLAUDE).parse_request(body).stop == ["END"]
