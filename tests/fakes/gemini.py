"""Fake Gemini API (generativelanguage.googleapis.com), served under ``/v1beta`` and ``/v1``.

Routes: ``POST /{v}/models/{model}:generateContent``, ``:streamGenerateContent`` (``alt=sse``
-> ``data:`` frames, otherwise a streamed JSON array), ``:countTokens``;
``GET /{v}/models`` and ``GET /{v}/models/{model}``.
Vertex AI paths serve the same actions: ``POST /v1/projects/{p}/locations/{loc}/publishers/google/
models/{model}:{action}`` (service accounts, Bearer token) and ``POST /v1/publishers/google/models/
{model}:{action}`` (Vertex API keys).
Antigravity (Cloud Code): ``POST /v1internal:generateContent|streamGenerateContent|countTokens``
takes ``{"project", "model", "request": {<gemini request>}, ...}`` and wraps every answer (the
whole body and each SSE ``data:`` payload) as ``{"response": {...}, "traceId": "..."}``; count
answers are bare. ``POST /v1internal:fetchAvailableModels`` lists the models and, in
``webSearchModelIds``, those of ``web_search_models``; an envelope with ``requestType:
"web_search"`` (one user turn, a ``googleSearch`` tool) is answered as Cloud Code answers a
search: text about the query, and ``groundingMetadata`` (queries, two web chunks, supports
with byte offsets) on the last candidate. Its Gemini models sign each answer's first call
with a signature of their own (``issued``); ``check_signatures`` refuses a model turn that
carries one it did not issue, as Cloud Code does.
An image model (``-image`` in its name, as ``gemini-3-pro-image-preview``) answers with its
text and one image part, which a Gemini 3 model signs as Gemini signs it (``IMAGE_SIGNATURE``
on the ``inlineData`` part; ``gemini-2.5-flash-image`` signs nothing); a Gemini 3 image
model refuses (400) a request whose model turn sends an image part back without its
signature, as the real API does in a multi-turn image edit.
Auth: ``x-goog-api-key`` header or ``?key=``. As the real API: no key -> 403
PERMISSION_DENIED, a wrong key -> 400 INVALID_ARGUMENT / API_KEY_INVALID
(``bad_key_status = 401`` switches to 401 UNAUTHENTICATED).
429 bodies carry ``RetryInfo.retryDelay`` / ``ErrorInfo.metadata.quotaResetDelay`` when the
behaviour sets ``retry_delay`` / ``quota_reset_delay``; ``exhaust_next`` answers with Cloud
Code's own 429 bodies (a rate limit, an exhausted quota, the bare "Resource has been
exhausted": ``cloud_code_429``). ``input_tpm`` gives every key a free tier's input tokens per
minute: a generation that would take the key's minute over it (its own input, counted as
``promptTokenCount``, added to what the key's earlier requests of the minute sent) is refused
as the Gemini API refuses it (429, :func:`input_quota_429`) and spends nothing.
Cloud Code's answers (``/v1internal:*``) come in gzip when the request offers it, as
Google's front end sends them (``gzip``, on by default; ``gzip_cut`` leaves the compressed
stream unfinished).
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import orjson
from aiohttp import web

from tests.fakes.claude import issue_signature
from tests.fakes.dialog import Reply, Tool, Turn, decide, estimate_tokens, new_id, text_of
from tests.fakes.server import Behavior, FakeServer, Recorded, iter_chunks

__all__ = ["GeminiFake", "cloud_code_429", "google_one_tier", "input_quota_429"]


def gemini_signature(opaque: bytes) -> str:
    """A signature shaped like Gemini 3's (protobuf field 2 { field 1 = 0x01 + opaque }),
    as the proxy recognises them."""
    inner = b"\x01" + opaque
    return base64.b64encode(bytes((0x12, len(inner) + 2, 0x0A, len(inner))) + inner).decode()


THOUGHT_SIGNATURE = gemini_signature(b"fake-thought-signature")
BYPASS = "skip_thought_signature_validator"
IMAGE_SIGNATURE = gemini_signature(b"fake-image-signature")
IMAGE_DATA = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image").decode()
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    504: "DEADLINE_EXCEEDED",
}
_TYPE = "type.googleapis.com/google.rpc."
_NO_KEY = (
    "Method doesn't allow unregistered callers (callers without established identity). "
    "Please use API Key or other form of API consumer identity to call this API."
)


class GeminiFake(FakeServer):
    """Fake of the Gemini Developer API."""

    kind = "gemini"
    default_models: ClassVar[tuple[str, ...]] = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash")

    def __init__(self, *, bad_key_status: int = 400, **kw: Any) -> None:
        super().__init__(**kw)
        self.bad_key_status = bad_key_status
        self.gzip = True  # Cloud Code's answers (``gzips``)
        # Antigravity: the models fetchAvailableModels lists as running web searches
        self.web_search_models: list[str] = ["gemini-3-flash", "gemini-3.1-flash-lite"]
        self.models_status = 200  # fetchAvailableModels' answer status (a failing one: 500)
        # Antigravity's Gemini models sign each answer's first call afresh (a new signature
        # per answer, kept in ``issued``); with ``check_signatures`` a request whose model
        # turn carries a signature not issued (nor the validator-skip sentinel) is refused
        # as Cloud Code refuses it (400 "Corrupted thought signature.")
        self.issued: list[str] = []
        self.check_signatures = False
        # with ``call_ids`` each functionCall of an Antigravity Gemini answer carries an id of
        # its own (``native-call-<n>``), as Cloud Code names the calls of its agent models
        self.call_ids = False
        self.calls_named = 0
        # what loadCodeAssist says of the account's Google One AI credits: ``paidTier`` of
        # the answer (None: a free account, no paid tier) and the status it answers with
        self.paid_tier: dict[str, Any] | None = None
        self.paid_tiers: dict[str, dict[str, Any] | None] = {}  # per token, over ``paid_tier``
        self.load_status = 200
        # tokens whose free quota is gone: a generation answers 429 QUOTA_EXHAUSTED unless it
        # asks for credits (``enabledCreditTypes``) and the account's paid tier holds enough,
        # else 429 INSUFFICIENT_G1_CREDITS_BALANCE
        self.exhausted: set[str] = set()
        # the account's cached contents: a generation naming another ``cachedContents/``
        # answers 403 as the Gemini API does for one missing or another project's
        self.cached_contents: set[str] = set()
        # a free tier's input tokens per minute (None: no such quota); ``input_used``: per
        # key, when its minute started and the input tokens it sent since
        self.input_tpm: int | None = None
        self.input_used: dict[str, tuple[float, int]] = {}

    def add_routes(self, router: web.UrlDispatcher) -> None:
        for version in ("/v1beta", "/v1"):
            router.add_post(version + "/models/{target:[^/]+}", self._action)
            router.add_get(version + "/models", self._models)
            router.add_get(version + "/models/{model}", self._model)
        vertex = "/publishers/google/models/{target:[^/]+}"
        router.add_post("/v1/projects/{project}/locations/{location}" + vertex, self._action)
        router.add_post("/v1" + vertex, self._action)
        for action in ("generateContent", "streamGenerateContent", "countTokens"):
            router.add_post("/v1internal:" + action, self._antigravity)
        router.add_post("/v1internal:fetchAvailableModels", self._available_models)
        router.add_post("/v1internal:loadCodeAssist", self._load_code_assist)
        router.add_post("/v1beta/interactions", self._interactions)

    def exhaust_next(
        self,
        reason: str | None,
        *,
        retry_delay: str | None = None,
        times: int | None = 1,
        model: str = "claude-sonnet-4-6",
        **kw: Any,
    ) -> Behavior:
        """Answer the next matching request(s) as Cloud Code answers a limit: 429
        RESOURCE_EXHAUSTED with the body of :func:`cloud_code_429`."""
        body = cloud_code_429(reason, retry_delay=retry_delay, model=model)
        return self.fail_next(429, times=times, body=body, **kw)

    def reset(self) -> None:
        super().reset()
        self.gzip = True
        self.web_search_models = ["gemini-3-flash", "gemini-3.1-flash-lite"]
        self.models_status = 200
        self.issued = []
        self.check_signatures = False
        self.call_ids = False
        self.calls_named = 0
        self.paid_tier = None
        self.paid_tiers = {}
        self.load_status = 200
        self.exhausted = set()
        self.cached_contents = set()
        self.input_tpm = None
        self.input_used = {}

    def issue_signature(self) -> str:
        """A new signature of an Antigravity Gemini answer, remembered as issued."""
        sig = gemini_signature(f"antigravity-signature-{len(self.issued) + 1:04d}".encode())
        self.issued.append(sig)
        return sig

    def forged_signature(self, body: dict[str, Any]) -> bool:
        """Whether a model turn of ``body`` carries a signature this fake did not issue."""
        for content in body.get("contents") or ():
            if not isinstance(content, dict) or content.get("role") != "model":
                continue
            for part in content.get("parts") or ():
                sig = _get(part, "thoughtSignature") if isinstance(part, dict) else None
                if isinstance(sig, str) and sig not in (BYPASS, THOUGHT_SIGNATURE) and sig not in self.issued:
                    return True
        return False

    def gzips(self, request: web.Request) -> bool:
        """Cloud Code's answers only: the Gemini API's stay as they are here."""
        return request.path.startswith("/v1internal:") and super().gzips(request)

    def extract_key(self, request: web.Request) -> str | None:
        key = request.headers.get("x-goog-api-key") or request.query.get("key")
        return key or super().extract_key(request)

    def is_stream(self, rec: Recorded) -> bool:
        if rec.path.endswith("/interactions"):
            return bool(isinstance(rec.json, dict) and rec.json.get("stream") is True)
        return rec.path.endswith(":streamGenerateContent")

    async def _interactions(self, request: web.Request) -> web.StreamResponse:
        """``POST /v1beta/interactions``: the Interactions API (steps in, steps out; SSE
        ``event: <event_type>`` frames when ``stream`` is true, ended by ``[DONE]``)."""
        body = self.body(request)
        model = body.get("model")
        if not isinstance(model, str) or not model or body.get("input") is None:
            return self.error_response(400, "model and input are required", None)
        beh = self.behavior(request)
        reply = decide("gemini", _interactions_turn(model, body), beh.text if beh else None)
        steps = _interaction_steps(reply)
        prompt = estimate_tokens(body.get("input"), body.get("system_instruction"), body.get("tools"))
        output = estimate_tokens(reply.text, [c.arguments for c in reply.tool_calls])
        usage = {"total_input_tokens": prompt, "total_output_tokens": output, "total_tokens": prompt + output}
        iid = new_id("interaction_")
        done = {"id": iid, "object": "interaction", "status": "completed", "model": model, "usage": usage}
        if body.get("stream") is not True:
            return self.json_response({**done, "steps": steps})
        return await self.stream(request, _interaction_frames(iid, model, steps, done), "text/event-stream")

    async def _action(self, request: web.Request) -> web.StreamResponse:
        model, _, action = request.match_info["target"].partition(":")
        body = _unset_nulls(self.body(request))
        if action == "countTokens":
            refused = _count_refusal(
                body, vertex=request.path.startswith(("/v1/projects/", "/v1/publishers/"))
            )
            if refused:
                return self.error_response(400, refused, None)
            return self.json_response(_count(body))
        if action not in ("generateContent", "streamGenerateContent"):
            return self.error_response(404, f"Method {action!r} not found for models/{model}", None)
        if not isinstance(body.get("contents"), list):
            return self.error_response(
                400, "* GenerateContentRequest.contents: contents is not specified", None
            )
        if "gemini-3" in model and "-image" in model and _unsigned_image(body):
            return self.error_response(
                400, "Image part is missing a thought_signature in content position 2, part position 2.", None
            )
        cached = _get(body, "cachedContent")
        if (
            isinstance(cached, str)
            and cached.startswith("cachedContents/")
            and cached not in self.cached_contents
        ):
            return self.error_response(403, "CachedContent not found (or permission denied)", None)
        if self.input_tpm is not None and (refusal := self._input_refusal(request, model, body)):
            return refusal
        beh = self.behavior(request)
        reply = decide("gemini", turn_of(model, body), beh.text if beh else None)
        parts = _parts(reply)
        if "-image" in model:
            image: dict[str, Any] = {"inlineData": {"mimeType": "image/png", "data": IMAGE_DATA}}
            if "gemini-3" in model:  # (Gemini 2.5's image model thinks not, and signs nothing)
                image["thoughtSignature"] = IMAGE_SIGNATURE
            parts.append(image)
        usage = _usage(body, reply)
        if action == "generateContent":
            return self.json_response(_chunk(model, parts, usage, final=True))
        sse = request.query.get("alt") == "sse"
        frames = _frames(_stream_chunks(model, parts, usage), sse)
        return await self.stream(request, frames, "text/event-stream" if sse else "application/json")

    async def _antigravity(self, request: web.Request) -> web.StreamResponse:
        envelope = self.body(request)
        body, model = envelope.get("request"), envelope.get("model")
        action = request.path.rpartition(":")[2]
        if action == "countTokens":
            return self.json_response(_count(body if isinstance(body, dict) else {}))
        if not isinstance(body, dict) or not isinstance(model, str) or not model:
            return self.error_response(400, "Invalid JSON payload: request and model are required", None)
        if not isinstance(body.get("contents"), list):
            return self.error_response(
                400, "* GenerateContentRequest.contents: contents is not specified", None
            )
        if "request" in body:  # an envelope inside the envelope: no such field (protobuf JSON)
            message = (
                "Invalid JSON payload received. Unknown name \"request\" at 'request': Cannot find field."
            )
            return self.error_response(400, message, None)
        if envelope.get("requestType") == "web_search":
            return await self._web_search(request, model, body)
        if (refusal := self._quota_refusal(request, envelope)) is not None:
            return refusal
        if "claude" not in model and self.check_signatures and self.forged_signature(body):
            return self.error_response(400, "Corrupted thought signature.", None)
        beh = self.behavior(request)
        reply = decide("gemini", turn_of(model, body), beh.text if beh else None)
        parts, usage = _parts(reply), _usage(body, reply)
        if "claude" in model and parts and parts[0].get("thought"):
            # Antigravity's Claude signs its thinking with a double-layer Claude signature
            parts[0]["thoughtSignature"] = antigravity_claude_signature(model)
        elif "claude" not in model:
            for part in parts:
                if part.get("thoughtSignature") == THOUGHT_SIGNATURE:
                    part["thoughtSignature"] = self.issue_signature()
                if self.call_ids and "functionCall" in part:
                    self.calls_named += 1
                    part["functionCall"]["id"] = f"native-call-{self.calls_named}"
        trace_id = new_id("")[:16]  # the envelope's own member beside the answer
        if action == "generateContent":
            return self.json_response(
                {"response": _chunk(model, parts, usage, final=True), "traceId": trace_id}
            )
        wrapped = ({"response": chunk, "traceId": trace_id} for chunk in _stream_chunks(model, parts, usage))
        sse = request.query.get("alt") == "sse"
        return await self.stream(
            request, _frames(wrapped, sse), "text/event-stream" if sse else "application/json"
        )

    def tier_of(self, key: str | None) -> dict[str, Any] | None:
        """The paid tier loadCodeAssist names for the account of ``key``."""
        return self.paid_tiers.get(key or "", self.paid_tier)

    def spend_input(self, key: str, tokens: int) -> None:
        """Count ``tokens`` of input against ``key``'s minute, as earlier requests would."""
        start, used = self.input_used.get(key, (time.monotonic(), 0))
        self.input_used[key] = (start, used + tokens)

    def _input_refusal(self, request: web.Request, model: str, body: dict[str, Any]) -> web.Response | None:
        """The free tier's answer to a generation over the key's input tokens per minute."""
        assert self.input_tpm is not None
        key, now = self.extract_key(request) or "", time.monotonic()
        start, used = self.input_used.get(key, (now, 0))
        if now - start >= 60:
            start, used = now, 0
        prompt = _prompt_tokens(body)
        if used + prompt > self.input_tpm:
            self.input_used[key] = (start, used)
            return self.json_response(input_quota_429(self.input_tpm, model, 60 - (now - start)), status=429)
        self.input_used[key] = (start, used + prompt)
        return None

    def _quota_refusal(self, request: web.Request, envelope: dict[str, Any]) -> web.Response | None:
        key = self.extract_key(request)
        if key not in self.exhausted:
            return None
        if "enabledCreditTypes" not in envelope:
            return self.json_response(cloud_code_429("QUOTA_EXHAUSTED"), status=429)
        for credit in (self.tier_of(key) or {}).get("availableCredits") or ():
            if credit.get("creditType") == "GOOGLE_ONE_AI" and float(credit["creditAmount"]) >= float(
                credit["minimumCreditAmountForUsage"]
            ):
                return None
        return self.json_response(cloud_code_429("INSUFFICIENT_G1_CREDITS_BALANCE"), status=429)

    async def _load_code_assist(self, request: web.Request) -> web.StreamResponse:
        """Cloud Code's account lookup: every account is in one project, on the standard
        tier; ``paid_tier`` adds the Google One plan and its AI credits (amounts as
        strings, as the real API writes its int64 fields). A ``load_status`` other than
        200 answers a Google RPC error."""
        if self.load_status != 200:
            return self.error_response(self.load_status, None, None)
        tier = {
            "id": "standard-tier",
            "name": "Gemini Code Assist",
            "userDefinedCloudaicompanionProject": True,
        }
        answer: dict[str, Any] = {
            "currentTier": tier,
            "allowedTiers": [{**tier, "isDefault": True}],
            "cloudaicompanionProject": "fake-project",
            "gcpManaged": False,
        }
        if (paid := self.tier_of(self.extract_key(request))) is not None:
            answer["paidTier"] = paid
        return self.json_response(answer)

    async def _available_models(self, request: web.Request) -> web.StreamResponse:
        if self.models_status != 200:
            return self.error_response(self.models_status, "Internal error", None)
        listed = {m: {"displayName": m} for m in [*self.models, *self.web_search_models]}
        return self.json_response({"models": listed, "webSearchModelIds": list(self.web_search_models)})

    async def _web_search(self, request: web.Request, model: str, body: dict[str, Any]) -> web.StreamResponse:
        """Cloud Code's search request: refused unless it is shaped as Antigravity's own
        (a googleSearch tool, one user turn) and asks a model that searches."""
        tools, contents = body.get("tools"), body["contents"]
        if model not in self.web_search_models:
            return self.error_response(400, f"model {model} does not support web search", None)
        if not (isinstance(tools, list) and tools and all("googleSearch" in t for t in tools)):
            return self.error_response(400, "web_search requests take a googleSearch tool", None)
        if len(contents) != 1 or contents[0].get("role") != "user":
            return self.error_response(400, "web_search requests take one user turn", None)
        query = str(contents[0]["parts"][0].get("text", ""))
        first, second = f"{query}: the first source says yes.", " The second source agrees."
        text = first + second + " Nothing else found."
        end_first = len(first.encode())
        end_second = end_first + len(second.encode())
        grounding = {
            "webSearchQueries": [query],
            "groundingChunks": [
                {"web": {"uri": "https://example.com/first", "title": "example.com"}},
                {"web": {"uri": "https://example.org/second", "title": "example.org"}},
            ],
            "groundingSupports": [
                {
                    "segment": {"startIndex": 0, "endIndex": end_first, "text": first},
                    "groundingChunkIndices": [0],
                },
                {
                    "segment": {"startIndex": end_first, "endIndex": end_second, "text": second},
                    "groundingChunkIndices": [1],
                },
            ],
        }
        prompt = estimate_tokens(query)
        usage = {
            "promptTokenCount": prompt,
            "candidatesTokenCount": estimate_tokens(text),
            "totalTokenCount": prompt + estimate_tokens(text),
        }
        trace_id = new_id("")[:16]
        rid = new_id("")
        whole = _chunk(model, [{"text": text}], usage, final=True, rid=rid)
        whole["candidates"][0]["groundingMetadata"] = grounding
        if request.path.endswith(":generateContent"):
            return self.json_response({"response": whole, "traceId": trace_id})
        head = _chunk(model, [{"text": first}], usage, final=False, rid=rid)
        tail = _chunk(model, [{"text": text[len(first) :]}], usage, final=True, rid=rid)
        tail["candidates"][0]["groundingMetadata"] = grounding  # on the last chunk, as Google sends it
        wrapped = ({"response": chunk, "traceId": trace_id} for chunk in (head, tail))
        return await self.stream(request, _frames(wrapped, True), "text/event-stream")

    async def _models(self, request: web.Request) -> web.StreamResponse:
        return self.json_response({"models": [_model(m) for m in self.models]})

    async def _model(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return self.error_response(404, f"models/{model} is not found for API version v1beta", None)
        return self.json_response(_model(model))

    # ---- errors -----------------------------------------------------------------------

    def auth_error(self, key: str | None) -> web.Response:
        if key is None:
            return self.error_response(403, _NO_KEY, None)
        message = "API key not valid. Please pass a valid API key."
        return self.error_response(
            self.bad_key_status, message, Behavior(body=_key_invalid(self.bad_key_status, message))
        )

    def error_body(self, status: int, message: str, beh: Behavior | None) -> Any:
        error: dict[str, Any] = {"code": status, "message": message, "status": _status(status)}
        details = _details(status, beh)
        if details:
            error["details"] = details
        return {"error": error}

    def stream_error_frame(self, request: web.Request, beh: Behavior, sent: int) -> bytes:
        status = 503 if beh.stream_error == "overloaded" else 500
        message = beh.message or (
            "The model is overloaded. Please try again later." if status == 503 else "Internal error"
        )
        error = orjson.dumps(self.error_body(status, message, None))
        if request.path.endswith("/interactions"):  # the Interactions API's own error event
            event = {"event_type": "error", "error": {"code": status, "message": message}}
            return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
        if request.query.get("alt") == "sse":
            return b"data: " + error + b"\r\n\r\n"
        return (b",\r\n" if sent else b"[") + error + b"]"


def _status(status: int) -> str:
    return _STATUS.get(status, "UNAVAILABLE" if status >= 502 else "UNKNOWN")


def _duration(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return f"{int(value)}s" if float(value).is_integer() else f"{value}s"


def _details(status: int, beh: Behavior | None) -> list[dict[str, Any]]:
    details: list[dict[str, Any]] = []
    if status == 429:
        violation = {"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests"}
        details.append({"@type": _TYPE + "QuotaFailure", "violations": [violation]})
    if beh is not None and beh.quota_reset_delay is not None:
        metadata = {
            "quotaResetDelay": _duration(beh.quota_reset_delay),
            "service": "generativelanguage.googleapis.com",
        }
        details.append(
            {
                "@type": _TYPE + "ErrorInfo",
                "reason": "RATE_LIMIT_EXCEEDED",
                "domain": "googleapis.com",
                "metadata": metadata,
            }
        )
    if beh is not None and beh.retry_delay is not None:
        details.append({"@type": _TYPE + "RetryInfo", "retryDelay": _duration(beh.retry_delay)})
    return details


def google_one_tier(amount: int | str, minimum: int | str = 50, tier: str = "g1-pro-tier") -> dict[str, Any]:
    """A ``paidTier`` of loadCodeAssist: a Google One plan holding ``amount`` AI credits,
    usable from ``minimum`` on."""
    credit = {
        "creditType": "GOOGLE_ONE_AI",
        "creditAmount": str(amount),
        "minimumCreditAmountForUsage": str(minimum),
    }
    return {"id": tier, "name": "Google AI Pro", "availableCredits": [credit]}


def input_quota_429(limit: int, model: str, retry_in: float = 30.0) -> dict[str, Any]:
    """The Gemini API's 429 to a free-tier key whose minute of input tokens a request would
    take over ``limit`` (the request alone, or with the minute's earlier ones: the same body)."""
    metric = "generativelanguage.googleapis.com/generate_content_free_tier_input_token_count"
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
        f"* Quota exceeded for metric: {metric}, limit: {limit}, model: {model}\n"
        f"Please retry in {retry_in:.1f}s."
    )
    violation = {
        "quotaMetric": metric,
        "quotaId": "GenerateContentInputTokensPerModelPerMinute-FreeTier",
        "quotaDimensions": {"location": "global", "model": model},
        "quotaValue": str(limit),
    }
    link = {
        "description": "Learn more about Gemini API quotas",
        "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
    }
    details = [
        {"@type": _TYPE + "QuotaFailure", "violations": [violation]},
        {"@type": _TYPE + "Help", "links": [link]},
        {"@type": _TYPE + "RetryInfo", "retryDelay": f"{int(retry_in)}s"},
    ]
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}}


