"""The leaf types of one request: a frozen ``Call``, an ``Attempt`` that never renames the
client's IR, an interceptor's answer as a typed error."""

from __future__ import annotations

import copy
import dataclasses
import pickle

import pytest

from cliproxy.calls import Attempt, Call, Reply, RequestTerminated, new_call
from cliproxy.formats import Format
from cliproxy.translate.registry import default_registry

BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


def test_a_call_cannot_be_changed_only_replaced():
    call = Call(Format.OPENAI, dict(BODY), "m", False, {"X-A": "1"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        call.headers = {"X-A": "2"}  # type: ignore[misc]
    other = dataclasses.replace(call, headers={"X-A": "2"})
    assert call.headers == {"X-A": "1"} and other.headers == {"X-A": "2"}


def test_a_call_built_fast_is_a_whole_frozen_dataclass():
    call = Call(Format.OPENAI, dict(BODY), "m", True, {"X-A": "1"}, trace="t")
    assert type(call) is Call and dataclasses.is_dataclass(call)
    assert (call.query, call.action, call.alt, call.pin, call.pinned) == ({}, "generate", None, "", None)
    assert (
        Call(Format.OPENAI, BODY, "m", False, {}).query is not Call(Format.OPENAI, BODY, "m", False, {}).query
    )
    for f in dataclasses.fields(Call):  # every field guarded, as a frozen dataclass's are
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(call, f.name, None)
    assert copy.copy(call) == call and pickle.loads(pickle.dumps(call)) == call
    assert dataclasses.replace(call, stream=False) == Call(
        Format.OPENAI, dict(BODY), "m", False, {"X-A": "1"}, trace="t"
    )
    assert "trace='t'" in repr(call) and "pinned" not in repr(call)
    fast = new_call(Format.OPENAI, dict(BODY), "m", True, {"X-A": "1"}, trace="t")  # the server's
    assert type(fast) is Call and fast == call


def test_the_client_ir_is_parsed_once_and_an_attempt_renames_a_copy():
    reg = default_registry()
    call = Call(Format.OPENAI, dict(BODY), "m", False, {})
    client = call.client_ir(reg)
    assert call.client_ir(reg) is client  # parsed once
    upstream = Attempt.for_model(client, "upstream-name")
    assert upstream.model == "upstream-name" and upstream.messages is client.messages
    assert client.model == "m"  # the next attempt starts from the client's request
    assert Attempt.for_model(client, "m") is client  # nothing to rename: no copy


def test_an_attempt_under_another_name_never_renames_what_a_later_attempt_reads():
    """``ir_under``: a first attempt parses and renames its own IR (no copy, no memo); once
    the client's IR is memoised, an attempt under another name gets a renamed copy."""
    reg = default_registry()
    call = Call(Format.OPENAI, dict(BODY), "m", False, {})
    first = call.ir_under(reg, "upstream-a")
    assert first.model == "upstream-a"
    client = call.client_ir(reg)  # parsed again: the first attempt's IR was its own
    assert client is not first and client.model == "m"
    second = call.ir_under(reg, "upstream-b")
    assert second.model == "upstream-b" and second.messages is client.messages
    assert call.client_ir(reg) is client and client.model == "m" and first.model == "upstream-a"
    assert call.ir_under(reg, "m") is client  # the client's own name: the memo itself
    fresh = Call(Format.OPENAI, dict(BODY), "m", False, {})
    same = fresh.ir_under(reg, "m")  # no rename: memoised as client_ir memoises it
    assert fresh.client_ir(reg) is same and same.model == "m"


def test_a_terminated_request_carries_its_reply():
    stop = RequestTerminated(403, b'{"error":"no"}', None, "gate")
    assert stop.status == 403 and "gate" in stop.message
    assert stop.reply == Reply(403, b'{"error":"no"}', {"Content-Type": "application/json"})
