"""A change in auth-dir re-reads only the files it names, in a worker thread."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

import orjson

from cliproxy.credentials.files import load_auth_dir, read_auth_files, swap_auth_files
from cliproxy.credentials.record import Credential

FAR = "2099-01-01T00:00:00Z"


def _claude(token: str, email: str = "u@example.com") -> bytes:
    return orjson.dumps({"type": "claude", "email": email, "access_token": token, "expired": FAR})


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


async def _until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


def _token(proxy, name: str) -> str | None:
    cred = proxy.service.pool.get(name)
    return None if cred is None else cred.metadata.get("access_token")


async def test_a_change_rereads_only_the_changed_file(start_proxy):
    """CPA: TestAuthFileEventsDoNotInvokeSnapshotCoreAuths, TestPrepareAuthUpdatesLockedForceAndDelete:
    a changed file is re-read alone, a removed one's credential leaves the pool, every
    other credential stays the same object."""
    proxy = await start_proxy("api-keys: [k]\n", watch=True)
    auth = proxy.service.auth_dir
    for i in range(20):
        (auth / f"c-{i:02}.json").write_bytes(_claude(f"t{i}", f"u{i}@example.com"))
    await _until(lambda: len(proxy.service.pool.credentials()) == 20)
    untouched = {c.id: c for c in proxy.service.pool.credentials()}

    _replace(auth / "c-03.json", _claude("new", "u3@example.com"))
    (auth / "c-05.json").unlink()
    (auth / "c-20.json").write_bytes(_claude("t20", "u20@example.com"))
    await _until(lambda: _token(proxy, "c-03.json") == "new" and proxy.service.pool.get("c-05.json") is None)
    await _until(lambda: _token(proxy, "c-20.json") == "t20")

    now = {c.id: c for c in proxy.service.pool.credentials()}
    assert sorted(now) == sorted({*untouched, "c-20.json"} - {"c-05.json"})
    assert now["c-03.json"] is not untouched["c-03.json"]
    kept = [cid for cid in untouched if cid not in ("c-03.json", "c-05.json")]
    assert all(now[cid] is untouched[cid] for cid in kept)  # not re-read: the same objects
    assert proxy.service.auth_files == {auth / f"c-{i:02}.json" for i in range(21) if i != 5}


class _Threads(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_changed_files_are_parsed_off_the_event_loop(start_proxy):
    proxy = await start_proxy("api-keys: [k]\n", watch=True)
    auth = proxy.service.auth_dir
    handler = _Threads()
    logger = logging.getLogger("cliproxy.credentials.files")
    logger.addHandler(handler)
    try:
        _replace(auth / "broken.json", b"{not json")  # its loader logs a warning where it runs
        _replace(auth / "marker.json", _claude("m"))
        await _until(lambda: _token(proxy, "marker.json") == "m")
        await _until(lambda: any("broken.json" in r.getMessage() for r in handler.records))
    finally:
        logger.removeHandler(handler)
    [record] = [r for r in handler.records if "broken.json" in r.getMessage()]
    assert record.thread != threading.get_ident()  # not the event loop's thread


def test_read_and_swap_only_the_named_files(tmp_path: Path) -> None:
    for name in ("a.json", "b.json", "c.json"):
        (tmp_path / name).write_bytes(_claude(name[0]))
    (tmp_path / "gemini.json").write_bytes(b'{"type": "gemini"}')  # loads as no credential
    keyed = Credential(id="claude:apikey:1", provider="claude", api_key="sk")  # from config.yaml
    creds = [keyed, *load_auth_dir(tmp_path)]
    a, b, _ = creds[1:]
    refreshed = dataclasses.replace(a, metadata={**a.metadata, "access_token": "in-memory"})
    creds[1] = refreshed  # as the refresher swaps a credential into the pool

    (tmp_path / "b.json").write_bytes(_claude("b2"))
    (tmp_path / "c.json").unlink()
    (tmp_path / "d.json").write_bytes(_claude("d"))
    named = [tmp_path / n for n in ("b.json", "d.json", "gemini.json", "gone.json")]
    found = read_auth_files(named, tmp_path)
    assert sorted(p.name for p in found) == ["b.json", "d.json", "gemini.json"]  # gone.json left out
    assert found[tmp_path / "gemini.json"] is None

    swapped = swap_auth_files(creds, found, removed=[tmp_path / "c.json"])
    assert [x.id for x in swapped] == ["claude:apikey:1", "a.json", "b.json", "d.json"]
    assert swapped[0] is keyed and swapped[1] is refreshed  # untouched: kept as they are
    assert swapped[2] is not b and swapped[2].metadata["access_token"] == "b2"
