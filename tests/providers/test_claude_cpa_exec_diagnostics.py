"""CPA's ``claude_executor_diagnostics_test.go`` on :mod:`cliproxy.providers.claude_diagnostics`
itself (the proxy's side is ``tests/e2e/test_claude_cpa_exec_diagnostics.py``)."""

from __future__ import annotations

import uuid

import orjson

from cliproxy.providers import claude_diagnostics as diagnostics

CONTEXT = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}


def test_diagnostics_follow_context_management_and_carry_the_committed_id() -> None:
    """Null on the first turn, right after ``context_management`` and before what followed
    it; the committed id on the next turn of the same credential and conversation.

    CPA: TestInjectClaudeDiagnosticsMatchesNativeFieldOrderAndContinuity."""
    cred, session = f"cred-{uuid.uuid4()}", f"session-{uuid.uuid4()}"
    first = {"context_management": CONTEXT, "max_tokens": 1, "messages": []}
    ticket = diagnostics.inject(first, cred, session)
    assert ticket is not None
    want = (
        b'"context_management":'
        + orjson.dumps(CONTEXT)
        + b',"diagnostics":{"previous_message_id":null},"max_tokens"'
    )
    assert orjson.dumps(first).find(want) >= 0
    diagnostics.commit(ticket, "msg_01ABCDEF0123456789ABCDEFG")
    second = {"context_management": CONTEXT, "max_tokens": 1, "messages": []}
    diagnostics.inject(second, cred, session)
    assert second["diagnostics"] == {"previous_message_id": "msg_01ABCDEF0123456789ABCDEFG"}
    other = {"max_tokens": 1, "diagnostics": {"x": 1}, "messages": []}  # the caller's own: replaced in place
    diagnostics.inject(other, cred, f"session-{uuid.uuid4()}")
    assert list(other) == ["max_tokens", "diagnostics", "messages"]
    assert other["diagnostics"] == {"previous_message_id": None}


def test_no_conversation_no_diagnostics() -> None:
    body = {"messages": []}
    assert diagnostics.inject(body, "cred", "") is None and "diagnostics" not in body


def test_an_older_request_does_not_overwrite_a_newer_commit() -> None:
    """Two requests of one conversation in flight: the newer one's answer stays the
    previous id even when the older one completes after it (CPA's
    ``CommitClaudeDiagnostics`` sequence check)."""
    cred, session = f"cred-{uuid.uuid4()}", f"session-{uuid.uuid4()}"
    older, _ = diagnostics.begin(cred, session)
    newer, _ = diagnostics.begin(cred, session)
    assert older is not None and newer is not None
    diagnostics.commit(newer, "msg_newer")
    diagnostics.commit(older, "msg_older")
    assert diagnostics.begin(cred, session)[1] == "msg_newer"


def test_only_a_completed_stream_names_its_message() -> None:
    """CPA: TestClaudeMessageIDFromSSECommitsOnlyCompletedMessage."""
    start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_complete"}}\n\n'
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert diagnostics.message_id_of_stream(start + stop) == "msg_complete"
    assert diagnostics.message_id_of_stream(start) == ""
    cred, session = f"cred-{uuid.uuid4()}", f"session-{uuid.uuid4()}"
    ticket, _ = diagnostics.begin(cred, session)
    assert ticket is not None
    watch = diagnostics.StreamWatch(ticket)
    watch.feed(start)
    assert diagnostics.begin(cred, session)[1] == ""  # not yet: the stream has not ended
    ticket, _ = diagnostics.begin(cred, session)
    assert ticket is not None
    watch = diagnostics.StreamWatch(ticket)
    watch.feed(start)
    watch.feed(stop)
    assert diagnostics.begin(cred, session)[1] == "msg_complete"
