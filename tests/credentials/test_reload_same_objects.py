"""A reload hands the pool the very objects it already holds for unchanged credentials
(the auth-file cache keeps them): what :meth:`Pool.replace` reports must not change."""

from __future__ import annotations

import dataclasses

from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import KIND_OAUTH, Credential


def _cred(cid: str, **kw: object) -> Credential:
    return Credential(id=cid, provider="claude", kind=KIND_OAUTH, metadata={"access_token": "at"}, **kw)  # type: ignore[arg-type]


def test_same_objects_report_only_what_changed(clock) -> None:
    a, off, disabled, own = (
        _cred("a"),
        _cred("off"),
        _cred("d", disabled=True),
        _cred("own", disable_cooling=False),
    )
    pool = Pool(clock=clock)
    pool.replace([a, off, disabled, own])
    assert pool.replace([a, off, disabled, own]) == ["d"]  # a disabled one is always handed on
    rotated = dataclasses.replace(a, metadata={"access_token": "new"})
    assert pool.replace([rotated, off, disabled, own]) == ["a", "d"]
    pool.configure(disable_cooling=True)  # cooling turned off: those following the global switch
    assert pool.replace([rotated, off, disabled, own]) == ["a", "off", "d"]
    assert pool.replace([rotated, off, disabled, own]) == ["d"]
