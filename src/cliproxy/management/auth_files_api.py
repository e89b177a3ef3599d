"""Credential files: list, upload, download, delete, status, fields, models, Vertex import.

Paths, methods and bodies are CPA's (``internal/api/handlers/management/auth_files*.go``).
Every write lands in ``auth-dir`` atomically with mode 0600 and is applied at once with
``service.reload_auth_files()``, the answer waiting until plugin-provider files are bound
(``service.settle_credentials()``); names are bare file names (no path traversal).
"""

from __future__ import annotations

import time
from typing import Any

from cliproxy.credentials.files import normalize_metadata
from cliproxy.credentials.listing import go_time, pool_entry
from cliproxy.management.auth_files_config import DISABLE_PATTERN, is_config_key, toggle_config_key
from cliproxy.management.auth_files_fields import apply_fields, normalize_fields
from cliproxy.management.auth_files_models import credential_model, static_definitions
from cliproxy.management.auth_files_store import (
    file_name,
    find_credential,
    json_name,
    read_object,
    refuse_shared,
    safe_name,
    shared_source,
    write_object,
)
from cliproxy.management.auth_files_upload import (
    FormPart,
    VertexImportError,
    is_multipart,
    parse_form,
    save_vertex,
    service_account_json,
    store_auth_file,
    vertex_record,
)
from cliproxy.management.types import ApiError, Req, Resp, Route, bare_name, json_body
from cliproxy.usage import recorder_of

__all__ = ["ROUTES"]

_RUNTIME_ONLY = "runtime-only credential cannot be modified directly; edit or delete its source"


async def list_auth_files(req: Req) -> Resp:
    name, index = req.query.get("name", "").strip(), req.query.get("auth_index", "").strip()
    pool, files = req.service.pool, []
    stats, now = recorder_of(req.service).stats, time.time()
    await stats.counters.refresh()  # shared counters: read Redis
    headroom = await pool.state.get_headroom()  # routing.quota-steering estimates
    for cred in pool.credentials():
        if name and name not in (cred.id, file_name(cred)):
            continue
        if index and cred.index != index:
            continue
        entry = await pool_entry(pool, cred, now, stats.auth_entry(cred.index, now))
        if entry is not None:
            if (mark := headroom.get(cred.id)) is not None:
                entry["headroom"] = {
                    "used_percent": round(mark.used_percent, 1),
                    "resets_at": go_time(mark.resets_at),
                    "window": mark.window,
                    "source": mark.source,
                }
            files.append(entry)
    files.sort(key=lambda e: str(e["name"]).lower())
    return Resp(200, {"files": files})


async def auth_file_models(req: Req) -> Resp:
    name = req.query.get("name", "")
    if not name:
        raise ApiError(400, "name is required")
    cred = find_credential(req.service, name)
    models = req.service.models.models_for(cred) if cred is not None else []
    return Resp(200, {"models": [credential_model(m) for m in models]})


async def model_definitions(req: Req) -> Resp:
    channel = req.params.get("channel", "").strip() or req.query.get("channel", "").strip()
    if not channel:
        raise ApiError(400, "channel is required")
    models = static_definitions(req.service.models.catalog, channel)
    if models is None:
        return Resp(400, {"error": "unknown channel", "channel": channel})
    return Resp(200, {"channel": channel.lower(), "models": models})


async def download_auth_file(req: Req) -> Resp:
    name = json_name(req.query.get("name", ""))
    try:
        data = (req.service.auth_dir / name).read_bytes()
    except FileNotFoundError as exc:
        raise ApiError(404, "file not found") from exc
    except OSError as exc:
        raise ApiError(500, f"failed to read file: {exc.strerror}") from exc
    return Resp(200, raw=data, headers={"Content-Disposition": f'attachment; filename="{name}"'})


