"""OpenAI-compatible upstreams (``openai-compatibility`` entries): always Chat Completions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers

__all__ = ["OpenAICompatProvider"]


class OpenAICompatProvider(Provider):
    key = "openai-compatibility"
    format = Format.OPENAI
    default_base_url = "https://api.openai.com/v1"

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
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if cred.api_key:
            headers["Authorization"] = f"Bearer {cred.api_key}"
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(self.base_url(cred) + "/chat/completions", headers, orjson.dumps(body), stream)
