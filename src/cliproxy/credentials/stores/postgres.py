"""The Postgres token store (CPA's ``PGSTORE_DSN``): tables ``config_store`` (one row,
id ``config``, the YAML text) and ``auth_store`` (id = the auth file's path under the
auth folder, content JSONB), in ``PGSTORE_SCHEMA`` when set. The same tables as CPA's, so
a CPA deployment's database serves unchanged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from .base import StoreError, TokenStore

__all__ = ["PostgresStore"]

log = logging.getLogger(__name__)

CONFIG_TABLE = "config_store"
AUTH_TABLE = "auth_store"
CONFIG_KEY = "config"
CONNECT_TIMEOUT = 10


class PostgresStore(TokenStore):
    kind = "postgres"

    def __init__(self, root: Path, dsn: str, schema: str = "") -> None:
        super().__init__(root)
        self.dsn = dsn
        self.schema = schema.strip()
        self._conn: psycopg.Connection[Any] | None = None

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
            auths = self._execute(sql.SQL("SELECT id, content::text FROM {}").format(self._table(AUTH_TABLE)))
        except psycopg.Error as exc:
            raise StoreError(f"postgres store: {exc}") from None
        self.reset_auth_dir({str(rel): str(content).encode() for rel, content in auths})
        log.info("postgres store: %d auth record(s) in %s", len(auths), self.auth_dir)

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
