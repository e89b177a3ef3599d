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
"""

from __future__ import annotations

import contextlib
import os
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
            verb, stream = "predict", False
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
        return UpstreamRequest(url, headers, orjson.dumps(body), stream)

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
