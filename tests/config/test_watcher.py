from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from cliproxy.config import AuthChanges, ConfigWatcher, load_config
from cliproxy.config.model import STORE_AUTH_DIR_ENV
from cliproxy.credentials.storage import add_write_listener, write_json
from cliproxy.errors import ConfigError

# events only: the safety rescan is far away, so every test here proves the events work;
# a removal is reported at once (tests of the remove debounce set their own)
FAST = {"poll_interval": 60.0, "debounce": 0.03, "remove_debounce": 0.0}
WAIT = 15.0  # generous: the machine may be busy; nothing here asserts a tight timing


class Recorder:
    def __init__(self) -> None:
        self.configs: list = []
        self.auth: list[AuthChanges] = []
        self.errors: list[Exception] = []
        self.event = asyncio.Event()

    async def on_config(self, cfg) -> None:
        self.configs.append(cfg)
        self.event.set()

    async def on_auth(self, changes: AuthChanges) -> None:
        self.auth.append(changes)
        self.event.set()

    def on_error(self, exc: Exception) -> None:
        self.errors.append(exc)
        self.event.set()

    async def wait(self, timeout: float = WAIT) -> None:
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    async def marker(self, auth: Path, name: str = "marker.json") -> None:
        """Write an auth file and wait until it is reported: every event before it was handled."""
        write(auth / name, '{"type": "claude", "marker": true}')
        while auth / name not in self.merged().added:
            await self.wait()

    def merged(self) -> AuthChanges:
        out = AuthChanges()
        for c in self.auth:
            out.added.extend(c.added)
            out.changed.extend(c.changed)
            out.removed.extend(c.removed)
        return out


@pytest.fixture
async def watch(tmp_path):
    """Start watchers over tmp_path/config.yaml and tmp_path/auth (with FAST defaults)."""
    started: list[ConfigWatcher] = []

    async def start(*, make_auth: bool = True, **options):
        auth = tmp_path / "auth"
        if make_auth:
            auth.mkdir(exist_ok=True)
        cfg = tmp_path / "config.yaml"
        if not cfg.exists():
            cfg.write_text(f"port: 8317\nauth-dir: {auth}\n")
        rec = Recorder()
        watcher = ConfigWatcher(
            cfg,
            auth,
            rec.on_config,
            rec.on_auth,
            rec.on_error,
            config=load_config(cfg),
            **{**FAST, **options},
        )
        started.append(watcher)
        await watcher.start()
        return watcher, rec, cfg, auth

    yield start
    for watcher in started:
        await watcher.stop()


@pytest.fixture
async def setup(watch):
    return await watch()


def write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def test_edit_calls_back_with_new_config(setup):
    """CPA: TestReloadConfigIfChanged_TriggersOnChangeAndSkipsUnchanged (the change half),
    TestHandleEventConfigChangeSchedulesReload."""
    watcher, rec, cfg, auth = setup
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrouting:\n  strategy: ff\n")
    await rec.wait()
    assert rec.configs[-1].routing.strategy == "fill-first"
    assert watcher.config is rec.configs[-1]


async def test_touch_and_empty_write_are_ignored(setup):
    """CPA: TestReloadConfigIfChanged_TriggersOnChangeAndSkipsUnchanged (the same content is
    skipped), TestReloadConfigIfChangedHandlesMissingAndEmpty (an empty file is skipped),
    TestHandleEventIgnoresUnrelatedFiles (another file beside the config reloads nothing).
    TestStartAndStopSuccess, a difference: CPA's Start loads the config and calls back once;
    ours takes the files as they are (the service applied that config before starting
    the watcher), so nothing is called back until something changes."""
    _watcher, rec, cfg, auth = setup
    os.utime(cfg, None)
    cfg.write_text(cfg.read_text())
    cfg.write_text("")
    (cfg.parent / "note.txt").write_text("x")
    await rec.marker(auth)
    assert rec.configs == [] and rec.errors == []


