"""OpenAI-compatible upstreams (``openai-compatibility`` entries): Chat Completions, and
``/responses/compact`` for the Responses compact route (the body passed through, as CPA)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format
from cliproxy.providers.base import Provider, UpstreamRequest, copy_client_headers
from cliproxy.translate import token_segments, tokens

__all__ = ["OpenAICompatProvider"]


class OpenAICompatProvider(Provider):
    key = "openai-compatibility"
    format = Format.OPENAI
    default_base_url = "https://api.openai.com/v1"
    counts_upstream = False  # Chat Completions has no count endpoint: counted locally, as CPA does
    compacts = True
    serves_images = True  # models marked ``image: true`` (CPA's openai-image type)

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
        if action == "compact":
            return self._compact(cred, body, client_headers)
        if action.startswith("images."):  # an ``image: true`` model: its own Images API (CPA)
            return self._images(cred, body, action, client_headers)
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

    def _compact(
        self, cred: Credential, body: dict[str, Any], client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        """CPA's compact call: the Responses body without ``stream``, answered with JSON."""
        body.pop("stream", None)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "application/json",
        }
        if cred.api_key:
            headers["Authorization"] = f"Bearer {cred.api_key}"
        headers.update(copy_client_headers(cred, client_headers))
        url = self.base_url(cred) + "/responses/compact"
        return UpstreamRequest(url, headers, orjson.dumps(body), False)

    def _images(
        self, cred: Credential, body: dict[str, Any], action: str, client_headers: Mapping[str, str]
    ) -> UpstreamRequest:
        """CPA ``buildOpenAICompatImagesJSONRequest``: the client's body under the upstream
        model name, to ``{base}/images/generations`` or ``/images/edits``."""
        body.pop("stream", None)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "application/json",
        }
        if cred.api_key:
            headers["Authorization"] = f"Bearer {cred.api_key}"
        headers.update(copy_client_headers(cred, client_headers))
        url = self.base_url(cred) + "/" + action.replace(".", "/")
        return UpstreamRequest(url, headers, orjson.dumps(body), False)

    def count_locally(self, body: dict[str, Any], model: str) -> tuple[str, list[str]]:
        return tokens.encoding_for_model(model), token_segments.chat_segments(body)
