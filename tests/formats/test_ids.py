"""formats/ids.py: random ids drawn from a buffer of os.urandom bytes."""

from __future__ import annotations

import os
import re

import pytest

from cliproxy.formats import ids


def test_ids_are_hex_of_the_asked_length_and_never_repeat():
    drawn = [ids.uuid_hex() for _ in range(5000)]  # crosses several 4 KiB refills
    assert all(re.fullmatch(r"[0-9a-f]{32}", d) for d in drawn)
    assert len(set(drawn)) == len(drawn)
    assert re.fullmatch(r"[0-9a-f]{24}", ids.token_hex(12))
    assert re.fullmatch(r"[0-9a-f]{10000}", ids.token_hex(5000))  # larger than one chunk


def test_one_system_call_serves_many_ids(monkeypatch):
    calls = []
    real = os.urandom

    def counting(n: int) -> bytes:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(ids.os, "urandom", counting)
    ids._forget()
    for _ in range(200):
        ids.uuid_hex()
    assert calls == [ids.CHUNK]  # 200 ids of 16 bytes fit in one 4 KiB fetch


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_does_not_repeat_its_parents_ids():
    ids.uuid_hex()  # the parent has a filled buffer
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ids.uuid_hex().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != ids.uuid_hex()