def count_config_reads(watcher: ConfigWatcher) -> list[bool]:
    """The config file's reads from now on (``FileTracker.observe``, called through)."""
    tracker = watcher._config_file
    observe = tracker.observe
    reads: list[bool] = []

    def counted(*, force: bool = False):
        reads.append(force)
        return observe(force=force)

    tracker.observe = counted
    return reads


async def ledger_writes(folder: Path, rounds: int = 5) -> None:
    """What an SQLite ledger beside the config does: its file, WAL and shared memory written
    again and again, each write its own event batch."""
    for i in range(rounds):
        for name in ("usage.sqlite", "usage.sqlite-wal", "usage.sqlite-shm"):
            with open(folder / name, "ab") as f:
                f.write(b"x" * (i + 1))
        await asyncio.sleep(FAST["debounce"] * 3)


@pytest.mark.parametrize("own", [True, False])
async def test_own_files_are_not_events(watch, tmp_path, own):
    ledger = tmp_path / "usage.sqlite"
    files = [ledger, *(ledger.with_name(ledger.name + end) for end in ("-wal", "-shm", "-journal"))]
    watcher, rec, _cfg, auth = await watch(own_files=files if own else ())
    reads = count_config_reads(watcher)
    await ledger_writes(tmp_path)
    await rec.marker(auth)
    if own:  # nothing to look at: the config file is not read again
        assert reads == []
    else:  # the control: every batch has the config read (its directory changed)
        assert reads and all(reads)
    assert rec.configs == [] and rec.errors == []


async def test_own_files_follow_a_move_and_match_through_a_symlink(watch, tmp_path):
    """``own_files`` are compared as real paths (the watcher may watch a symlinked folder);
    set again, the old ones are events once more."""
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    (real / "config.yaml").write_text(f"port: 8317\nauth-dir: {tmp_path / 'auth'}\n")
    (tmp_path / "auth").mkdir()
    rec = Recorder()
    watcher = ConfigWatcher(
        link / "config.yaml",
        tmp_path / "auth",
        rec.on_config,
        rec.on_auth,
        rec.on_error,
        config=load_config(real / "config.yaml"),
        own_files=[real / "usage.sqlite", real / "usage.sqlite-wal", real / "usage.sqlite-shm"],
        **FAST,
    )
    await watcher.start()
    try:
        reads = count_config_reads(watcher)
        await ledger_writes(link)
        await rec.marker(tmp_path / "auth")
        assert reads == []
        watcher.own_files = [real / "elsewhere.sqlite", link / "config.yaml"]
        assert watcher.own_files == {os.path.realpath(real / "elsewhere.sqlite")}  # never the config
        await ledger_writes(link)
        await rec.marker(tmp_path / "auth", "marker2.json")
        assert reads and all(reads)
    finally:
        await watcher.stop()


async def test_broken_edit_keeps_last_good(setup, caplog):
    """CPA: TestServiceRejectsInvalidCredentialWeightConfigCommit (a reload with a credential
    weight over 1,000,000 is refused and the running config stays)."""
    watcher, rec, cfg, auth = setup
    good = watcher.config
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrouting:\n  session-affinity: sideways\n")
    await rec.wait()
    assert isinstance(rec.errors[0], ConfigError) and rec.errors[0].path == "routing.session-affinity"
    assert watcher.config is good and rec.configs == []
    assert "routing.session-affinity" in caplog.text
    write(cfg, "port: [\n")
    await rec.wait()
    assert "invalid YAML" in str(rec.errors[1])
    write(cfg, f"port: 8317\nauth-dir: {auth}\nvertex-api-key:\n  - api-key: k\n    weight: 1000001\n")
    await rec.wait()
    assert rec.errors[2].path == "vertex-api-key[0].weight"
    assert watcher.config is good and rec.configs == []
    write(cfg, f"port: 9000\nauth-dir: {auth}\n")
    await rec.wait()
    assert rec.configs[-1].port == 9000
    assert "host/port changes need a restart" in caplog.text


