"""The usage ledger: where it lives, what a burst leaves in it, retention, export and
import (CPA's snapshot JSON and our CSV), and the config keys that steer it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from cliproxy.config import Config, ConfigDocument
from cliproxy.management import usage_api
from cliproxy.usage import recorder_of
from cliproxy.usage.ledger import BATCH, MAX_PENDING, Ledger
from cliproxy.usage.ledger_store import COLUMNS, INT_COLUMNS, PostgresStore, SqliteStore, _parts
from cliproxy.usage.queries import summary
from cliproxy.usage.stats import ledger_files, ledger_path
from tests.usage.helpers import close_recorder
from tests.usage.upstream import UsageUpstream

MKEY = "m-ledger-secret"
KEY = "sk-ledger-client-1"
HEADERS = {"Authorization": f"Bearer {MKEY}"}


@pytest.fixture
async def upstream() -> AsyncIterator[UsageUpstream]:
    async with UsageUpstream() as up:
        yield up


@pytest.fixture(autouse=True)
def management(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MANAGEMENT_PASSWORD", MKEY)


def config(up: UsageUpstream, extra: str = "") -> str:
    return f"""
api-keys: ["{KEY}"]
openai-compatibility:
  - name: up
    base-url: "http://127.0.0.1:{up.port}/v1"
    api-key-entries: [{{api-key: sk-good}}]
    models: [{{name: up-model, alias: m}}]
{extra}
"""


async def chat(session: aiohttp.ClientSession, proxy: Any, stream: bool = False) -> int:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": stream}
    async with session.post(
        proxy.url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"}
    ) as r:
        await r.read()
        return r.status


async def mreq(proxy: Any, method: str, path: str, **kw: Any) -> tuple[int, bytes, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.request(
            method, proxy.url + "/v0/management" + path, headers={**HEADERS, **kw.pop("headers", {})}, **kw
        ) as r,
    ):
        return r.status, await r.read(), r.headers


def count_rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM usage_requests").fetchone()[0])


async def test_default_file_is_beside_the_auth_dir_in_wal_mode(start_proxy, upstream, tmp_path):
    proxy = await start_proxy(config(upstream))  # auth-dir: <tmp>/auths
    try:
        assert not (tmp_path / "usage.sqlite").exists()  # made with the first row, not before
        async with aiohttp.ClientSession() as s:
            assert await chat(s, proxy) == 200
        ledger = recorder_of(proxy.service).stats.ledger
        assert ledger is not None and ledger.flush()
        path = tmp_path / "usage.sqlite"
        assert count_rows(path) == 1
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        close_recorder(proxy)


async def test_disabled_ledger_writes_nothing_and_says_so(start_proxy, upstream, tmp_path):
    proxy = await start_proxy(config(upstream, "usage-ledger: {enabled: false}"))
    try:
        async with aiohttp.ClientSession() as s:
            assert await chat(s, proxy) == 200
        assert recorder_of(proxy.service).stats.ledger is None
        assert not (tmp_path / "usage.sqlite").exists()
        status, body, _ = await mreq(proxy, "GET", "/usage/summary?group=model")
        assert status == 400 and b"usage ledger is off" in body
        # the panel's counters do not need the ledger
        status, body, _ = await mreq(proxy, "GET", "/usage/keys")
        assert status == 200 and orjson.loads(body)["keys"][0]["success"] == 1
    finally:
        close_recorder(proxy)


async def test_a_burst_loses_no_rows(start_proxy, upstream, tmp_path):
    """2,000 requests, 64 at a time, half streamed: every one is a row."""
    path = tmp_path / "burst.sqlite"
    proxy = await start_proxy(config(upstream, f'usage-ledger: {{path: "{path}"}}'))
    try:
        sem = asyncio.Semaphore(64)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64)) as s:

            async def one(i: int) -> int:
                async with sem:
                    return await chat(s, proxy, stream=bool(i % 2))

            statuses = await asyncio.gather(*(one(i) for i in range(2000)))
        assert statuses.count(200) == 2000
        ledger = recorder_of(proxy.service).stats.ledger
        assert ledger is not None and await asyncio.to_thread(ledger.flush)
        assert ledger.dropped == 0 and ledger.written == 2000
        assert count_rows(path) == 2000
        with sqlite3.connect(path) as conn:
            streamed, tokens = conn.execute(
                "SELECT SUM(stream), SUM(total_tokens) FROM usage_requests"
            ).fetchone()
        assert (streamed, tokens) == (1000, 2000 * 130)
    finally:
        close_recorder(proxy)


async def test_retention_days_removes_old_rows(start_proxy, upstream, tmp_path):
    proxy = await start_proxy(
        config(upstream, f'usage-ledger: {{path: "{tmp_path / "r.sqlite"}", retention-days: 2}}')
    )
    try:
        ledger = recorder_of(proxy.service).stats.open_ledger()
        assert ledger is not None and ledger.retention_days == 2
        now = time.time()
        old, recent = _row("old", now - 3 * 86400), _row("recent", now - 86400)
        assert await asyncio.to_thread(ledger.import_rows, [old, recent]) == 2
        assert await asyncio.to_thread(ledger.prune) == 1
        assert [r[0] for r in await asyncio.to_thread(ledger.rows)] == ["recent"]
    finally:
        close_recorder(proxy)


def _row(uid: str, ts: float, **values: Any) -> tuple[Any, ...]:
    base: dict[str, Any] = {"uid": uid, "ts": ts, "status": 200, "attempts": 1, **values}
    return tuple(base.get(c, 0 if c in INT_COLUMNS else "") for c in COLUMNS)


async def test_export_and_import_round_trip(start_proxy, upstream, tmp_path):
    first = await start_proxy(config(upstream, f'usage-ledger: {{path: "{tmp_path / "a.sqlite"}"}}'))
    try:
        async with aiohttp.ClientSession() as s:
            for stream in (False, True, False):
                assert await chat(s, first, stream) == 200
        status, csv_body, headers = await mreq(first, "GET", "/usage/export?format=csv")
        assert status == 200 and headers["Content-Type"].startswith("text/csv")
        assert csv_body.splitlines()[0].decode() == ",".join(COLUMNS) and len(csv_body.splitlines()) == 4
        status, json_body, _ = await mreq(first, "GET", "/usage/export")
        export = orjson.loads(json_body)
        assert status == 200 and export["version"] == 1 and export["usage"]["total_requests"] == 3
        [api] = export["usage"]["apis"].values()
        assert api["models"]["m"]["total_requests"] == 3 and len(api["models"]["m"]["details"]) == 3
        assert api["models"]["m"]["details"][0]["tokens"]["cached_tokens"] == 40
    finally:
        close_recorder(first)

    second = await start_proxy(config(upstream, f'usage-ledger: {{path: "{tmp_path / "b.sqlite"}"}}'))
    try:
        status, body, _ = await mreq(
            second, "POST", "/usage/import", data=csv_body, headers={"Content-Type": "text/csv"}
        )
        assert status == 200 and orjson.loads(body) == {
            "added": 3,
            "skipped": 0,
            "total_requests": 3,
            "failed_requests": 0,
        }
        status, body, _ = await mreq(second, "POST", "/usage/import", data=csv_body)  # sniffed as CSV
        assert orjson.loads(body)["skipped"] == 3
        # CPA's snapshot JSON: rows of its own (no uids), deduplicated on a second import
        status, body, _ = await mreq(second, "POST", "/usage/import", data=json_body)
        assert status == 200 and orjson.loads(body)["added"] == 3
        status, body, _ = await mreq(second, "POST", "/usage/import", data=json_body)
        assert orjson.loads(body)["added"] == 0 and orjson.loads(body)["skipped"] == 3
        status, body, _ = await mreq(second, "GET", "/usage/summary?group=alias")
        assert orjson.loads(body)["rows"][0]["requests"] == 6
    finally:
        close_recorder(second)


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (b"{", "application/json", b"invalid json"),
        (b'{"version": 7, "usage": {}}', "application/json", b"unsupported version"),
        (
            b'{"version": 1, "usage": {"apis": {"k": {"models": {"m": {"details": [{"timestamp": "x"}]}}}}}}',
            "application/json",
            b"invalid import",
        ),
        (b"uid,ts\nabc,not-a-time\n", "text/csv", b"not a time"),
        (b"a,b\n1,2\n", "text/csv", b"header row"),
        (b"", "application/json", b"empty body"),
    ],
)
async def test_bad_imports_are_400(start_proxy, upstream, tmp_path, body, kind, message):
    proxy = await start_proxy(config(upstream, f'usage-ledger: {{path: "{tmp_path / "c.sqlite"}"}}'))
    try:
        status, answer, _ = await mreq(
            proxy, "POST", "/usage/import", data=body, headers={"Content-Type": kind}
        )
        assert status == 400 and message in answer
    finally:
        close_recorder(proxy)


async def test_summary_and_series_parameters(start_proxy, upstream, tmp_path):
    proxy = await start_proxy(config(upstream, f'usage-ledger: {{path: "{tmp_path / "d.sqlite"}"}}'))
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                assert await chat(s, proxy) == 200
        status, body, _ = await mreq(proxy, "GET", "/usage/series?group=provider&bucket=minute")
        data = orjson.loads(body)
        assert status == 200 and data["bucket_seconds"] == 60
        [serie] = data["series"]
        assert serie["key"] == "openai-compatible-up" and sum(p["requests"] for p in serie["points"]) == 3
        status, body, _ = await mreq(proxy, "GET", "/usage/series?bucket=day")
        assert sum(p["total_tokens"] for p in orjson.loads(body)["series"][0]["points"]) == 390
        since = int(time.time()) + 3600
        status, body, _ = await mreq(proxy, "GET", f"/usage/summary?group=key&since={since}")
        assert status == 200 and orjson.loads(body)["rows"] == []
        for bad in ("group=nope", "group=key&since=yesterday", "group=key&since=10&until=5"):
            status, body, _ = await mreq(proxy, "GET", "/usage/summary?" + bad)
            assert status == 400, bad
        status, _, _ = await mreq(proxy, "GET", "/usage/series?bucket=0")
        assert status == 400
        status, _, _ = await mreq(proxy, "GET", "/usage/series?bucket=1&since=0")
        assert status == 400  # too many points
    finally:
        close_recorder(proxy)


def test_writer_batches_and_flushes(tmp_path):
    ledger = Ledger(SqliteStore(tmp_path / "x.sqlite"), uid_prefix="u")
    ledger.start()
    try:
        for i in range(5000):
            ledger.add(_row("", 1000.0 + i)[1:])  # a row comes without its uid
        assert ledger.flush()
        assert ledger.written == 5000 and count_rows(tmp_path / "x.sqlite") == 5000
        # the writer gave each row its uid: the ledger's prefix and a counter (hex), in order
        with sqlite3.connect(tmp_path / "x.sqlite") as conn:
            uids = [u for (u,) in conn.execute("SELECT uid FROM usage_requests ORDER BY ts")]
        assert uids == [f"u{n:x}" for n in range(1, 5001)]
        # an import skips uids already there (and repeated within itself)
        assert ledger.import_rows([_row("u1", 5.0), _row("new", 6.0), _row("new", 6.0)]) == 1
        assert count_rows(tmp_path / "x.sqlite") == 5001 and ledger.failed_batches == 0
    finally:
        ledger.close()


def test_two_ledgers_never_give_the_same_uid(tmp_path):
    """Two proxies (or a ledger reopened after a reload) on one database: each ledger has
    its own random uid prefix, so counters that both start at 1 never collide."""
    path = tmp_path / "shared.sqlite"
    first, second = Ledger(SqliteStore(path)), Ledger(SqliteStore(path))
    assert first.uid_prefix != second.uid_prefix and len(first.uid_prefix) == 12
    for ledger in (first, second):
        ledger.start()
        try:
            for i in range(3):
                ledger.add(_row("", float(i))[1:])
            assert ledger.flush()
        finally:
            ledger.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT COUNT(DISTINCT uid), COUNT(*) FROM usage_requests").fetchone() == (6, 6)


def test_a_row_is_appended_inline_only_while_add_would_do_nothing_more(tmp_path):
    """``room``: below it ``Recorder.finished`` appends a row itself; from it on ``add``
    has work: it wakes the writer for a full batch and, past ``MAX_PENDING`` rows waiting
    or being written, counts the row dropped instead of keeping it."""
    ledger = Ledger(SqliteStore(tmp_path / "r.sqlite"))  # not started: rows wait
    assert ledger.room == BATCH - 1
    for i in range(BATCH - 1):  # all below room: add() only appends
        ledger.add(_row("", float(i))[1:])
    assert not ledger._wake.is_set() and len(ledger.pending) == ledger.room
    ledger.add(_row("", 0.0)[1:])  # the batch's last row wakes the writer
    assert ledger._wake.is_set()
    ledger.pending.clear()
    ledger._taken(MAX_PENDING - 10)  # the writer is writing a huge backlog
    assert ledger.room == 9
    for i in range(11):
        ledger.add(_row("", float(i))[1:])
    assert len(ledger.pending) == 10 and ledger.dropped == 1  # the cap held
    ledger._taken(MAX_PENDING + 5)
    assert ledger.room == 0  # never negative: every row goes through add()
    ledger._taken(0)
    assert ledger.room == BATCH - 1


def test_a_broken_database_counts_dropped_rows(tmp_path):
    path = tmp_path / "y.sqlite"
    ledger = Ledger(SqliteStore(path))
    ledger.start()
    try:
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TABLE usage_requests")
        ledger.add(_row("a", 1.0)[1:])
        assert ledger.flush()
        assert ledger.dropped == 1 and ledger.failed_batches == 1
    finally:
        ledger.close()


async def test_postgres_ledger_same_table_and_restart(start_proxy, upstream, postgres_url):
    """``usage-ledger.postgres-url``: the table is created on start, rows land there, and a
    restart rebuilds the panel's counters from it."""
    extra = f'usage-ledger: {{postgres-url: "{postgres_url}"}}'
    proxy = await start_proxy(config(upstream, extra))
    try:
        async with aiohttp.ClientSession() as s:
            for stream in (False, True):
                assert await chat(s, proxy, stream) == 200
        ledger = recorder_of(proxy.service).stats.ledger
        assert (
            ledger is not None and ledger.store.name == "postgres" and await asyncio.to_thread(ledger.flush)
        )
        status, body, _ = await mreq(proxy, "GET", "/usage/summary?group=credential")
        [row] = orjson.loads(body)["rows"]
        assert (row["requests"], row["cached_tokens"], row["reasoning_tokens"]) == (2, 80, 24)
        status, body, _ = await mreq(proxy, "GET", "/usage/series?bucket=hour")
        assert status == 200
        assert sum(p["requests"] for p in orjson.loads(body)["series"][0]["points"]) == 2
    finally:
        close_recorder(proxy)
        await proxy.close()
    again = await start_proxy(config(upstream, extra))
    try:
        _, body, _ = await mreq(again, "GET", "/api-key-usage")
        [entry] = orjson.loads(body)["up"].values()
        assert (entry["success"], entry["failed"]) == (2, 0)
    finally:
        close_recorder(again)


