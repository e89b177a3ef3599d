"""A Claude client's ``role: system`` turn inside ``messages`` is not its system prompt (that
is the body's ``system``): CPA sends it to every non-Claude upstream as a user turn wrapped
in ``<system-reminder>``, even when it comes first (codex_claude_request_test.go
TestConvertClaudeRequestToCodex_SystemMessageScenarios, "Message system role does not
become developer"; the OpenAI and Gemini translators call the same
ClaudeMessageSystemReminderText, which joins the turn's texts with one newline). Before,
a leading such turn was sent as the developer / system prompt / systemInstruction."""

from __future__ import annotations

from typing import Any

from ._run import CLAUDE, CODEX, GEMINI, OPENAI, req

LEADING = [
    {"role": "system", "content": [{"type": "text", "text": "Rule A"}, {"type": "text", "text": "Rule B"}]},
    {"role": "user", "content": "hello"},
]
REMINDER = "<system-reminder>\nRule A\nRule B\n</system-reminder>"


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-3-opus", "max_tokens": 16, "messages": LEADING, **extra}


def test_codex_leading_turn_is_a_user_reminder() -> None:
    out = req(CLAUDE, CODEX, _body(), "gpt-5.1-codex")
    assert [(i["role"], i["content"][0]["text"]) for i in out["input"]] == [
        ("user", REMINDER),
        ("user", "hello"),
    ]
    assert out["instructions"] == ""


def test_codex_system_prompt_stays_developer_before_the_reminder() -> None:
    out = req(CLAUDE, CODEX, _body(system="Top-level rules"), "gpt-5.1-codex")
    assert [(i["role"], i["content"][0]["text"]) for i in out["input"]] == [
        ("developer", "Top-level rules"),
        ("user", REMINDER),
        ("user", "hello"),
    ]


def test_chat_leading_turn_is_a_user_reminder() -> None:
    """openai_claude_request.go: the same reminder for a Chat upstream; the body's system
    prompt stays the system message."""
    out = req(CLAUDE, OPENAI, _body(system=[{"type": "text", "text": "Top-level rules"}]), "gpt-5")
    msgs = out["messages"]
    assert [m["role"] for m in msgs] == ["system", "user", "user"]
    assert msgs[1]["content"] == [{"type": "text", "text": REMINDER}]
    out = req(CLAUDE, OPENAI, _body(), "gpt-5")
    assert [m["role"] for m in out["messages"]] == ["user", "user"]


def test_gemini_leading_turn_is_no_system_instruction() -> None:
    """gemini_claude_request.go: the turn is user text in a reminder, not systemInstruction
    (we keep one reminder part per text block and one user content for the two user
    turns; Gemini reads the same text)."""
    out = req(CLAUDE, GEMINI, _body(), "gemini-2.5-pro")
    assert "systemInstruction" not in out
    texts = [p["text"] for c in out["contents"] for p in c["parts"]]
    assert [c["role"] for c in out["contents"]] == ["user"]
    assert texts[-1] == "hello"
    assert all(t.startswith("<system-reminder>\n") for t in texts[:-1])
    assert "Rule A" in texts[0] and "Rule B" in "".join(texts[:-1])
    out = req(CLAUDE, GEMINI, _body(system="Top-level rules"), "gemini-2.5-pro")
    assert out["systemInstruction"] == {"parts": [{"text": "Top-level rules"}]}
