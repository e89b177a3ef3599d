"""Session keys follow CPA's precedence."""

from __future__ import annotations

from cliproxy.credentials.session import extract_session_key, extract_session_keys, normalize_session_id

ALL_HEADERS = {
    "X-Claude-Code-Session-Id": "cc",
    "Session-Id": "cx",
    "Session_id": "cx2",
    "X-Session-ID": "h",
    "X-Session-Affinity": "aff",
    "X-Client-Request-Id": "req",
}
BODY = {
    "metadata": {"user_id": "user_abc_account__session_1234-abcd"},
    "session_id": "s",
    "prompt_cache_key": "p",
    "conversation": {"id": "c"},
    "conversation_id": "cid",
}


def test_header_precedence():
    headers = dict(ALL_HEADERS)
    expected = [
        "claude:cc",
        "claude:1234-abcd",
        "codex:cx",
        "codex:cx2",
        "header:h",
        "affinity:aff",
        "clientreq:req",
        "session:s",
        "pck:p",
    ]
    order = [
        "X-Claude-Code-Session-Id",
        None,
        "Session-Id",
        "Session_id",
        "X-Session-ID",
        "X-Session-Affinity",
        "X-Client-Request-Id",
        "session_id",
    ]
    body = dict(BODY)
    for name, want in zip(order, expected, strict=False):
        assert extract_session_key(headers, body) == want
        if name is None:
            body["metadata"] = {"user_id": "plain-user"}
        elif name in headers:
            del headers[name]
        else:
            del body[name]
    assert extract_session_keys(headers, body) == ("pck:p", "conv:c")


def test_body_fallbacks():
    assert extract_session_key({"x-session-id": "lower"}, None) == "header:lower"
    assert extract_session_key({}, {"conversation": "c2", "metadata": {"user_id": "u"}}) == "conv:c2"
    assert extract_session_key({}, {"metadata": {"user_id": "u"}}) == "user:u"
    assert extract_session_key({}, {"metadata": {"user_id": '{"session_id":"js"}'}}) == "claude:js"
    assert extract_session_key({}, {"conversation_id": 7}) == "conv:7"
    assert extract_session_key({}, {}, {"execution_session_id": "e"}) == "execution:e"
    assert extract_session_key({}, {}, {"derived_session_id": "d"}) == "derived:d"
    assert extract_session_key({"Session-Id": "bad\nid"}, {}) is None
    assert normalize_session_id("x" * 257) == ""


def test_message_hash_fallback():
    body = {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi"}]}
    primary, fallback = extract_session_keys({}, body)
    # FNV-1a 64 of b"sys:sys\nusr:hi\n"
    value = 0xCBF29CE484222325
    for byte in b"sys:sys\nusr:hi\n":
        value = ((value ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    assert (primary, fallback) == (f"msg:{value:016x}", "")
    body["messages"].append({"role": "assistant", "content": [{"type": "text", "text": "yo"}]})
    longer, short = extract_session_keys({}, body)
    assert short == primary and longer != primary
    gemini = {
        "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
        "systemInstruction": {"parts": [{"text": "sys"}]},
    }
    assert extract_session_keys({}, gemini)[0] == primary
    responses = {
        "instructions": "sys",
        "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
    }
    assert extract_session_keys({}, responses)[0] == primary
    assert extract_session_keys({}, {"messages": []}) == ("", "")


def test_odd_role_values_do_not_break_the_message_hash():
    # a role that is a JSON array or object is unhashable: it must be skipped, not raise
    # (the session key is read before the body is validated, so it sees any client input)
    chat = {"messages": [{"role": ["user"], "content": "hi"}, {"role": "user", "content": "hi"}]}
    assert extract_session_keys({}, chat) == extract_session_keys({}, {"messages": chat["messages"][1:]})
    gemini = {
        "contents": [
            {"role": {"r": 1}, "parts": [{"text": "x"}]},
            {"role": "user", "parts": [{"text": "hi"}]},
        ]
    }
    assert extract_session_keys({}, gemini) == extract_session_keys(
        {}, {"messages": [{"role": "user", "content": "hi"}]}
    )
    responses = {"input": [{"role": ["user"], "content": "x"}, {"role": "user", "content": "hi"}]}
    assert extract_session_keys({}, responses) == extract_session_keys({}, {"input": responses["input"][1:]})


def test_message_hash_reads_a_late_system_turn_and_skips_later_texts():
    """The opening is the first system, user and assistant texts in ``messages``: a system
    turn after many others still beats the top-level ``system``, and the user and assistant
    texts after the first ones change nothing (read or not)."""
    turns = []
    for i in range(40):
        turns.append({"role": "user", "content": [{"type": "text", "text": f"u{i}"}]})
        turns.append({"role": "assistant", "content": [{"type": "text", "text": f"a{i}"}]})
    late = {"system": "top", "messages": [*turns, {"role": "system", "content": "late"}]}
    early = {"messages": [{"role": "system", "content": "late"}, *turns[:2]]}
    assert extract_session_keys({}, late) == extract_session_keys({}, early)
    plain = {"system": "top", "messages": turns}
    assert extract_session_keys({}, plain) == extract_session_keys(
        {}, {"system": "top", "messages": turns[:2]}
    )
    # a first user turn with no text leaves its slot open for the next one
    blank = {"messages": [{"role": "user", "content": [{"type": "image"}]}, *turns[:2]]}
    assert extract_session_keys({}, blank) == extract_session_keys({}, {"messages": turns[:2]})
