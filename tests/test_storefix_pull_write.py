"""A pull whose local write failed (disk full, permissions) takes the record on the next
pull (docs/deploy.md, "Several hosts").

Postgres and object-storage mirrors read only the records whose remote version moved since
the last pull. Before, the version was noted before the record was written into the
workspace: when the write failed, the next pull saw nothing new, and the host kept its old
copy (or none) until the remote changed that record again. The failure here is a real one
of the file system: the writer's temporary file cannot be created (a directory holds its
name), as when the disk is full.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cliproxy.credentials.stores.mirror import Mirror
from tests.stores.conftest import postgres_url, s3_url  # noqa: F401 (fixtures)
from tests.test_storepull_hosts import TOKEN, _pair, _write


def _exercise(ma: Mirror, mb: Mirror, caplog: pytest.LogCaptureFixture) -> None:
    _write(ma, "x.json", TOKEN)
    _write(ma, "y.json", {**TOKEN, "email": "y@example.com"})
    assert ma.sync() == 2
    blocker = mb.store.auth_dir / ".x.json.bootstrap"  # the writer's temporary file
    blocker.mkdir(parents=True)
    caplog.set_level("WARNING")
    assert mb.pull() == 1  # y only: x could not be written
    assert "cannot take the remote's x.json" in caplog.text
    assert not (mb.store.auth_dir / "x.json").exists()
    assert (mb.store.auth_dir / "y.json").is_file()
    blocker.rmdir()
    assert mb.pull() == 1, "the record whose write failed was never taken again"
    assert json.loads((mb.store.auth_dir / "x.json").read_bytes()) == TOKEN
    assert mb.pull() == 0  # written now: not read again
    # a changed record whose write fails keeps the old copy until a pull writes the new one
    _write(ma, "x.json", {**TOKEN, "disabled": True})
    assert ma.sync() == 1
    blocker.mkdir()
    assert mb.pull() == 0
    assert json.loads((mb.store.auth_dir / "x.json").read_bytes()) == TOKEN
    blocker.rmdir()
    assert mb.pull() == 1
    assert json.loads((mb.store.auth_dir / "x.json").read_bytes())["disabled"] is True
    assert mb.sync() == 0  # what was pulled is not pushed back
    assert not any(p.name.endswith(".bootstrap") for p in mb.store.auth_dir.iterdir())


def _run(make: Callable[[Path], Any], tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ma, mb = _pair(make, tmp_path)
    try:
        _exercise(ma, mb, caplog)
    finally:
        for mirror in (ma, mb):
            mirror.stop()
            mirror.store.close()


def test_postgres_pull_retries_a_record_it_could_not_write(postgres_url, tmp_path, caplog):  # noqa: F811
    from cliproxy.credentials.stores.postgres import PostgresStore

    _run(lambda root: PostgresStore(root, postgres_url, "storefix"), tmp_path, caplog)


def test_object_store_pull_retries_a_record_it_could_not_write(s3_url, tmp_path, caplog):  # noqa: F811
    from cliproxy.credentials.stores.objects import ObjectStore

    _run(lambda root: ObjectStore(root, s3_url, "ak", "sk", "storefix"), tmp_path, caplog)
