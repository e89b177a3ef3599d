"""The management API, as the terminal UI calls it (the same routes as the web panel)."""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

__all__ = ["ManagementClient", "ManagementError"]

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5)
PREFIX = "/v0/management"


class ManagementError(Exception):
    """A management call failed: not reachable, refused, or answered with an error."""


class ManagementClient:
    """``/v0/management`` of one proxy, with ``Authorization: Bearer <key>``."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {key}"}
        self._session: aiohttp.ClientSession | None = None

    async def _call(self, method: str, path: str, data: bytes | None = None) -> bytes:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, headers=self._headers)
        try:
            async with self._session.request(method, self.url + PREFIX + path, data=data) as resp:
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ManagementError(f"{method} {path}: {exc or type(exc).__name__}") from exc
        if resp.status >= 400:
            raise ManagementError(f"{method} {path}: HTTP {resp.status} {_message(body)}")
        return body

    async def _json(self, path: str) -> Any:
        return orjson.loads(await self._call("GET", path))

    async def auth_files(self) -> list[dict[str, Any]]:
        """The credentials with their state and request counters."""
        body = await self._json("/auth-files")
        files = body.get("files") if isinstance(body, dict) else None
        return files if isinstance(files, list) else []

    async def key_usage(self) -> Any:
        """Request counts per config API-key credential (``/api-key-usage``)."""
        return await self._json("/api-key-usage")

    async def model_usage(self) -> list[dict[str, Any]] | str:
        """Totals per model from the usage ledger, or why there are none (ledger off)."""
        try:
            body = await self._json("/usage/summary?group=model")
        except ManagementError as exc:
            return str(exc)
        rows = body.get("rows") if isinstance(body, dict) else None
        return rows if isinstance(rows, list) else []

    async def logs(self, after: int = 0) -> dict[str, Any]:
        """Log lines newer than ``after`` (a timestamp from the previous answer)."""
        body = await self._json(f"/logs?after={after}" if after else "/logs")
        return body if isinstance(body, dict) else {}

    async def reload_config(self) -> None:
        """Reload: write the config file back as it is, so the proxy reads and applies it."""
        text = await self._call("GET", "/config.yaml")
        await self._call("PUT", "/config.yaml", text)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _message(body: bytes) -> str:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(doc, dict):
        err = doc.get("error") or doc.get("message")
        if isinstance(err, dict):
            err = err.get("message")
        if err:
            return str(err)
    return body[:200].decode("utf-8", "replace")
