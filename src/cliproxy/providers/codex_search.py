"""Codex Alpha Search: ``POST /v1/alpha/search`` and ``/backend-api/codex/alpha/search``, the
standalone web-search endpoint current Codex clients call beside ``/responses``.

The body is already in the Codex backend's search shape (``id``, ``model``, ``commands``...):
it goes to the credential's own ``/alpha/search`` untranslated and the JSON answer comes back
as it is, as CPA forwards it (``internal/api/server_routes.go`` ``codexAlphaSearch``):

- only Codex credentials serve it: a ChatGPT sign-in always, a ``codex-api-key`` entry only
  with ``alpha-search: true`` (CPA's ``codex_alpha_search_v1`` credential policy);
- ``prompt_cache_key`` and ``prompt_cache_retention`` are Responses-only fields the search
  endpoint refuses: they are dropped;
- a sign-in gets the body as the client wrote it (its ``model`` is only what the search is
  routed by); an API-key entry gets the ``model`` its own name for the requested one (prefix
  and alias resolved), when the body has one;
- the headers are CPA's: JSON in and out, ``Originator: codex_cli_rs``, the client's
  ``Version``, ``User-Agent``, ``Session_id`` and ``X-Client-Request-Id``, the account id of a
  sign-in, the credential's configured ``headers:``;
- the body's ``id`` (the search session) is the session-affinity key, so one search session
  stays on one account.

Unlike CPA, which forwards the first account's answer whatever its status, a search goes
through the pipeline's failover: an account at its limit cools down and the next one serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from cliproxy.credentials.record import KIND_OAUTH, Credential
from cliproxy.providers.base import UpstreamRequest, copy_client_headers
from cliproxy.providers.codex_images import image_barred

__all__ = ["ACTION", "ROUTER_FORMAT", "barred_for", "build", "search_barred", "serves_search"]

ACTION = "alpha.search"  # the Call's action (the upstream path is its dotted name, slashed)
ROUTER_FORMAT = "codex-alpha-search"  # the source format a model-router plugin is shown (CPA)
_RESPONSES_ONLY = ("prompt_cache_key", "prompt_cache_retention")
_COPIED = (("version", "Version"), ("user-agent", "User-Agent"), ("session_id", "Session_id"))
_COPIED_TOO = (("x-client-request-id", "X-Client-Request-Id"),)


def serves_search(cred: Credential) -> bool:
    """CPA's ``codex_alpha_search_v1`` policy: a Codex sign-in, or a Codex API-key entry
    that opted in with ``alpha-search: true``."""
    if cred.provider != "codex":
        return False
    if cred.kind == KIND_OAUTH:
        return True
    return cred.attributes.get("codex_alpha_search", "").lower() == "true"


def search_barred(creds: Iterable[Credential]) -> frozenset[str]:
    """The credentials a search must never be sent to."""
    return frozenset(c.id for c in creds if not serves_search(c))


def build(
    cred: Credential,
    body: dict[str, Any],
    *,
    model: str,
    base_url: str,
    client_headers: Mapping[str, str],
) -> UpstreamRequest:
    """The upstream request of one search attempt (``body`` is the attempt's own copy)."""
    for field in _RESPONSES_ONLY:
        body.pop(field, None)
    if cred.kind != KIND_OAUTH and "model" in body and model:
        body["model"] = model  # an API-key entry's own name for it (CPA rewriteCodexAlphaSearchModel)
    headers = {"Content-Type": "application/json", "Accept": "application/json", "Originator": "codex_cli_rs"}
    for lower, name in (*_COPIED, *_COPIED_TOO):
        value = client_headers.get(lower)
        if value and value.strip():
            headers[name] = value.strip()
    token = cred.access_token or cred.api_key
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if cred.kind == KIND_OAUTH:
        account = cred.metadata.get("account_id")
        if isinstance(account, str) and account.strip():
            headers["Chatgpt-Account-Id"] = account.strip()
    headers.update(copy_client_headers(cred, client_headers))
    return UpstreamRequest(base_url + "/alpha/search", headers, orjson.dumps(body), False)


def barred_for(action: str, creds: Iterable[Credential]) -> frozenset[str]:
    """The credentials a request of ``action`` (not a generation) must not be sent to: for a
    search those outside the policy above, for the Images API the free-plan accounts."""
    if action == ACTION:
        return search_barred(creds)
    return image_barred(action, creds)
