"""CPA's ``claude_executor_diagnostics_test.go`` on :mod:`cliproxy.providers.claude_diagnostics`
itself (the proxy's side is ``tests/e2e/test_claude_cpa_exec_diagnostics.py``)."""

from __future__ import annotations

import orjson

from cliproxy.providers import claude_diagnostics as diagnostics

CONTEXT = {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]}


def test_diagnostics_follow_context_management_and_carry_the_committed_id() -> None:
    """Null on the first turn, right after ``context_management`` and before what followed
    it; the committed id on the next turn of the same credential and conversation.

    CPA: TestInjectClaudeDiagnosticsMatchesNativeFieldOrderAndContinuity."""
    table, cred, session = diagnostics.Diagnostics(), "cred", "session"
    first = {"context_management": CONTEXT, "max_tokens": 1, "messages": []}
    ticket = table.inject(first, cred, session)
    assert ticket is not None
    want = (
        b'"context_management":'
        + orjson.dumps(CONTEXT)
        + b',"diagnostics":{"previous_message_id":null},"max_tokens"'
    )
    assert orjson.dumps(first).find(want) >= 0
    table.commit(ticket, "msg_01ABCDEF0123456789ABCDEFG")
    second = {"context_management": CONTEXT, "max_tokens": 1, "messages": []}
    table.inject(second, cred, session)
    assert second["diagnostics"] == {"previous_message_id": "msg_01ABCDEF0123456789ABCDEFG"}
    other = {"max_tokens": 1, "diagnostics": {"x": 1}, "messages": []}  # the caller's own: replaced in place
    table.inject(other, cred, "session-other")
    assert list(other) == ["max_tokens", "diagnostics", "messages"]
    assert other["diagnostics"] == {"previous_message_id": None}


def test_no_conversation_no_diagnostics() -> None:
    body = {"messages": []}
    assert diagnostics.Diagnostics().inject(body, "cred", "") is None and "diagnostics" not in body


def test_an_older_request_does_not_overwrite_a_newer_commit() -> None:
    """Two requests of one conversation in flight: the newer one's answer stays the
    previous id even when the older one completes after it (CPA's
    ``CommitClaudeDiagnostics`` sequence check).

    CPA: TestClaudeDiagnosticsRejectsLateOlderCommit"""
    table = diagnostics.Diagnostics()
    older, _ = table.begin("credential", "session")
    newer, _ = table.begin("credential", "session")
    assert older is not None and newer is not None
    table.commit(newer, "msg_newer")
    table.commit(older, "msg_older")
    assert table.begin("credential", "session")[1] == "msg_newer"


def test_only_a_completed_stream_names_its_message() -> None:
    """CPA: TestClaudeMessageIDFromSSECommitsOnlyCompletedMessage."""
    start = b'event: message_start\ndata: {"type":"message_start","message":{"id":"msg_complete"}}\n\n'
    stop = b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    assert diagnostics.message_id_of_stream(start + stop) == "msg_complete"
    assert diagnostics.message_id_of_stream(start) == ""
    table, cred, session = diagnostics.Diagnostics(), "cred", "session"
    ticket, _ = table.begin(cred, session)
    assert ticket is not None
    watch = diagnostics.StreamWatch(ticket)
    watch.feed(start)
    assert table.begin(cred, session)[1] == ""  # not yet: the stream has not ended
    ticket, _ = table.begin(cred, session)
    assert ticket is not None
    watch = diagnostics.StreamWatch(ticket)
    watch.feed(start)
    watch.feed(stop)
    assert table.begin(cred, session)[1] == "msg_complete"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_last_id_is_kept_per_credential_and_conversation() -> None:
    """Empty on the first turn, the committed id on the next; another conversation of the
    credential, or the conversation on another credential, starts empty. Sequences only
    grow (CPA counts 1, 2...; here they are wall-clock nanoseconds, so that the workers
    sharing a state backend order one conversation's requests alike).

    CPA: TestClaudeDiagnosticsTracksCompletedMessagePerCredentialSession"""
    table = diagnostics.Diagnostics()
    first, previous = table.begin("credential-a", "session-a")
    assert first is not None and first.key and previous == ""
    table.commit(first, "msg_first")
    second, previous = table.begin("credential-a", "session-a")
    assert second is not None and second.sequence > first.sequence and previous == "msg_first"
    assert table.begin("credential-a", "session-b")[1] == ""
    assert table.begin("credential-b", "session-a")[1] == ""


def test_an_expired_conversations_late_answer_stays_out_of_the_new_one() -> None:
    """CPA: TestClaudeDiagnosticsRejectsExpiredGenerationCommit"""
    clock = Clock()
    table = diagnostics.Diagnostics(clock)
    expired, _ = table.begin("credential", "session")
    clock.now += diagnostics.TTL + 1
    current, previous = table.begin("credential", "session")
    assert expired is not None and current is not None
    assert current.key == expired.key and current.sequence > expired.sequence and previous == ""
    table.commit(current, "msg_current")
    table.commit(expired, "msg_expired")
    assert table.begin("credential", "session")[1] == "msg_current"


def test_the_table_evicts_the_least_recently_used_at_capacity() -> None:
    """At most MAX_ENTRIES conversations: the oldest goes, the newest stays, and an answer
    of the evicted one's request does not land in the conversation begun again.

    CPA: TestClaudeDiagnosticsCacheEvictsOldestEntriesWithinCapacity"""
    table = diagnostics.Diagnostics()
    first, _ = table.begin("credential", "session-0")
    newest = first
    for index in range(1, diagnostics.MAX_ENTRIES + 1):
        newest, _ = table.begin("credential", f"session-{index}")
    assert first is not None and newest is not None
    assert len(table.entries) <= diagnostics.MAX_ENTRIES
    assert first.key not in table.entries and newest.key in table.entries
    again, _ = table.begin("credential", "session-0")
    assert again is not None and again.key == first.key and again.sequence > first.sequence
    table.commit(again, "msg_recreated")
    table.commit(first, "msg_evicted")
    assert table.begin("credential", "session-0")[1] == "msg_recreated"


def test_another_processes_commit_is_adopted_unless_a_newer_one_is_here() -> None:
    """A commit told by another worker becomes the conversation's last id, even for a
    conversation this process never saw or whose first request here began later; an
    older one than this process's own last commit is dropped."""
    here = diagnostics.Diagnostics()
    there = diagnostics.Diagnostics()
    told: list[tuple[str, int, str]] = []
    there.published = lambda *commit: told.append(commit)
    ticket, _ = there.begin("credential", "session")
    assert ticket is not None
    mine, _ = here.begin("credential", "session")  # begun after the other's request
    there.commit(ticket, "msg_there")
    here.adopt(*told[-1])
    assert here.begin("credential", "session")[1] == "msg_there"
    assert mine is not None
    here.commit(mine, "msg_here")  # newer: kept
    here.adopt(ticket.key, ticket.sequence, "msg_late")
    assert here.begin("credential", "session")[1] == "msg_here"
    fresh = diagnostics.Diagnostics()
    fresh.adopt(*told[-1])
    assert fresh.begin("credential", "session")[1] == "msg_there"
