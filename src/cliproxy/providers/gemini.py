"""Google Gemini API keys (generativelanguage.googleapis.com)."""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.credentials.request_faults import over_input_quota
from cliproxy.errors import UpstreamError
from cliproxy.formats import Format
from cliproxy.providers import gemini_replay
from cliproxy.providers.base import (
    Carry,
    Provider,
    UpstreamRequest,
    copy_client_headers,
    request_headers,
    with_fixed_values,
)
from cliproxy.providers.http import HttpClient
from cliproxy.providers.retry import google_retry_delay, retry_after_header

__all__ = [
    "API_REVISION",
    "GeminiProvider",
    "InteractionsProvider",
    "backfill_response_names",
    "cap_max_output_tokens",
    "count_request",
    "lead_with_user",
    "note_refusal",
]

# the Interactions API revision sent when neither the credential nor the client names one
# (CPA ``geminiInteractionsAPIRevision``)
API_REVISION = "2026-05-20"

# whether this task's last refused Gemini request was over its key's input tokens per
# minute alone (note_refusal, as the failover reads the refusal; classify takes it)
_OVERSIZED: contextvars.ContextVar[bool] = contextvars.ContextVar("gemini_oversized", default=False)

# the signature replay scope of this task's last Gemini API request: ``build`` sets it,
# ``classify`` of the same attempt reads it (a 400 that refuses a signature)
_SCOPE: contextvars.ContextVar[gemini_replay.Scope | None] = contextvars.ContextVar(
    "gemini_replay_scope", default=None
)

# (default base URL, credential base URL, model, method, API key, id of the credential's
# ``headers:`` or 0) -> the call's URL, its fixed headers, the client headers it copies (None:
# not in one pass, see split_headers) and that ``headers:`` dict (held: its id stays unique)
_Fixed = tuple[str, dict[str, str], tuple[tuple[str, str], ...] | None, object]
_FIXED: dict[tuple[str, str, str, str, str, int], _Fixed] = {}


