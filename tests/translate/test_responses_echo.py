"""The fields a Responses answer repeats from its request (``response._echo``): for the
common request (no tools, reasoning or text settings) they are written directly (issue 21,
Responses -> Claude added time); they must be what the general way gives, reading them
back from the request ``build_request`` writes, whichever of them the client sent."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.translate.openai_responses import ADAPTER
from cliproxy.translate.openai_responses.build import build_request
from cliproxy.translate.openai_responses.response import _echo, _echoed

BASE: dict[str, Any] = {"model": "m", "input": "hi"}
CASES: list[dict[str, Any]] = [
    {},
    {"instructions": "Be brief.", "max_output_tokens": 64, "stream": False},
    {"temperature": 0, "top_p": 0.5, "parallel_tool_calls": False, "user": "u", "metadata": {"k": "v"}},
    {"store": True, "truncation": "auto", "previous_response_id": "resp_1", "metadata": None},
    {
        "parallel_tool_calls": None,
        "temperature": None,
        "top_p": None,
        "user": None,
        "max_output_tokens": None,
    },
    {"store": None, "truncation": None, "instructions": None, "service_tier": "flex", "include": []},
    {"reasoning": None, "text": None},
    {"tools": [], "prompt_cache_key": "k", "safety_identifier": "s"},
]


@pytest.mark.parametrize("extra", CASES)
def test_the_direct_echo_is_the_general_one(extra: dict[str, Any]) -> None:
    """The direct echo equals the one read from ``build_request``'s body, key for key."""
    req = ADAPTER.parse_request({**BASE, **extra})
    assert _echo(req) == _echoed(build_request(req, messages=False))
