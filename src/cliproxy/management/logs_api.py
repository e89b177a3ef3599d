"""Logs, request logs, error logs and the usage queue (CPA's ``logs.go`` and ``usage.go``).

``GET /logs`` and ``DELETE /logs`` need ``logging-to-file``; request and error log files
are served as attachments; ``GET /usage-queue`` pops queued usage records. File reads
run in a thread so a large log never stalls the event loop.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cliproxy.management.logs_read import is_rotated, read_logs
from cliproxy.management.types import ApiError, Req, Resp, Route, bare_name
from cliproxy.usage.applog import MAIN_LOG
from cliproxy.usage.hooks import recorder_of

__all__ = ["ROUTES"]


def _log_dir(req: Req) -> Path:
    return recorder_of(req.service).log_dir


def _need_file_logging(req: Req) -> None:
    if not req.service.config.logging_to_file:
        raise ApiError(400, "logging to file disabled")


def _int_query(req: Req, name: str, *, strict: bool) -> int:
    raw = (req.query.get(name) or "").strip()
    if not raw:
        return 0
    try:
        value = int(raw)
        if value >= 1 << 63:  # CPA parses a 64-bit integer: a longer one is not a number
            raise ValueError(raw)
    except ValueError:
        if strict:
            raise ApiError(400, f"invalid {name}: must be a positive integer") from None
        return 0
    if value <= 0:
        if strict:
            raise ApiError(400, f"invalid {name}: must be greater than zero")
        return 0
    return value


async def get_logs(req: Req) -> Resp:
    _need_file_logging(req)
    folder = _log_dir(req)
    cursor = (req.query.get("cursor") or "").strip()
    after = _int_query(req, "after", strict=False)
    limit = _int_query(req, "limit", strict=True)
    answer = await asyncio.to_thread(read_logs, folder, cursor=cursor, after=after, limit=limit)
    return Resp(200, answer.body())


def _clear_logs(folder: Path) -> int:
    removed = 0
    for path in folder.iterdir():
        if not path.is_file():
            continue
        if path.name == MAIN_LOG:
            with path.open("r+b") as log:
                log.truncate(0)
        elif is_rotated(path.name):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


async def delete_logs(req: Req) -> Resp:
    _need_file_logging(req)
    try:
        removed = await asyncio.to_thread(_clear_logs, _log_dir(req))
    except FileNotFoundError:
        raise ApiError(404, "log directory not found") from None
    return Resp(200, {"success": True, "message": "Logs cleared successfully", "removed": removed})


def _error_logs(folder: Path) -> list[dict[str, object]]:
    files = []
    for path in folder.iterdir():
        name = path.name
        if path.is_file() and name.startswith("error-") and name.endswith(".log"):
            st = path.stat()
            files.append({"name": name, "size": st.st_size, "modified": int(st.st_mtime)})
    files.sort(key=lambda f: f["modified"], reverse=True)  # type: ignore[arg-type, return-value]
    return files


async def list_error_logs(req: Req) -> Resp:
    if req.service.config.request_log:
        return Resp(200, {"files": []})
    try:
        files = await asyncio.to_thread(_error_logs, _log_dir(req))
    except FileNotFoundError:
        files = []
    return Resp(200, {"files": files})


async def _attachment(folder: Path, name: str) -> Resp:
    path = (folder / name).resolve()
    if path.parent != folder.resolve():
        raise ApiError(400, "invalid log file path")
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except FileNotFoundError:
        raise ApiError(404, "log file not found") from None
    except IsADirectoryError:
        raise ApiError(400, "invalid log file") from None
    return Resp(
        200,
        raw=data,
        headers={
            "Content-Type": "text/plain; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


async def download_error_log(req: Req) -> Resp:
    name = req.params["name"].strip()
    if not bare_name(name):
        raise ApiError(400, "invalid log file name")
    if not (name.startswith("error-") and name.endswith(".log")):
        raise ApiError(404, "log file not found")
    return await _attachment(_log_dir(req), name)


def _find_by_id(folder: Path, request_id: str) -> str | None:
    suffix = f"-{request_id}.log"
    return next((p.name for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix)), None)


async def request_log_by_id(req: Req) -> Resp:
    request_id = (req.params.get("id") or req.query.get("id") or "").strip()
    if not request_id:
        raise ApiError(400, "missing request ID")
    if "/" in request_id or "\\" in request_id:
        raise ApiError(400, "invalid request ID")
    folder = _log_dir(req)
    try:
        name = await asyncio.to_thread(_find_by_id, folder, request_id)
    except FileNotFoundError:
        raise ApiError(404, "log directory not found") from None
    if name is None:
        raise ApiError(404, "log file not found for the given request ID")
    return await _attachment(folder, name)


async def usage_queue(req: Req) -> Resp:
    raw = (req.query.get("count") or "").strip()
    count = 1
    if raw:
        try:
            count = int(raw)
        except ValueError:
            count = 0
        if count <= 0:
            raise ApiError(400, "count must be a positive integer")
    items = await recorder_of(req.service).queue.take(count)
    return Resp(200, raw=b"[" + b",".join(items) + b"]")


ROUTES: list[Route] = [
    Route("GET", "/logs", get_logs),
    Route("DELETE", "/logs", delete_logs),
    Route("GET", "/request-error-logs", list_error_logs),
    Route("GET", "/request-error-logs/{name}", download_error_log),
    Route("GET", "/request-log-by-id/{id}", request_log_by_id),
    Route("GET", "/usage-queue", usage_queue),
]
