"""Shared bits for the request-log and usage tests: config text, calls, waiting for the writer."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from cliproxy.formats import Format
from cliproxy.usage import recorder_of
from cliproxy.usage.recorder import Recorder
from cliproxy.usage.trace import RequestTrace

CLIENT_KEY = "sk-client-key-123456"
UPSTREAM_KEY = "sk-upstream-secret-98765"
MSG = {"model": "claude-model", "max_tokens": 50, "messages": [{"role": "user", "content": "hello there"}]}


def claude_config(fake: Any, extra: str = "") -> str:
    return f"""
api-keys: ["{CLIENT_KEY}"]
claude-api-key:
  - api-key: "{UPSTREAM_KEY}"
    base-url: "{fake.base_url}"
    models: [{{name: "claude-sonnet-4-6", alias: "claude-model"}}]
{extra}
"""


async def post(proxy: Any, body: dict[str, Any], path: str = "/v1/messages") -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(proxy.url + path, json=body, headers={"x-api-key": CLIENT_KEY}) as r,
    ):
        return r.status, await r.read()


async def settle(proxy: Any) -> Path:
    """Wait until every queued log write is on disk; the logs folder."""
    rec = recorder_of(proxy.service)
    assert await asyncio.to_thread(rec.writer.flush)
    return rec.log_dir


def logs(folder: Path, prefix: str = "") -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix == ".log" and p.name.startswith(prefix) and p.name != "main.log"
    )


def records(raw: bytes) -> list[dict[str, Any]]:
    return orjson.loads(raw)


def close_recorder(proxy: Any) -> None:
    rec = getattr(proxy.service, "recorder", None)
    if rec is not None:
        rec.close()


def begin_chat(rec: Recorder, api_key: str = "") -> RequestTrace:
    """A trace opened as the server opens one for ``POST /v1/chat/completions`` (model "m")."""
    t = rec.begin(
        method="POST",
        url="/v1/chat/completions",
        headers={},
        body=b"{}",
        endpoint="POST /v1/chat/completions",
        fmt=Format.OPENAI,
        alias="m",
        api_key=api_key,
        client_ip="",
    )
    assert t is not None
    return t
