"""CPA's ``internal/store/postgres_cooldown_store_test.go``: ``save-cooldown-status`` with
the Postgres token store keeps the cooldowns in its ``cooldown_store`` table, against a
real server. Each "host" is a workspace on the one database: what one host's mirror sends,
another host's bootstrap writes back as ``.cds`` files, which the proxy restores at start."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from cliproxy.credentials.persist import CdsStore
from cliproxy.credentials.record import Credential
from cliproxy.credentials.stores import Mirror
from cliproxy.credentials.stores.postgres import PostgresStore
from cliproxy.state.base import CooldownRecord

SCHEMA = "tokens"


Host = Callable[[str], tuple[PostgresStore, Mirror]]


@pytest.fixture
def host(postgres_url: str, tmp_path: Path) -> Iterator[Host]:
    """A factory of hosts (a bootstrapped store and its started mirror); all closed at the end."""
    made: list[tuple[PostgresStore, Mirror]] = []

    def make(name: str) -> tuple[PostgresStore, Mirror]:
        store = PostgresStore(tmp_path / name, postgres_url, SCHEMA)
        store.bootstrap(None)
        mirror = Mirror(store, interval=60)
        mirror.start()
        made.append((store, mirror))
        return store, mirror

    yield make
    for store, mirror in made:
        mirror.stop()
        store.close()


def _cool(store: PostgresStore, auth_id: str, model: str, updated: float, until: float) -> None:
    """What the pool writes when ``auth_id`` cools for ``model`` (its .cds file)."""
    cred = Credential(id=auth_id, provider="codex", path=store.auth_dir / auth_id)
    record = CooldownRecord(
        auth_id, model, "codex", next_retry_after=until, reason="rate limited", updated_at=updated
    )
    CdsStore(store.auth_dir).save(cred, [record])


def _cooling(store: PostgresStore) -> dict[tuple[str, str], str]:
    """The workspace's cooldown records: (auth id, model) -> reason."""
    return {(r.credential_id, r.model): r.reason for r in CdsStore(store.auth_dir).load()}


def test_cooldowns_are_saved_and_loaded_through_the_table(host: Host, postgres_url: str) -> None:
    """CPA: TestPostgresCooldownStateStore_SaveLoad: the schema has CPA's ``cooldown_store``;
    a saved record comes back on another host (and on a restart) as it was written; a
    credential whose cooldowns are gone leaves nothing. Before, the records stayed in the
    host's own ``.cds`` files, which the next bootstrap wiped."""
    now = time.time()
    a, mirror = host("host-a")
    _cool(a, "codex-a.json", "gpt-test", now - 60, now + 3600)
    assert mirror.sync() == 1
    b, _ = host("host-b")
    (loaded,) = CdsStore(b.auth_dir).load()
    assert (loaded.credential_id, loaded.model, loaded.reason) == ("codex-a.json", "gpt-test", "rate limited")
    assert loaded.until() == pytest.approx(now + 3600, abs=1e-3)
    assert loaded.updated_at == pytest.approx(now - 60, abs=1e-3)
    (a.auth_dir / "codex-a.cds").unlink()  # nothing cools any more
    assert mirror.sync() == 1
    b.bootstrap(None)
    assert _cooling(b) == {}
    with psycopg.connect(postgres_url) as conn:
        columns = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (SCHEMA, "cooldown_store"),
        ).fetchall()
    assert {c for (c,) in columns} == {"auth_id", "model", "content", "deleted", "created_at", "updated_at"}


def test_concurrent_hosts_merge_and_a_stale_delete_keeps_the_newer_record(host: Host) -> None:
    """CPA: TestPostgresCooldownStateStore_MergesConcurrentInstances: two hosts' cooldowns
    both reach a third; a host that drops a record it saw before does not delete the newer
    one another host wrote since."""
    now = time.time()
    a, mirror_a = host("host-a")
    b, mirror_b = host("host-b")
    _cool(a, "account-a.json", "model-a", now - 60, now + 600)
    _cool(b, "account-b.json", "model-b", now - 60, now + 600)
    assert mirror_a.sync() == mirror_b.sync() == 1
    stale, mirror_stale = host("stale")
    assert set(_cooling(stale)) == {("account-a.json", "model-a"), ("account-b.json", "model-b")}
    _cool(a, "account-a.json", "model-a", now + 10, now + 7200)  # newer, from host a
    assert mirror_a.sync() == 1
    (stale.auth_dir / "account-a.cds").unlink()  # the stale host's account-a cooled off
    assert mirror_stale.sync() == 1
    c, _ = host("host-c")
    assert set(_cooling(c)) == {("account-a.json", "model-a"), ("account-b.json", "model-b")}
    newer = next(r for r in CdsStore(c.auth_dir).load() if r.model == "model-a")
    assert newer.until() == pytest.approx(now + 7200, abs=1e-3)
