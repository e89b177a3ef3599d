"""``cliproxy replay``: play recorded client requests against a proxy whose upstreams
answer from the same recordings, and report every difference in what the client gets.

Without ``against``, the proxy is started here, in-process, from the recording's config
template (``config.yaml`` beside the recordings, or ``config``) with every provider's
base-url moved to the recorded upstream. With ``against``, the proxy at that URL is used
as it runs: its providers must point at the recorded upstream (``upstream_port`` fixes its
port so they can).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import aiohttp
import orjson

from cliproxy.config import load_or_default
from cliproxy.record import template
from cliproxy.record.diff import Difference, compare_answer
from cliproxy.record.upstream import RecordedUpstream
from cliproxy.server.app import listen
from cliproxy.service import Service
from cliproxy.usage.scrub import REDACTED, secret_header

__all__ = ["Recording", "ReplayError", "load_recordings", "replay", "run_command"]

log = logging.getLogger(__name__)

# client headers that belong to the connection, not to the request
_HOP = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "accept-encoding", "keep-alive"}
)
_KEY_HEADERS = frozenset({"x-api-key", "x-goog-api-key", "api-key"})


class ReplayError(Exception):
    """The recordings cannot be replayed (missing, unreadable, not recordings)."""


@dataclass(slots=True)
class Recording:
    path: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.name


def load_recordings(target: Path) -> tuple[list[Recording], Path]:
    """The recordings at ``target`` (a folder, or one file) in the order they were made,
    and the folder that holds them (and their config template)."""
    if target.is_dir():
        files, folder = sorted(target.glob("*.json")), target
    elif target.is_file():
        files, folder = [target], target.parent
    else:
        raise ReplayError(f"{target}: no such file or folder")
    found = []
    for path in files:
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ReplayError(f"{path}: not a readable recording ({exc})") from exc
        if isinstance(data, dict) and "cliproxy-recording" in data:
            found.append(Recording(path, data))
    if not found:
        raise ReplayError(f"{target}: no recordings (*.json written by cliproxy record)")
    found.sort(key=lambda r: (str(r.data.get("started", "")), r.name))
    return found, folder


def _client_request(rec: Mapping[str, Any], key: str) -> tuple[str, str, dict[str, str], bytes | None]:
    """Method, path with query, headers and body to send, the client key put back in
    place of the redacted one."""
    client = rec.get("client") or {}
    url = urlsplit(str(client.get("url") or "/"))
    query = [(k, key if v == REDACTED else v) for k, v in parse_qsl(url.query, keep_blank_values=True)]
    target = url.path + ("?" + urlencode(query) if query else "")
    headers: dict[str, str] = {}
    for name, value in (client.get("headers") or {}).items():
        lower = name.lower()
        if lower in _HOP:
            continue
        if value == REDACTED or secret_header(lower):
            if lower == "authorization":
                headers[name] = f"Bearer {key}"
            elif lower in _KEY_HEADERS:
                headers[name] = key
            continue
        headers[name] = str(value)
    body = client.get("body")
    data = None if body is None else body.encode() if isinstance(body, str) else orjson.dumps(body)
    return str(client.get("method") or "POST"), target, headers, data


async def _play(session: aiohttp.ClientSession, base: str, rec: Recording, key: str) -> list[Difference]:
    method, target, headers, data = _client_request(rec.data, key)
    try:
        async with session.request(method, base.rstrip("/") + target, headers=headers, data=data) as resp:
            body = await resp.read()
            status, got_headers = resp.status, dict(resp.headers)
    except aiohttp.ClientError as exc:
        return [Difference("response", "an answer", f"{type(exc).__name__}: {exc}")]
    return compare_answer(rec.data.get("response") or {}, status, got_headers, body)


def _config_template(folder: Path, config: Path | None) -> dict[str, Any]:
    path = config if config is not None else folder / template.TEMPLATE
    if config is not None and not config.is_file():
        raise ReplayError(f"{config}: no such config file")
    return template.load(path)


async def replay(
    target: Path,
    *,
    against: str = "",
    api_key: str = "",
    config: Path | None = None,
    pace: float = 0.0,
    upstream_port: int = 0,
    say: Callable[[str], None] = print,
) -> int:
    """Replay every recording at ``target``; 0 when the client got what was recorded,
    1 on any difference (each one reported through ``say``)."""
    recordings, folder = load_recordings(target)
    upstream = RecordedUpstream(pace=pace, port=upstream_port)
    url = await upstream.start()
    say(f"recorded upstream: {url}")
    stop: Callable[[], Any] | None = None
    work = tempfile.TemporaryDirectory(prefix="cliproxy-replay-")
    try:
        if against:
            base, key = against, api_key
        else:
            base, stop = await _start_proxy(_config_template(folder, config), url, Path(work.name))
            key = template.CLIENT_KEY
        failed = 0
        async with aiohttp.ClientSession(auto_decompress=True) as session:
            for rec in recordings:
                upstream.load(list(rec.data.get("upstream") or []))
                diffs = await _play(session, base, rec, key)
                diffs += upstream.problems + upstream.leftovers()
                if diffs:
                    failed += 1
                    say(f"{rec.name}: {len(diffs)} difference(s)")
                    for d in diffs:
                        say(f"  {d}")
                else:
                    say(f"{rec.name}: ok")
        say(f"{len(recordings)} recording(s), {failed} with differences")
        return 1 if failed else 0
    finally:
        if stop is not None:
            await stop()
        await upstream.close()
        work.cleanup()


async def _start_proxy(
    config_template: dict[str, Any], upstream: str, work: Path
) -> tuple[str, Callable[[], Any]]:
    auth_dir = work / "auths"
    auth_dir.mkdir()
    path = work / "config.yaml"
    template.dump(template.for_replay(config_template, upstream, auth_dir), path)
    config, _ = load_or_default(path)
    service = Service(config, path, watch=False)
    listener = await listen(service, "127.0.0.1", 0)
    return f"http://127.0.0.1:{listener.port}", listener.stop


def run_command(args: argparse.Namespace) -> int:
    """``cliproxy replay`` (arguments from ``cliproxy.record.commands``): 0 no difference,
    1 differences, 2 nothing to replay."""
    if not 0 <= args.upstream_port <= 65535:
        print(f"cliproxy replay: --upstream-port {args.upstream_port}: not a port number", file=sys.stderr)
        return 2
    config = getattr(args, "config", None)
    try:
        return asyncio.run(
            replay(
                Path(args.recordings),
                against=args.against,
                api_key=args.api_key,
                config=Path(config) if config else None,
                pace=max(0.0, args.pace),
                upstream_port=args.upstream_port,
            )
        )
    except ReplayError as exc:
        print(f"cliproxy replay: {exc}", file=sys.stderr)
        return 2
