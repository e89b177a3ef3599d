"""``GET /latest-version``, in the shape the panel reads.

CPA asks GitHub for its own newest release; cliproxy asks the package index for the
``cliproxy`` package (``CLIPROXY_PACKAGE_INDEX`` overrides the URL), through the proxy-url
of the config, with a short time limit. Unreachable, it answers CPA's failure shape with
a message that says so (502 ``request_failed``), never hanging the panel.

The plugin store endpoints live in :mod:`cliproxy.management.store_api`.
"""

from __future__ import annotations

import asyncio
import os

import orjson

from cliproxy import __version__
from cliproxy.management.types import Req, Resp, Route
from cliproxy.providers.http import proxy_key

__all__ = ["DEFAULT_INDEX", "ROUTES", "TIMEOUT"]

DEFAULT_INDEX = "https://pypi.org/pypi/cliproxy/json"
TIMEOUT = 5.0


def _failure(status: int, code: str, message: str) -> Resp:
    return Resp(status, {"error": code, "message": message})


async def get_latest_version(req: Req) -> Resp:
    url = os.environ.get("CLIPROXY_PACKAGE_INDEX", "").strip() or DEFAULT_INDEX
    offline = f"the package index ({url}) could not be reached; this is cliproxy {__version__}"
    try:
        async with asyncio.timeout(TIMEOUT):
            resp = await req.service.http.request(
                "GET",
                url,
                headers={"Accept": "application/json", "User-Agent": f"cliproxy/{__version__}"},
                body=None,
                proxy=proxy_key(None, req.service.config.proxy_url),
            )
            try:
                status, data = resp.status, await resp.read()
            finally:
                resp.release()
    except Exception as exc:  # offline, refused, timed out, a bad proxy: all say the same
        return _failure(502, "request_failed", f"{offline} ({type(exc).__name__})")
    if status != 200:
        return _failure(
            502, "unexpected_status", f"status {status} from {url}; this is cliproxy {__version__}"
        )
    try:
        version = str(orjson.loads(data)["info"]["version"]).strip()
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return _failure(502, "decode_failed", f"no version in the answer of {url}")
    if not version:
        return _failure(502, "invalid_response", "missing release version")
    return Resp(200, {"latest-version": version, "current-version": __version__})


ROUTES: list[Route] = [
    Route("GET", "/latest-version", get_latest_version),
]
