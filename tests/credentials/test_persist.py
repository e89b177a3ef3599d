"""save-cooldown-status: .cds files written atomically and restored after a restart."""

from __future__ import annotations

import orjson
import pytest

from cliproxy.credentials.persist import CdsStore, format_time, parse_time, restore
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.sources import load_auth_dir
from cliproxy.errors import CooldownError
from cliproxy.state.memory import MemoryState

from .conftest import cred


def _pool(clock, tmp_path, creds) -> Pool:
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace(creds)
    return pool


async def test_round_trip_across_restart(clock, tmp_path):
    (tmp_path / "claude-a.json").write_bytes(orjson.dumps({"type": "claude", "email": "a@x"}))
    creds = [*load_auth_dir(tmp_path), cred("claude:apikey:abc", api_key="k")]
    pool = _pool(clock, tmp_path, creds)
    file_cred, key_cred = pool.get("claude-a.json"), pool.get("claude:apikey:abc")
    await pool.mark_failure(file_cred, "m1", 429, retry_after=120)
    await pool.mark_failure(file_cred, "m2", 401)
    await pool.mark_failure(key_cred, "m1", 404)
    data = orjson.loads((tmp_path / "claude-a.cds").read_bytes())
    assert data["version"] == 1 and data["auth_id"] == "claude-a.json" and data["provider"] == "claude"
    assert [r["model"] for r in data["records"]] == ["m1", "m2"]
    first = data["records"][0]
    assert first["status"] == "cooling" and first["reason"] == "quota" and first["quota"]["exceeded"] is True
    assert parse_time(first["next_retry_after"]) == pytest.approx(clock.now + 120, abs=1)
    assert (tmp_path / "claude_apikey_abc.cds").exists()
    assert not list(tmp_path.glob("*.tmp"))

    clock.advance(10)
    fresh = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    fresh.replace([*load_auth_dir(tmp_path), cred("claude:apikey:abc", api_key="k")])
    assert await restore(fresh, tmp_path) == 3
    with pytest.raises(CooldownError) as info:
        await fresh.pick("m1")
    assert info.value.reset_seconds == 110
    clock.advance(200)  # the 429 record has expired; the 401 one (30 min) has not
    assert (await fresh.pick("m1")).id == "claude-a.json"
    assert (await fresh.pick("m2")).id == "claude:apikey:abc"


async def test_success_and_reset_remove_files(clock, tmp_path):
    pool = _pool(clock, tmp_path, [cred("a"), cred("b")])
    await pool.mark_failure(pool.get("a"), "m", 500)
    await pool.mark_failure(pool.get("b"), "m", 500)
    assert sorted(p.name for p in tmp_path.glob("*.cds")) == ["a.cds", "b.cds"]
    await pool.mark_success(pool.get("a"), "m")
    await pool.reset_quota("b")
    assert not list(tmp_path.glob("*.cds"))


async def test_restore_skips_expired_unknown_and_disabled(clock, tmp_path):
    records = [
        {"auth_id": "a", "model": "m", "next_retry_after": format_time(clock.now - 5), "quota": {}},
        {"auth_id": "gone", "model": "m", "next_retry_after": format_time(clock.now + 50)},
        {"auth_id": "off", "model": "m", "next_retry_after": format_time(clock.now + 50)},
        {"auth_id": "b", "next_retry_after": "2099-01-01T00:00:00.123456789+00:00", "reason": "x"},
    ]
    (tmp_path / "x.cds").write_bytes(orjson.dumps({"version": 1, "records": records}))
    (tmp_path / "bad.cds").write_bytes(b"{oops")
    pool = _pool(clock, tmp_path, [cred("a"), cred("b"), cred("off", disabled=True)])
    assert await restore(pool, tmp_path) == 1
    assert (await pool.pick("m")).id == "a"


def test_time_format_matches_go():
    assert format_time(0) == "0001-01-01T00:00:00Z"
    assert parse_time("0001-01-01T00:00:00Z") == 0
    assert parse_time(format_time(1_800_000_000.25)) == 1_800_000_000.25
    assert parse_time("2027-01-15T08:00:00.123456789+08:00") == pytest.approx(1_800_000_000 - 3.6e7, abs=1e9)
