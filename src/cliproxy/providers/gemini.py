"""Google Gemini API keys (generativelanguage.googleapis.com)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.retry import google_retry_delay, retry_after_header

__all__ = ["GeminiProvider"]


class GeminiProvider(Provider):
    key = "gemini"
    format = Format.GEMINI
    default_base_url = "https://generativelanguage.googleapis.com"

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
        body.pop("model", None)
        base = self.base_url(cred)
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        name = quote(model, safe="-._~")
        if action == "count":
            method = "countTokens"
            body = {"contents": body.get("contents", [])} if "generateContentRequest" not in body else body
        else:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        headers = {"Content-Type": "application/json", "x-goog-api-key": cred.api_key}
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(
            f"{base}/models/{name}:{method}", headers, orjson.dumps(body), stream and action != "count"
        )

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = google_retry_delay(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)
