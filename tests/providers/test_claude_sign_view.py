"""The CCH hash view dumps a container whole when its bytes name none of the edited keys
(``claude_sign._view``): the same bytes as walking every member, wherever the edited
keys sit (nested tool inputs, text that quotes them, a trailing run of excluded keys)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from cliproxy.providers import claude_sign as signing

BODIES: list[dict[str, Any]] = [
    {"model": "claude-sonnet-4-6", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    {
        "model": "m",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": 'say "model" and "max_tokens"'}]},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "tool_use",
                        "id": "t",
                        "name": "run",
                        "input": {"model": "x", "nested": {"max_tokens": 3, "fallbacks": [1], "keep": True}},
                    }
                ],
            },
        ],
        "system": [
            {
                "type": "text",
                "text": "x-anthropic-billing-header: cc_version=1; cc_entrypoint=cli; cch=00000;",
            }
        ],
        "metadata": {"user_id": "u", "model": 7},
        "tools": [{"name": "a", "input_schema": {"fallback_credit_token": "t", "fallbacks": 2}}],
        "max_tokens": 5,
        "fallbacks": [],
    },
    {"model": "m", "messages": [], "extra": {"a": 1, "fallbacks": 1, "fallback_credit_token": 2}},
]


@pytest.mark.parametrize("body", BODIES)
def test_the_shortcut_gives_the_walks_bytes(body: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    fast = b"".join(signing._hash_view(body))
    monkeypatch.setattr(signing, "_view", signing._walk)  # every container walked
    assert fast == b"".join(signing._hash_view(body))


# large enough that sign() assembles the bytes from the view's members (_REUSED)
LARGE = [
    {**BODIES[1], "messages": BODIES[1]["messages"] * 60, "tools": [{"name": f"t{i}"} for i in range(50)]},
    {
        "model": "m",
        "max_tokens": 1,
        "messages": [{"role": "user", "content": "x" * 9000}],
        "system": "a plain string system prompt",
        "fallbacks": [],
    },
]


@pytest.mark.parametrize("body", BODIES + LARGE)
def test_signed_bytes_are_orjsons_for_the_signed_body(body: dict[str, Any]) -> None:
    """``sign`` assembles a large body's bytes from the members the hash view dumped whole:
    the same bytes as orjson's for the body it leaves, and the ``cch`` of its hash view."""
    signed = copy.deepcopy(body)
    billing = "x-anthropic-billing-header: cc_version=1; cc_entrypoint=cli; cch=00000;"
    out = signing.sign(signed, billing)
    assert out == orjson.dumps(signed)
    text = signed["system"][0]["text"]
    cch = text.split("cch=")[1][:5]
    zeroed = {
        **signed,
        "system": [{**signed["system"][0], "text": text.replace(cch, "00000")}, *signed["system"][1:]],
    }
    digest = signing.xxh64(b"".join(signing._hash_view(zeroed)), signing._CCH_SEED) & 0xFFFFF
    assert cch == f"{digest:05x}"