async def test_auth_dir_add_change_remove(setup):
    """CPA: TestHandleEventAuthWriteTriggersUpdate, TestAddOrUpdateClientTriggersReloadAndHash,
    TestHandleEventRemoveKnownFileDeletes, TestHandleEventRemovesAuthFile,
    TestRemoveClientRemovesHash: auth files are reported as added, changed and removed,
    and none of that calls the config callback."""
    _watcher, rec, _cfg, auth = setup
    a = auth / "a.json"
    a.write_text('{"type": "claude"}')
    (auth / "skip.cds").write_text("x")
    (auth / ".hidden.json").write_text("{}")
    await rec.wait()
    assert rec.merged().added == [a]
    a.write_text('{"type": "codex"}')
    await rec.wait()
    assert rec.merged().changed == [a]
    a.unlink()
    await rec.wait()
    assert rec.merged().removed == [a]
    assert rec.configs == []


async def test_rename_over_write_is_a_change_not_delete(watch):
    """CPA: TestHandleEventAtomicReplaceChangedTriggersUpdate, TestHandleEventRemoveDebounceSkips:
    a file replaced by a rename, or deleted and written again within the remove debounce,
    is a change, never a removal."""
    _watcher, rec, _cfg, auth = await watch(remove_debounce=60.0)
    a = auth / "a.json"
    a.write_text('{"v": 1}')
    await rec.wait()
    a.unlink()  # an editor deleting and re-creating inside the remove debounce
    await rec.marker(auth, "m1.json")  # the deletion was seen (and not reported)
    a.write_text('{"v": 2}')
    write(a, '{"v": 3}')
    await rec.wait()
    await rec.marker(auth, "m2.json")
    merged = rec.merged()
    assert merged.added == [a, auth / "m1.json", auth / "m2.json"]
    assert set(merged.changed) == {a} and merged.removed == []  # (v2 and v3 may come apart)


async def test_a_file_gone_for_the_remove_debounce_is_removed(watch):
    """CPA: TestShouldDebounceRemove, a difference: CPA acts on the first remove event and
    skips repeats within its window; ours waits until the file has stayed gone for the
    window (an editor's delete-and-rewrite is then a change), then removes it."""
    _watcher, rec, _cfg, auth = await watch(remove_debounce=0.2)
    a = auth / "a.json"
    a.write_text('{"v": 1}')
    await rec.wait()
    a.unlink()
    while not rec.merged().removed:
        await rec.wait()
    assert rec.merged().removed == [a] and rec.merged().changed == []


async def test_follows_new_auth_dir(setup, tmp_path):
    watcher, rec, cfg, auth = setup
    old = auth / "old.json"
    old.write_text("{}")
    await rec.wait()
    new_dir = tmp_path / "auth2"
    new_dir.mkdir()
    new = new_dir / "new.json"
    new.write_text("{}")
    write(cfg, f"port: 8317\nauth-dir: {new_dir}\n")
    while not any(c.removed for c in rec.auth):
        await rec.wait()
    assert watcher.auth_dir == new_dir
    assert rec.auth[-1] == AuthChanges(added=[new], removed=[old])
    extra = new_dir / "extra.json"
    extra.write_text("{}")
    await rec.wait()
    assert rec.auth[-1].added == [extra]


async def test_secret_written_back_once(setup):
    _watcher, rec, cfg, auth = setup
    write(cfg, f"port: 8317\nauth-dir: {auth}\nremote-management:\n  secret-key: pw\n")
    await rec.wait()
    assert rec.configs[-1].remote_management.secret_key.startswith("$2b$")
    assert "$2b$" in cfg.read_text()
    await rec.marker(auth)  # the write-back's own event came before the marker's
    assert len(rec.configs) == 1


