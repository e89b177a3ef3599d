"""CPA's ``claude_executor_thinking_signature_test.go``: the signatures of thinking blocks a
client sends back leave byte for byte through what the Claude provider does to a cloaked
OAuth request (Claude Code's system layout and currentDate, sensitive words, the custom
tools' MCP aliases, CCH signing), built by the provider itself."""

from __future__ import annotations

from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.providers.claude import ClaudeProvider
from tests.providers.test_claude_fast_mode import fresh

# shapes that survive only if nothing re-escapes or rewrites the string: base64 padding,
# JSON metacharacters, escapes and controls, astral and separator runes, a long value
SIGNATURES = [
    "ErUBCkYIBRgCKkDq+9zN/vQ7aB1c2dEf==",
    'sig/with+slashes==and"quotes"and\\backslashes',
    "line\nbreak\ttab\u0000null\u001fcontrol",
    "unicode-\u4e2d\u6587-\U0001f600-\u200b-\ufeff",
    "a/b<c>d&e'f\u2028\u2029",
    "EqQBCkYIBRgCKkD" * 400 + "==",
]


def history(signatures: list[str], first: str) -> dict[str, Any]:
    """A conversation whose assistant turns each think (with a signature) then call a
    declared custom tool."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"type": "text", "text": first}]}]
    for i, signature in enumerate(signatures):
        call = f"toolu_{chr(ord('a') + i)}"
        thinking = {"type": "thinking", "thinking": "reasoning step", "signature": signature}
        use = {"type": "tool_use", "id": call, "name": "search_web", "input": {}}
        messages.append({"role": "assistant", "content": [thinking, use]})
        result = {"type": "tool_result", "tool_use_id": call, "content": "tool output"}
        messages.append({"role": "user", "content": [result]})
    return {
        "model": "claude-opus-5",
        "max_tokens": 1024,
        "thinking": {"type": "adaptive"},
        "messages": messages,
        "tools": [{"name": "search_web", "input_schema": {"type": "object"}}],
    }


def sent(body: dict[str, Any], **attributes: str) -> dict[str, Any]:
    credential = Credential(
        id="c-signatures",
        provider="claude",
        api_key="sk-ant-oat-test",
        attributes={"cloak_mode": "always", **attributes},
    )
    req = fresh(
        lambda: ClaudeProvider().build(credential, body, model=body["model"], stream=False, client_headers={})
    )
    return orjson.loads(req.body)


def signatures_of(body: dict[str, Any]) -> list[str]:
    return [
        b["signature"]
        for m in body["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if "signature" in b
    ]


def test_signatures_survive_the_cloak_aliases_and_signing() -> None:
    """CPA: TestClaudeThinkingSignaturesSurviveUpstreamPreparation."""
    out = sent(history(SIGNATURES, "first question"))
    assert signatures_of(out) == SIGNATURES
    assert out["tools"][0]["name"] != "search_web"  # (the alias pass had work to do)
    assert out["system"][0]["text"].startswith("x-anthropic-billing-header:")  # (signed)


def test_sensitive_words_never_reach_a_signature() -> None:
    """CPA: TestClaudeThinkingSignaturesSurviveSensitiveWordObfuscation."""
    signature = "ErUBCkYIBRgCproxyKkDq+9zN=="
    out = sent(history([signature], "please use the proxy now"), cloak_sensitive_words="proxy")
    texts = [
        b["text"]
        for m in out["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b.get("type") == "text"
    ]
    assert any("\u200b" in text for text in texts)  # the word in the text was hidden
    assert signatures_of(out) == [signature]