class GeminiProvider(Provider):
    key = "gemini"
    format = Format.GEMINI
    default_base_url = "https://generativelanguage.googleapis.com"
    # a model's output limit from the catalog (0: unknown), set by the service: a larger
    # ``maxOutputTokens`` is capped to it (CPA ``capGeminiMaxOutputTokens``)
    output_limit: Callable[[str], int] | None = None

    def __init__(self) -> None:
        super().__init__()
        # the thought signatures of calls a Chat client does not carry back (providers.gemini_replay)
        self.signatures = gemini_replay.GeminiSignatureCache()

    def carrier(self, cred: Credential) -> Carry | None:
        return gemini_replay.carry if self.key == "gemini" else None  # (an API key's alone)

    def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Awaitable[Mapping[str, str]] | None:
        """With several workers on Redis: a replay session another worker recorded is
        fetched before ``build`` looks it up (nothing to await otherwise)."""
        if self.signatures.mirror is None or body is None:  # (one process: nothing to fetch)
            return None
        carried = body.get(gemini_replay.CARRIED)
        if type(carried) is not list or len(carried) != 2:
            return None
        return self.signatures.fetch_elsewhere(carried[1], carried[0])

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
        scope = None
        if gemini_replay.CARRIED in body:  # a Chat client's: the signatures it dropped, back
            carried = body.pop(gemini_replay.CARRIED)
            if action == "generate":
                scope = gemini_replay.restore(self.signatures, body, model, carried)
        if scope is not None or _SCOPE.get() is not None:  # (a set copies the task's context)
            _SCOPE.set(scope)
        if action == "count":
            method = "countTokens"
            body = count_request(body, model)
            lead_with_user(body)
        else:
            method = "streamGenerateContent?alt=sse" if stream else "generateContent"
            contents = body.get("contents")
            if type(contents) is not list or len(contents) > 1:  # (one turn answers no earlier call)
                backfill_response_names(body)
            config = body.get("generationConfig")
            if type(config) is dict:  # (most ask less than any model writes: no lookup)
                asked = config.get("maxOutputTokens")
                if type(asked) is int and asked > FEWEST_OUTPUT_TOKENS and self.output_limit is not None:
                    cap_max_output_tokens(body, self.output_limit(model))
            # (a user turn first, the usual history: no call)
            if (
                type(contents) is list
                and contents
                and type(lead := contents[0]) is dict
                and lead.get("role") == "model"
            ):
                lead_with_user(body)
        extra = cred.headers
        fixed = _FIXED.get(
            (self.default_base_url, cred.base_url, model, method, cred.api_key, id(extra) if extra else 0)
        )
        if fixed is None:
            fixed = self._fixed(cred, model, method)
        url, headers = fixed[0], request_headers(fixed[1], fixed[2], cred, client_headers)
        req = UpstreamRequest(url, headers, orjson.dumps(body), stream and action != "count")
        if scope is not None and body.get("tools"):  # the answer's signed calls, for the next turn
            req.rewrite_body, req.rewrite_chunk = scope.whole, scope.lines
        return req

    def _fixed(self, cred: Credential, model: str, method: str) -> _Fixed:
        """The URL of (base URL, model, method) and the credential's headers split once
        (the fixed ones, its ``headers:`` fixed values among them, and the client headers to
        copy per request): made once per such key from its values."""
        base = (cred.base_url or self.default_base_url).rstrip("/")
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        url = f"{base}/models/{quote(model, safe='-._~')}:{method}"
        extra = cred.headers
        headers, copies = with_fixed_values(_own_headers(cred.api_key), extra)
        fixed = (url, headers, copies, extra)
        if len(_FIXED) >= 1024:
            _FIXED.clear()
        _FIXED[
            (self.default_base_url, cred.base_url, model, method, cred.api_key, id(extra) if extra else 0)
        ] = fixed
        return fixed

    def retry_hint(self, status: int, headers: Mapping[str, str], body: Any) -> float | None:
        hint = google_retry_delay(body) if body is not None else None
        return hint if hint is not None else retry_after_header(headers)

    def classify(
        self, status: int, headers: Mapping[str, str], body: bytes, credential_id: str | None = None
    ) -> UpstreamError:
        """Base rules; a 429 over the key's input tokens per minute that the request earned
        alone (:func:`note_refusal`) is ``oversized``: the next key, none cools (CPA cools)."""
        scope = _SCOPE.get()
        if scope is not None and scope.cache is self.signatures:  # (this provider's own)
            _SCOPE.set(None)
            scope.refused(status, body)
        err = super().classify(status, headers, body, credential_id)
        if _OVERSIZED.get():
            _OVERSIZED.set(False)  # (one refusal's verdict, never the next one's)
            err.oversized = True
        return err


class InteractionsProvider(GeminiProvider):
    """``interactions-api-key``: Google's native Interactions API (``POST {base}/v1beta/
    interactions``), CPA's ``gemini-interactions`` executor. An Interactions client's body
    goes through as it came (model renamed); Chat, Responses, Claude and Gemini clients
    are translated to it through the hub. ``Api-Revision`` is the credential's ``headers:``
    value, else the client's, else :data:`API_REVISION` (CPA's order)."""

    key = "gemini-interactions"
    format = Format.INTERACTIONS

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
        base = self.base_url(cred)
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        body["model"] = model
        if stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        headers = _own_headers(cred.api_key)
        configured = copy_client_headers(cred, client_headers)
        if not any(name.lower() == "api-revision" for name in configured):
            headers["Api-Revision"] = client_headers.get("Api-Revision") or API_REVISION
        headers.update(configured)
        return UpstreamRequest(f"{base}/interactions", headers, orjson.dumps(body), stream)


def _own_headers(api_key: str) -> dict[str, str]:
    """The headers every Gemini call carries: the key, unless the credential has none (a
    base URL that authenticates by a configured header of its own: CPA sends no empty key)."""
    if not api_key:
        return {"Content-Type": "application/json"}
    return {"Content-Type": "application/json", "x-goog-api-key": api_key}


