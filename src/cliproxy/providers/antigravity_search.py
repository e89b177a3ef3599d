"""Claude Code's web search on Antigravity: Google Search run by Cloud Code itself.

Claude Code's WebSearch tool asks with a request whose only tools are Anthropic's typed web
search (``web_search_20250305`` / ``web_search_20260209``). Such a request from a Claude
client, to an Antigravity model that Cloud Code lists as able to search
(``fetchAvailableModels``'s ``webSearchModelIds``), becomes Cloud Code's own search
request, as CPA sends it (``internal/translator/antigravity/claude/web_search.go``)::

    {"model": m, "userAgent": "antigravity", "requestType": "web_search", "project": p,
     "request": {"contents": [{"role": "user", "parts": [{"text": <the query>}]}],
                 "systemInstruction": {"role": "user", "parts": [{"text": <search bot>}]},
                 "tools": [{"googleSearch": {"enhancedContent": {"imageSearch":
                            {"maxResultCount": <max_uses or 5>}}, "includedDomains": [...]}}],
                 "generationConfig": {"candidateCount": 1}}}

without a ``requestId`` or ``sessionId``. Its answer's grounding becomes Claude's
``server_tool_use`` / ``web_search_tool_result`` blocks and cited text
(:mod:`cliproxy.translate.gemini.web_search`). Any other request, or a model not listed,
goes as before (the typed tool dropped: Gemini has no such tool).

The pipeline leaves what the search asks in the attempt's body (:func:`carry`, under
:data:`CARRIED`); ``AntigravityProvider.build`` takes it out. Which models search is asked
per credential (:class:`SearchModels`), before the first such request and again an hour
later; a request that comes while nothing is known and the call fails goes as a chat
request (never refused for it), and the call is made again ten minutes later. CPA asks once
when it registers the credential's models, the daily host then the production one; we ask
the host this credential's requests go to, and only when a search needs the answer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from cliproxy.credentials.login.base import LoginError
from cliproxy.credentials.login.core import request_json
from cliproxy.credentials.record import Credential
from cliproxy.providers.first_use import FirstUse
from cliproxy.providers.transport import UpstreamClient

__all__ = [
    "CARRIED",
    "SYSTEM_INSTRUCTION",
    "SearchModels",
    "carry",
    "search_ask",
    "search_payload",
]

log = logging.getLogger(__name__)

CARRIED = "__cliproxy_antigravity_web_search"  # the attempt body's key for build (never sent)
TYPED = frozenset(("web_search_20250305", "web_search_20260209"))
DEFAULT_RESULTS = 5
FRESH_FOR = 3600.0  # seconds a credential's list of searching models is used before it is asked again
RETRY_AFTER = 600.0  # seconds before a failed call is made again
MODELS_PATH = "/v1internal:fetchAvailableModels"
SYSTEM_INSTRUCTION = (
    "You are a search engine bot. You will be given a query from a user. Your task is to search "
    "the web for relevant information that will help the user. You MUST perform a web search. Do "
    "not respond or interact with the user, please respond as if they typed the query into a "
    "search bar."
)


def _typed(tool: Any) -> bool:
    return isinstance(tool, Mapping) and tool.get("type") in TYPED


def _choice_allows(choice: Any) -> bool:
    """Whether ``tool_choice`` lets the search run: absent, auto, any, or the tool
    ``web_search`` by name."""
    if choice is None:
        return True
    if isinstance(choice, str):
        return choice in ("", "auto", "any")
    if not isinstance(choice, Mapping):
        return False
    kind = choice.get("type")
    if kind in (None, "", "auto", "any"):
        return True
    return kind == "tool" and choice.get("name") == "web_search"


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content.strip()
    if not isinstance(content, list):
        return ""
    texts = [
        t.strip()
        for block in content
        if isinstance(block, Mapping) and isinstance(t := block.get("text"), str) and t.strip()
    ]
    return "\n".join(texts).strip()


def _query(messages: Any) -> str:
    """The text of the last user message that has some (a message without a role counts)."""
    if not isinstance(messages, list):
        return ""
    for message in reversed(messages):
        if not isinstance(message, Mapping):
            continue
        role = message.get("role")
        if role and role != "user":
            continue
        text = _text_of(message.get("content"))
        if text:
            return text
    return ""


def search_ask(client_body: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a Claude client's request asks of a search, when it is one: its tools are all
    typed web searches (at least one) and ``tool_choice`` allows it. ``max_results``: the
    first typed tool's ``max_uses`` when positive, else 5; ``domains``: its
    ``allowed_domains`` (strings, trimmed, empty ones left out)."""
    tools = client_body.get("tools")
    if not isinstance(tools, list) or not tools or not all(map(_typed, tools)):
        return None
    if not _choice_allows(client_body.get("tool_choice")):
        return None
    first = tools[0]
    uses = first.get("max_uses")
    results = uses if type(uses) is int and uses > 0 else DEFAULT_RESULTS
    allowed = first.get("allowed_domains")
    domains = (
        [d.strip() for d in allowed if isinstance(d, str) and d.strip()] if isinstance(allowed, list) else []
    )
    return {"query": _query(client_body.get("messages")), "max_results": results, "domains": domains}