def cloud_code_429(reason: str | None, *, retry_delay: str | None = None, model: str = "m") -> dict[str, Any]:
    """Cloud Code's 429 body, as it sends each kind: ``reason`` None, the bare "Resource has
    been exhausted" (no details); ``RATE_LIMIT_EXCEEDED``, the per-minute limit (its reset
    in ``quotaResetDelay`` and ``RetryInfo``); ``QUOTA_EXHAUSTED``, the plan's quota (the
    same, with the reset's timestamp); any other reason, an ``ErrorInfo`` with it alone."""
    if reason is None:
        message = "Resource has been exhausted (e.g. check quota)."
        return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED"}}
    metadata: dict[str, Any] = {"model": model, "uiMessage": "true"}
    if retry_delay is not None:
        metadata["quotaResetDelay"] = retry_delay
    if reason == "QUOTA_EXHAUSTED":
        message = "Individual quota reached. Contact your administrator to enable overages."
        metadata["quotaResetTimeStamp"] = "2099-01-01T00:00:00Z"
    elif reason == "RATE_LIMIT_EXCEEDED":
        message = "You have exhausted your capacity on this model. Your quota will reset after 0s."
    else:
        message, metadata = reason.replace("_", " ").capitalize() + ".", {}
    info = {"@type": _TYPE + "ErrorInfo", "reason": reason, "domain": "cloudcode-pa.googleapis.com"}
    details: list[dict[str, Any]] = [{**info, "metadata": metadata} if metadata else info]
    if retry_delay is not None:
        details.append({"@type": _TYPE + "RetryInfo", "retryDelay": retry_delay})
    return {"error": {"code": 429, "message": message, "status": "RESOURCE_EXHAUSTED", "details": details}}


