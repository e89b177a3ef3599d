from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest

from cliproxy.config import AuthChanges, ConfigWatcher, load_config
from cliproxy.credentials.storage import add_write_listener, write_json
from cliproxy.errors import ConfigError

FAST = {"poll_interval": 0.02, "debounce": 0.03, "remove_debounce": 0.25}


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

    async def wait(self, timeout: float = 1.0) -> None:
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()

    def merged(self) -> AuthChanges:
        out = AuthChanges()
        for c in self.auth:
            out.added.extend(c.added)
            out.changed.extend(c.changed)
            out.removed.extend(c.removed)
        return out


@pytest.fixture
async def setup(tmp_path):
    auth = tmp_path / "auth"
    auth.mkdir()
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"port: 8317\nauth-dir: {auth}\n")
    rec = Recorder()
    watcher = ConfigWatcher(
        cfg, auth, rec.on_config, rec.on_auth, rec.on_error, config=load_config(cfg), **FAST
    )
    await watcher.start()
    yield watcher, rec, cfg, auth
    await watcher.stop()


def write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


async def test_edit_calls_back_with_new_config(setup):
    watcher, rec, cfg, auth = setup
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrouting:\n  strategy: ff\n")
    await rec.wait()
    assert rec.configs[-1].routing.strategy == "fill-first"
    assert watcher.config is rec.configs[-1]


async def test_touch_and_empty_write_are_ignored(setup):
    _watcher, rec, cfg, _auth = setup
    os.utime(cfg, None)
    cfg.write_text(cfg.read_text())
    cfg.write_text("")
    with pytest.raises(TimeoutError):
        await rec.wait(0.3)
    assert rec.configs == [] and rec.errors == []


async def test_broken_edit_keeps_last_good(setup, caplog):
    watcher, rec, cfg, auth = setup
    good = watcher.config
    write(cfg, f"port: 8317\nauth-dir: {auth}\nrouting:\n  strategy: sideways\n")
    await rec.wait()
    assert isinstance(rec.errors[0], ConfigError) and rec.errors[0].path == "routing.strategy"
    assert watcher.config is good and rec.configs == []
    assert "routing.strategy" in caplog.text
    write(cfg, "port: [\n")
    await rec.wait()
    assert "invalid YAML" in str(rec.errors[1])
    write(cfg, f"port: 9000\nauth-dir: {auth}\n")
    await rec.wait()
    assert rec.configs[-1].port == 9000
    assert "host/port changes need a restart" in caplog.text


async def test_auth_dir_add_change_remove(setup):
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


async def test_rename_over_write_is_a_change_not_delete(setup):
    _watcher, rec, _cfg, auth = setup
    a = auth / "a.json"
    a.write_text('{"v": 1}')
    await rec.wait()
    a.unlink()  # an editor deleting and re-creating inside the remove debounce
    await asyncio.sleep(0.08)
    a.write_text('{"v": 2}')
    write(a, '{"v": 3}')
    await rec.wait()
    await asyncio.sleep(0.35)
    merged = rec.merged()
    assert merged.added == [a] and merged.changed == [a] and merged.removed == []


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
    with pytest.raises(TimeoutError):
        await rec.wait(0.3)
    assert len(rec.configs) == 1


async def test_deleted_config_warns_once_and_a_restored_file_loads(setup, caplog):
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
    watcher.note_config_written(ours, load_config(cfg))
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