async def upload_auth_file(req: Req) -> Resp:
    content_type = req.headers.get("Content-Type", "")
    if is_multipart(content_type):
        files = sorted(
            (p for p in parse_form(content_type, req.body) if p.filename is not None), key=lambda p: p.field
        )
        if not files:
            raise ApiError(400, "no files uploaded")
        return await _uploaded(req, files)
    name = json_name(req.query.get("name", ""))
    store_auth_file(req.service.auth_dir, name, req.body)
    await _reload(req)
    return Resp(200, {"status": "ok"})


async def _uploaded(req: Req, files: list[FormPart]) -> Resp:
    stored: list[str] = []
    failed: list[dict[str, str]] = []
    for part in files:
        try:
            stored.append(store_auth_file(req.service.auth_dir, part.filename or "", part.data))
        except ApiError as exc:
            if len(files) == 1:
                raise
            failed.append(
                {"name": (part.filename or "").replace("\\", "/").rsplit("/", 1)[-1], "error": exc.message}
            )
    if stored:
        await _reload(req)
    if len(files) == 1:
        return Resp(200, {"status": "ok"})
    if failed:
        return Resp(207, {"status": "partial", "uploaded": len(stored), "files": stored, "failed": failed})
    return Resp(200, {"status": "ok", "uploaded": len(stored), "files": stored})


async def delete_auth_files(req: Req) -> Resp:
    if req.query.get("all", "") in ("true", "1", "*"):
        return await _delete_all(req)
    names = _names_to_delete(req)
    if not names:
        raise ApiError(400, "invalid name")
    deleted: list[str] = []
    failed: list[dict[str, str]] = []
    for name in names:
        try:
            deleted.append(_delete_one(req, name))
        except ApiError as exc:
            if len(names) == 1:
                raise
            failed.append({"name": name, "error": exc.message})
    if deleted:
        await _reload(req)
    if len(names) == 1:
        return Resp(200, {"status": "ok"})
    if failed:
        return Resp(207, {"status": "partial", "deleted": len(deleted), "files": deleted, "failed": failed})
    return Resp(200, {"status": "ok", "deleted": len(deleted), "files": deleted})


async def _delete_all(req: Req) -> Resp:
    auth_dir = req.service.auth_dir
    try:
        targets = [p for p in auth_dir.iterdir() if p.is_file() and p.name.lower().endswith(".json")]
    except OSError as exc:
        raise ApiError(500, f"failed to read auth dir: {exc.strerror}") from exc
    deleted = 0
    for path in targets:
        try:
            path.unlink()
            deleted += 1
        except OSError:
            continue
    await _reload(req)
    return Resp(200, {"status": "ok", "deleted": deleted})


def _names_to_delete(req: Req) -> list[str]:
    getall = getattr(req.query, "getall", None)
    names = list(getall("name", [])) if getall is not None else [req.query.get("name", "")]
    names = [n for n in names if n.strip()]
    if not names:
        try:
            body = json_body(req)
        except ApiError as exc:
            raise ApiError(400, "invalid request body") from exc
        names = _body_names(body)
    return list(dict.fromkeys(n.strip() for n in names if n.strip()))


def _body_names(body: Any) -> list[str]:
    if body is None:
        return []
    if isinstance(body, list) and all(isinstance(n, str) for n in body):
        return body
    if isinstance(body, dict):
        single, many = body.get("name", ""), body.get("names") or []
        if isinstance(single, str) and isinstance(many, list) and all(isinstance(n, str) for n in many):
            return [single, *many]
    raise ApiError(400, "invalid request body")


def _delete_one(req: Req, name: str) -> str:
    name = safe_name(name)
    cred = find_credential(req.service, name)
    if cred is not None:
        refuse_shared(cred, name)  # one of several credentials of a file: only the file goes
    path = cred.path if cred is not None and cred.path is not None else req.service.auth_dir / name
    try:
        path.unlink()
    except FileNotFoundError as exc:
        raise ApiError(404, "auth file not found") from exc
    except OSError as exc:
        raise ApiError(500, f"failed to remove file: {exc.strerror}") from exc
    return path.name