async def test_a_window_too_big_to_export_is_refused(start_proxy, upstream, tmp_path, monkeypatch):
    monkeypatch.setattr(usage_api, "MAX_ROWS", 2)
    proxy = await start_proxy(config(upstream, f'usage-ledger: {{path: "{tmp_path / "e.sqlite"}"}}'))
    try:
        async with aiohttp.ClientSession() as s:
            for _ in range(3):
                assert await chat(s, proxy) == 200
        for path in ("/usage", "/usage/export", "/usage/export?format=csv"):
            status, body, _ = await mreq(proxy, "GET", path)
            assert status == 400 and b"narrow it with since/until" in body, path
        status, body, _ = await mreq(proxy, "GET", f"/usage/export?since={int(time.time()) + 60}")
        assert status == 200 and orjson.loads(body)["usage"]["total_requests"] == 0
    finally:
        close_recorder(proxy)


@pytest.mark.parametrize("count", [1, 99, 100, 237, 256, 257, 1250])
def test_sqlite_insert_keeps_every_row_of_any_batch_size(tmp_path, count):
    """Rows go in by statements of many rows (and shorter last ones): none lost or altered."""
    store = SqliteStore(tmp_path / "z.sqlite")
    store.open()
    try:
        rows = [_row(f"u{i}", 1000.0 + i, model=f"m{i % 7}", input_tokens=i) for i in range(count)]
        assert store.insert(rows) == count
        assert store.query("SELECT " + ", ".join(COLUMNS) + " FROM usage_requests ORDER BY ts") == rows
    finally:
        store.close()


