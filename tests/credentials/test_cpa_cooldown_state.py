"""CPA's cooldown state store (``sdk/cliproxy/auth/cooldown_state_test.go``): the ``.cds``
files of ``save-cooldown-status`` (cliproxy.credentials.persist) and what the pool does
with them.

CPA's manager swaps its store under a lock when a config changes it, and several of its
cases are about that transition (persist to the old store first, serialise two reloads,
keep the old store when cancelled, make a result's save wait). Ours has nothing to
serialise: the store is an attribute the reload assigns, and a save is a synchronous file
write, so no save can interleave with a swap. Those cases are not ported (see the audit)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from cliproxy.credentials.persist import CdsStore, cds_path, format_time, restore
from cliproxy.credentials.pool import Pool
from cliproxy.credentials.record import Credential
from cliproxy.errors import CooldownError
from cliproxy.state.base import CooldownRecord
from cliproxy.state.memory import MemoryState

from .conftest import cred


class CountingStore(CdsStore):
    """The real ``.cds`` store, counting its saves."""

    def __init__(self, auth_dir: Path) -> None:
        super().__init__(auth_dir)
        self.saves = 0

    def save(self, cred: Credential, records: Sequence[CooldownRecord]) -> None:
        self.saves += 1
        super().save(cred, records)


def test_cds_file_paths(tmp_path):
    """CPA: TestFileCooldownStateStore_StateRelativePath (the absolute and the id cases): a
    file credential's ``.cds`` sits beside it under the auth dir, one outside the auth dir
    gets its bare name, a config credential its id made safe. CPA's cases of an auth file
    path relative to the auth dir do not arise here: a file credential's path is the one it
    was read from."""
    auth_dir = tmp_path / "auths"
    nested = Credential(id="auth-1", provider="xai", path=auth_dir / "nested" / "xai.json")
    outside = Credential(id="auth-3", provider="xai", path=tmp_path / "elsewhere" / "outside.json")
    by_id = Credential(id="auth/id 5", provider="xai")
    assert cds_path(auth_dir, nested) == auth_dir / "nested" / "xai.cds"
    assert cds_path(auth_dir, outside) == auth_dir / "outside.cds"
    assert cds_path(auth_dir, by_id) == auth_dir / "auth_id_5.cds"


def test_concurrent_saves_leave_one_whole_file(clock, tmp_path):
    """CPA: TestFileCooldownStateStore_ConcurrentSave: 16 saves at once (threads, as two
    workers sharing an auth dir would) leave one readable file and no temporary file."""
    store = CdsStore(tmp_path)
    xai = Credential(id="auth-1", provider="xai", path=tmp_path / "xai.json")

    def save(i: int) -> None:
        store.save(xai, [CooldownRecord("auth-1", "grok-4", next_retry_after=clock.now + 3600 + i)])

    threads = [threading.Thread(target=save, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert [r.model for r in store.load()] == ["grok-4"]
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []


async def test_only_a_change_of_state_is_saved(clock, tmp_path):
    """CPA: TestManager_MarkResult_PersistsCooldownOnlyWhenStateChanges: a success on a
    healthy credential saves nothing, a failure that cools saves, the success that clears
    it saves, a further success saves nothing."""
    store = CountingStore(tmp_path)
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=store)
    pool.replace([cred("auth-1", "xai")])
    a = pool.get("auth-1")
    assert a is not None
    await pool.mark_success(a, "grok-4")
    assert store.saves == 0
    await pool.mark_failure(a, "grok-4", 500)
    assert store.saves == 1
    await pool.mark_success(a, "grok-4")
    assert store.saves == 2 and not list(tmp_path.glob("*.cds"))
    await pool.mark_success(a, "grok-4")
    assert store.saves == 2


async def test_a_reload_that_turns_cooling_off_lifts_the_cooldowns(clock, tmp_path):
    """CPA: TestManagerSetConfigSnapshotDefersCooldownPersistence,
    TestManagerSwapCooldownStateStorePersistsOldStoreBeforeSwap (their state): a reload that
    turns ``disable-cooling`` on (globally, or a credential's own) lifts the cooldowns of the
    credentials it applies to and removes their ``.cds`` files; before, they kept blocking
    until they ran out. A credential whose own ``disable-cooling: false`` overrides the global
    one keeps its cooldown."""
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace([cred("a"), cred("b"), cred("kept", disable_cooling=False)])
    for cid in ("a", "b", "kept"):
        c = pool.get(cid)
        assert c is not None
        await pool.mark_failure(c, "m", 429, retry_after=600)
    assert len(list(tmp_path.glob("*.cds"))) == 3

    pool.replace([cred("a"), cred("b", disable_cooling=True), cred("kept", disable_cooling=False)])
    await pool.forget_refusals(["b"])  # the service hands it what replace returned
    assert sorted(p.stem for p in tmp_path.glob("*.cds")) == ["a", "kept"]

    pool.configure(disable_cooling=True)  # a reload applies the config, then reloads the credentials
    changed = pool.replace([cred("a"), cred("b", disable_cooling=True), cred("kept", disable_cooling=False)])
    assert changed == ["a"]
    await pool.forget_refusals(changed)
    assert [p.stem for p in tmp_path.glob("*.cds")] == ["kept"]
    assert (await pool.pick("m")).id in {"a", "b"}
    assert await pool.cooldowns(pool.get("kept")) != []  # type: ignore[arg-type]


async def test_restore_reads_back_the_error(clock, tmp_path):
    """CPA: TestManager_RestoreCooldownStates: a restored cooldown blocks until its time and
    keeps its last error (HTTP 429)."""
    record = {
        "provider": "xai",
        "auth_id": "auth-1",
        "model": "grok-4",
        "status": "cooling",
        "next_retry_after": format_time(clock.now + 3600),
        "reason": "quota",
        "quota": {"exceeded": True, "reason": "quota", "next_recover_at": format_time(clock.now + 3600)},
        "last_error": {"message": "rate limited", "http_status": 429},
        "updated_at": format_time(clock.now - 60),
    }
    (tmp_path / "auth-1.cds").write_bytes(orjson.dumps({"version": 1, "records": [record]}))
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace([cred("auth-1", "xai")])
    assert await restore(pool, tmp_path) == 1
    (restored,) = await pool.cooldowns(pool.get("auth-1"))  # type: ignore[arg-type]
    assert restored.until() == pytest.approx(clock.now + 3600, abs=1)
    assert restored.last_error == {"message": "rate limited", "http_status": 429}
    with pytest.raises(CooldownError):
        await pool.pick("grok-4")


async def test_restore_folds_thinking_suffixes_into_the_model(clock, tmp_path):
    """CPA: TestManager_RestoreCooldownStatesCanonicalizesThinkingSuffixes: records saved for
    ``gemini-3.1-pro-preview(high)`` and ``(low)`` (an older CPA's files) cool the model
    itself, until the later of the two. CPA: TestManager_RegisterCanonicalizesThinkingSuffixModelStates."""
    records = [
        {"auth_id": "t", "model": f"gemini-3.1-pro-preview({level})", "next_retry_after": format_time(until),
         "quota": {"exceeded": True, "reason": "quota", "next_recover_at": format_time(until)}}
        for level, until in (("high", clock.now + 3600), ("low", clock.now + 7200))
    ]  # fmt: skip
    (tmp_path / "t.cds").write_bytes(orjson.dumps({"version": 1, "records": records}))
    pool = Pool(state=MemoryState(clock=clock), clock=clock, store=CdsStore(tmp_path))
    pool.replace([cred("t", "gemini")])
    await restore(pool, tmp_path)
    with pytest.raises(CooldownError) as info:
        await pool.pick("gemini-3.1-pro-preview")
    assert info.value.reset_seconds == pytest.approx(7200, abs=1)
    models = [r.model for r in await pool.cooldowns(pool.get("t"))]  # type: ignore[arg-type]
    assert models == ["gemini-3.1-pro-preview"]
    saved = orjson.loads((tmp_path / "t.cds").read_bytes())["records"]  # written again, as restored
    assert [r["model"] for r in saved] == ["gemini-3.1-pro-preview"]