def carry(body: dict[str, Any], client_body: Mapping[str, Any]) -> None:
    """Leave what the client's request asks of a search in the attempt's ``body`` (under
    :data:`CARRIED`), for ``AntigravityProvider.build``; nothing when it asks none."""
    ask = search_ask(client_body)
    if ask is not None:
        body[CARRIED] = ask


def search_payload(ask: Mapping[str, Any], *, model: str, project: str) -> dict[str, Any]:
    """Cloud Code's search request for ``ask`` (see the module's docstring)."""
    search: dict[str, Any] = {"enhancedContent": {"imageSearch": {"maxResultCount": ask["max_results"]}}}
    if ask["domains"]:
        search["includedDomains"] = list(ask["domains"])
    out: dict[str, Any] = {"model": model, "userAgent": "antigravity", "requestType": "web_search"}
    if project:
        out["project"] = project
    out["request"] = {
        "contents": [{"role": "user", "parts": [{"text": ask["query"]}]}],
        "systemInstruction": {"role": "user", "parts": [{"text": SYSTEM_INSTRUCTION}]},
        "tools": [{"googleSearch": search}],
        "generationConfig": {"candidateCount": 1},
    }
    return out


def _model_ids(data: Mapping[str, Any]) -> frozenset[str]:
    ids = data.get("webSearchModelIds")
    if not isinstance(ids, list):
        return frozenset()
    return frozenset(i.strip().lower() for i in ids if isinstance(i, str) and i.strip())


class SearchModels:
    """Per credential, the models Cloud Code runs web searches on: asked with one
    ``fetchAvailableModels`` call, one in flight per credential."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._known: dict[str, tuple[frozenset[str], float]] = {}  # credential id -> (models, ask again at)
        self._calls = FirstUse()

    def due(self, cred: Credential) -> bool:
        """Whether a search on ``cred`` should wait for the list to be asked first."""
        known = self._known.get(cred.id)
        return known is None or known[1] <= self.clock()

    def searches(self, cred: Credential, model: str) -> bool:
        """Whether Cloud Code listed ``model`` as searching for ``cred`` (false until asked)."""
        known = self._known.get(cred.id)
        return known is not None and model.strip().lower() in known[0]

    def forget(self, cred: Credential) -> None:
        self._known.pop(cred.id, None)

    async def ensure(
        self,
        cred: Credential,
        http: UpstreamClient,
        *,
        base_url: str,
        user_agent: str,
        proxy: str,
        fallback_url: str = "",
    ) -> Mapping[str, str]:
        """Ask for ``cred``'s list when it is due; never raises (no extra headers). A
        ``fallback_url`` is asked when ``base_url`` fails or lists no model (CPA: the daily
        host, then production)."""
        if self.due(cred):
            bases = (base_url, fallback_url) if fallback_url and fallback_url != base_url else (base_url,)
            await self._calls.run(cred.id, lambda: self._ask(cred, http, bases, user_agent, proxy))
        return {}

    async def _ask(
        self, cred: Credential, http: UpstreamClient, bases: tuple[str, ...], user_agent: str, proxy: str
    ) -> None:
        if not self.due(cred):  # another call settled it meanwhile
            return
        who = cred.label or cred.id
        headers = {
            "Authorization": f"Bearer {cred.access_token or ''}",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        models: frozenset[str] | None = None  # (None: no host answered)
        why = ""
        for base_url in bases:
            try:
                status, data = await request_json(
                    http,
                    "POST",
                    base_url + MODELS_PATH,
                    provider="antigravity",
                    what="fetchAvailableModels",
                    headers=headers,
                    body=b"{}",
                    proxy=proxy,
                )
            except LoginError as exc:
                why = exc.message
                continue
            if not 200 <= status < 300:
                why = f"it answered {status}"
                continue
            models = _model_ids(data)
            if models:
                break
        if models is None:
            self._failed(cred, who, why)
            return
        self._known[cred.id] = (models, self.clock() + FRESH_FOR)
        log.debug("antigravity credential %s: %d model(s) run web searches", who, len(models))

    def _failed(self, cred: Credential, who: str, why: str) -> None:
        old = self._known.get(cred.id)
        self._known[cred.id] = (old[0] if old else frozenset(), self.clock() + RETRY_AFTER)
        log.warning(
            "antigravity credential %s: could not ask which models run web searches (%s); "
            "searches go as chat requests, asked again in %d min",
            who,
            why,
            int(RETRY_AFTER // 60),
        )