def _interactions_turn(model: str, body: dict[str, Any]) -> Turn:
    turn = Turn(model=model)
    items = body["input"] if isinstance(body["input"], list) else [body["input"]]
    for item in items:
        if isinstance(item, str):
            turn.last_user_text = item
        elif isinstance(item, dict) and item.get("type") == "function_result":
            turn.tool_output = text_of(item.get("result"))
        elif isinstance(item, dict) and item.get("type") in (None, "user_input"):
            content = item.get("content")
            turn.last_user_text = content if isinstance(content, str) else text_of(content)
    for tool in body.get("tools") or ():
        if isinstance(tool, dict) and tool.get("type") == "function":
            turn.tools.append(Tool(tool["name"], tool.get("parameters") or {}))
    return turn


def _interaction_steps(reply: Reply) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    if reply.text:
        steps.append({"type": "model_output", "content": [{"type": "text", "text": reply.text}]})
    for index, call in enumerate(reply.tool_calls):
        step = {
            "type": "function_call",
            "id": new_id("call_"),
            "name": call.name,
            "arguments": call.arguments,
        }
        if index == 0:
            step["signature"] = THOUGHT_SIGNATURE
        steps.append(step)
    return steps


def _interaction_frames(
    iid: str, model: str, steps: list[dict[str, Any]], done: dict[str, Any]
) -> Iterator[bytes]:
    def frame(obj: dict[str, Any]) -> bytes:
        return b"event: " + obj["event_type"].encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"

    created = {"id": iid, "object": "interaction", "status": "in_progress", "model": model}
    yield frame({"event_type": "interaction.created", "interaction": created})
    for index, step in enumerate(steps):
        if step["type"] == "model_output":
            yield frame({"event_type": "step.start", "index": index, "step": {"type": "model_output"}})
            for piece in iter_chunks(step["content"][0]["text"]):
                yield frame(
                    {"event_type": "step.delta", "index": index, "delta": {"type": "text", "text": piece}}
                )
        else:
            start = {k: v for k, v in step.items() if k != "arguments"}
            yield frame({"event_type": "step.start", "index": index, "step": {**start, "arguments": {}}})
            args = orjson.dumps(step["arguments"]).decode()
            yield frame(
                {
                    "event_type": "step.delta",
                    "index": index,
                    "delta": {"type": "arguments_delta", "arguments": args},
                }
            )
        yield frame({"event_type": "step.stop", "index": index})
    yield frame({"event_type": "interaction.completed", "interaction": done})
    yield b"event: done\ndata: [DONE]\n\n"


