"""xAI (Grok): API keys and OAuth (device-flow) accounts. Responses dialect, always streamed.

CPA translates xAI requests to its ``codex`` format (the Responses dialect without
``previous_response_id`` and friends) and always asks the upstream for a stream, even for
a non-streaming client, so this provider does the same.

- API keys, or OAuth files with ``using_api: true``: ``{base or https://api.x.ai/v1}/responses``.
- OAuth files otherwise: the Grok CLI chat proxy ``https://cli-chat-proxy.grok.com/v1/responses``
  with the Grok CLI identity headers.

Token counting is local in CPA (o200k tokenizer), never an upstream call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import KIND_OAUTH, Credential, parse_bool
from cliproxy.errors import UnsupportedError
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers

__all__ = ["API_BASE_URL", "CLI_CHAT_PROXY_URL", "XAIProvider", "uses_api"]

API_BASE_URL = "https://api.x.ai/v1"
CLI_CHAT_PROXY_URL = "https://cli-chat-proxy.grok.com/v1"
CLI_VERSION = "0.2.120"
_CLI_HEADERS = {
    "X-XAI-Token-Auth": "xai-grok-cli",
    "x-grok-client-version": CLI_VERSION,
    "x-grok-client-identifier": "grok-shell",
    "x-authenticateresponse": "authenticate-response",
    "User-Agent": f"xai-grok-workspace/{CLI_VERSION}",
}
_DROPPED = ("previous_response_id", "prompt_cache_retention", "safety_identifier", "stream_options")


def uses_api(cred: Credential) -> bool:
    """Whether chat goes to the public API (API keys; OAuth only with ``using_api``)."""
    explicit = parse_bool(cred.metadata.get("using_api", cred.attributes.get("using_api")))
    if explicit is not None:
        return explicit
    kind = cred.metadata.get("auth_kind") or cred.attributes.get("auth_kind") or ""
    if isinstance(kind, str) and kind.strip():
        return kind.strip().lower() != "oauth"
    return cred.kind != KIND_OAUTH or bool(cred.api_key)


class XAIProvider(Provider):
    key = "xai"
    format = Format.CODEX
    default_base_url = API_BASE_URL
    always_stream = True

    def chat_base_url(self, cred: Credential) -> str:
        base = (cred.base_url or "").rstrip("/")
        if uses_api(cred):
            return base or API_BASE_URL
        return base if base and base != API_BASE_URL else CLI_CHAT_PROXY_URL

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
        if action == "count":
            raise UnsupportedError("xai token counting is local, not an upstream call")
        body["model"] = model
        body["stream"] = True
        for name in _DROPPED:
            body.pop(name, None)
        base = self.chat_base_url(cred)
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        token = cred.api_key or cred.access_token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conv = client_headers.get("x-grok-conv-id")
        if conv:
            headers["x-grok-conv-id"] = conv
        if base == CLI_CHAT_PROXY_URL:
            headers.update(_CLI_HEADERS)
        headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(base + "/responses", headers, orjson.dumps(body), True)