async def test_deleted_config_warns_once_and_a_restored_file_loads(setup, caplog):
    """CPA: TestReloadConfigIfChangedHandlesMissingAndEmpty (a missing file is logged and the
    running config kept). TestStartFailsWhenConfigMissing, a difference: CPA's watcher
    fails to start without its file; cliproxy serves with the built-in defaults then and
    the watcher loads the file once it appears (test_filewatch.test_config_tracker)."""
    watcher, rec, cfg, auth = setup
    caplog.set_level(logging.INFO, logger="cliproxy.config")
    cfg.unlink()
    for name in ("a.json", "b.json"):  # each auth event takes several polls: the file stays gone
        write(auth / name, '{"type": "claude"}')
        await rec.wait()
    gone = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(gone) == 1, [r.getMessage() for r in gone]
    assert str(cfg) in gone[0].getMessage() and "running config" in gone[0].getMessage()
    assert rec.errors == [] and rec.configs == []
    write(cfg, f"port: 8318\nauth-dir: {auth}\n")
    await rec.wait()
    assert rec.configs[-1].port == 8318 and watcher.config is rec.configs[-1]
    assert any("is back" in r.getMessage() for r in caplog.records)


async def test_config_written_by_the_service_is_not_reported(setup):
    watcher, rec, cfg, auth = setup
    previous = cfg.read_bytes()
    ours = f"port: 8317\nauth-dir: {auth}\nrequest-retry: 5\n".encode()
    write(cfg, ours.decode())
    await watcher.note_config_written(ours, load_config(cfg))
    write(auth / "marker.json", '{"type": "claude"}')  # polled after the config file
    await rec.wait()
    assert rec.configs == [] and watcher.config.request_retry == 5
    write(cfg, previous.decode())  # the old file copied back is a change again
    await rec.wait()
    assert rec.configs[-1].request_retry == 0


async def test_auth_files_written_through_storage_are_not_reported(setup):
    watcher, rec, _cfg, auth = setup
    remove = add_write_listener(watcher.note_auth_written)
    try:
        write_json(auth / "ours.json", {"type": "claude", "v": 1})
        write_json(auth / "later-theirs.json", {"type": "claude", "v": 1})
        write(auth / "later-theirs.json", '{"type": "claude", "v": 2}')  # someone else's write after ours
        write(auth / "theirs.json", '{"type": "claude"}')
        await rec.wait()
        merged = rec.merged()
        assert sorted(merged.added) == [auth / "later-theirs.json", auth / "theirs.json"]
        assert merged.changed == [] and merged.removed == []
    finally:
        remove()
    write_json(auth / "after.json", {"type": "claude"})  # no longer listening: reported as usual
    await rec.wait()
    assert rec.auth[-1].added == [auth / "after.json"]


async def test_absurdly_nested_file_is_an_error_and_the_watcher_lives_on(setup):
    _watcher, rec, cfg, auth = setup
    write(cfg, "port: " + "[" * 3000 + "]" * 3000 + "\n")
    await rec.wait()
    assert isinstance(rec.errors[-1], ConfigError) and "nested" in str(rec.errors[-1])
    write(cfg, f"port: 8319\nauth-dir: {auth}\n")
    await rec.wait()
    assert rec.configs[-1].port == 8319


async def test_without_events_the_rescan_finds_changes(watch, monkeypatch):
    """File systems that deliver no events (NFS, some bind mounts): the slow rescan still sees.
    CPA: TestProcessEventsHandlesEventErrorAndChannelClose (an event source in trouble does
    not stop the watcher)."""
    monkeypatch.setenv("WATCHFILES_FORCE_POLLING", "1")  # watchfiles polls instead of inotify...
    monkeypatch.setenv("WATCHFILES_POLL_DELAY_MS", "600000")  # ...every ten minutes: no events
    _watcher, rec, cfg, auth = await watch(poll_interval=0.05)
    write(auth / "a.json", '{"type": "claude"}')
    await rec.wait()
    assert rec.merged().added == [auth / "a.json"]
    write(cfg, f"port: 8320\nauth-dir: {auth}\n")
    await rec.wait()
    assert rec.configs[-1].port == 8320


