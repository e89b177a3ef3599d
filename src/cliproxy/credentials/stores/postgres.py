"""The Postgres token store (CPA's ``PGSTORE_DSN``): tables ``config_store`` (one row,
id ``config``, the YAML text), ``auth_store`` (id = the auth file's path under the
auth folder, content JSONB) and ``cooldown_store`` (``save-cooldown-status``: one row per
credential and model, content CPA's cooldown record JSON), in ``PGSTORE_SCHEMA`` when set.
The same tables as CPA's, so a CPA deployment's database serves unchanged.

Cooldowns travel as the ``.cds`` files of the workspace (:mod:`cliproxy.credentials.persist`):
the mirror sends a changed file's records, bootstrap writes the files of every live row,
so a restart or another instance starts with them. As CPA merges several instances' saves:
a record replaces a row only when it is as new or newer, and a record a file no longer
holds is deleted only when nobody wrote the row since this instance last saw it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ..persist import cds_rel, parse_time
from .base import StoreError, TokenStore

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)

CONFIG_TABLE = "config_store"
AUTH_TABLE = "auth_store"
COOLDOWN_TABLE = "cooldown_store"
CONFIG_KEY = "config"
CONNECT_TIMEOUT = 10


Key = tuple[str, str]  # (auth id, model) of a cooldown row


class PostgresStore(TokenStore):
    kind = "postgres"
    keeps_cooldowns = True

    def __init__(self, root: Path, dsn: str, schema: str = "") -> None:
        super().__init__(root)
        self.dsn = dsn
        self.schema = schema.strip()
        self._conn: psycopg.Connection[Any] | None = None
        self._seen: dict[str, dict[Key, datetime]] = {}  # .cds file -> its rows as last seen

    def describe(self) -> str:
        return f"postgres (schema {self.schema or 'public'})"

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT)
            except psycopg.Error as exc:
                raise StoreError(f"postgres store: cannot connect: {exc}") from None
        return self._conn

    def _table(self, name: str) -> sql.Composable:
        if self.schema:
            return sql.Identifier(self.schema, name)
        return sql.Identifier(name)

    def _execute(self, query: sql.Composed, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        conn = self._connection()
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                return list(cur.fetchall()) if cur.description is not None else []
        except psycopg.OperationalError:
            conn.close()  # reconnect on the next call
            raise

    def ensure_schema(self) -> None:
        if self.schema:
            self._execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        for table, content in ((CONFIG_TABLE, "TEXT"), (AUTH_TABLE, "JSONB")):
            self._execute(
                sql.SQL(
                    "CREATE TABLE IF NOT EXISTS {} (id TEXT PRIMARY KEY, content {} NOT NULL, "
                    "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW())"
                ).format(self._table(table), sql.SQL(content))
            )
        self._execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (auth_id TEXT NOT NULL, model TEXT NOT NULL DEFAULT '', "
                "content JSONB NOT NULL, deleted BOOLEAN NOT NULL DEFAULT FALSE, "
                "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), "
                "PRIMARY KEY (auth_id, model))"
            ).format(self._table(COOLDOWN_TABLE))
        )

    def bootstrap(self, template: Path | None = None) -> None:
        try:
            self.ensure_schema()
            rows = self._execute(
                sql.SQL("SELECT content FROM {} WHERE id = %s").format(self._table(CONFIG_TABLE)),
                (CONFIG_KEY,),
            )
            if rows:
                self.write_local(self.config_path, str(rows[0][0]).replace("\r\n", "\n").encode())
            else:
                seed = self.seed_config(template)
                self.write_local(self.config_path, seed)
                self.put_config(seed)
            auths = self._execute(
                sql.SQL("SELECT id, content::text, updated_at FROM {}").format(self._table(AUTH_TABLE))
            )
            cooling = self._execute(
                sql.SQL("SELECT content::text, updated_at FROM {} WHERE NOT deleted").format(
                    self._table(COOLDOWN_TABLE)
                )
            )
        except psycopg.Error as exc:
            raise StoreError(f"postgres store: {exc}") from None
        self.reset_auth_dir({str(rel): str(content).encode() for rel, content, _ in auths})
        self._pulled = {str(rel): str(updated) for rel, _, updated in auths}  # a pull reads what moved since
        self._write_cooldowns(cooling)
        log.info("postgres store: %d auth record(s) in %s", len(auths), self.auth_dir)

    def _write_cooldowns(self, rows: list[tuple[Any, ...]]) -> None:
        """The ``.cds`` files of the live cooldown rows, grouped by credential."""
        files: dict[str, list[dict[str, Any]]] = {}
        self._seen = {}
        for content, updated in rows:
            record = orjson.loads(content)
            auth_id = str(record.get("auth_id") or "").strip() if isinstance(record, dict) else ""
            rel = cds_rel(auth_id)
            if not rel or self.local_auth_path(rel) is None:
                continue
            files.setdefault(rel, []).append(record)
            self._seen.setdefault(rel, {})[(auth_id, str(record.get("model") or "").strip())] = updated
        for rel, records in files.items():
            records.sort(key=lambda r: str(r.get("model") or ""))
            first = records[0]
            envelope = {"version": 1, "auth_id": first["auth_id"], "provider": first.get("provider", "")}
            envelope["records"] = records
            path = self.local_auth_path(rel)
            if path is not None:
                self.write_local(path, orjson.dumps(envelope))

    def put_cooldowns(self, rel: str, data: bytes | None) -> None:
        now = datetime.now(UTC)
        current: dict[Key, tuple[datetime, dict[str, Any]]] = {}
        if data:
            try:
                raw = orjson.loads(data)
            except orjson.JSONDecodeError:
                log.warning("postgres store: %s is not JSON: not stored", rel)
                return
            for record in (raw.get("records") if isinstance(raw, dict) else None) or ():
                auth_id = str(record.get("auth_id") or "").strip() if isinstance(record, dict) else ""
                if auth_id:
                    stamp = parse_time(record.get("updated_at"))
                    at = datetime.fromtimestamp(stamp, UTC) if stamp > 0 else now
                    current[(auth_id, str(record.get("model") or "").strip())] = (at, record)
        upsert = sql.SQL(
            "INSERT INTO {} AS target (auth_id, model, content, deleted, created_at, updated_at) "
            "VALUES (%s, %s, %s, FALSE, NOW(), %s) ON CONFLICT (auth_id, model) DO UPDATE SET "
            "content = EXCLUDED.content, deleted = FALSE, updated_at = EXCLUDED.updated_at "
            "WHERE target.updated_at <= EXCLUDED.updated_at"
        ).format(self._table(COOLDOWN_TABLE))
        delete = sql.SQL(
            "INSERT INTO {} AS target (auth_id, model, content, deleted, created_at, updated_at) "
            "VALUES (%s, %s, '{{}}', TRUE, NOW(), %s) ON CONFLICT (auth_id, model) DO UPDATE SET "
            "content = EXCLUDED.content, deleted = TRUE, updated_at = EXCLUDED.updated_at "
            "WHERE NOT target.deleted AND target.updated_at <= %s"
        ).format(self._table(COOLDOWN_TABLE))
        conn = self._connection()
        try:
            with conn.transaction(), conn.cursor() as cur:
                for (auth_id, model), (at, record) in current.items():
                    cur.execute(upsert, (auth_id, model, Jsonb(record), at))
                for key, seen in self._seen.get(rel, {}).items():
                    if key not in current:  # gone from the file: unless another instance wrote it since
                        cur.execute(delete, (*key, max(now, seen), seen))
        except psycopg.OperationalError:
            conn.close()  # reconnect on the next call
            raise
        self._seen[rel] = {key: at for key, (at, _) in current.items()}

    def put_auth(self, rel: str, data: bytes | None) -> None:
        if data is None or not data.strip():
            self._execute(sql.SQL("DELETE FROM {} WHERE id = %s").format(self._table(AUTH_TABLE)), (rel,))
            return
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            log.warning("postgres store: %s is not JSON: not stored", rel)
            return
        self._execute(
            sql.SQL(
                "INSERT INTO {} (id, content, created_at, updated_at) VALUES (%s, %s, NOW(), NOW()) "
                "ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, updated_at = NOW()"
            ).format(self._table(AUTH_TABLE)),
            (rel, Jsonb(parsed)),
        )

    def remote_versions(self) -> dict[str, str]:
        rows = self._execute(sql.SQL("SELECT id, updated_at FROM {}").format(self._table(AUTH_TABLE)))
        return {str(rel): str(updated) for rel, updated in rows}

    def remote_read(self, rels: list[str]) -> dict[str, bytes]:
        rows = self._execute(
            sql.SQL("SELECT id, content::text FROM {} WHERE id = ANY(%s)").format(self._table(AUTH_TABLE)),
            (rels,),
        )
        return {str(rel): str(content).encode() for rel, content in rows}

    def same_record(self, local: bytes, remote: bytes) -> bool:
        """The same JSON (the table keeps JSONB: its text is not the file's)."""
        try:
            return bool(orjson.loads(local) == orjson.loads(remote))
        except orjson.JSONDecodeError:
            return False

    def put_config(self, data: bytes) -> None:
        text = data.decode("utf-8", "replace").replace("\r\n", "\n")
        self._execute(
            sql.SQL(
                "INSERT INTO {} (id, content, created_at, updated_at) VALUES (%s, %s, NOW(), NOW()) "
                "ON CONFLICT (id) DO UPDATE SET content = EXCLUDED.content, updated_at = NOW()"
            ).format(self._table(CONFIG_TABLE)),
            (CONFIG_KEY, text),
        )

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