def note_refusal(status: int, body: bytes, request: Mapping[str, Any]) -> None:
    """Whether the refusal ``body`` of the Gemini request ``request`` is the request's own
    (over its key's input tokens per minute by itself: ``request_faults.over_input_quota``),
    for the ``classify`` of this refusal: the failover has the request sent, ``classify``
    only the answer."""
    _OVERSIZED.set(over_input_quota(status, body, request))


# no model of the catalog writes fewer (tests/models pins it): an ask up to this is never capped
FEWEST_OUTPUT_TOKENS = 8192


def cap_max_output_tokens(body: dict[str, Any], limit: int) -> None:
    """``generationConfig.maxOutputTokens`` at most ``limit`` when a limit is known (> 0):
    Gemini refuses more than the model can write (CPA ``capGeminiMaxOutputTokens``). A
    value that is not a number is left for the upstream to judge. The config is replaced,
    never edited."""
    config = body.get("generationConfig")
    if limit <= 0 or type(config) is not dict:
        return
    asked = config.get("maxOutputTokens")
    if isinstance(asked, (int, float)) and not isinstance(asked, bool) and asked > limit:
        body["generationConfig"] = {**config, "maxOutputTokens": limit}


# what a request counts besides its contents, which Gemini's countTokens takes only inside
# ``generateContentRequest`` (a top-level one is refused: not a field of CountTokensRequest)
_COUNTED_BESIDES = ("systemInstruction", "system_instruction", "tools")


def count_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The Gemini API's ``countTokens`` body for a request ``body`` (``model`` already
    taken out): the contents alone, or, when it carries a system instruction or tools, a
    ``generateContentRequest`` with them, the one form in which the API counts them (CPA
    keeps the system instruction at the top level, where Google refuses it, and drops the
    tools). A body already in that form goes as it is; the generation config and safety
    settings are never counted (CPA drops them too)."""
    if "generateContentRequest" in body or "generate_content_request" in body:
        return body
    out: dict[str, Any] = {"contents": body.get("contents", [])}
    for name in _COUNTED_BESIDES:
        if value := body.get(name):
            out[name] = value
    lead_with_user(out)
    if len(out) == 1:
        return out
    return {"generateContentRequest": {"model": f"models/{model}", **out}}


def lead_with_user(body: dict[str, Any]) -> None:
    """A history that starts with a model turn (a trimmed or compacted one: a call first)
    gets an empty user turn in front, which Gemini wants (CPA
    ``EnsureGeminiLeadingUserContent``, for the Gemini API, Vertex, AI Studio and
    Antigravity's Gemini models; CPA issue #4959). The list is replaced, never edited."""
    contents = body.get("contents")
    if (
        type(contents) is list
        and contents
        and type(first := contents[0]) is dict
        and first.get("role") == "model"
    ):
        body["contents"] = [{"role": "user", "parts": [{"text": ""}]}, *contents]


def backfill_response_names(body: dict[str, Any]) -> None:
    """Give a ``functionResponse`` with an empty name the name of the call it answers:
    the n-th response of a user turn answers the n-th ``functionCall`` of the model turn
    before it (CPA's gemini->gemini translator; Gemini rejects nameless responses).
    Parts are changed in place only where a name is missing."""
    contents = body.get("contents")
    if not isinstance(contents, list):
        return
    calls: list[str] = []
    for content in contents:
        if not isinstance(content, dict):
            continue
        if content.get("role") == "model":
            parts = content.get("parts")
            if isinstance(parts, list):
                calls = [
                    p["functionCall"].get("name") or ""
                    for p in parts
                    if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)
                ]
            continue
        if not calls:
            continue  # no call before this turn: no name to give (a translated body's case)
        parts = content.get("parts")
        if not isinstance(parts, list):
            continue
        n = 0
        for p in parts:
            fr = p.get("functionResponse") if isinstance(p, dict) else None
            if not isinstance(fr, dict):
                continue
            if not fr.get("name") and n < len(calls) and calls[n]:
                fr["name"] = calls[n]
            n += 1
