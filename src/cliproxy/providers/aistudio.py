"""AI Studio through a relay client (CPA ``aistudio_executor.go``): Gemini requests for
``generativelanguage.googleapis.com`` that a browser connected on ``/v1/ws`` performs with
its own Google session (``cliproxy.relay``). The credential is the relay channel; the
request names it in ``RELAY_CHANNEL_HEADER``, which the relay transport takes off before
the request is handed to the client.

As CPA: the Gemini body without ``generationConfig.maxOutputTokens``,
``responseMimeType``, ``responseJsonSchema`` and ``session_id`` (and an empty user turn
first when the history starts with the model's), to
``https://generativelanguage.googleapis.com/v1beta/models/{model}:{action}`` (``?alt=sse``
when streamed); no API key (the page's session authenticates); the credential's
``headers:`` join.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.providers.gemini import backfill_response_names, count_request, lead_with_user
from cliproxy.providers.retry import google_retry_delay, retry_after_header

__all__ = ["RELAY_CHANNEL_HEADER", "AIStudioProvider"]

RELAY_CHANNEL_HEADER = "X-Cliproxy-Relay-Channel"
ENDPOINT = "https://generativelanguage.googleapis.com/v1beta"
_DROPPED_CONFIG = ("maxOutputTokens", "responseMimeType", "responseJsonSchema")


class AIStudioProvider(Provider):
    key = "aistudio"
    format = Format.GEMINI
    default_base_url = ENDPOINT

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
        if action not in ("generate", "count"):
            raise UpstreamError(f"AI Studio does not serve {action}", status=501)
        if self.transport is None:
            raise UpstreamError("the AI Studio relay is not running", status=503)
        body.pop("model", None)
        body.pop("session_id", None)
        name = quote(model, safe="-._~")
        if action == "count":
            method = "countTokens"
            body = count_request(body, model)  # (the browser asks the Gemini API)
        else:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            config = body.get("generationConfig")
            if isinstance(config, dict) and any(k in config for k in _DROPPED_CONFIG):
                body["generationConfig"] = {k: v for k, v in config.items() if k not in _DROPPED_CONFIG}
            backfill_response_names(body)
        lead_with_user(body)
        headers = {"Content-Type": "application/json", RELAY_CHANNEL_HEADER: cred.id}
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(
            f"{ENDPOINT}/models/{name}:{method}", headers, orjson.dumps(body), stream and action != "count"
        )

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = google_retry_delay(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)
