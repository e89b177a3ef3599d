"""``POST /api-call``: an HTTP request made for the panel, optionally with a credential.

Header values may hold ``$TOKEN$``, replaced by the credential's token: its OAuth access
token (``accessToken``, ``access_token``, ``token`` string or ``token.access_token``,
then ``id_token``, ``cookie``), else its API key. Proxy order, as in CPA: the request's
``proxy_url`` (refused with 400 when malformed), else the first well-formed one of the
credential's ``proxy-url`` (an API key's from its config entry) and the global
``proxy-url``: a malformed credential proxy falls through to the global one instead of
going direct. ``direct``/``none`` anywhere means no proxy.
An OAuth token that is expired or about to be (``credentials.presend``: the check a request
makes before it goes out) is refreshed before it stands in for ``$TOKEN$``, and a failed
refresh is CPA's 400 ``auth token refresh failed``. CPA's APICall does this for Antigravity
only (``resolveTokenForAuth``); here every OAuth type with a token endpoint gets it, since an
expired token sent to a quota endpoint can only meet a 401.
The answer is ``{status_code, header, body}`` with the upstream's status, headers
(name -> list of values) and body text.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from yarl import URL

from cliproxy.errors import UpstreamError
from cliproxy.management.types import ApiError
from cliproxy.providers.http import read_body

if TYPE_CHECKING:
    from cliproxy.credentials.record import Credential
    from cliproxy.management.ports import ManagementService

__all__ = ["TOKEN_PLACEHOLDER", "api_call", "credential_token"]

TOKEN_PLACEHOLDER = "$TOKEN$"
TIMEOUT = 60.0
_PROXY_SCHEMES = ("http", "https", "socks5", "socks5h", "socks4", "socks4a")
_INDEX_KEYS = ("auth_index", "authIndex", "AuthIndex")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # an HTTP method is a token (RFC 9110)


async def api_call(service: ManagementService, body: Any) -> dict[str, Any]:
    """Run the request described by ``body``; ``ApiError`` for a bad request or failure."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid body")
    method, url, proxy, headers, data = _parse(body)
    cred = _credential(service, body)
    if cred is not None and any(TOKEN_PLACEHOLDER in v for v in headers.values()):
        cred = await _fresh(service, cred)
    headers = _substitute(headers, cred)
    key = _proxy(proxy, cred.proxy_url if cred is not None else "", service.config.proxy_url)
    try:
        async with asyncio.timeout(TIMEOUT):
            resp = await service.http.request(method, url, headers=headers, body=data or None, proxy=key)
            raw = await read_body(resp)
    except (UpstreamError, TimeoutError, OSError) as exc:
        raise ApiError(502, "request failed") from exc
    return {
        "status_code": resp.status,
        "header": _header_lists(resp.headers),
        "body": raw.decode("utf-8", "replace"),
    }


def _parse(body: Mapping[str, Any]) -> tuple[str, str, str, dict[str, str], bytes]:
    method, url, proxy, data = (body.get(k, "") for k in ("method", "url", "proxy_url", "data"))
    headers = body.get("header") or {}
    if (
        not all(isinstance(f, str) for f in (method, url, proxy, data))
        or not isinstance(headers, dict)
        or not all(isinstance(v, str) for v in headers.values())
    ):
        raise ApiError(400, "invalid body")
    method, url, proxy = method.strip().upper(), url.strip(), proxy.strip()
    if not method:
        raise ApiError(400, "missing method")
    if not _TOKEN.fullmatch(method):  # Go's http.NewRequest refuses it: CPA answers so
        raise ApiError(400, "failed to build request")
    if not url:
        raise ApiError(400, "missing url")
    try:
        parsed = URL(url)
    except ValueError as exc:
        raise ApiError(400, "invalid url") from exc
    if not parsed.scheme or not parsed.host:
        raise ApiError(400, "invalid url")
    if proxy and not _valid_proxy(proxy):
        raise ApiError(400, "invalid proxy_url")
    return method, url, proxy, dict(headers), data.encode()


def _proxy(requested: str, credential: str, configured: str) -> str:
    """The proxy to send through (``""`` = direct): the first well-formed candidate."""
    candidates = (requested,) if requested else (credential.strip(), (configured or "").strip())
    chosen = next((c for c in candidates if c and _valid_proxy(c)), "")
    return "" if chosen.lower() in ("direct", "none") else chosen


def _valid_proxy(proxy: str) -> bool:
    if proxy.lower() in ("direct", "none"):
        return True
    try:
        parsed = URL(proxy)
    except ValueError:
        return False
    return parsed.scheme.lower() in _PROXY_SCHEMES and bool(parsed.host)


def _credential(service: ManagementService, body: Mapping[str, Any]) -> Credential | None:
    index = next((v.strip() for k in _INDEX_KEYS if isinstance(v := body.get(k), str) and v.strip()), "")
    if not index:
        return None
    return next((c for c in service.pool.credentials() if c.index == index), None)


async def _fresh(service: ManagementService, cred: Credential) -> Credential:
    """``cred`` with a token that is not about to expire (one token call shared with the
    refresh loop and the requests renewing the same account)."""
    refresher = service.refresher
    if refresher is None or not cred.metadata or not refresher.presend.stale(cred):
        return cred
    try:
        return await refresher.presend.renew(cred)
    except UpstreamError as exc:
        raise ApiError(400, "auth token refresh failed") from exc


def _substitute(headers: dict[str, str], cred: Credential | None) -> dict[str, str]:
    if not any(TOKEN_PLACEHOLDER in v for v in headers.values()):
        return headers
    token = credential_token(cred) if cred is not None else ""
    if cred is not None and not token:
        raise ApiError(400, "auth token not found")
    if not token:  # no credential: the placeholder stays, as in CPA
        return headers
    return {k: v.replace(TOKEN_PLACEHOLDER, token) for k, v in headers.items()}


def credential_token(cred: Credential) -> str:
    """The value ``$TOKEN$`` stands for, or ``""``."""
    meta = cred.metadata
    for key in ("accessToken", "access_token"):
        if isinstance(value := meta.get(key), str) and value.strip():
            return value.strip()
    nested = meta.get("token")
    if isinstance(nested, str) and nested.strip():
        return nested.strip()
    if isinstance(nested, dict):
        for key in ("access_token", "accessToken"):
            if isinstance(value := nested.get(key), str) and value.strip():
                return value.strip()
    for key in ("id_token", "cookie"):
        if isinstance(value := meta.get(key), str) and value.strip():
            return value.strip()
    return cred.api_key.strip()


def _header_lists(headers: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    items = headers.items()
    for name, value in items:
        out.setdefault(_canonical(name), []).append(value)
    return out


def _canonical(name: str) -> str:
    """Go's canonical header spelling (``content-type`` -> ``Content-Type``)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
