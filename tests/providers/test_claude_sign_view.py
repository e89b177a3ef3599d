"""The CCH hash view dumps a container whole when its bytes name none of the edited keys
(``claude_cloak._view``): the same bytes as walking every member, wherever the edited
keys sit (nested tool inputs, text that quotes them, a trailing run of excluded keys)."""

from __future__ import annotations

from typing import Any

import pytest

from cliproxy.providers import claude_cloak as cloaking

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
    fast = b"".join(cloaking._hash_view(body))
    monkeypatch.setattr(cloaking, "_view", cloaking._walk)  # every container walked
    assert fast == b"".join(cloaking._hash_view(body))
