"""Codex: the ChatGPT backend (OAuth) and Codex API keys. Responses dialect, always streamed.

Every request carries the official Codex identity (``User-Agent``, ``Originator``) unless
``codex.disable-codex-cloaking``; see :class:`cliproxy.providers.identity.CodexIdentity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.identity import CodexIdentity
from cliproxy.providers.retry import codex_reset, retry_after_header

__all__ = ["CodexProvider"]


class CodexProvider(Provider):
    key = "codex"
    format = Format.CODEX
    endpoints_key = "codex"  # https://chatgpt.com/backend-api/codex
    always_stream = True
    counts_upstream = False  # no count endpoint: CPA counts Codex requests locally

    def __init__(self) -> None:
        super().__init__()
        self.identity = CodexIdentity()

    def configure(self, config: Any) -> None:
        self.identity = CodexIdentity(config)

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
        identity = self.identity
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        token = cred.access_token or cred.api_key
        headers["Authorization"] = f"Bearer {token}"
        headers.update(identity.headers(cred, client_headers))
        headers.update(copy_client_headers(cred, client_headers))
        identity.finish(headers)
        expose = identity.confuse_request(cred, body, headers)
        url = self.base_url(cred) + "/responses"
        return UpstreamRequest(
            url, headers, orjson.dumps(body), True, rewrite_body=expose, rewrite_chunk=expose
        )

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = codex_reset(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)