def test_a_batch_goes_in_by_few_statement_shapes():
    """Full statements, then one per power of two of the rest: every row once, in order,
    and no more than log2(top) + 1 statement shapes whatever the batch sizes."""
    shapes = set()
    for n in range(0, 1300):
        parts = list(_parts(n, 256))
        assert [start for start, _ in parts] == [
            sum(size for _, size in parts[:i]) for i in range(len(parts))
        ]
        assert sum(size for _, size in parts) == n
        shapes.update(size for _, size in parts)
    assert shapes == {1, 2, 4, 8, 16, 32, 64, 128, 256}
    assert [size for _, size in _parts(1250, 256)] == [256, 256, 256, 256, 128, 64, 32, 2]


@pytest.fixture(params=["sqlite", "postgres"])
def spread(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A ledger (never started: reads go to its store) of 1,000 rows one second apart, from
    t=1000 on, over three models."""
    if request.param == "postgres":
        store: Any = PostgresStore(request.getfixturevalue("postgres_url"))
    else:
        store = SqliteStore(tmp_path / "spread.sqlite")
    store.open()
    store.insert(
        [_row(f"s{i}", 1000.0 + i, model=("m1", "m2", "m3")[i % 3], input_tokens=i) for i in range(1000)]
    )
    ledger = Ledger(store)
    try:
        yield ledger
    finally:
        store.close()


def test_a_wide_window_is_read_by_a_scan_a_narrow_one_by_the_index(spread):
    assert spread.window(None, None) == ("", [])
    # at or before the first row, past the last, or most of the span: every row, by a scan
    for since, until in ((0.0, None), (None, 5000.0), (500.0, 1500.0), (1100.0, None)):
        where, params = spread.window(since, until)
        assert "+ts" in where and "ts" not in where.replace("+ts", ""), (since, until)
    # the last 2 % of the span, or a window past it: through the index
    for since, until in ((1980.0, None), (None, 1010.0), (5000.0, None)):
        where, _ = spread.window(since, until)
        assert where and "+ts" not in where, (since, until)
    # either way the same rows and the same totals
    assert summary(spread, "model", 0.0, None) == summary(spread, "model", None, None)
    assert sum(e["requests"] for e in summary(spread, "model", 1100.0, 1200.0)) == 100
    assert len(spread.rows(1100.0, None)) == 900 and len(spread.rows(1980.0, None)) == 20
    if isinstance(spread.store, SqliteStore):  # what SQLite makes of each
        with sqlite3.connect(spread.store.path) as conn:
            for since, how in ((0.0, "SCAN usage_requests"), (1980.0, "USING INDEX usage_requests_ts")):
                where, params = spread.window(since, None)
                plan = conn.execute(
                    "EXPLAIN QUERY PLAN SELECT model FROM usage_requests" + where.format(p="?"), params
                ).fetchall()
                assert any(how in str(step[-1]) for step in plan), (since, plan)


def load_config_text(text: str) -> Config:
    return ConfigDocument.from_text(text, None).config


def test_ledger_files_name_what_an_sqlite_ledger_writes(tmp_path):
    """What the config watcher is told to ignore: the SQLite file and its companions, where
    the ledger opens them; nothing for Postgres or no ledger."""
    auth = tmp_path / "conf" / "auths"
    default = load_config_text(f"auth-dir: {auth}\n")
    base = tmp_path / "conf" / "usage.sqlite"
    assert ledger_files(default) == (
        base,
        base.with_name("usage.sqlite-wal"),
        base.with_name("usage.sqlite-shm"),
        base.with_name("usage.sqlite-journal"),
    )
    assert ledger_path(default) == base
    moved = load_config_text(f"auth-dir: {auth}\nusage-ledger:\n  path: {tmp_path / 'x.db'}\n")
    assert ledger_files(moved)[:2] == (tmp_path / "x.db", tmp_path / "x.db-wal")
    off = load_config_text(f"auth-dir: {auth}\nusage-ledger:\n  enabled: false\n")
    pg = load_config_text(f"auth-dir: {auth}\nusage-ledger:\n  postgres-url: postgresql://u@127.0.0.1:1/db\n")
    assert ledger_files(off) == () and ledger_files(pg) == ()
