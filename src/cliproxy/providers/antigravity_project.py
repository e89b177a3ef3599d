"""An Antigravity credential without ``project_id``: its Cloud Code project looked up (and
the account onboarded if it has none) on first use, as CPA's ``PrepareRequestAuth`` does
when the sign-in did not store one (``antigravity_executor_auth.go``).

``loadCodeAssist`` (on the production host) names the project, or the tier to onboard to;
``onboardUser`` (on the daily host, as CPA's ``FetchAntigravityProjectID`` and the sign-in
send it; both on the account's own ``base_url`` when it has one) is then polled (5 times,
2 s apart) until it is done. The project goes into the credential (the
envelope's ``project``) and into its auth file, so the lookup happens once. Concurrent
first requests of one credential share one lookup. A lookup that fails is the
credential's failure (503: the next credential is tried), never the client's; CPA
answers 400 there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.login.antigravity import (
    GOOG_API_CLIENT,
    ONBOARD_ATTEMPTS,
    ONBOARD_INTERVAL,
    default_tier,
    project_of,
)
from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.core import request_json
from cliproxy.credentials.record import Credential
from cliproxy.credentials.refresh import write_auth_file
from cliproxy.errors import UpstreamError
from cliproxy.providers.antigravity_version import HubVersion
from cliproxy.providers.first_use import FirstUse
from cliproxy.providers.transport import UpstreamClient

__all__ = ["ProjectLookup", "project_id"]

log = logging.getLogger(__name__)

_PROVIDER = "antigravity"


def project_id(cred: Credential) -> str:
    value = cred.metadata.get("project_id")
    return value.strip() if isinstance(value, str) else ""


class ProjectLookup:
    """First-use project lookups, one in flight per credential."""

    def __init__(
        self,
        onboard_interval: float = ONBOARD_INTERVAL,
        *,
        version: HubVersion | None = None,
        onboard_url: str = "",
    ) -> None:
        self.onboard_interval = onboard_interval
        # where an account without a base_url of its own is onboarded ("": where it is
        # looked up): the daily host, as the native client and CPA's FetchProjectID do
        self.onboard_url = onboard_url.rstrip("/")
        # the client version onboardUser reports (its user agent and ide_version)
        self.version = version if version is not None else HubVersion()
        self._lookups = FirstUse()

    async def ensure(
        self, cred: Credential, http: UpstreamClient, *, base_url: str, user_agent: str, proxy: str
    ) -> Mapping[str, str]:
        """Give ``cred`` its project (no extra headers: the envelope carries it)."""
        if project_id(cred):
            return {}
        await self._lookups.run(cred.id, lambda: self._lookup(cred, http, base_url, user_agent, proxy))
        return {}

    async def _lookup(
        self, cred: Credential, http: UpstreamClient, base_url: str, user_agent: str, proxy: str
    ) -> str:
        who = cred.label or cred.id
        try:
            project = await self._fetch(cred, http, base_url, user_agent, proxy)
        except LoginError as exc:
            raise UpstreamError(
                f"antigravity credential {who} has no project_id and the Cloud Code lookup failed: "
                f"{exc.message}",
                status=503,
                credential_id=cred.id,
            ) from exc
        cred.metadata["project_id"] = project
        if cred.path is not None:
            try:
                await asyncio.to_thread(write_auth_file, cred.path, {"project_id": project})
            except OSError as exc:
                log.warning("could not save the project of %s to %s: %s", who, cred.path.name, exc)
        log.info("antigravity credential %s: Cloud Code project found on first use", who)
        return project

    async def _fetch(
        self, cred: Credential, http: UpstreamClient, base_url: str, user_agent: str, proxy: str
    ) -> str:
        token = cred.access_token or ""
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        body = orjson.dumps({"metadata": {"ideType": "ANTIGRAVITY"}})
        status, data = await self._call(http, base_url + "/v1internal:loadCodeAssist", headers, body, proxy)
        if not 200 <= status < 300:
            raise LoginError("bad_response", f"loadCodeAssist answered {status}", provider=_PROVIDER)
        onboard = base_url if cred.base_url or not self.onboard_url else self.onboard_url
        return project_of(data) or await self._onboard(http, onboard, token, default_tier(data), proxy)

    async def _onboard(self, http: UpstreamClient, base_url: str, token: str, tier: str, proxy: str) -> str:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "*/*",
            "Content-Type": "application/json",
            "User-Agent": self.version.onboard_user_agent(),
            "X-Goog-Api-Client": GOOG_API_CLIENT,
        }
        version = self.version.current()
        metadata = {"ide_name": "antigravity", "ide_type": "ANTIGRAVITY", "ide_version": version}
        body = orjson.dumps({"metadata": metadata, "tier_id": tier})
        for attempt in range(1, ONBOARD_ATTEMPTS + 1):
            status, data = await self._call(http, base_url + "/v1internal:onboardUser", headers, body, proxy)
            if status != 200:
                raise LoginError("bad_response", f"onboardUser answered {status}", provider=_PROVIDER)
            if data.get("done") is True:
                response = data.get("response")
                project = project_of(response) if isinstance(response, Mapping) else ""
                if project:
                    return project
                raise LoginError("bad_response", "onboardUser finished without a project", provider=_PROVIDER)
            if attempt < ONBOARD_ATTEMPTS:
                await asyncio.sleep(self.onboard_interval)
        raise LoginError(
            "bad_response",
            f"onboardUser did not finish after {ONBOARD_ATTEMPTS} attempts",
            provider=_PROVIDER,
        )

    @staticmethod
    async def _call(
        http: UpstreamClient, url: str, headers: Mapping[str, str], body: bytes, proxy: str
    ) -> tuple[int, dict[str, Any]]:
        return await request_json(
            http,
            "POST",
            url,
            provider=_PROVIDER,
            what=url.rpartition(":")[2],
            headers=headers,
            body=body,
            proxy=proxy,
        )