def _key_invalid(status: int, message: str) -> dict[str, Any]:
    info = {
        "@type": _TYPE + "ErrorInfo",
        "reason": "API_KEY_INVALID",
        "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"},
    }
    return {"error": {"code": status, "message": message, "status": _status(status), "details": [info]}}


def turn_of(model: str, body: dict[str, Any]) -> Turn:
    contents = [c for c in body["contents"] if isinstance(c, dict)]
    turn = Turn(model=model)
    last_parts = contents[-1].get("parts") or [] if contents else []
    responses = [
        _get(p, "functionResponse") for p in last_parts if isinstance(p, dict) and _get(p, "functionResponse")
    ]
    if responses:
        turn.tool_output = "".join(_response_text(r.get("response")) for r in responses)
    for content in reversed(contents):
        texts = [
            p.get("text", "")
            for p in content.get("parts") or ()
            if isinstance(p, dict) and not p.get("thought")
        ]
        if content.get("role", "user") == "user" and "".join(texts):
            turn.last_user_text = "".join(texts)
            break
    for group in body.get("tools") or ():
        for decl in _get(group or {}, "functionDeclarations") or ():
            schema = _get(decl, "parametersJsonSchema") or decl.get("parameters") or {}
            turn.tools.append(Tool(decl["name"], schema))
    config = _get(_get(body, "generationConfig") or {}, "thinkingConfig") or {}
    turn.thinking = bool(_get(config, "includeThoughts"))
    return turn