async def test_an_auth_dir_created_later_is_watched(watch):
    """CPA: TestStartFailsWhenAuthDirMissing, a difference: CPA's Start fails without the
    auth dir; ours starts and watches the directory once it is created (a fresh install
    signs in before the directory exists)."""
    watcher, rec, _cfg, auth = await watch(make_auth=False, poll_interval=0.05)
    auth.mkdir()
    write(auth / "a.json", '{"type": "claude"}')
    await rec.wait()
    assert rec.merged().added == [auth / "a.json"]
    assert str(auth) in watcher.watching


async def test_a_symlink_swap_in_the_auth_dir_is_seen(watch):
    """Kubernetes mounts secrets as ``name -> ..data/name`` and swaps ``..data``: no event
    names the file itself, so the swap makes the watcher scan the directory."""
    _watcher, rec, _cfg, auth = await watch()
    (auth / "..v1").mkdir()
    (auth / "..v1" / "k.json").write_text('{"v": 1}')
    (auth / "..data").symlink_to("..v1")
    (auth / "k.json").symlink_to("..data/k.json")
    await rec.wait()
    assert rec.merged().added == [auth / "k.json"]
    (auth / "..v2").mkdir()
    (auth / "..v2" / "k.json").write_text('{"v": 2}')
    (auth / "..data_tmp").symlink_to("..v2")
    os.replace(auth / "..data_tmp", auth / "..data")
    await rec.wait()
    assert rec.merged().changed == [auth / "k.json"]


async def test_stop_does_not_wait_for_the_event_thread(watch):
    """CPA: TestScheduleProcessEventsStopsOnContextDone, TestStartAndStopSuccess (start, then stop)."""
    watcher, _rec, _cfg, _auth = await watch()
    async with asyncio.timeout(1.9):  # ~0.1 s; the watcher gives the event thread 2 s before cancelling it
        await watcher.stop()
    assert watcher.watching == ()


async def test_a_retry_setting_alone_is_a_reload(setup):
    """CPA: TestReloadConfigTriggersCallbackForMaxRetryCredentialsChange: a rewrite that
    changes only max-retry-credentials calls back once with the new value."""
    watcher, rec, cfg, auth = setup
    write(cfg, f"port: 8317\nauth-dir: {auth}\nmax-retry-credentials: 2\n")
    await rec.wait()
    assert [c.max_retry_credentials for c in rec.configs] == [2]
    assert watcher.config.max_retry_credentials == 2


async def test_two_quick_writes_are_one_reload(setup):
    """CPA: TestScheduleConfigReloadDebounces: writes in quick succession are read once,
    and the last content is the one applied."""
    _watcher, rec, cfg, auth = setup
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrequest-retry: 1\n")
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrequest-retry: 2\n")
    await rec.wait()
    await rec.marker(auth)
    assert [c.request_retry for c in rec.configs] == [2]


async def test_a_token_store_pins_the_auth_dir_across_reloads(watch, tmp_path, monkeypatch):
    """CPA: TestReloadConfigUsesMirroredAuthDir, TestNewWatcherDetectsPersisterAndAuthDir: with a
    token store (Postgres, object storage, git) the auth files live in the store's local
    mirror; a reloaded config that names another auth-dir keeps that mirror, and the
    watcher keeps watching it."""
    monkeypatch.setenv(STORE_AUTH_DIR_ENV, str(tmp_path / "auth"))
    watcher, rec, cfg, auth = await watch()
    write(cfg, f"port: 8321\nauth-dir: {tmp_path / 'other'}\n")
    await rec.wait()
    assert rec.configs[-1].port == 8321 and rec.configs[-1].auth_dir == str(auth)
    assert watcher.auth_dir == auth
