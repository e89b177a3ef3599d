"""Anthropic Messages: Claude API keys and Claude OAuth (subscription) credentials.

The default base is the endpoint table's ``claude`` ``api`` URL (``api.anthropic.com``, or
``CLIPROXY_OAUTH_CLAUDE_API`` / ``_BASE``). An API key goes as ``x-api-key`` to that base
(an override stands in for Anthropic's host) and to ``api.anthropic.com`` named in a file;
to any other ``base_url`` it goes as a bearer token (CPA). OAuth tokens are always bearer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.login import endpoints
from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.retry import anthropic_unified_reset, retry_after_header

__all__ = ["ClaudeProvider"]

ANTHROPIC_HOST = endpoints.URLS["claude"]["api"]  # the public host, whatever the overrides
API_VERSION = "2023-06-01"
OAUTH_BETA = "oauth-2025-04-20"
# client headers worth forwarding to Anthropic as they are
_PASS = (
    "anthropic-beta",
    "anthropic-version",
    "anthropic-dangerous-direct-browser-access",
    "x-app",
    "x-claude-code-session-id",
    "user-agent",
    "x-stainless-retry-count",
    "x-stainless-timeout",
)


class ClaudeProvider(Provider):
    key = "claude"
    format = Format.CLAUDE
    endpoints_key = "claude"

    def build(
        self,
        cred: Credential,
        body: dict[str, Any],
        *,
        model: str,
        stream: bool,
        client_headers: Mapping[str, str],
        action: str = "generate",
    ) -> UpstreamRequest:
        body["model"] = model
        headers: dict[str, str] = {"Content-Type": "application/json"}
        for name in _PASS:
            value = client_headers.get(name)
            if value:
                headers[name] = value
        headers.setdefault("anthropic-version", API_VERSION)
        base = self.base_url(cred)
        token = cred.access_token
        if token:  # OAuth subscription token
            headers["Authorization"] = f"Bearer {token}"
            betas = [b.strip() for b in headers.get("anthropic-beta", "").split(",") if b.strip()]
            if OAUTH_BETA not in betas:
                betas.append(OAUTH_BETA)
            headers["anthropic-beta"] = ",".join(betas)
        elif not cred.base_url or base == ANTHROPIC_HOST:
            headers["x-api-key"] = cred.api_key
        else:  # a custom base URL takes the key as a bearer token (CPA)
            headers["Authorization"] = f"Bearer {cred.api_key}"
        headers.update(copy_client_headers(cred, client_headers))
        if action == "count":
            body.pop("stream", None)
            return UpstreamRequest(
                base + "/v1/messages/count_tokens?beta=true", headers, orjson.dumps(body), False
            )
        body["stream"] = stream
        headers["Accept"] = "text/event-stream" if stream else "application/json"
        return UpstreamRequest(base + "/v1/messages?beta=true", headers, orjson.dumps(body), stream)

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        after = retry_after_header(headers)
        unified = anthropic_unified_reset(headers) if status == 429 else None
        if after is None:
            return unified
        return after if unified is None else max(after, unified)