def _unsigned_image(body: dict[str, Any]) -> bool:
    """A model turn of ``body`` holds an image part without its signature."""
    for content in body["contents"]:
        if not isinstance(content, dict) or content.get("role") != "model":
            continue
        for part in content.get("parts") or ():
            if isinstance(part, dict) and _get(part, "inlineData") and not _get(part, "thoughtSignature"):
                return True
    return False


def _unset_nulls(value: Any) -> Any:
    """``value`` read as the API reads protobuf JSON: a null member is an unset one."""
    if isinstance(value, dict):
        return {k: _unset_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_unset_nulls(v) for v in value]
    return value


def _get(obj: dict[str, Any], camel: str) -> Any:
    """A field by its JSON name or its proto name: Google APIs accept both (the SDK sends some snake_case)."""
    if camel in obj:
        return obj[camel]
    return obj.get(re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel))


def _response_text(response: Any) -> str:
    if isinstance(response, dict):
        for name in ("output", "content", "result"):
            if name in response:
                return text_of(response[name])
    return text_of(response)


def antigravity_claude_signature(model: str) -> str:
    """The ``R...`` form Antigravity's Claude models sign with: an Anthropic-shaped
    single-layer signature (tests/fakes/claude.py), base64-encoded once more."""
    return base64.b64encode(issue_signature(model).encode()).decode()


