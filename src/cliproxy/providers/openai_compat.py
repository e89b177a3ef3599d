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

_FIXED = 1024  # (key, base, stream) triples kept; emptied when more come


class OpenAICompatProvider(Provider):
    key = "openai-compatibility"
    format = Format.OPENAI
    default_base_url = "https://api.openai.com/v1"
    counts_upstream = False  # Chat Completions has no count endpoint: counted locally, as CPA does
    compacts = True
    serves_images = True  # models marked ``image: true`` (CPA's openai-image type)

    def __init__(self) -> None:
        super().__init__()
        # (api key, base URL, stream) -> (chat URL, fixed headers): see ``_chat_fixed``
        self._fixed: dict[tuple[str, str, bool], tuple[str, dict[str, str]]] = {}

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
        key = (cred.api_key, cred.base_url, stream)
        fixed = self._fixed.get(key)
        if fixed is None:
            fixed = self._chat_fixed(key)
        headers = fixed[1].copy()
        if cred.headers:
            headers.update(copy_client_headers(cred, client_headers))
        return UpstreamRequest(fixed[0], headers, orjson.dumps(body), stream)

    def _chat_fixed(self, key: tuple[str, str, bool]) -> tuple[str, dict[str, str]]:
        """The URL and fixed headers of a chat call for (API key, base URL, stream): made
        once per such triple, from its values alone (a changed key or base is another triple)."""
        api_key, base_url, stream = key
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        fixed = ((base_url or self.default_base_url).rstrip("/") + "/chat/completions", headers)
        if len(self._fixed) >= _FIXED:
            self._fixed.clear()
        self._fixed[key] = fixed
        return fixed

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
