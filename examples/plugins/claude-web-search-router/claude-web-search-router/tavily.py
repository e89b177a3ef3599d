"""The Tavily backend: a search through the host's HTTP client (proxy-aware, logged)."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field

from cliproxy.plugins.api import Host, PluginError


@dataclass(frozen=True, slots=True)
class Hit:
    title: str
    url: str
    snippet: str = ""


@dataclass(frozen=True, slots=True)
class Found:
    answer: str = ""
    hits: list[Hit] = field(default_factory=list)


class Tavily:
    """``POST {base_url}/search``; the API keys take turns."""

    def __init__(self, host: Host, base_url: str, keys: list[str]) -> None:
        self._host, self._url, self._keys = host, base_url + "/search", keys
        self._turn = itertools.count()

    async def search(self, query: str, max_results: int) -> Found:
        """The answer and hits for ``query``; a failure is a :class:`PluginError` with the
        status the client gets (503 without keys, 400 without a query, Tavily's own status
        but 502 for a refused key or an answer that is not a JSON object)."""
        if not self._keys:
            raise PluginError("tavily: no tavily_api_keys configured", http_status=503)
        query = query.strip()
        if not query:
            raise PluginError("tavily: the web search query is empty", http_status=400)
        key = self._keys[next(self._turn) % len(self._keys)]
        body = {
            "api_key": key,
            "query": query,
            "search_depth": "basic",
            "max_results": max_results if max_results > 0 else 5,
            "include_answer": True,
        }
        resp = await self._host.http.do("POST", self._url, {"Content-Type": ["application/json"]}, body)
        if not 200 <= resp.status_code < 300:
            text = resp.body[:300].decode("utf-8", "replace")
            # a key Tavily refuses is the proxy's configuration, not the client's credentials
            status = 502 if resp.status_code in (401, 403) else resp.status_code
            raise PluginError(f"tavily: status {resp.status_code}: {text}", http_status=status)
        try:
            data = json.loads(resp.body)
        except ValueError as exc:
            raise PluginError(f"tavily: answer is not JSON: {exc}", http_status=502) from exc
        if not isinstance(data, dict):  # an exception other than PluginError would fuse the plugin
            raise PluginError("tavily: answer is not a JSON object", http_status=502)
        results = data.get("results")
        hits = [
            Hit(_field(r, "title"), _field(r, "url"), _field(r, "content"))
            for r in (results if isinstance(results, list) else ())
            if isinstance(r, dict)
        ]
        return Found(_field(data, "answer"), hits)


def _field(obj: dict[str, object], key: str) -> str:
    value = obj.get(key)
    return value.strip() if isinstance(value, str) else ""