def _parts(reply: Reply) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    if reply.thinking:
        parts.append({"text": reply.thinking, "thought": True})
    if reply.text:
        parts.append({"text": reply.text})
    for index, call in enumerate(reply.tool_calls):
        part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
        if index == 0:
            part["thoughtSignature"] = THOUGHT_SIGNATURE
        parts.append(part)
    return parts


def _prompt_tokens(body: dict[str, Any]) -> int:
    return estimate_tokens(body.get("contents"), _get(body, "systemInstruction"), body.get("tools"))


def _usage(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    prompt = _prompt_tokens(body)
    thoughts = estimate_tokens(reply.thinking) if reply.thinking else 0
    output = estimate_tokens(reply.text, [c.arguments for c in reply.tool_calls])
    usage: dict[str, Any] = {
        "promptTokenCount": prompt,
        "candidatesTokenCount": output,
        "totalTokenCount": prompt + output + thoughts,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt}],
    }
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    if _get(body, "cachedContent"):
        usage["cachedContentTokenCount"] = prompt // 2
    return usage


# the members of CountTokensRequest (JSON and proto names): the Gemini API's and Vertex's
_COUNT_FIELDS = {"model", "contents", "generateContentRequest", "generate_content_request"}
_VERTEX_COUNT_FIELDS = {
    "model",
    "contents",
    "instances",
    "tools",
    "systemInstruction",
    "system_instruction",
    "generationConfig",
    "generation_config",
}


