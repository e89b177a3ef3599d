"""Vertex AI (Gemini on Google Cloud): service-account files and ``vertex-api-key`` entries.

Service account (auth-dir file ``{"type": "vertex", "service_account": {...},
"project_id", "location", "email", "prefix"}``)::

    POST https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}
         /publishers/google/models/{model}:{action}
    Authorization: Bearer <token from the service account>

``location`` defaults to ``us-central1``; ``global`` uses ``aiplatform.googleapis.com``. The
bearer token is async, so it comes from :meth:`VertexProvider.prepare`, which the
pipeline awaits and merges into the headers ``build`` made.

API key (``vertex-api-key`` in config)::

    POST {base-url or https://aiplatform.googleapis.com}/v1/publishers/google/models/{model}:{action}
    x-goog-api-key: <key>

An Imagen model (``imagen`` in its name) is asked with ``:predict`` and Imagen's own body,
``{"instances": [{"prompt"}], "parameters": {"sampleCount"}}``, its ``predictions`` answered
as a Gemini response of inline images (CPA, whose API-key form skips the conversion); it
does not stream (a streaming request is refused, 400).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import orjson

from cliproxy.credentials.record import Credential
from cliproxy.credentials.service_account import ServiceAccount, TokenCache
from cliproxy.errors import UpstreamError
from cliproxy.providers.base import UpstreamRequest, copy_client_headers
from cliproxy.providers.gemini import GeminiProvider, lead_with_user
from cliproxy.providers.http import HttpClient, proxy_key

__all__ = ["DEFAULT_LOCATION", "VertexProvider", "vertex_base_url"]

DEFAULT_LOCATION = "us-central1"
GLOBAL_HOST = "https://aiplatform.googleapis.com"
TOKEN_URL_ENV = "CLIPROXY_TOKEN_URL_VERTEX"


def vertex_base_url(location: str) -> str:
    """The regional Vertex host for ``location`` (``global`` has no region prefix)."""
    location = location.strip() or DEFAULT_LOCATION
    return GLOBAL_HOST if location == "global" else f"https://{location}-aiplatform.googleapis.com"


# what Vertex's countTokens takes of a request (any other field is refused): the system
# instruction and tools are counted; the generation config stays out (CPA drops it, and
# the tools, which Vertex can count)
_COUNT_FIELDS = ("contents", "systemInstruction", "system_instruction", "tools", "instances")


class VertexProvider(GeminiProvider):
    """Gemini models on Vertex AI. Errors are Google RPC errors, as for Gemini."""

    key = "vertex"
    default_base_url = GLOBAL_HOST

    def __init__(self, tokens: TokenCache | None = None) -> None:
        super().__init__()
        self.tokens = tokens if tokens is not None else TokenCache()

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
        body.pop("session_id", None)
        name = quote(model, safe="-._~@")
        if action == "count":
            verb, stream = "countTokens", False
            inner = body.get("generateContentRequest") or body.get("generate_content_request")
            if type(inner) is dict:  # the Gemini API's form: its fields are Vertex's own
                body = inner
            body = {k: body[k] for k in _COUNT_FIELDS if k in body}
            body["model"] = model
        elif "imagen" in model.lower():
            if stream:  # (CPA sends it, and Vertex refuses the Gemini body it gets)
                raise UpstreamError(
                    f"{model} does not stream: ask for the image without streaming", status=400
                )
            verb = "predict"
            body = _imagen_request(body)
        else:
            verb = "streamGenerateContent?alt=sse" if stream else "generateContent"
        if verb != "predict":
            lead_with_user(body)
        headers = {"Content-Type": "application/json"}
        if _account(cred) is None:
            base = self.base_url(cred)
            headers["x-goog-api-key"] = _api_key(cred)
            url = f"{base}/v1/publishers/google/models/{name}:{verb}"
        else:
            project, location = _project(cred), _location(cred)
            base = cred.base_url.rstrip("/") or vertex_base_url(location)
            url = (
                f"{base}/v1/projects/{quote(project, safe='-._~')}/locations/{quote(location, safe='-._~')}"
                f"/publishers/google/models/{name}:{verb}"
            )
        if stream:
            headers["Accept"] = "text/event-stream"
        headers.update(copy_client_headers(cred, client_headers))
        req = UpstreamRequest(url, headers, orjson.dumps(body), stream)
        if verb == "predict":
            req.rewrite_body = lambda data: _imagen_answer(data, model)
        return req

    async def prepare(
        self,
        cred: Credential,
        http: HttpClient,
        *,
        proxy: str | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> dict[str, str]:
        """Extra auth headers: a service-account bearer token, or nothing for API keys.

        ``proxy`` is the resolved proxy setting for the token call (default: the
        credential's own ``proxy-url``). Raises ``UpstreamError`` (401 when the account
        is rejected, 502 when the token endpoint fails otherwise)."""
        raw = _account(cred)
        if raw is None:
            return {}
        if not _project(cred):
            raise UpstreamError("vertex credential is missing project_id", status=401, credential_id=cred.id)
        try:
            account = ServiceAccount.from_mapping(raw)
        except ValueError as exc:
            raise UpstreamError(f"vertex credential: {exc}", status=401, credential_id=cred.id) from exc
        route = proxy_key(cred.proxy_url, None) if proxy is None else proxy
        token = await self.tokens.token(
            account, http, proxy=route, token_url=os.environ.get(TOKEN_URL_ENV) or None
        )
        return {"Authorization": f"Bearer {token}"}

    def forget(self, cred: Credential) -> None:
        """Drop the cached token of ``cred`` (call after the upstream answered 401)."""
        raw = _account(cred)
        if raw is None:
            return
        with contextlib.suppress(ValueError):
            self.tokens.forget(ServiceAccount.from_mapping(raw))


def _account(cred: Credential) -> Mapping[str, Any] | None:
    """The service-account mapping, or None for API-key credentials."""
    if cred.api_key:
        return None
    raw = cred.metadata.get("service_account")
    return raw if isinstance(raw, Mapping) else None


def _api_key(cred: Credential) -> str:
    return cred.api_key or cred.access_token


def _project(cred: Credential) -> str:
    for key in ("project_id", "project"):
        value = cred.metadata.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raw = _account(cred)
    value = raw.get("project_id") if raw is not None else None
    return value.strip() if isinstance(value, str) else ""


def _location(cred: Credential) -> str:
    value = cred.metadata.get("location")
    return value.strip() if isinstance(value, str) and value.strip() else DEFAULT_LOCATION


def _imagen_request(body: Mapping[str, Any]) -> dict[str, Any]:
    """An Imagen model's ``:predict`` body for a Gemini request (CPA ``convertToImagenRequest``):
    the first text of the first user turn as the prompt (else the first user text, else a
    top-level ``prompt``), one image unless ``sampleCount`` says more; ``aspectRatio`` from
    the top level or ``generationConfig.imageConfig``, ``negativePrompt`` from the top level.
    No prompt is the client's error (400)."""
    prompt = ""
    contents = body.get("contents")
    for content in contents if isinstance(contents, list) else ():
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        parts = content.get("parts")
        for part in parts if isinstance(parts, list) else ():
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and text.strip():
                prompt = text
                break
        if prompt:
            break
    if not prompt and isinstance(body.get("prompt"), str):
        prompt = body["prompt"]
    if not prompt.strip():
        raise UpstreamError("imagen: the request has no prompt (a user text)", status=400)
    instance: dict[str, Any] = {"prompt": prompt}
    if isinstance(negative := body.get("negativePrompt"), str) and negative:
        instance["negativePrompt"] = negative
    count = body.get("sampleCount")
    parameters: dict[str, Any] = {"sampleCount": count if type(count) is int and count > 0 else 1}
    config = body.get("generationConfig")
    image = config.get("imageConfig") if isinstance(config, dict) else None
    ratio = body.get("aspectRatio") or (image.get("aspectRatio") if isinstance(image, dict) else None)
    if isinstance(ratio, str) and ratio:
        parameters["aspectRatio"] = ratio
    return {"instances": [instance], "parameters": parameters}


def _imagen_answer(data: bytes, model: str) -> bytes:
    """Imagen's ``predictions`` as a Gemini answer of inline images (CPA
    ``convertImagenToGeminiResponse``: no token counts, so zeros); other bodies unchanged."""
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list):
        return data
    parts = [
        {"inlineData": {"mimeType": p.get("mimeType") or "image/png", "data": p["bytesBase64Encoded"]}}
        for p in predictions
        if isinstance(p, dict) and isinstance(p.get("bytesBase64Encoded"), str) and p["bytesBase64Encoded"]
    ]
    return orjson.dumps(
        {
            "candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
            "responseId": f"imagen-{time.time_ns()}",
            "modelVersion": model,
            "usageMetadata": {"promptTokenCount": 0, "candidatesTokenCount": 0, "totalTokenCount": 0},
        }
    )
