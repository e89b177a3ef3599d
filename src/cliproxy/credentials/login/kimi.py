"""Kimi (Moonshot) sign-in: an RFC 8628 device code, as CPA's ``-kimi-login`` does it.

Every call carries Kimi's client headers, the same on the device request, each poll and
later refreshes: ``X-Msh-Platform``, ``X-Msh-Version``, ``X-Msh-Device-Name`` (host name),
``X-Msh-Device-Model`` (``"Linux amd64"`` style, Go's OS and architecture names) and
``X-Msh-Device-Id``, a fresh UUID per sign-in that the file keeps as ``device_id`` so the
refresh sends the same one. Kimi answers a pending poll with an ``error`` body (CPA
reads the body whatever the status), and its interval has a 5 s floor.

The file is ``kimi-<unix ms>.json``: Kimi's answer names no account, so each sign-in
writes a new file, as in CPA.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import urlencode

from cliproxy.credentials.oauth_tokens import kimi_headers, rfc3339

from . import endpoints
from .base import AuthStart, LoginError
from .core import oauth_error, request_json
from .device import (
    DEVICE_GRANT,
    DeviceFlow,
    Pending,
    classify,
    device_answer,
    seconds,
    text,
)

__all__ = ["KimiDeviceFlow", "kimi_headers"]

PROVIDER = "kimi"
MAX_WAIT = 15 * 60.0  # CPA's maxPollDuration
MIN_INTERVAL = 5.0


class KimiDeviceFlow(DeviceFlow):
    """The Kimi device-code sign-in (a :class:`~cliproxy.credentials.login.base.LoginFlow`)."""

    provider = PROVIDER
    max_wait = MAX_WAIT
    min_interval = MIN_INTERVAL

    async def start(self, *, redirect_uri: str = "") -> AuthStart:
        device_id = str(uuid.uuid4())
        status, data = await self._post(
            endpoints.url(PROVIDER, "device"),
            {"client_id": endpoints.CLIENTS[PROVIDER]["client_id"]},
            device_id,
        )
        if status != 200:
            error, _ = oauth_error(data)
            raise LoginError(
                "bad_response",
                f"kimi device code request failed with status {status} {error}".strip(),
                provider=PROVIDER,
            )
        device_code, user_code, page = device_answer(data)
        if not device_code or not page:
            raise LoginError(
                "bad_response", "kimi device code answer lacks device_code or the page", provider=PROVIDER
            )
        interval = max(seconds(data.get("interval")), MIN_INTERVAL)
        return self.started(
            data,
            page=page,
            user_code=user_code,
            interval=interval,
            device_code=device_code,
            device_id=device_id,
        )

    async def finish(
        self, started: AuthStart, *, code: str = "", state: str = ""
    ) -> tuple[str, dict[str, Any]]:
        device_id = started.secrets["device_id"]
        form = {
            "client_id": endpoints.CLIENTS[PROVIDER]["client_id"],
            "device_code": started.secrets["device_code"],
            "grant_type": DEVICE_GRANT,
        }
        url = endpoints.url(PROVIDER, "token")

        async def attempt() -> dict[str, Any] | Pending:
            status, data = await self._post(url, form, device_id)
            error, description = oauth_error(data)
            if error:
                return classify(PROVIDER, error, description)
            if not text(data.get("access_token")):
                raise LoginError(
                    "bad_response", f"kimi token answer ({status}) has no access token", provider=PROVIDER
                )
            return data

        tokens = await self.poll(started, attempt)
        now = time.time()
        record: dict[str, Any] = {
            "type": PROVIDER,
            "access_token": text(tokens.get("access_token")),
            "refresh_token": text(tokens.get("refresh_token")),
            "token_type": text(tokens.get("token_type")),
            "scope": text(tokens.get("scope")),
            "timestamp": int(now * 1000),
        }
        if expires_in := int(seconds(tokens.get("expires_in"))):
            record["expired"] = rfc3339(int(now) + expires_in, utc=True)
        record["device_id"] = device_id
        record["disabled"] = False
        return f"kimi-{int(now * 1000)}.json", record

    async def _post(self, url: str, form: dict[str, str], device_id: str) -> tuple[int, dict[str, Any]]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
            **kimi_headers(device_id),
        }
        return await request_json(
            self.http,
            "POST",
            url,
            provider=PROVIDER,
            what="device sign-in",
            timeout=self.polling.request_timeout,
            headers=headers,
            body=urlencode(form).encode(),
            proxy=self.proxy,
        )