def _count_refusal(body: dict[str, Any], *, vertex: bool) -> str:
    """Why the API refuses a countTokens body ("" when it does not): a member that is not
    one of CountTokensRequest's (the Gemini API takes a system instruction and tools only
    inside ``generateContentRequest``, Vertex at the top level), or on the Gemini API both
    forms at once, or a ``generateContentRequest`` without its ``model``."""
    for name in body:
        if name not in (_VERTEX_COUNT_FIELDS if vertex else _COUNT_FIELDS):
            return f'Invalid JSON payload received. Unknown name "{name}": Cannot find field.'
    inner = _get(body, "generateContentRequest")
    if inner is None:
        return ""
    if body.get("contents"):
        return "contents and generateContentRequest are mutually exclusive"
    if not isinstance(inner, dict) or not str(inner.get("model", "")).startswith("models/"):
        return "* GenerateContentRequest.model: unexpected model name format"
    return ""


def _count(body: dict[str, Any]) -> dict[str, Any]:
    inner = _get(body, "generateContentRequest") or body
    total = _prompt_tokens(inner)
    return {"totalTokens": total, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": total}]}


def _chunk(
    model: str, parts: list[dict[str, Any]], usage: dict[str, Any], final: bool, rid: str = ""
) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if final:
        candidate["finishReason"] = "STOP"
    if not final:
        usage = {"promptTokenCount": usage["promptTokenCount"], "totalTokenCount": usage["promptTokenCount"]}
    return {
        "candidates": [candidate],
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": rid or new_id(""),
    }


def _stream_chunks(
    model: str, parts: list[dict[str, Any]], usage: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    pieces: list[dict[str, Any]] = []
    for part in parts:
        if "text" in part:
            base = {k: v for k, v in part.items() if k != "thoughtSignature"}
            texts = list(iter_chunks(part["text"]))
            pieces.extend({**base, "text": piece} for piece in texts)
            if "thoughtSignature" in part:  # on the part's last chunk, as Google streams it
                pieces[-1]["thoughtSignature"] = part["thoughtSignature"]
        else:
            pieces.append(part)
    rid = new_id("")
    for index, piece in enumerate(pieces):
        yield _chunk(model, [piece], usage, final=index == len(pieces) - 1, rid=rid)


def _frames(chunks: Iterator[dict[str, Any]], sse: bool) -> Iterator[bytes]:
    if sse:
        for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\r\n\r\n"
        return
    first = True
    for chunk in chunks:
        yield (b"[" if first else b",\r\n") + orjson.dumps(chunk)
        first = False
    yield b"]" if not first else b"[]"


def _model(model: str) -> dict[str, Any]:
    return {
        "name": f"models/{model}",
        "version": "001",
        "displayName": model.replace("-", " ").title(),
        "description": "Fake Gemini model",
        "inputTokenLimit": 1048576,
        "outputTokenLimit": 65536,
        "supportedGenerationMethods": ["generateContent", "countTokens", "streamGenerateContent"],
        "temperature": 1,
        "maxTemperature": 2,
        "topP": 0.95,
        "topK": 64,
        "thinking": True,
    }
