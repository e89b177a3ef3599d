"""Codex: the ChatGPT backend (OAuth) and Codex API keys. Responses dialect, always streamed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.retry import codex_reset, retry_after_header

__all__ = ["CodexProvider"]

USER_AGENT = "codex_cli_rs/0.146.0 (cliproxy)"


class CodexProvider(Provider):
    key = "codex"
    format = Format.CODEX
    endpoints_key = "codex"  # https://chatgpt.com/backend-api/codex
    always_stream = True
    counts_upstream = False  # no count endpoint: CPA counts Codex requests locally

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
        body["stream"] = True
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Originator": client_headers.get("originator") or "codex_cli_rs",
            "User-Agent": client_headers.get("user-agent") or USER_AGENT,
        }
        token = cred.access_token or cred.api_key
        headers["Authorization"] = f"Bearer {token}"
        account = cred.metadata.get("account_id")
        if isinstance(account, str) and account:
            headers["Chatgpt-Account-Id"] = account
        for name in ("session-id", "session_id", "thread-id", "x-client-request-id"):
            value = client_headers.get(name)
            if value:
                headers[name] = value
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(self.base_url(cred) + "/responses", headers, orjson.dumps(body), True)

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = codex_reset(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)