async def patch_status(req: Req) -> Resp:
    body = _object_body(req)
    name, index, disabled = body.get("name"), body.get("auth_index"), body.get("disabled")
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "name is required")
    if not isinstance(disabled, bool):
        raise ApiError(400, "disabled is required")
    cred = find_credential(req.service, name, index if isinstance(index, str) else "")
    if cred is None:
        raise ApiError(404, "auth file not found")
    if is_config_key(cred):
        if not await toggle_config_key(req.service, cred, disabled):
            raise ApiError(404, "config api key entry not found")
        return Resp(
            200,
            {
                "status": "ok",
                "disabled": disabled,
                "via": "config:excluded-models",
                "excluded_pattern": DISABLE_PATTERN,
            },
        )
    refuse_shared(cred, name)  # a shared file: by its own name, for all its credentials at once
    path = shared_source(cred) or cred.path
    if path is None:
        raise ApiError(409, _RUNTIME_ONLY)
    meta = read_object(path)
    normalize_metadata(meta)
    meta["disabled"] = disabled
    write_object(path, meta)
    await _reload(req)
    return Resp(200, {"status": "ok", "disabled": disabled})


async def patch_fields(req: Req) -> Resp:
    body = _object_body(req)
    name = body.pop("name", None)
    if not isinstance(name, str) or not name.strip():
        raise ApiError(400, "name is required")
    fields = normalize_fields(body)
    cred = find_credential(req.service, name)
    if cred is None:
        raise ApiError(404, "auth file not found")
    refuse_shared(cred)  # its fields would be every credential's of the file (CPA refuses too)
    if cred.path is None:
        raise ApiError(409, _RUNTIME_ONLY)
    meta = read_object(cred.path)
    normalize_metadata(meta)
    apply_fields(meta, fields)
    write_object(cred.path, meta)
    await _reload(req)
    return Resp(200, {"status": "ok"})


async def import_vertex(req: Req) -> Resp:
    content_type = req.headers.get("Content-Type", "")
    parts = parse_form(content_type, req.body) if is_multipart(content_type) else []
    upload = next((p for p in parts if p.field == "file" and p.filename is not None), None)
    if upload is None:
        raise ApiError(400, "file required")
    location = next((p.data.decode("utf-8", "replace") for p in parts if p.field == "location"), "").strip()
    location = location or req.query.get("location", "")
    try:
        account = service_account_json(upload.data)
        file_name, record = vertex_record(account, location)
    except VertexImportError as exc:
        return Resp(400, exc.payload())
    if not bare_name(file_name):  # the name is made of project_id: a NUL, a line break, too long
        refused = {"error": "invalid service account", "message": "project_id cannot make a file name"}
        return Resp(400, refused)
    path = save_vertex(req.service.auth_dir, file_name, record)
    await _reload(req)
    return Resp(
        200,
        {
            "status": "ok",
            "auth-file": str(path),
            "project_id": record["project_id"],
            "email": record["email"],
            "location": record["location"],
        },
    )


async def _reload(req: Req) -> None:
    """Apply a write at once: the answer goes out once the pool holds what the files say,
    plugin-provider files bound to their plugins included (waiting a bounded time)."""
    await req.service.reload_auth_files()
    await req.service.settle_credentials()


def _object_body(req: Req) -> dict[str, Any]:
    try:
        body = json_body(req)
    except ApiError as exc:
        raise ApiError(400, "invalid request body") from exc
    if not isinstance(body, dict):
        raise ApiError(400, "invalid request body")
    return body


ROUTES: list[Route] = [
    Route("GET", "/auth-files", list_auth_files),
    Route("GET", "/auth-files/models", auth_file_models),
    Route("GET", "/model-definitions/{channel}", model_definitions),
    Route("GET", "/auth-files/download", download_auth_file),
    Route("POST", "/auth-files", upload_auth_file),
    Route("DELETE", "/auth-files", delete_auth_files),
    Route("PATCH", "/auth-files/status", patch_status),
    Route("PATCH", "/auth-files/fields", patch_fields),
    Route("POST", "/vertex/import", import_vertex),
]
