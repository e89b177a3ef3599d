"""OpenAI-compatible upstreams (``openai-compatibility`` entries): Chat Completions,
``/responses/compact`` for the Responses compact route (the body passed through, as CPA),
and the Images API of the models marked ``image: true`` (JSON or a multipart edit, whole
or streamed)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import partial
from typing import Any

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.formats import Format, multipart
from cliproxy.formats.openai_chat import ask_usage
from cliproxy.providers import compat_cache, compat_tool_results
from cliproxy.providers.base import (
    Carry,
    Provider,
    UpstreamRequest,
    copy_client_headers,
    request_headers,
    with_fixed_values,
)
from cliproxy.translate import token_segments, tokens
from cliproxy.translate.summary import body_summary_intent

__all__ = ["OpenAICompatProvider"]

_CARRIED = compat_cache.CARRIED
_FORM_REWRITTEN = frozenset({"model", "stream"})  # the form fields an upstream edit gets anew
_FIXED = 1024  # chat entries kept (see ``_chat_fixed``); emptied when more come

# (chat URL, fixed headers, client headers to copy (None: a fixed value follows a copy, see
# ``split_headers``), the credential's ``headers:`` dict the entry stands for)
_Fixed = tuple[str, dict[str, str], tuple[tuple[str, str], ...] | None, dict[str, str]]


class OpenAICompatProvider(Provider):
    key = "openai-compatibility"
    format = Format.OPENAI
    default_base_url = "https://api.openai.com/v1"
    counts_upstream = False  # Chat Completions has no count endpoint: counted locally, as CPA does
    compacts = True
    serves_images = True  # models marked ``image: true`` (CPA's openai-image type)

    def __init__(self) -> None:
        super().__init__()
        # (api key, base URL, stream, id of the credential's ``headers:`` or 0) -> see ``_chat_fixed``
        self._fixed: dict[tuple[str, str, bool, int], _Fixed] = {}

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
        if action != "generate":
            if action == "compact":
                return self._compact(cred, body, client_headers)
            if action.startswith("images."):  # an ``image: true`` model: its own Images API (CPA)
                return self._images(cred, body, action, client_headers)
        if _CARRIED in body:  # openai-compatibility[].support-prompt-cache-key
            compat_cache.apply(body)
        if compat_tool_results.ATTRIBUTE in cred.attributes and compat_tool_results.wants_text(
            cred.attributes, model
        ):
            compat_tool_results.flatten_tool_results(body)  # input-modalities: [text]
        if stream:
            body["stream"] = True
            ask_usage(body)  # accounted even when the client asks no usage chunk (as CPA)
        else:
            body.pop("stream", None)
            body.pop("stream_options", None)
        extra = cred.headers
        fixed = self._fixed.get((cred.api_key, cred.base_url, stream, id(extra) if extra else 0))
        if fixed is None:
            fixed = self._chat_fixed(cred.api_key, cred.base_url, stream, extra)
        url, headers, copies, _ = fixed
        return UpstreamRequest(
            url, request_headers(headers, copies, cred, client_headers), orjson.dumps(body), stream
        )

    def carrier(self, cred: Credential) -> Carry | None:
        """``support-prompt-cache-key`` on the credential's entry: the key, carried; for
        OpenRouter, the client's wish to see the reasoning or not."""
        cache = bool(cred.attributes.get(compat_cache.ATTRIBUTE))
        openrouter = is_openrouter(cred.compat_name)
        if not cache and not openrouter:
            return None
        return partial(_carry, compat_name=cred.compat_name, cache=cache, openrouter=openrouter)

    def _chat_fixed(self, api_key: str, base_url: str, stream: bool, extra: dict[str, str]) -> _Fixed:
        """The URL, the fixed headers (the credential's fixed ``headers:`` values among them)
        and the client headers to copy of a chat call, made once per API key, base URL,
        stream and ``headers:`` dict (by identity: nothing edits a credential's dict in place,
        a reload makes new credentials, so a changed value is another entry; the entry holds
        the dict, so its id is not reused while the entry lives)."""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        headers, copies = with_fixed_values(headers, extra)
        fixed = (
            (base_url or self.default_base_url).rstrip("/") + "/chat/completions",
            headers,
            copies,
            extra,
        )
        if len(self._fixed) >= _FIXED:
            self._fixed.clear()
        self._fixed[(api_key, base_url, stream, id(extra) if extra else 0)] = fixed
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
        """CPA ``prepareOpenAICompatImagesPayload``: the client's body under the upstream
        model name, to ``{base}/images/generations`` or ``/images/edits``. A multipart edit
        goes as a form (the model field first, then ``stream``, then the client's other
        parts as they came); ``stream: true`` asks the upstream's own event stream, which
        the client gets as it comes (``UpstreamRequest.stream``)."""
        stream = body.pop("stream", None) is True
        form = body.pop(multipart.FORM_KEY, None)
        if type(form) is multipart.Form:
            first = [("model", body["model"]), ("stream", "true")] if stream else [("model", body["model"])]
            data, content_type = multipart.encode(first, form.parts, _FORM_REWRITTEN)
        else:
            if stream:
                body["stream"] = True
            data, content_type = orjson.dumps(body), "application/json"
        headers = {
            "Content-Type": content_type,
            "User-Agent": "cli-proxy-openai-compat",
            "Accept": "text/event-stream" if stream else "application/json",
        }
        if stream:
            headers["Cache-Control"] = "no-cache"
        if cred.api_key:
            headers["Authorization"] = f"Bearer {cred.api_key}"
        headers.update(copy_client_headers(cred, client_headers))
        url = self.base_url(cred) + "/" + action.replace(".", "/")
        return UpstreamRequest(url, headers, data, stream)

    def count_locally(
        self, body: dict[str, Any], model: str, cred: Credential | None = None
    ) -> tuple[str, list[str]]:
        return tokens.encoding_for_model(model), token_segments.chat_segments(body)


def _carry(
    body: dict[str, Any],
    fmt: Format,
    client_body: Mapping[str, Any],
    client_headers: Mapping[str, str],
    model: str,
    passthrough: bool,
    *,
    compat_name: str,
    cache: bool,
    openrouter: bool,
) -> None:
    if cache:
        compat_cache.carry(body, fmt, client_body, client_headers, model, compat_name)
    if openrouter:
        _openrouter_visibility(body, fmt, client_body)


def is_openrouter(name: str) -> bool:
    """An ``openai-compatibility`` entry for OpenRouter, by its name (CPA
    ``isOpenRouterProvider``: ``openrouter``, or a word of it such as ``prod-openrouter``)."""
    low = name.strip().lower()
    return low == "openrouter" or "openrouter" in re.split(r"[-_/.:]", low)


def _openrouter_visibility(body: dict[str, Any], fmt: Format, client_body: Mapping[str, Any]) -> None:
    """OpenRouter's ``reasoning.exclude`` ("reason but hide") from the client's summary
    intent in its own format, the one Chat dialect that has such a switch (CPA
    ``applyOpenAIChatSummaryConfig``); never an effort invented."""
    show = body_summary_intent(client_body, fmt.value)
    if show is None:
        return
    reasoning = body.get("reasoning")
    reasoning = dict(reasoning) if isinstance(reasoning, dict) else {}
    reasoning["exclude"] = not show
    body["reasoning"] = reasoning
